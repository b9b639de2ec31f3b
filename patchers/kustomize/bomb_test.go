package kustomize

import (
	"context"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers/patcherstest"
)

// laughs is a billion-laughs document of width^levels nodes, kept to about
// a million so that a regression costs memory, not the machine.
func laughs(width, levels int) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n" + patcherstest.AliasBomb(width, levels)
}

// TestAliasBomb: a billion-laughs resource is refused, naming the file,
// both in the kustomization's resources and as the patcher parses it.
func TestAliasBomb(t *testing.T) {
	dep := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: checkout, namespace: shop}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: app, image: x}]\n"
	for name, files := range map[string]map[string]string{
		"resource": {
			"app/kustomization.yaml": "resources: [d.yaml, lol.yaml]\n",
			"app/d.yaml":             dep,
			"app/lol.yaml":           laughs(10, 6),
		},
		"kustomization": {
			"app/kustomization.yaml": "resources: [d.yaml]\n" + strings.SplitN(laughs(10, 6), "lol\n", 2)[1],
			"app/d.yaml":             dep,
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := intent(t, "scale", "shop", "Deployment", "checkout", "", `{"replicas":3}`)
			_, err := New().Plan(context.Background(), mapFS(t, files), in)
			if err == nil || !strings.Contains(err.Error(), "app/") || !strings.Contains(err.Error(), "max_yaml_alias_nodes") {
				t.Fatalf("error %v, want the file and max_yaml_alias_nodes named", err)
			}
		})
	}
}
