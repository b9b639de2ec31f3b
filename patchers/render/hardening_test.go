package render

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/patchers/patcherstest"
)

// laughs is a billion-laughs document: width aliases per level, levels
// deep, so that expanding it makes width^levels nodes. Tests keep it to
// about a million nodes, a few hundred MB if a decoder expanded it, so
// that a regression costs memory, not the machine.
func laughs(width, levels int) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n" + patcherstest.AliasBomb(width, levels)
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v), Mode: 0o644}
	}
	return m
}

func wantLimit(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestCheckYAML(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		extra      int64 // alias nodes the data adds; -1 for an error
	}{
		{"no aliases", "a: [1, 2]\nb: {c: d}\n", 0},
		{"one alias", "a: &x [1, 2]\nb: *x\n", 2},
		{"merge key", "a: &x {p: 1, q: 2}\nb:\n  <<: *x\n", 4},
		{"two documents", "a: &x [1, 2]\nb: *x\n---\na: &y [1]\nb: *y\nc: *y\n", 4},
		{"not YAML", "a: &x [\nb: *x", 0},
		{"bomb", laughs(10, 9), -1},
		{"self alias", "a: &x [*x]\n", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			l.MaxYAMLAliasNodes = tt.extra
			if tt.extra < 0 {
				l.MaxYAMLAliasNodes = 1000
			}
			err := l.CheckYAML("f.yaml", []byte(tt.data))
			if tt.extra < 0 {
				wantLimit(t, err, "f.yaml")
				return
			}
			if err != nil {
				t.Fatalf("at the exact limit %d: %v", tt.extra, err)
			}
			if tt.extra > 0 {
				l.MaxYAMLAliasNodes = tt.extra - 1
				wantLimit(t, l.CheckYAML("f.yaml", []byte(tt.data)), "f.yaml", "max_yaml_alias_nodes")
			}
		})
	}
}

// TestAliasBombs: a billion-laughs file is refused, naming it, wherever a
// repository feeds YAML to a decoder that expands aliases: a resource in a
// kustomize base (kyaml expands it inside krusty), a Helm values file, a
// chart template's output, a plain manifest.
func TestAliasBombs(t *testing.T) {
	bomb := laughs(10, 6)
	chart := map[string]string{
		"c/Chart.yaml":            "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/a.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"c/values.yaml":           "x: 1\n",
		"envs/prod.yaml":          bomb,
		"d/Chart.yaml":            "apiVersion: v2\nname: d\nversion: 0.1.0\n",
		"d/templates/bomb.yaml":   "{{ .Files.Get \"lol.b64\" | b64dec }}",
		"d/lol.b64":               base64.StdEncoding.EncodeToString([]byte(bomb)),
		"k/kustomization.yaml":    "resources:\n- ../base\n",
		"base/kustomization.yaml": "resources:\n- lol.yaml\n",
		"base/lol.yaml":           bomb,
		"m/lol.yaml":              bomb,
	}
	repo := mapFS(chart)
	for _, tt := range []struct {
		name   string
		render func() ([]byte, error)
		file   string
	}{
		{"kustomize resource", func() ([]byte, error) { return Kustomize(repo, "k") }, "base/lol.yaml"},
		{"helm values", func() ([]byte, error) { return Helm(repo, "c", []string{"envs/prod.yaml"}, "r", "ns") }, "envs/prod.yaml"},
		{"helm output", func() ([]byte, error) { return Helm(repo, "d", nil, "r", "ns") }, "rendered chart d"},
		{"manifests", func() ([]byte, error) { return Manifests(repo, "m") }, "m/lol.yaml"},
		{"objects", func() ([]byte, error) { _, err := Objects([]byte(bomb)); return nil, err }, "rendered manifests"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.render()
			wantLimit(t, err, tt.file, "max_yaml_alias_nodes")
			if !errors.Is(err, ErrLimit) {
				t.Errorf("%v does not wrap ErrLimit", err)
			}
		})
	}
}

// TestHelmTemplateBounded: a chart template that loops, or prints without
// end, is stopped at the limit it passes, and the error names it.
func TestHelmTemplateBounded(t *testing.T) {
	small := DefaultLimits()
	small.MaxMemoryBytes = 128 << 20
	small.MaxOutputBytes = 1 << 20
	small.Timeout = 2 * time.Second
	for _, tt := range []struct {
		name, tmpl string
		limits     func(Limits) Limits
		want       string
	}{
		// 300 MB of "x": passes the memory limit inside text/template.
		{"nested range", "{{range until 10000}}{{range until 300}}" + strings.Repeat("x", 100) + "{{end}}{{end}}", func(l Limits) Limits { l.Timeout = time.Minute; return l }, "max_memory_bytes"},
		// 25 million empty iterations: passes a short timeout.
		{"long loop", "{{range until 5000}}{{range until 5000}}{{end}}{{end}}", func(l Limits) Limits { l.Timeout = 100 * time.Millisecond; return l }, "timeout"},
		// 2 MB of output, under the memory limit.
		{"big output", "a: {{ repeat 2000000 \"x\" }}", nil, "max_output_bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := small
			if tt.limits != nil {
				l = tt.limits(l)
			}
			repo := mapFS(map[string]string{
				"c/Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"c/templates/x.yaml": tt.tmpl,
			})
			_, err := l.Helm(context.Background(), repo, "c", nil, "r", "ns")
			wantLimit(t, err, "render chart c", tt.want)
			if !errors.Is(err, ErrLimit) {
				t.Errorf("%v does not wrap ErrLimit", err)
			}
			// The pool still renders after a child was killed.
			ok := mapFS(map[string]string{
				"c/Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"c/templates/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			})
			if _, err := l.Helm(context.Background(), ok, "c", nil, "r", "ns"); err != nil {
				t.Errorf("render after a limit: %v", err)
			}
		})
	}
}

