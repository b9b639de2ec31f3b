package helm

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const fixture = "../../fixtures/repos/helm"

func intent(t testing.TB, kind, ns, name, params string) patchers.Intent {
	t.Helper()
	in := patchers.Intent{Kind: kind, Target: patchers.Target{Namespace: ns, Kind: "Deployment", Name: name, Container: "app"}, Params: []byte(params)}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

// golden renders a Change as the text compared with testdata.
func golden(c patchers.Change) string {
	var b strings.Builder
	b.WriteString("summary: " + c.Summary + "\n")
	b.WriteString("changed: " + objectList(c.ChangedObjects) + "\n")
	for _, f := range c.Files {
		b.WriteString(f.Diff)
	}
	b.WriteString(c.RenderedDiff)
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n%s", p, render.UnifiedDiff("want", "got", want, []byte(got)))
	}
}

func TestPlanFixture(t *testing.T) {
	repo := os.DirFS(fixture)
	tests := []struct {
		name, kind, ns, target, params string
		file                           string // the file edited
	}{
		{"prod-memory-limit", "set_resources", "shop", "checkout", `{"limits":{"memory":"1Gi"}}`, "environments/prod/values.yaml"},
		{"staging-memory-limit-new-key", "set_resources", "shop-staging", "checkout", `{"limits":{"memory":"1Gi"}}`, "environments/staging/values.yaml"},
		{"prod-cpu-requests-and-limits", "set_resources", "shop", "checkout", `{"requests":{"cpu":"500m"},"limits":{"cpu":"2"}}`, "environments/prod/values.yaml"},
		{"staging-cart-cpu-limit-absent", "set_resources", "shop-staging", "cart", `{"limits":{"cpu":"300m"}}`, "environments/staging/values.yaml"},
		{"staging-scale-cart", "scale", "shop-staging", "cart", `{"replicas":3}`, "environments/staging/values.yaml"},
		{"prod-scale-cart", "scale", "shop", "cart", `{"replicas":4}`, "environments/prod/values.yaml"},
		{"prod-hpa-max", "set_hpa", "shop", "checkout", `{"maxReplicas":14,"targetCPUUtilizationPercentage":60}`, "environments/prod/values.yaml"},
		{"staging-hpa-enable", "set_hpa", "shop-staging", "checkout", `{"minReplicas":1,"maxReplicas":4}`, "environments/staging/values.yaml"},
		{"staging-env-existing", "set_env", "shop-staging", "checkout", `{"name":"LOG_LEVEL","value":"warn"}`, "environments/staging/values.yaml"},
		{"prod-env-new", "set_env", "shop", "checkout", `{"name":"GOMEMLIMIT","value":"700MiB"}`, "environments/prod/values.yaml"},
		{"staging-image-tag", "rollback_image", "shop-staging", "checkout", `{"image":"ghcr.io/acme/checkout:1.8.0"}`, "environments/staging/values.yaml"},
		{"prod-image-repo-and-tag", "rollback_image", "shop", "cart", `{"image":"registry.example.com:5000/acme/cart:2.2.0"}`, "environments/prod/values.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New().Plan(context.Background(), repo, intent(t, tc.kind, tc.ns, tc.target, tc.params))
			if err != nil {
				t.Fatal(err)
			}
			if c.NoOp || len(c.Files) != 1 || c.Files[0].Path != tc.file {
				t.Fatalf("want one edit to %s, got %+v", tc.file, c)
			}
			if _, err := parseValuesFile(tc.file, c.Files[0].Content); err != nil {
				t.Fatal(err)
			}
			for _, o := range c.ChangedObjects {
				if o.Name != tc.target || o.Namespace != tc.ns {
					t.Errorf("changed %v outside the target", o)
				}
			}
			checkGolden(t, tc.name, golden(c))
		})
	}
}

