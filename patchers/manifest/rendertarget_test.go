package manifest

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
		ns, kind, name, container, dir, image string
	}{
		{"shop", "Deployment", "checkout", "app", "shop", "ghcr.io/acme/checkout:1.14.2"},
		// cart names no namespace: its folder gives it one.
		{"shop", "Deployment", "cart", "app", "shop", "ghcr.io/acme/cart:2.3.0"},
		{"payments", "StatefulSet", "ledger", "ledger", "payments", "ghcr.io/acme/ledger@sha256:3b1f8c0d2e4a6b8c0d2e4a6b8c0d2e4a6b8c0d2e4a6b8c0d2e4a6b8c0d2e4a6b"},
		{"monitoring", "DaemonSet", "node-agent", "agent", "monitoring", "otel/opentelemetry-collector-contrib:0.112.0"},
	} {
		t.Run(tc.ns+"/"+tc.name, func(t *testing.T) {
			tgt := patchers.Target{Namespace: tc.ns, Kind: tc.kind, Name: tc.name, Container: tc.container}
			dir, out, err := r.RenderTarget(context.Background(), repo, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if dir != tc.dir {
				t.Errorf("dir = %q, want %q", dir, tc.dir)
			}
			got, ok, err := render.Field(out, patchers.Object{Kind: tgt.Kind, Namespace: tgt.Namespace, Name: tgt.Name}, "spec.template.spec.containers[name="+tc.container+"].image")
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
	for _, js := range []string{
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`,
		`{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"commit":"abcdef1"}}`,
	} {
		in := intent(t, js)
		_, err := New().Plan(context.Background(), repo, in)
		if !errors.Is(err, patchers.ErrNotSupported) || !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: err = %v, want patchers.ErrNotSupported", in.Kind, err)
		}
	}
}