// TestKustomizeNeverFetches: every kustomization field that krusty would
// load a URL or a git repository from is refused with the field named;
// a loopback listener behind the URL receives nothing, a git first on PATH
// is never run and nothing is created in TMPDIR.
func TestKustomizeNeverFetches(t *testing.T) {
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fetched}\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/x.yaml"

	bin := t.TempDir()
	called := filepath.Join(t.TempDir(), "git-called")
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\necho \"$@\" >> "+called+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	for _, tt := range []struct {
		name  string
		kust  string
		extra map[string]string
		field string
	}{
		{"resources url", "resources:\n- " + url + "\n", nil, "resources"},
		{"resources git ssh", "resources:\n- git@github.com:acme/x.git\n", nil, "resources"},
		{"resources git https", "resources:\n- https://127.0.0.1:1/acme/x.git?ref=v1\n", nil, "resources"},
		{"resources file url", "resources:\n- file:///tmp/x\n", nil, "resources"},
		{"resources github", "resources:\n- github.com/acme/x//base?ref=v1\n", nil, "resources"},
		{"bases", "bases:\n- " + url + "\n", nil, "bases"},
		{"components", "components:\n- " + url + "\n", nil, "components"},
		{"transformers", "resources: [cm.yaml]\ntransformers:\n- " + url + "\n", nil, "transformers"},
		{"transformers git", "resources: [cm.yaml]\ntransformers:\n- git::https://127.0.0.1:1/acme/x\n", nil, "transformers"},
		{"generators", "generators:\n- " + url + "\n", nil, "generators"},
		{"validators", "resources: [cm.yaml]\nvalidators:\n- " + url + "\n", nil, "validators"},
		{"configurations", "resources: [cm.yaml]\nconfigurations:\n- " + url + "\n", nil, "configurations"},
		{"crds", "resources: [cm.yaml]\ncrds:\n- " + url + "\n", nil, "crds"},
		{"openapi", "resources: [cm.yaml]\nopenapi:\n  path: " + url + "\n", nil, "openapi.path"},
		{"patches", "resources: [cm.yaml]\npatches:\n- path: " + url + "\n", nil, "patches[0].path"},
		{"patchesJson6902", "resources: [cm.yaml]\npatchesJson6902:\n- path: " + url + "\n  target: {kind: ConfigMap, name: a}\n", nil, "patches"},
		{"patchesStrategicMerge", "resources: [cm.yaml]\npatchesStrategicMerge:\n- " + url + "\n", nil, "patchesStrategicMerge"},
		{"replacements", "resources: [cm.yaml]\nreplacements:\n- path: " + url + "\n", nil, "replacements[0].path"},
		{"configMapGenerator", "configMapGenerator:\n- name: g\n  files: [k=" + url + "]\n", nil, "configMapGenerator[0].files"},
		{"secretGenerator", "secretGenerator:\n- name: g\n  envs: [" + url + "]\n", nil, "secretGenerator[0].envs"},
		{"helmCharts", "helmCharts:\n- name: x\n  repo: " + url + "\n", nil, "helmCharts"},
		{"helmGlobals", "helmGlobals:\n  chartHome: charts\n", nil, "helmCharts"},
		{"plugin config file", "resources: [cm.yaml]\ntransformers: [t.yaml]\n", map[string]string{
			"k/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: " + url + "\n",
		}, "PatchTransformer"},
		{"plugin config folder", "resources: [cm.yaml]\ntransformers: [t]\n", map[string]string{
			"k/t/kustomization.yaml": "resources: [p.yaml]\n",
			"k/t/p.yaml":             "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata: {name: p}\npaths: [" + url + "]\n",
		}, "PatchStrategicMergeTransformer"},
		{"inline plugin config", "resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  path: " + url + "\n", nil, "PatchTransformer"},
		{"exec function", "resources: [cm.yaml]\ngenerators: [g.yaml]\n", map[string]string{
			"k/g.yaml": "apiVersion: x/v1\nkind: G\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: /bin/sh}\n",
		}, "config.kubernetes.io/function"},
		{"container function", "resources: [cm.yaml]\ntransformers: [g.yaml]\n", map[string]string{
			"k/g.yaml": "apiVersion: x/v1\nkind: G\nmetadata:\n  name: g\n  annotations:\n    config.k8s.io/function: |\n      container: {image: x}\n",
		}, "config.k8s.io/function"},
		{"external plugin", "resources: [cm.yaml]\ntransformers: [g.yaml]\n", map[string]string{
			"k/g.yaml": "apiVersion: x/v1\nkind: SomePlugin\nmetadata: {name: g}\n",
		}, "not a kustomize builtin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"k/kustomization.yaml": tt.kust, "k/cm.yaml": cm}
			for k, v := range tt.extra {
				files[k] = v
			}
			_, err := Kustomize(mapFS(files), "k")
			wantLimit(t, err, tt.field)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback listener received %d requests", n)
	}
	if b, err := os.ReadFile(called); err == nil {
		t.Errorf("git was run: %s", b)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("TMPDIR holds %d entries, first %s", len(ents), ents[0].Name())
	}
}

