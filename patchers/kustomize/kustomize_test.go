package kustomize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const fixture = "../../fixtures/repos/kustomize"

func intent(t testing.TB, kind, ns, wkind, name, container, params string) patchers.Intent {
	t.Helper()
	in := patchers.Intent{Kind: kind, Target: patchers.Target{Namespace: ns, Kind: wkind, Name: name, Container: container}, Params: json.RawMessage(params)}
	if err := in.Validate(); err != nil {
		t.Fatalf("test intent: %v", err)
	}
	return in
}

// golden renders a Change as text: summary, changed objects, per-file
// diffs and the new files in full, so comment preservation is checked
// byte for byte.
func golden(ch patchers.Change) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "summary: %s\n", ch.Summary)
	for _, o := range ch.ChangedObjects {
		fmt.Fprintf(&b, "changed: %s %s %s/%s\n", o.APIVersion, o.Kind, o.Namespace, o.Name)
	}
	for _, f := range ch.Files {
		fmt.Fprintf(&b, "\n=== diff %s\n%s", f.Path, f.Diff)
	}
	for _, f := range ch.Files {
		fmt.Fprintf(&b, "\n=== content %s\n%s", f.Path, f.Content)
	}
	return b.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", file, render.UnifiedDiff(file, "got", want, got))
	}
}

