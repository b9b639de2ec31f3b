package manifest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/patcherstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const fixture = "../../fixtures/repos/manifests"

// repoFS is the fixture repo as an in-memory fs.FS, so tests can change it.
func repoFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := os.DirFS(fixture)
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func intent(t testing.TB, js string) patchers.Intent {
	t.Helper()
	in, err := patchers.ParseIntent([]byte(js))
	if err != nil {
		t.Fatalf("intent %s: %v", js, err)
	}
	return in
}

func TestContract(t *testing.T) {
	patcherstest.Run(t, New(), repoFS(t), patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"})
}

func TestPlanGolden(t *testing.T) {
	cases := []struct{ name, intent string }{
		{"checkout_limit_memory", `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}}`},
		{"checkout_add_cpu_limit", `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}`},
		{"checkout_sidecar_requests", `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"envoy"},"params":{"requests":{"memory":"64Mi"}}}`},
		{"cart_empty_resources", `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"cart","container":"app"},"params":{"limits":{"memory":"256Mi"},"requests":{"memory":"128Mi"}}}`},
		{"ledger_no_resources", `{"kind":"set_resources","target":{"namespace":"payments","kind":"StatefulSet","name":"ledger"},"params":{"limits":{"memory":"2Gi"}}}`},
		{"frontend_quoted", `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"frontend","container":"web"},"params":{"limits":{"cpu":"2","memory":"512Mi"}}}`},
		{"agent_daemonset", `{"kind":"set_resources","target":{"namespace":"monitoring","kind":"DaemonSet","name":"node-agent"},"params":{"limits":{"memory":"300Mi"}}}`},
		{"scale_frontend", `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"frontend"},"params":{"replicas":4}}`},
		{"scale_ledger", `{"kind":"scale","target":{"namespace":"payments","kind":"StatefulSet","name":"ledger"},"params":{"replicas":3}}`},
		{"scale_cart_missing_replicas", `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"cart"},"params":{"replicas":2}}`},
		{"env_replace", `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"LOG_LEVEL","value":"debug"}}`},
		{"env_add", `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"FEATURE_X","value":"true"}}`},
		{"env_new_list", `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"cart","container":"redis"},"params":{"name":"MAXMEMORY","value":"100mb"}}`},
		{"env_quoted", `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"frontend","container":"web"},"params":{"name":"API_URL","value":"http://checkout.shop:8080"}}`},
		{"image_checkout", `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"image":"ghcr.io/acme/checkout:1.14.1"}}`},
		{"image_frontend_quoted", `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"frontend","container":"web"},"params":{"image":"ghcr.io/acme/frontend:5.0.0"}}`},
		{"hpa_v2", `{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"minReplicas":3,"maxReplicas":12,"targetCPUUtilizationPercentage":60}}`},
		{"hpa_v1", `{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"frontend"},"params":{"targetCPUUtilizationPercentage":60,"maxReplicas":8}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := repoFS(t)
			ch, err := New().Plan(context.Background(), repo, intent(t, c.intent))
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if ch.NoOp || len(ch.Files) == 0 {
				t.Fatalf("Plan gave no change: %+v", ch)
			}
			in := intent(t, c.intent)
			for _, o := range ch.ChangedObjects {
				if o.Namespace != in.Target.Namespace || (o.Name != in.Target.Name && o.Kind != "HorizontalPodAutoscaler") {
					t.Errorf("changed object %+v is not %s or its HPA", o, in.Target)
				}
			}
			var got bytes.Buffer
			got.WriteString("# " + ch.Summary + "\n")
			for _, f := range ch.Files {
				got.WriteString(f.Diff)
				checkOtherDocsUntouched(t, repo[f.Path].Data, f.Content)
			}
			golden(t, filepath.Join("testdata", c.name+".diff"), got.Bytes())
		})
	}
}

// checkOtherDocsUntouched: an edit changes one document of a file (two
// for the same-file HPA); every other document is byte-identical.
func checkOtherDocsUntouched(t *testing.T, before, after []byte) {
	t.Helper()
	a, b := splitDocs(before), splitDocs(after)
	if len(a) != len(b) {
		t.Fatalf("document count %d -> %d", len(a), len(b))
	}
	diff := 0
	for i := range a {
		if !bytes.Equal(a[i].sep, b[i].sep) {
			t.Errorf("separator %d changed: %q -> %q", i, a[i].sep, b[i].sep)
		}
		if !bytes.Equal(a[i].body, b[i].body) {
			diff++
		}
	}
	if diff == 0 || diff > 2 {
		t.Errorf("%d documents changed", diff)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestNoOp(t *testing.T) {
	for _, js := range []string{
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"512Mi"}}}`,
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"0.5Gi"},"requests":{"cpu":"0.25"}}}`,
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":3}}`,
		`{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"LOG_LEVEL","value":"info"}}`,
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"frontend","container":"web"},"params":{"image":"ghcr.io/acme/frontend:5.0.1"}}`,
		`{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"minReplicas":2,"targetCPUUtilizationPercentage":70}}`,
		`{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"frontend"},"params":{"targetCPUUtilizationPercentage":80}}`,
	} {
		ch, err := New().Plan(context.Background(), repoFS(t), intent(t, js))
		if err != nil {
			t.Errorf("%s: %v", js, err)
			continue
		}
		if !ch.NoOp || len(ch.Files) != 0 || !strings.Contains(ch.Summary, "no change") {
			t.Errorf("%s: want a no-op, got %+v", js, ch)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	dup := repoFS(t)
	dup["shop/checkout-copy.yaml"] = dup["shop/checkout.yaml"]
	broken := repoFS(t)
	broken["payments/broken.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\ndata:\n  a: b\n c: d\n")}
	cases := []struct {
		name   string
		repo   fs.FS
		intent string
		is     error
		want   []string
	}{
		{"not found", repoFS(t), `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"nope"},"params":{"replicas":2}}`,
			patchers.ErrNotFound, []string{"shop/Deployment/nope"}},
		{"wrong namespace", repoFS(t), `{"kind":"scale","target":{"namespace":"default","kind":"Deployment","name":"cart"},"params":{"replicas":2}}`,
			patchers.ErrNotFound, nil},
		{"ambiguous", dup, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":4}}`,
			patchers.ErrAmbiguous, []string{"shop/checkout.yaml:3", "shop/checkout-copy.yaml:3"}},
		{"invalid yaml", broken, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"cart"},"params":{"replicas":2}}`,
			nil, []string{"payments/broken.yaml", "line 7"}},
		{"no container", repoFS(t), `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"nope"},"params":{"name":"A","value":"b"}}`,
			patchers.ErrNotFound, []string{`"nope"`, "app, envoy"}},
		{"container needed", repoFS(t), `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"name":"A","value":"b"}}`,
			nil, []string{"target.container is needed"}},
		{"valueFrom", repoFS(t), `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"DB_PASSWORD","value":"x"}}`,
			nil, []string{"valueFrom", "shop/checkout.yaml"}},
		{"scale outside hpa", repoFS(t), `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":20}}`,
			nil, []string{"outside the bounds 2..10"}},
		{"limit below request", repoFS(t), `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"128Mi"}}}`,
			nil, []string{"memory limit 128Mi would be below its request 256Mi"}},
		{"hpa min above max", repoFS(t), `{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"minReplicas":11}}`,
			nil, []string{"above maxReplicas 10"}},
		{"no hpa", repoFS(t), `{"kind":"set_hpa","target":{"namespace":"payments","kind":"StatefulSet","name":"ledger"},"params":{"maxReplicas":3}}`,
			patchers.ErrNotFound, []string{"HorizontalPodAutoscaler"}},
		{"scale daemonset", repoFS(t), `{"kind":"scale","target":{"namespace":"monitoring","kind":"DaemonSet","name":"node-agent"},"params":{"replicas":2}}`,
			nil, []string{"monitoring/node-agent.yaml:1", "DaemonSet"}},
		{"previous", repoFS(t), `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`,
			nil, []string{"not supported yet"}},
		{"revert_commit", repoFS(t), `{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"commit":"abcdef1"}}`,
			nil, []string{"not supported yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New().Plan(context.Background(), c.repo, intent(t, c.intent))
			if err == nil {
				t.Fatal("Plan succeeded")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestOtherYAML: YAML that is not Kubernetes objects (a CI workflow, a
// tool's config) does not stop a plan.
func TestOtherYAML(t *testing.T) {
	repo := repoFS(t)
	repo[".github/workflows/ci.yaml"] = &fstest.MapFile{Data: []byte("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n")}
	repo["tools/lint.yml"] = &fstest.MapFile{Data: []byte("rules:\n  line-length: disable\n")}
	ch, err := New().Plan(context.Background(), repo, intent(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"frontend"},"params":{"replicas":5}}`))
	if err != nil || len(ch.Files) != 1 || ch.Files[0].Path != "shop/frontend.yaml" {
		t.Fatalf("Plan: %+v %v", ch, err)
	}
	if !strings.Contains(ch.RenderedDiff, "+    replicas: 5") {
		t.Errorf("rendered diff:\n%s", ch.RenderedDiff)
	}
}

func TestDetect(t *testing.T) {
	if !New().Detect(repoFS(t)) {
		t.Error("fixture not detected")
	}
	k := repoFS(t)
	k["kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources: []\n")}
	if New().Detect(k) {
		t.Error("a kustomization detected as plain manifests")
	}
	if New().Detect(fstest.MapFS{"README.md": {Data: []byte("hi")}}) {
		t.Error("a repo without YAML detected")
	}
}

// FuzzPlan: random bytes as a manifest file never make Plan panic, and an
// error never comes with files.
func FuzzPlan(f *testing.F) {
	base := repoFS(f)
	f.Add(base["shop/checkout.yaml"].Data)
	f.Add(base["shop/frontend.yaml"].Data)
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("a: [1, {b: c}\n"))
	f.Add([]byte("kind: Deployment\nmetadata: {name: checkout, namespace: shop}\nspec: {template: {spec: {containers: [{name: app, resources: {}}]}}}\n"))
	f.Add([]byte("kind: Deployment\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits: &a\n            memory: 1Gi\n"))
	in := intent(f, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}}`)
	env := intent(f, `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"A","value":"b"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		repo := fstest.MapFS{"shop/checkout.yaml": &fstest.MapFile{Data: b}}
		for _, in := range []patchers.Intent{in, env} {
			ch, err := New().Plan(context.Background(), repo, in)
			if err != nil && len(ch.Files) > 0 {
				t.Fatalf("error %v with files", err)
			}
			if err != nil || ch.NoOp {
				continue
			}
			// A plan that passed verification is done: planning it again
			// on its result is a no-op.
			again := fstest.MapFS{"shop/checkout.yaml": &fstest.MapFile{Data: ch.Files[0].Content}}
			ch2, err := New().Plan(context.Background(), again, in)
			if err != nil || !ch2.NoOp {
				t.Fatalf("replanning on\n%s\ngave %+v, %v", ch.Files[0].Content, ch2, err)
			}
		}
	})
}

// TestVerifyRefuses: verification refuses edits that change another object
// or do not give the intended value.
func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	repo := repoFS(t)
	docs, _, err := load(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	target, err := find(docs, patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	in := intent(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":4}}`)
	edit := func(p, old, new string) []byte {
		return []byte(strings.Replace(string(repo[p].Data), old, new, 1))
	}
	hpa, err := findHPA(docs, target)
	if err != nil || hpa == nil {
		t.Fatalf("hpa: %v %v", hpa, err)
	}
	var ch patchers.Change
	cpu := intent(t, `{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"targetCPUUtilizationPercentage":60}}`)
	err = verify(ctx, repo, map[string][]byte{"shop/checkout.yaml": edit("shop/checkout.yaml", "averageUtilization: 70", "averageUtilization: 65")}, cpu, &plan{target: target, hpa: hpa}, &ch)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "a cpu metric at 60") {
		t.Errorf("wrong CPU target: %v", err)
	}
	for _, c := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"other object", map[string][]byte{
			"shop/checkout.yaml": edit("shop/checkout.yaml", "replicas: 3", "replicas: 4"),
			"shop/cart.yaml":     edit("shop/cart.yaml", "redis:7.2", "redis:7.4"),
		}, "Deployment/cart changed too"},
		{"wrong value", map[string][]byte{
			"shop/checkout.yaml": edit("shop/checkout.yaml", "replicas: 3", "replicas: 5"),
		}, `spec.replicas is "5", want "4"`},
		{"target untouched", map[string][]byte{
			"shop/cart.yaml": edit("shop/cart.yaml", "redis:7.2", "redis:7.4"),
		}, "changed too"},
	} {
		var ch patchers.Change
		err := verify(ctx, repo, c.files, in, &plan{target: target}, &ch)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal mentioning %q", c.name, err, c.want)
		}
	}
}

