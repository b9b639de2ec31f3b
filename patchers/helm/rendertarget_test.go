package helm

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

const imagePath = "spec.template.spec.containers[name=app].image"

func TestRenderTarget(t *testing.T) {
	r, ok := New().(patchers.TargetRenderer)
	if !ok {
		t.Fatal("New() does not implement patchers.TargetRenderer")
	}
	repo := os.DirFS(fixture)
	for _, tc := range []struct {
		ns, name, dir, image string
	}{
		{"shop", "checkout", "environments/prod", "ghcr.io/acme/checkout:1.8.0"},
		{"shop-staging", "checkout", "environments/staging", "ghcr.io/acme/checkout:1.9.0-rc.1"},
	} {
		t.Run(tc.ns+"/"+tc.name, func(t *testing.T) {
			tgt := patchers.Target{Namespace: tc.ns, Kind: "Deployment", Name: tc.name, Container: "app"}
			dir, out, err := r.RenderTarget(context.Background(), repo, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if dir != tc.dir {
				t.Errorf("dir = %q, want %q", dir, tc.dir)
			}
			got, ok, err := render.Field(out, patchers.Object{Kind: tgt.Kind, Namespace: tgt.Namespace, Name: tgt.Name}, imagePath)
			if err != nil || !ok {
				t.Fatalf("image: ok=%v err=%v in\n%s", ok, err, out)
			}
			if got != tc.image {
				t.Errorf("image = %q, want %q", got, tc.image)
			}
		})
	}
	for _, tgt := range []patchers.Target{
		{Namespace: "shop", Kind: "Deployment", Name: "nope"},
		{Namespace: "nowhere", Kind: "Deployment", Name: "checkout"},
	} {
		t.Run("missing "+tgt.String(), func(t *testing.T) {
			_, _, err := r.RenderTarget(context.Background(), repo, tgt)
			if !errors.Is(err, patchers.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

// A chart that leaves the namespace to the release still renders the
// target under the namespace it is deployed in.
func TestRenderTargetNamespaceFromRelease(t *testing.T) {
	repo := fstest.MapFS{
		"chart/Chart.yaml":      {Data: []byte("apiVersion: v2\nname: web\nversion: 0.1.0\n")},
		"chart/values.yaml":     {Data: []byte("image: nginx:1.0\n")},
		"chart/values-dev.yaml": {Data: []byte("image: nginx:2.0\n")},
		"chart/templates/deploy.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
`)},
	}
	tgt := patchers.Target{Namespace: "web-dev", Kind: "Deployment", Name: "web", Container: "app"}
	dir, out, err := New().(patchers.TargetRenderer).RenderTarget(context.Background(), repo, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if dir != "chart" {
		t.Errorf("dir = %q, want chart", dir)
	}
	got, ok, err := render.Field(out, patchers.Object{Kind: tgt.Kind, Namespace: tgt.Namespace, Name: tgt.Name}, imagePath)
	if err != nil || !ok || got != "nginx:2.0" {
		t.Errorf("image = %q, ok=%v, err=%v; want nginx:2.0 in\n%s", got, ok, err, out)
	}
}

func TestNotSupportedIsShared(t *testing.T) {
	repo := os.DirFS(fixture)
	for _, in := range []patchers.Intent{
		intent(t, "rollback_image", "shop", "checkout", `{"previous":true}`),
		intent(t, "revert_commit", "shop", "checkout", `{"commit":"0a1b2c3d"}`),
	} {
		_, err := New().Plan(context.Background(), repo, in)
		if !errors.Is(err, patchers.ErrNotSupported) {
			t.Errorf("%s: err = %v, want patchers.ErrNotSupported", in.Kind, err)
		}
	}
}