func TestPlan(t *testing.T) {
	repo := os.DirFS(fixture)
	const (
		prod    = "shop"
		staging = "shop-staging"
	)
	tests := []struct {
		name    string
		in      patchers.Intent
		summary string
		files   []string
	}{
		{"resources_prod_existing_patch",
			intent(t, "set_resources", prod, "Deployment", "checkout", "app", `{"limits":{"memory":"768Mi"}}`),
			"shop/Deployment/checkout[app]: memory limit 512Mi -> 768Mi (overlays/prod)",
			[]string{"overlays/prod/checkout-resources.yaml"}},
		{"resources_prod_request_keeps_comment",
			intent(t, "set_resources", prod, "Deployment", "checkout", "app", `{"requests":{"cpu":"600m"}}`),
			"shop/Deployment/checkout[app]: cpu request 500m -> 600m (overlays/prod)",
			[]string{"overlays/prod/checkout-resources.yaml"}},
		{"resources_staging_new_patch",
			intent(t, "set_resources", staging, "Deployment", "checkout", "app", `{"limits":{"memory":"768Mi","cpu":"2"}}`),
			"shop-staging/Deployment/checkout[app]: cpu limit 1 -> 2, memory limit 512Mi -> 768Mi (overlays/staging)",
			[]string{"overlays/staging/checkout-resources.yaml", "overlays/staging/kustomization.yaml"}},
		{"resources_statefulset",
			intent(t, "set_resources", prod, "StatefulSet", "db", "", `{"limits":{"memory":"1Gi"}}`),
			"shop/StatefulSet/db: memory limit 512Mi -> 1Gi (overlays/prod)",
			[]string{"overlays/prod/db-resources.yaml", "overlays/prod/kustomization.yaml"}},
		{"scale_prod_existing_entry",
			intent(t, "scale", prod, "Deployment", "cart", "", `{"replicas":5}`),
			"shop/Deployment/cart: replicas 3 -> 5 (overlays/prod)",
			[]string{"overlays/prod/kustomization.yaml"}},
		{"scale_staging_new_entry",
			intent(t, "scale", staging, "Deployment", "checkout", "", `{"replicas":4}`),
			"shop-staging/Deployment/checkout: replicas 2 -> 4 (overlays/staging)",
			[]string{"overlays/staging/kustomization.yaml"}},
		{"env_update_prod",
			intent(t, "set_env", prod, "Deployment", "checkout", "app", `{"name":"LOG_LEVEL","value":"debug"}`),
			`shop/Deployment/checkout[app]: env LOG_LEVEL "info" -> "debug" (overlays/prod)`,
			[]string{"overlays/prod/checkout-resources.yaml"}},
		{"env_add_staging",
			intent(t, "set_env", staging, "Deployment", "cart", "app", `{"name":"CACHE_TTL","value":"30"}`),
			`shop-staging/Deployment/cart[app]: env CACHE_TTL unset -> "30" (overlays/staging)`,
			[]string{"overlays/staging/cart-env.yaml", "overlays/staging/kustomization.yaml"}},
		{"image_prod_existing_entry",
			intent(t, "rollback_image", prod, "Deployment", "checkout", "app", `{"image":"registry.example.com/shop/checkout:1.4.1"}`),
			"shop/Deployment/checkout[app]: image registry.example.com/shop/checkout:1.4.2 -> registry.example.com/shop/checkout:1.4.1 (overlays/prod)",
			[]string{"overlays/prod/kustomization.yaml"}},
		{"image_staging_new_entry",
			intent(t, "rollback_image", staging, "StatefulSet", "db", "redis", `{"image":"docker.io/library/redis:7.0"}`),
			"shop-staging/StatefulSet/db[redis]: image docker.io/library/redis:7.2 -> docker.io/library/redis:7.0 (overlays/staging)",
			[]string{"overlays/staging/kustomization.yaml"}},
		{"hpa_prod",
			intent(t, "set_hpa", prod, "Deployment", "checkout", "", `{"maxReplicas":10,"targetCPUUtilizationPercentage":60}`),
			"shop/Deployment/checkout: maxReplicas 6 -> 10, targetCPUUtilizationPercentage 70 -> 60 (overlays/prod)",
			[]string{"overlays/prod/checkout-hpa.yaml", "overlays/prod/kustomization.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := New().Plan(context.Background(), repo, tt.in)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if ch.NoOp {
				t.Fatal("NoOp")
			}
			if ch.Summary != tt.summary {
				t.Errorf("summary\n got %s\nwant %s", ch.Summary, tt.summary)
			}
			var paths []string
			for _, f := range ch.Files {
				paths = append(paths, f.Path)
			}
			if strings.Join(paths, " ") != strings.Join(tt.files, " ") {
				t.Errorf("files %v, want %v", paths, tt.files)
			}
			for _, p := range paths {
				if strings.HasPrefix(p, "base/") {
					t.Errorf("edited the shared base: %s", p)
				}
			}
			if ch.RenderedDiff == "" {
				t.Error("no rendered diff")
			}
			checkGolden(t, tt.name, golden(ch))
			// Planning the same intent on the patched repository is a no-op.
			files := map[string][]byte{}
			for _, f := range ch.Files {
				files[f.Path] = f.Content
			}
			again, err := New().Plan(context.Background(), render.Overlay(repo, files), tt.in)
			if err != nil {
				t.Fatalf("Plan on the patched repo: %v", err)
			}
			if !again.NoOp || len(again.Files) > 0 {
				t.Errorf("Plan on the patched repo is not a no-op: %s", again.Summary)
			}
		})
	}
}

// baseOnly is the fixture's base alone, deployed to namespace shop: the
// base is the only definition, so it is edited in place.
func baseOnly(t testing.TB) fstest.MapFS {
	m := mapFS(t, nil)
	for p := range m {
		if strings.HasPrefix(p, "overlays/") {
			delete(m, p)
		}
	}
	k := strings.Replace(readFixture(t, "base/kustomization.yaml"), "kind: Kustomization\n", "kind: Kustomization\nnamespace: shop\n", 1)
	m["base/kustomization.yaml"] = &fstest.MapFile{Data: []byte(k)}
	return m
}