// TestSymlinks: a repository file that is a symlink leaving the repository
// is an error naming it, and its target's content is never read; links
// that stay inside are followed.
func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("TOPSECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// repo makes a repository of files ("->" prefixes a link's target).
	repo := func(files map[string]string) fs.FS {
		dir := t.TempDir()
		for name, data := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			if target, ok := strings.CutPrefix(data, "->"); ok {
				err = os.Symlink(strings.ReplaceAll(target, "OUTSIDE", outside), p)
			} else {
				err = os.WriteFile(p, []byte(data), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return os.DirFS(dir)
	}
	chart := func(extra map[string]string) fs.FS {
		files := map[string]string{
			"c/Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\n",
			"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: {{ .Values.x | quote }}}\n",
		}
		maps.Copy(files, extra)
		return repo(files)
	}
	kust := repo(map[string]string{
		"k/kustomization.yaml": "configMapGenerator:\n- name: g\n  files: [secret.txt]\n",
		"k/secret.txt":         "->OUTSIDE/secret.txt",
	})
	for _, tt := range []struct {
		name   string
		render func() ([]byte, error)
		file   string
	}{
		{"kustomize generator source", func() ([]byte, error) { return Kustomize(kust, "k") }, "k/secret.txt"},
		{"kustomize resource folder", func() ([]byte, error) {
			return Kustomize(repo(map[string]string{"k/kustomization.yaml": "resources: [ext]\n", "k/ext": "->OUTSIDE"}), "k")
		}, "k/ext"},
		{"helm values file", func() ([]byte, error) {
			return Helm(chart(map[string]string{"envs/prod.yaml": "->OUTSIDE/secret.txt"}), "c", []string{"envs/prod.yaml"}, "r", "ns")
		}, "envs/prod.yaml"},
		{"dangling values file", func() ([]byte, error) {
			return Helm(chart(map[string]string{"envs/prod.yaml": "->../nowhere.yaml"}), "c", []string{"envs/prod.yaml"}, "r", "ns")
		}, "envs/prod.yaml"},
		{"chart template", func() ([]byte, error) {
			return Helm(chart(map[string]string{"c/templates/leak.yaml": "->../../../" + filepath.Base(outside) + "/secret.txt"}), "c", nil, "r", "ns")
		}, "c/templates/leak.yaml"},
		{"manifest", func() ([]byte, error) {
			return Manifests(repo(map[string]string{"m/leak.yaml": "->OUTSIDE/secret.txt"}), "m")
		}, "m/leak.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.render()
			if strings.Contains(string(out), "TOPSECRET") || err != nil && strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatal("content from outside the repository was read")
			}
			wantLimit(t, err, tt.file)
		})
	}

	in := repo(map[string]string{
		"in/kustomization.yaml":          "resources: [shared]\nconfigMapGenerator:\n- name: g\n  files: [data.txt]\n",
		"real/data.txt":                  "inside\n",
		"in/data.txt":                    "->../real/data.txt",
		"shared-real/kustomization.yaml": "resources: [cm.yaml]\n",
		"shared-real/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
		"in/shared":                      "->../shared-real",
		// Bad links the kustomization never reads do not stop it.
		"docs/leak.txt": "->OUTSIDE/secret.txt",
		"docs/outside":  "->OUTSIDE",
		"docs/dangling": "->nowhere",
	})
	out, err := Kustomize(in, "in")
	if err != nil {
		t.Fatalf("a bad link the kustomization does not read: %v", err)
	}
	if strings.Contains(string(out), "TOPSECRET") {
		t.Fatal("content from outside the repository was read")
	}
	if !strings.Contains(string(out), "inside") || !strings.Contains(string(out), "name: shared") {
		t.Errorf("links inside the repository were not followed:\n%s", out)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Limits{}.Validate()
	for _, k := range []string{"timeout", "max_memory_bytes", "max_output_bytes", "max_input_bytes", "max_yaml_alias_nodes"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Validate of zero Limits = %v, want %s named", err, k)
		}
	}
	l := DefaultLimits()
	l.MaxInputBytes = 100
	_, err = l.Kustomize(context.Background(), mapFS(map[string]string{
		"k/kustomization.yaml": "resources: [cm.yaml]\n",
		"k/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: " + strings.Repeat("y", 200) + "}\n",
	}), "k")
	wantLimit(t, err, "max_input_bytes")
}
