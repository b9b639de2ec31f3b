package registry

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

func TestFor(t *testing.T) {
	yaml := &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")}
	cases := []struct {
		name   string
		repo   fstest.MapFS
		dir    string
		want   string // patcher name, or "" for an error
		errHas string
	}{
		{"manifests", fstest.MapFS{"shop/a.yaml": yaml}, ".", "manifest", ""},
		{"manifests dir", fstest.MapFS{"shop/a.yaml": yaml, "README.md": {}}, "shop", "manifest", ""},
		{"empty", fstest.MapFS{"README.md": {}}, ".", "", "no YAML manifests"},
		{"missing dir", fstest.MapFS{"shop/a.yaml": yaml}, "nope", "", "nope"},
		{"bad dir", fstest.MapFS{"shop/a.yaml": yaml}, "../x", "", "not a path"},
		{"hidden only", fstest.MapFS{".github/workflows/ci.yaml": yaml}, ".", "", "no YAML manifests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := For(c.repo, c.dir)
			if c.want == "" {
				if err == nil {
					t.Fatalf("For gave %s, want an error", p.Name())
				}
				if !strings.Contains(err.Error(), c.errHas) {
					t.Errorf("error %q does not mention %q", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != c.want {
				t.Errorf("For = %s, want %s", p.Name(), c.want)
			}
		})
	}
}

func TestForLayouts(t *testing.T) {
	kust := fstest.MapFS{"base/kustomization.yaml": {Data: []byte("resources: [a.yaml]\n")}, "base/a.yaml": {}}
	if p, err := For(kust, "."); err != nil || p.Name() != "kustomize" {
		t.Errorf("kustomization: %v %v", p, err)
	}
	if p, err := For(kust, "base"); err != nil || p.Name() != "kustomize" {
		t.Errorf("kustomization folder: %v %v", p, err)
	}
	chart := fstest.MapFS{"charts/shop/Chart.yaml": {Data: []byte("apiVersion: v2\nname: shop\nversion: 0.1.0\n")}}
	if p, err := For(chart, "."); err != nil || p.Name() != "helm" {
		t.Errorf("chart: %v %v", p, err)
	}
	if p, err := For(chart, "charts/shop"); err != nil || p.Name() != "helm" {
		t.Errorf("chart folder: %v %v", p, err)
	}
	if p, err := For(os.DirFS("../../fixtures/repos/manifests"), "."); err != nil || p.Name() != "manifest" {
		t.Errorf("manifests fixture: %v %v", p, err)
	}
}

func TestForFixtures(t *testing.T) {
	for dir, want := range map[string]string{"manifests": "manifest", "helm": "helm", "kustomize": "kustomize"} {
		p, err := For(os.DirFS("../../fixtures/repos/"+dir), ".")
		if err != nil || p.Name() != want {
			t.Errorf("fixtures/repos/%s: %v %v, want %s", dir, p, err, want)
		}
	}
}

// TestForLimitsBoundsRenders: the limits given to ForLimits reach the
// renders of the patcher it picks, for both rendering layouts.
func TestForLimitsBoundsRenders(t *testing.T) {
	in, err := patchers.ParseIntent([]byte(`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	lim := render.DefaultLimits()
	lim.MaxOutputBytes = 64
	for _, dir := range []string{"kustomize", "helm"} {
		t.Run(dir, func(t *testing.T) {
			repo := os.DirFS("../../fixtures/repos/" + dir)
			p, err := ForLimits(repo, ".", lim)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Plan(context.Background(), repo, in)
			if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "max_output_bytes") {
				t.Fatalf("Plan with a 64-byte output limit: %v, want render.ErrLimit naming max_output_bytes", err)
			}
			def, _ := For(repo, ".")
			if _, err := def.Plan(context.Background(), repo, in); err != nil {
				t.Fatalf("Plan under the default limits: %v", err)
			}
		})
	}
}
