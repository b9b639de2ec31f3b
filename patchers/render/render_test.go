package render

import (
	"os"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers"
)

var repo = os.DirFS("testdata/repo")

func TestBuildsParse(t *testing.T) {
	k, err := Kustomize(repo, "kustomize/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	h, err := Helm(repo, "charts/shop", []string{"envs/prod-values.yaml"}, "web", "shop")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Manifests(repo, "manifests")
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"kustomize": k, "helm": h, "manifests": m} {
		docs, err := Objects(out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(docs) < 2 {
			t.Errorf("%s: %d objects, want at least 2", name, len(docs))
		}
	}
	v, ok, err := Field(k, patchers.Object{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, "spec.template.spec.containers[name=app].resources.limits.memory")
	if err != nil || !ok || v != "512Mi" {
		t.Errorf("Field = %q, %v, %v; want 512Mi", v, ok, err)
	}
	if d := UnifiedDiff("x", "x", k, h); !strings.HasPrefix(d, "--- a/x\n+++ b/x\n@@ ") {
		t.Errorf("UnifiedDiff header: %q", d)
	}
}
