package render

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
)

var repo = os.DirFS("testdata/repo")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name   string
		render func() ([]byte, error)
	}{
		{"kustomize-base", func() ([]byte, error) { return Kustomize(repo, "kustomize/base") }},
		{"kustomize-prod", func() ([]byte, error) { return Kustomize(repo, "kustomize/overlays/prod/") }},
		{"helm-default", func() ([]byte, error) { return Helm(repo, "charts/shop", nil, "web", "shop") }},
		{"helm-prod", func() ([]byte, error) {
			return Helm(repo, "charts/shop", []string{"envs/prod-values.yaml", "envs/prod-canary.yaml"}, "web", "shop")
		}},
		{"manifests", func() ([]byte, error) { return Manifests(repo, "manifests") }},
		{"kustomize-root", func() ([]byte, error) { return Kustomize(repo, ".") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.render()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "render/"+tt.name+".yaml", got)
			again, err := tt.render()
			if err != nil || string(again) != string(got) {
				t.Errorf("second render differs (err %v)", err)
			}
			if _, err := Objects(got); err != nil {
				t.Errorf("Objects: %v", err)
			}
		})
	}
}

func TestHelmValuesLayering(t *testing.T) {
	out, err := Helm(repo, "charts/shop", []string{"envs/prod-values.yaml", "envs/prod-canary.yaml"}, "web", "shop")
	if err != nil {
		t.Fatal(err)
	}
	dep := patchers.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web-checkout"}
	for path, want := range map[string]string{
		"spec.replicas": "3", // prod-values.yaml
		"spec.template.spec.containers[name=app].image":                   "ghcr.io/shop/checkout:1.5.0", // canary over chart default
		"spec.template.spec.containers[name=app].resources.limits.memory": "512Mi",
	} {
		got, ok, err := Field(out, dep, path)
		if err != nil || !ok || got != want {
			t.Errorf("%s = %q, %v, %v; want %q", path, got, ok, err, want)
		}
	}
	cache := patchers.Object{Kind: "ConfigMap", Name: "web-cache"}
	if v, ok, err := Field(out, cache, "data.maxMemory"); err != nil || !ok || v != "256Mi" {
		t.Errorf("subchart value = %q, %v, %v; want 256Mi from prod-values.yaml", v, ok, err)
	}
	if !strings.Contains(string(out), "# Source: shop/charts/cache/templates/configmap.yaml\n") {
		t.Errorf("no subchart source comment:\n%s", out)
	}
	if strings.Contains(string(out), "Thanks for installing") {
		t.Error("NOTES.txt was rendered")
	}
	if n := strings.Count(string(out), "\n---\n") + 1; n != 3 {
		t.Errorf("%d documents, want 3 (empty documents dropped):\n%s", n, out)
	}
}