// TestEditShapes: the text edits on YAML shapes the fixture does not hold.
func TestEditShapes(t *testing.T) {
	const head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n"
	mem := `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"api","container":"app"},"params":{"limits":{"memory":"1Gi"}}}`
	env := `{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"api","container":"app"},"params":{"name":"MODE","value":"on"}}`
	cases := []struct{ name, in, intent, want string }{
		{"null resources", head + "      - name: app\n        resources:\n", mem,
			head + "      - name: app\n        resources:\n          limits:\n            memory: 1Gi\n"},
		{"null resources with comment", head + "      - name: app\n        resources: # none yet\n        image: x\n", mem,
			head + "      - name: app\n        resources: # none yet\n          limits:\n            memory: 1Gi\n        image: x\n"},
		{"no final newline", head + "      - name: app\n        image: x", mem,
			head + "      - name: app\n        image: x\n        resources:\n          limits:\n            memory: 1Gi\n"},
		{"crlf", strings.ReplaceAll(head+"      - name: app\n        image: x\n", "\n", "\r\n"), mem,
			strings.ReplaceAll(head+"      - name: app\n        image: x\n        resources:\n          limits:\n            memory: 1Gi\n", "\n", "\r\n")},
		{"null leaf", head + "      - name: app\n        resources:\n          limits:\n            memory:\n            cpu: 1\n", mem,
			head + "      - name: app\n        resources:\n          limits:\n            memory: 1Gi\n            cpu: 1\n"},
		{"null leaf last", head + "      - name: app\n        resources:\n          limits:\n            memory:\n", mem,
			head + "      - name: app\n        resources:\n          limits:\n            memory: 1Gi\n"},
		{"tilde leaf", head + "      - name: app\n        resources:\n          limits:\n            memory: ~ # unset\n", mem,
			head + "      - name: app\n        resources:\n          limits:\n            memory: 1Gi # unset\n"},
		{"flow value", head + "      - name: app\n        resources: {limits: {memory: 512Mi}}\n", mem,
			head + "      - name: app\n        resources: {limits: {memory: 1Gi}}\n"},
		{"flow container", head + "      - {name: app, image: x, resources: {limits: {memory: 512Mi}}}\n", mem,
			head + "      - {name: app, image: x, resources: {limits: {memory: 1Gi}}}\n"},
		{"empty env", head + "      - name: app\n        env: []\n", env,
			head + "      - name: app\n        env:\n        - name: MODE\n          value: \"on\"\n"},
		{"block scalar before", head + "      - name: app\n        args: |\n          one\n\n          two\n", mem,
			head + "      - name: app\n        args: |\n          one\n\n          two\n        resources:\n          limits:\n            memory: 1Gi\n"},
		{"second document", "# top\n---\n" + head + "      - name: app\n        image: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", mem,
			"# top\n---\n" + head + "      - name: app\n        image: x\n        resources:\n          limits:\n            memory: 1Gi\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := fstest.MapFS{"shop/api.yaml": {Data: []byte(c.in)}}
			ch, err := New().Plan(context.Background(), repo, intent(t, c.intent))
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if len(ch.Files) != 1 || string(ch.Files[0].Content) != c.want {
				t.Fatalf("got\n%q\nwant\n%q", ch.Files[0].Content, c.want)
			}
		})
	}
	// Shapes refused with a reason, never edited wrongly.
	for _, c := range []struct{ name, in, want string }{
		{"flow add", head + "      - {name: app, image: x}\n", "flow-style"},
		{"alias", head + "      - name: app\n        resources: *r\n", "yaml"},
	} {
		repo := fstest.MapFS{"shop/api.yaml": {Data: []byte(c.in)}}
		_, err := New().Plan(context.Background(), repo, intent(t, mem))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "shop/api.yaml") {
			t.Errorf("%s: %v, want an error naming the file and %q", c.name, err, c.want)
		}
	}
}

func TestStringText(t *testing.T) {
	for in, want := range map[string]string{
		"768Mi": "768Mi", "1": `"1"`, "0.5": `"0.5"`, "on": `"on"`, "No": `"No"`, "true": `"true"`,
		"1:30": `"1:30"`, "": `""`, "null": `"null"`, "a: b": `"a: b"`, "x #y": `"x #y"`,
		"ghcr.io/acme/app:1.2.3": "ghcr.io/acme/app:1.2.3", "line\nbreak": `"line\nbreak"`, "-x": "-x", "- x": `"- x"`,
	} {
		if got := stringText(in); got != want {
			t.Errorf("stringText(%q) = %s, want %s", in, got, want)
		}
	}
}
