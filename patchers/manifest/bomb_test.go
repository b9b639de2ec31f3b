package manifest

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers/patcherstest"
)

// TestAliasBomb: a billion-laughs manifest (about a million nodes, so a
// regression costs memory, not the machine) is refused, naming the file.
func TestAliasBomb(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: shop}\n" + patcherstest.AliasBomb(10, 6)
	repo := fstest.MapFS{
		"shop/d.yaml":   {Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: checkout, namespace: shop}\nspec:\n  replicas: 1\n")},
		"shop/lol.yaml": {Data: []byte(bomb)},
	}
	in := intent(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":3}}`)
	_, err := New().Plan(context.Background(), repo, in)
	if err == nil || !strings.Contains(err.Error(), "shop/lol.yaml") || !strings.Contains(err.Error(), "max_yaml_alias_nodes") {
		t.Fatalf("error %v, want shop/lol.yaml and max_yaml_alias_nodes named", err)
	}
}