func TestBaseOnly(t *testing.T) {
	tests := []struct {
		name  string
		in    patchers.Intent
		files []string
	}{
		{"base_only_resources", intent(t, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"768Mi"}}`), []string{"base/checkout.yaml"}},
		{"base_only_env_multidoc", intent(t, "set_env", "shop", "StatefulSet", "db", "redis", `{"name":"MAXMEMORY","value":"400mb"}`), []string{"base/db.yaml"}},
		{"base_only_hpa", intent(t, "set_hpa", "shop", "Deployment", "checkout", "", `{"targetCPUUtilizationPercentage":80}`), []string{"base/checkout-hpa.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := New().Plan(context.Background(), baseOnly(t), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range ch.Files {
				paths = append(paths, f.Path)
			}
			if strings.Join(paths, " ") != strings.Join(tt.files, " ") {
				t.Errorf("files %v, want %v", paths, tt.files)
			}
			checkGolden(t, tt.name, golden(ch))
		})
	}
}

func TestSharedFiles(t *testing.T) {
	// A component (not a root of its own) patches cart for staging; the
	// plan adds staging's own patch instead of editing the shared one.
	shared := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cart\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          resources:\n            limits:\n              memory: 300Mi\n"
	repo := mapFS(t, map[string]string{
		"components/sizing/cart-resources.yaml": shared,
		"components/sizing/kustomization.yaml":  "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: cart-resources.yaml\n",
		"overlays/staging/kustomization.yaml":   readFixture(t, "overlays/staging/kustomization.yaml") + "components:\n  - ../../components/sizing\n",
	})
	ch, err := New().Plan(context.Background(), repo, intent(t, "set_resources", "shop-staging", "Deployment", "cart", "app", `{"limits":{"memory":"400Mi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range ch.Files {
		paths = append(paths, f.Path)
	}
	if want := "overlays/staging/cart-resources.yaml overlays/staging/kustomization.yaml"; strings.Join(paths, " ") != want {
		t.Errorf("files %v, want %s (a new patch, not the shared one)", paths, want)
	}
	if want := "shop-staging/Deployment/cart[app]: memory limit 300Mi -> 400Mi (overlays/staging)"; ch.Summary != want {
		t.Errorf("summary %q, want %q", ch.Summary, want)
	}
}

func TestChangedObjects(t *testing.T) {
	repo := os.DirFS(fixture)
	ch, err := New().Plan(context.Background(), repo, intent(t, "set_hpa", "shop", "Deployment", "checkout", "", `{"minReplicas":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.ChangedObjects) != 1 || ch.ChangedObjects[0] != (patchers.Object{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}) {
		t.Errorf("changed objects %v, want only the HPA", ch.ChangedObjects)
	}
	ch, err = New().Plan(context.Background(), repo, intent(t, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"1Gi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.ChangedObjects) != 1 || ch.ChangedObjects[0].Name != "checkout" || ch.ChangedObjects[0].Kind != "Deployment" {
		t.Errorf("changed objects %v, want only the Deployment", ch.ChangedObjects)
	}
}

func TestNoOp(t *testing.T) {
	repo := os.DirFS(fixture)
	tests := []struct {
		in      patchers.Intent
		summary string
	}{
		{intent(t, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"0.5Gi"}}`),
			"shop/Deployment/checkout[app]: memory limit already 512Mi (overlays/prod)"},
		{intent(t, "scale", "shop", "Deployment", "cart", "", `{"replicas":3}`),
			"shop/Deployment/cart: replicas already 3 (overlays/prod)"},
		{intent(t, "set_env", "shop-staging", "Deployment", "cart", "app", `{"name":"REDIS_URL","value":"redis://db:6379"}`),
			`shop-staging/Deployment/cart[app]: env REDIS_URL already "redis://db:6379" (overlays/staging)`},
		{intent(t, "rollback_image", "shop-staging", "Deployment", "checkout", "app", `{"image":"registry.example.com/shop/checkout:1.5.0-rc.1"}`),
			"shop-staging/Deployment/checkout[app]: image already registry.example.com/shop/checkout:1.5.0-rc.1 (overlays/staging)"},
		{intent(t, "set_hpa", "shop", "Deployment", "checkout", "", `{"minReplicas":2}`),
			"shop/Deployment/checkout: minReplicas already 2 (overlays/prod)"},
	}
	for _, tt := range tests {
		ch, err := New().Plan(context.Background(), repo, tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in.Kind, err)
			continue
		}
		if !ch.NoOp || len(ch.Files) > 0 || ch.Summary != tt.summary {
			t.Errorf("%s: got NoOp %v, %d files, summary %q; want no-op %q", tt.in.Kind, ch.NoOp, len(ch.Files), ch.Summary, tt.summary)
		}
	}
}

