package kustomize

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

func TestRenderTarget(t *testing.T) {
	r, ok := New().(patchers.TargetRenderer)
	if !ok {
		t.Fatal("New() does not implement patchers.TargetRenderer")
	}
	repo := os.DirFS(fixture)
	for _, tc := range []struct {
		ns, name, dir, image string
	}{
		{"shop", "checkout", "overlays/prod", "registry.example.com/shop/checkout:1.4.2"},
		{"shop-staging", "checkout", "overlays/staging", "registry.example.com/shop/checkout:1.5.0-rc.1"},
		{"shop-staging", "cart", "overlays/staging", "registry.example.com/shop/cart:3.2.1"},
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
			got, ok, err := render.Field(out, patchers.Object{Kind: tgt.Kind, Namespace: tgt.Namespace, Name: tgt.Name}, "spec.template.spec.containers[name=app].image")
			if err != nil || !ok {
				t.Fatalf("image: ok=%v err=%v in\n%s", ok, err, out)
			}
			if got != tc.image {
				t.Errorf("image = %q, want %q", got, tc.image)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, _, err := r.RenderTarget(context.Background(), repo, patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "nope"})
		if !errors.Is(err, patchers.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestNotSupportedIsShared(t *testing.T) {
	repo := os.DirFS(fixture)
	for _, in := range []patchers.Intent{
		intent(t, "rollback_image", "shop", "Deployment", "checkout", "app", `{"previous":true}`),
		intent(t, "revert_commit", "shop", "Deployment", "checkout", "app", `{"commit":"abcdef1"}`),
	} {
		_, err := New().Plan(context.Background(), repo, in)
		if !errors.Is(err, patchers.ErrNotSupported) {
			t.Errorf("%s: err = %v, want patchers.ErrNotSupported", in.Kind, err)
		}
	}
}