// TestConcurrent renders from several goroutines at once; run with -race.
func TestConcurrent(t *testing.T) {
	done := make(chan error)
	for range 4 {
		go func() {
			_, err := Kustomize(repo, "kustomize/overlays/prod")
			if err == nil {
				_, err = Helm(repo, "charts/shop", []string{"envs/prod-values.yaml"}, "web", "shop")
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestObjectsCanonicalKeepsTypes(t *testing.T) {
	docs, err := Objects([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'a'}\ndata:\n  n: \"1\"\n  b: 'true'\n  s: \"plain\"\n  m: |\n    x\n    y\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\ndata:\n  b: \"true\"\n  m: |\n    x\n    y\n  n: \"1\"\n  s: plain\nkind: ConfigMap\nmetadata:\n  name: a\n"
	if got := string(docs[0].YAML); got != want {
		t.Errorf("canonical YAML:\n%s\nwant:\n%s", got, want)
	}
}

func TestOverlay(t *testing.T) {
	before, err := Kustomize(repo, "kustomize/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	patch := strings.Replace(readFile(t, "kustomize/overlays/prod/memory.yaml"), "512Mi", "768Mi", 1)
	after, err := Kustomize(Overlay(repo, map[string][]byte{
		"kustomize/overlays/prod/memory.yaml": []byte(patch),
	}), "kustomize/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	dep := patchers.Object{Kind: "Deployment", Namespace: "shop", Name: "checkout"}
	if v, _, _ := Field(after, dep, "spec.template.spec.containers[name=app].resources.limits.memory"); v != "768Mi" {
		t.Errorf("after overlay: memory %q, want 768Mi", v)
	}
	changed, err := Changed(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := []patchers.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "checkout"}}
	if !reflect.DeepEqual(changed, want) {
		t.Errorf("Changed = %v, want %v", changed, want)
	}
	golden(t, "diff/overlay-render.diff", []byte(UnifiedDiff("rendered.yaml", "rendered.yaml", before, after)))

	// The base is untouched.
	if readFile(t, "kustomize/overlays/prod/memory.yaml") == patch {
		t.Error("Overlay wrote to the base")
	}
}

func TestOverlayAddsFilesAndDirs(t *testing.T) {
	base := fstest.MapFS{
		"a/x.yaml":   {Data: []byte("x")},
		"a/y.yaml":   {Data: []byte("y")},
		"top.yaml":   {Data: []byte("t")},
		"b/c/d.yaml": {Data: []byte("d")},
	}
	files := map[string][]byte{
		"a/y.yaml":       []byte("Y"),
		"a/new/z.yaml":   []byte("z"),
		"fresh/f.yaml":   []byte("f"),
		"/top.yaml":      []byte("T"),
		"../escape.yaml": []byte("no"),
	}
	o := Overlay(base, files)
	files["a/y.yaml"][0] = 'Q' // Overlay copied it
	if err := fstest.TestFS(o, "a/x.yaml", "a/y.yaml", "a/new/z.yaml", "fresh/f.yaml", "top.yaml", "b/c/d.yaml"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a/x.yaml": "x", "a/y.yaml": "Y", "a/new/z.yaml": "z", "fresh/f.yaml": "f", "top.yaml": "T"} {
		got, err := fs.ReadFile(o, name)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	var walked []string
	if err := fs.WalkDir(o, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			walked = append(walked, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/new/z.yaml", "a/x.yaml", "a/y.yaml", "b/c/d.yaml", "fresh/f.yaml", "top.yaml"}
	if !slices.Equal(walked, want) {
		t.Errorf("walk = %v, want %v", walked, want)
	}
	if _, err := o.Open("escape.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("escape.yaml: %v, want not exist", err)
	}
}

func TestChanged(t *testing.T) {
	base := `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
data:
  k: v
  n: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  namespace: ns
data:
  k: v
`
	tests := []struct {
		name  string
		after string
		want  []string
	}{
		{"same", base, nil},
		{"reordered keys, docs, comments and quotes", `# comment
apiVersion: v1
metadata:
  namespace: ns
  name: b
kind: ConfigMap
data: {k: 'v'}
---
kind: ConfigMap
apiVersion: v1
metadata: {name: a, namespace: ns}
data:
  n: '1'
  k: "v"  # same
`, nil},
		{"one value", strings.Replace(base, "k: v\n  n", "k: w\n  n", 1), []string{"ns/ConfigMap/a"}},
		{"string to int", strings.Replace(base, `n: "1"`, `n: 1`, 1), []string{"ns/ConfigMap/a"}},
		{"removed and added", strings.Replace(base, "name: b", "name: c", 1), []string{"ns/ConfigMap/b", "ns/ConfigMap/c"}},
		{"namespace moved", strings.Replace(base, "name: a\n  namespace: ns", "name: a\n  namespace: other", 1), []string{"ns/ConfigMap/a", "other/ConfigMap/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Changed([]byte(base), []byte(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range got {
				names = append(names, o.Namespace+"/"+o.Kind+"/"+o.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("Changed = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestChangedDuplicates(t *testing.T) {
	dup := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: y}\n"
	if got, err := Changed([]byte(dup), []byte(dup)); err != nil || len(got) != 0 {
		t.Errorf("same renders: %v, %v", got, err)
	}
	second := strings.Replace(dup, "k: y", "k: z", 1)
	want := []patchers.Object{{APIVersion: "v1", Kind: "ConfigMap", Name: "a"}}
	if got, err := Changed([]byte(dup), []byte(second)); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("second copy changed: %v, %v; want %v", got, err, want)
	}
	one := dup[:strings.Index(dup, "---")]
	if got, err := Changed([]byte(dup), []byte(one)); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("second copy removed: %v, %v; want %v", got, err, want)
	}
}

func TestChangedErrors(t *testing.T) {
	if _, err := Changed(nil, []byte("a: [")); err == nil || !strings.Contains(err.Error(), "after") {
		t.Errorf("invalid after: %v", err)
	}
}

func TestObjects(t *testing.T) {
	in := `---
# Source: x/templates/a.yaml
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
- apiVersion: v1
  kind: Secret
  metadata: {name: two, namespace: ns}
--- # empty
---
apiVersion: apps/v1
kind: Deployment
metadata: &m
  name: d
spec:
  template:
    metadata: *m
  x: ~
`
	docs, err := Objects([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []patchers.Object
	for _, d := range docs {
		got = append(got, d.Object)
	}
	want := []patchers.Object{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "one"},
		{APIVersion: "v1", Kind: "Secret", Namespace: "ns", Name: "two"},
		{APIVersion: "apps/v1", Kind: "Deployment", Name: "d"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("objects = %v, want %v", got, want)
	}
	wantYAML := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    metadata:\n      name: d\n  x: null\n"
	if string(docs[2].YAML) != wantYAML {
		t.Errorf("canonical YAML:\n%s\nwant:\n%s", docs[2].YAML, wantYAML)
	}
}

func TestObjectsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"invalid yaml", "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n# Source: c/templates/b.yaml\nkind: [\n", "document 2 (c/templates/b.yaml)"},
		{"not a mapping", "- a\n- b\n", "document 1: not a mapping"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "document 1: no kind"},
		{"no apiVersion", "---\n---\nkind: A\n", "document 1: no apiVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Objects([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestField(t *testing.T) {
	out, err := Kustomize(repo, "kustomize/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	dep := patchers.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "checkout"}
	tests := []struct {
		obj    patchers.Object
		path   string
		want   string
		wantOK bool
	}{
		{dep, "spec.replicas", "3", true},
		{dep, "spec.template.spec.containers[name=app].resources.limits.memory", "512Mi", true},
		{dep, "spec.template.spec.containers[name=proxy].resources.limits.memory", "128Mi", true},
		{dep, "spec.template.spec.containers[1].image", "envoyproxy/envoy:v1.30.1", true},
		{dep, "spec.template.spec.containers[name=app].resources", "limits:\n  memory: 512Mi", true},
		{dep, "metadata.labels[app]", "checkout", true},
		{dep, "spec.template.spec.containers[name=app].resources.requests.memory", "", false},
		{dep, "spec.template.spec.containers[name=nope].image", "", false},
		{dep, "spec.template.spec.containers[7].image", "", false},
		{dep, "spec.replicas.value", "", false},
		{patchers.Object{Kind: "Service", Name: "checkout"}, "spec.ports[port=80].targetPort", "8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok, err := Field(out, tt.obj, tt.path)
			if err != nil || ok != tt.wantOK || got != tt.want {
				t.Errorf("Field = %q, %v, %v; want %q, %v", got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	out := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: y}\n")
	cm := patchers.Object{Kind: "ConfigMap", Name: "a"}
	if _, _, err := Field(out, cm, "data"); !errors.Is(err, patchers.ErrAmbiguous) {
		t.Errorf("two matches: %v, want ErrAmbiguous", err)
	}
	if _, _, err := Field(out, patchers.Object{Kind: "ConfigMap", Name: "b"}, "data"); !errors.Is(err, patchers.ErrNotFound) {
		t.Errorf("no match: %v, want ErrNotFound", err)
	}
	if _, ok, err := Field(out, patchers.Object{Kind: "ConfigMap", Name: "a", Namespace: "y"}, "metadata.namespace"); err != nil || !ok {
		t.Errorf("namespaced match: %v %v", ok, err)
	}
	for _, p := range []string{"", ".a", "a.", "a..b", "a[", "a[]", "a[=x]", "a[0]b", "a[-1]"} {
		if _, _, err := Field(out, cm, p); err == nil || !strings.Contains(err.Error(), "field path") {
			t.Errorf("path %q: %v, want a field path error", p, err)
		}
	}
}

func TestKustomizeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		dir   string
		want  []string
	}{
		{"no kustomization", nil, "manifests/sub", []string{"render kustomization manifests/sub", "no kustomization.yaml"}},
		{"remote base", map[string]string{
			"k/kustomization.yaml": "resources:\n- github.com/acme/base?ref=v1\n- https://example.com/x.yaml\n",
		}, "k", []string{"k/kustomization.yaml", `remote resource "github.com/acme/base?ref=v1"`, `"https://example.com/x.yaml"`}},
		{"remote base in a base", map[string]string{
			"k/kustomization.yaml":      "resources:\n- ../base\n",
			"base/kustomization.yaml":   "resources:\n- git@github.com:acme/x.git\n",
			"base/unused/whatever.yaml": "a: b\n",
		}, "k", []string{"base/kustomization.yaml", "remote resource"}},
		{"missing resource", map[string]string{
			"k/kustomization.yaml": "resources:\n- nope.yaml\n",
		}, "k", []string{"k/kustomization.yaml", `"nope.yaml"`}},
		{"outside repository", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../../x\n",
		}, "k", []string{"outside the repository"}},
		{"helm charts", map[string]string{
			"k/kustomization.yaml": "helmCharts:\n- name: x\n",
		}, "k", []string{"helmCharts is not supported"}},
		{"invalid kustomization", map[string]string{
			"k/kustomization.yaml": "resources: [\n",
		}, "k", []string{"parse k/kustomization.yaml"}},
		{"hidden folder, does not build", map[string]string{
			".k/kustomization.yaml": "resources:\n- d.yaml\n",
			".k/d.yaml":             "apiVersion: v1\nkind: [\n",
		}, ".k", []string{"render kustomization .k", "d.yaml"}},
		{"does not build", map[string]string{
			"k/kustomization.yaml": "resources:\n- d.yaml\npatches:\n- path: p.yaml\n",
			"k/d.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			"k/p.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}\n",
		}, "k", []string{"render kustomization k", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := repo
			if tt.files != nil {
				m := fstest.MapFS{}
				for k, v := range tt.files {
					m[k] = &fstest.MapFile{Data: []byte(v)}
				}
				r = m
			}
			_, err := Kustomize(r, tt.dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHelmErrors(t *testing.T) {
	chart := func(extra map[string]string) fs.FS {
		m := fstest.MapFS{
			"c/Chart.yaml":             {Data: []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n")},
			"c/values.yaml":            {Data: []byte("name: x\n")},
			"c/templates/cm.yaml":      {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n")},
			"c/templates/NOTES.txt":    {Data: []byte("hi\n")},
			"c/templates/_helpers.tpl": {Data: []byte(`{{- define "x" }}y{{ end }}`)},
			"c/.helmignore":            {Data: []byte("templates/ignored.yaml\n")},
			"c/templates/ignored.yaml": {Data: []byte("{{ nope")},
		}
		for k, v := range extra {
			m[k] = &fstest.MapFile{Data: []byte(v)}
		}
		return m
	}
	if out, err := Helm(chart(nil), "c", nil, "r", "ns"); err != nil || !strings.Contains(string(out), "# Source: c/templates/cm.yaml\n") {
		t.Fatalf("good chart: %v\n%s", err, out)
	}
	tests := []struct {
		name   string
		extra  map[string]string
		dir    string
		values []string
		want   []string
	}{
		{"not a chart", nil, "nope", nil, []string{"render chart nope", "not a chart"}},
		{"template parse error", map[string]string{"c/templates/bad.yaml": "{{ .Values.name "}, "c", nil, []string{"render chart c", "bad.yaml"}},
		{"template exec error", map[string]string{"c/templates/bad.yaml": "{{ required \"need foo\" .Values.foo }}"}, "c", nil, []string{"render chart c", "need foo"}},
		{"missing values file", nil, "c", []string{"envs/nope.yaml"}, []string{"render chart c", "envs/nope.yaml"}},
		{"invalid values file", map[string]string{"envs/bad.yaml": "a: [\n"}, "c", []string{"envs/bad.yaml"}, []string{"render chart c", "values file envs/bad.yaml"}},
		{"invalid values.yaml", map[string]string{"c/values.yaml": "a: [\n"}, "c", nil, []string{"render chart c", "values.yaml"}},
		{"dependency not vendored", map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n"}, "c", nil, []string{"c/Chart.yaml", "redis", "not vendored"}},
		{"invalid Chart.yaml", map[string]string{"c/Chart.yaml": "name: [\n"}, "c", nil, []string{"render chart c", "Chart.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Helm(chart(tt.extra), tt.dir, tt.values, "r", "ns")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestManifestsErrors(t *testing.T) {
	if _, err := Manifests(repo, "nope"); err == nil || !strings.Contains(err.Error(), "read manifests nope") {
		t.Errorf("missing dir: %v", err)
	}
	out, err := Manifests(repo, "manifests")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "resources:") || strings.Contains(string(out), "not: [yaml") || strings.Contains(string(out), "workflow") {
		t.Errorf("kustomization, hidden or non-YAML file included:\n%s", out)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(repo, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