// mapFS copies the fixture into a MapFS, with files replaced (nil deletes).
func mapFS(t testing.TB, files map[string]string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := os.DirFS(fixture)
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, s := range files {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

func TestErrors(t *testing.T) {
	memory := `{"limits":{"memory":"768Mi"}}`
	tests := []struct {
		name  string
		repo  fs.FS
		in    patchers.Intent
		is    error
		wants []string // substrings of the error
	}{
		{"invalid yaml in a patch file",
			mapFS(t, map[string]string{"overlays/prod/checkout-resources.yaml": "kind: Deployment\nspec: [unclosed\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), nil,
			[]string{"parse patch overlays/prod/checkout-resources.yaml (listed in overlays/prod/kustomization.yaml)"}},
		{"invalid yaml in a kustomization",
			mapFS(t, map[string]string{"overlays/staging/kustomization.yaml": "resources: [../../base\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), nil,
			[]string{"parse overlays/staging/kustomization.yaml"}},
		{"patch file listed but missing",
			mapFS(t, map[string]string{"overlays/prod/kustomization.yaml": readFixture(t, "overlays/prod/kustomization.yaml") + "patchesStrategicMerge:\n  - gone.yaml\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), nil,
			[]string{"read patch overlays/prod/gone.yaml (listed in overlays/prod/kustomization.yaml)"}},
		{"kustomization that does not build",
			mapFS(t, map[string]string{"overlays/staging/kustomization.yaml": "resources:\n  - ../../missing\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), nil,
			[]string{"overlays/staging", "missing"}},
		{"missing target",
			os.DirFS(fixture),
			intent(t, "set_resources", "shop", "Deployment", "payments", "app", memory), patchers.ErrNotFound,
			[]string{"shop/Deployment/payments", "overlays/prod", "overlays/staging"}},
		{"missing container",
			os.DirFS(fixture),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "web", memory), patchers.ErrNotFound,
			[]string{"web"}},
		{"ambiguous target",
			mapFS(t, map[string]string{"overlays/prod-eu/kustomization.yaml": "namespace: shop\nresources:\n  - ../../base\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), patchers.ErrAmbiguous,
			[]string{"overlays/prod and overlays/prod-eu"}},
		{"limit below the rendered request",
			os.DirFS(fixture),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"300Mi"}}`), nil,
			[]string{"memory limit 300Mi would be below its request 384Mi"}},
		{"scale outside the HPA bounds",
			os.DirFS(fixture),
			intent(t, "scale", "shop", "Deployment", "checkout", "", `{"replicas":9}`), nil,
			[]string{"outside the bounds 2..6", "HorizontalPodAutoscaler/checkout"}},
		{"hpa min above max",
			os.DirFS(fixture),
			intent(t, "set_hpa", "shop", "Deployment", "checkout", "", `{"minReplicas":8}`), nil,
			[]string{"minReplicas 8 would be above maxReplicas 6"}},
		{"no hpa",
			os.DirFS(fixture),
			intent(t, "set_hpa", "shop", "Deployment", "cart", "", `{"minReplicas":2}`), patchers.ErrNotFound,
			[]string{"no HorizontalPodAutoscaler"}},
		{"image shared with another workload",
			mapFS(t, map[string]string{"base/cart.yaml": strings.Replace(readFixture(t, "base/cart.yaml"), "shop/cart:3.2.1", "shop/checkout:1.4.0", 1)}),
			intent(t, "rollback_image", "shop-staging", "Deployment", "checkout", "app", `{"image":"registry.example.com/shop/checkout:1.4.1"}`), nil,
			[]string{"would also change shop-staging/Deployment/cart"}},
		{"patch file another environment loads",
			mapFS(t, map[string]string{"overlays/kustomization.yaml": "namespace: shop-canary\nresources:\n  - prod/checkout-resources.yaml\n"}),
			intent(t, "set_resources", "shop", "Deployment", "checkout", "app", memory), nil,
			[]string{"refuse the change to overlays/prod: it would also change the render of overlays"}},
		{"previous needs history",
			os.DirFS(fixture),
			intent(t, "rollback_image", "shop", "Deployment", "checkout", "app", `{"previous":true}`), ErrNotSupported,
			[]string{"not supported yet"}},
		{"revert_commit needs history",
			os.DirFS(fixture),
			intent(t, "revert_commit", "shop", "Deployment", "checkout", "app", `{"commit":"abcdef1"}`), ErrNotSupported,
			[]string{"not supported yet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := New().Plan(context.Background(), tt.repo, tt.in)
			if err == nil {
				t.Fatalf("Plan succeeded: %s", ch.Summary)
			}
			if len(ch.Files) > 0 || ch.Summary != "" || ch.NoOp {
				t.Errorf("a Change with the error: %+v", ch)
			}
			t.Log(err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func readFixture(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	if !New().Detect(os.DirFS(fixture)) {
		t.Error("Detect is false on the kustomize fixture")
	}
	if New().Detect(fstest.MapFS{"values.yaml": {Data: []byte("a: 1\n")}}) {
		t.Error("Detect is true without a kustomization")
	}
	if New().Name() != "kustomize" {
		t.Errorf("Name %q", New().Name())
	}
}

func FuzzPatchFile(f *testing.F) {
	f.Add([]byte(readFixture(f, "overlays/prod/checkout-resources.yaml")))
	f.Add([]byte("kind: Deployment\nspec: [unclosed\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout\nspec:\n  template:\n    spec:\n      containers: 3\n"))
	f.Add([]byte("- op: replace\n  path: /spec/replicas\n  value: 3\n"))
	base := mapFS(f, nil)
	in := intent(f, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"768Mi"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		repo := fstest.MapFS{}
		for k, v := range base {
			repo[k] = v
		}
		repo["overlays/prod/checkout-resources.yaml"] = &fstest.MapFile{Data: data}
		ch, err := New().Plan(context.Background(), repo, in)
		if err != nil && (len(ch.Files) > 0 || ch.NoOp) {
			t.Errorf("a Change with the error %v", err)
		}
	})
}

func FuzzKustomization(f *testing.F) {
	f.Add([]byte(readFixture(f, "overlays/prod/kustomization.yaml")))
	f.Add([]byte("resources: [../../base]\nnamespace: shop\npatches: 3\n"))
	f.Add([]byte("resources:\n  - ../../base\nnamespace: shop\nreplicas: {a: 1}\nimages: x\n"))
	base := mapFS(f, nil)
	ins := []patchers.Intent{
		intent(f, "set_resources", "shop", "Deployment", "checkout", "app", `{"limits":{"memory":"768Mi"}}`),
		intent(f, "scale", "shop", "Deployment", "cart", "", `{"replicas":4}`),
		intent(f, "rollback_image", "shop", "Deployment", "checkout", "app", `{"image":"registry.example.com/shop/checkout:1.4.1"}`),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		repo := fstest.MapFS{}
		for k, v := range base {
			repo[k] = v
		}
		repo["overlays/prod/kustomization.yaml"] = &fstest.MapFile{Data: data}
		for _, in := range ins {
			ch, err := New().Plan(context.Background(), repo, in)
			if err != nil && (len(ch.Files) > 0 || ch.NoOp) {
				t.Errorf("a Change with the error %v", err)
			}
		}
	})
}