func TestPlanNoOp(t *testing.T) {
	repo := os.DirFS(fixture)
	for _, tc := range []struct{ kind, ns, target, params string }{
		{"set_resources", "shop", "checkout", `{"limits":{"memory":"768Mi"}}`},
		{"set_resources", "shop", "checkout", `{"limits":{"cpu":"1000m"}}`}, // same quantity, other spelling
		{"set_resources", "shop-staging", "checkout", `{"requests":{"memory":"256Mi"}}`},
		{"scale", "shop-staging", "checkout", `{"replicas":1}`},
		{"set_hpa", "shop", "checkout", `{"minReplicas":3,"maxReplicas":10}`},
		{"set_env", "shop-staging", "checkout", `{"name":"LOG_LEVEL","value":"debug"}`},
		{"rollback_image", "shop", "checkout", `{"image":"ghcr.io/acme/checkout:1.8.0"}`},
	} {
		c, err := New().Plan(context.Background(), repo, intent(t, tc.kind, tc.ns, tc.target, tc.params))
		if err != nil {
			t.Errorf("%s %s: %v", tc.kind, tc.params, err)
			continue
		}
		if !c.NoOp || len(c.Files) != 0 || !strings.Contains(c.Summary, "already") {
			t.Errorf("%s %s: want a no-op, got %+v", tc.kind, tc.params, c)
		}
	}
}

func TestPlanRefusals(t *testing.T) {
	repo := os.DirFS(fixture)
	for _, tc := range []struct {
		name, kind, ns, target, params string
		want                           []string
		is                             error
	}{
		{"previous", "rollback_image", "shop", "checkout", `{"previous":true}`, []string{"not supported yet"}, ErrNotSupported},
		{"revert", "revert_commit", "shop", "checkout", `{"commit":"0a1b2c3d"}`, []string{"revert_commit", "not supported yet"}, ErrNotSupported},
		{"missing workload", "scale", "shop", "payments", `{"replicas":2}`, []string{"shop/Deployment/payments", "not rendered"}, patchers.ErrNotFound},
		{"unknown namespace", "scale", "billing", "checkout", `{"replicas":2}`, []string{`namespace "billing"`, "environments/prod/values.yaml"}, patchers.ErrNotFound},
		{"limit below request", "set_resources", "shop", "checkout", `{"limits":{"memory":"256Mi"}}`, []string{"memory limit 256Mi", "below its request 512Mi"}, nil},
		{"replicas under HPA", "scale", "shop", "checkout", `{"replicas":5}`, []string{"HorizontalPodAutoscaler checkout", "set_hpa"}, nil},
		{"hpa min above max", "set_hpa", "shop", "checkout", `{"minReplicas":12}`, []string{"minReplicas 12 above maxReplicas 10"}, nil},
		{"request above limit", "set_resources", "shop-staging", "checkout", `{"requests":{"memory":"600Mi"}}`, []string{"memory limit 512Mi", "below its request 600Mi"}, nil},
		{"hpa max below min", "set_hpa", "shop", "checkout", `{"maxReplicas":2}`, []string{"minReplicas 3 above maxReplicas 2"}, nil},
		{"image without tag", "rollback_image", "shop", "checkout", `{"image":"ghcr.io/acme/checkout@sha256:0123"}`, []string{"has no tag"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New().Plan(context.Background(), repo, intent(t, tc.kind, tc.ns, tc.target, tc.params))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if len(c.Files) != 0 {
				t.Errorf("files despite the error: %+v", c.Files)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	if !New().Detect(os.DirFS(fixture)) {
		t.Error("fixture not detected")
	}
	if New().Detect(fstest.MapFS{"deploy/app.yaml": {Data: []byte("kind: Deployment\n")}}) {
		t.Error("a plain manifest folder detected as Helm")
	}
	if New().Name() != "helm" {
		t.Error("name")
	}
}

func TestPlanCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := New().Plan(ctx, os.DirFS(fixture), intent(t, "scale", "shop-staging", "cart", `{"replicas":3}`))
	if !errors.Is(err, context.Canceled) || len(c.Files) != 0 {
		t.Errorf("canceled Plan: %v, %+v", err, c)
	}
}

func TestPlanNoSuchContainer(t *testing.T) {
	in := intent(t, "set_resources", "shop", "cart", `{"limits":{"memory":"1Gi"}}`)
	in.Target.Container = "sidecar"
	c, err := New().Plan(context.Background(), os.DirFS(fixture), in)
	if !errors.Is(err, patchers.ErrNotFound) || !strings.Contains(err.Error(), `no container "sidecar" (containers: app)`) || len(c.Files) != 0 {
		t.Errorf("got %v, %+v", err, c)
	}
}
