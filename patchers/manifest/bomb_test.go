package manifest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// TestAliasBomb: a billion-laughs manifest (about a million nodes, so a
// regression costs memory, not the machine) is refused, naming the file.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: shop}\n")
	b.WriteString("l0: &l0 [" + strings.TrimSuffix(strings.Repeat("lol,", 10), ",") + "]\n")
	for i := 1; i < 6; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 10), ","))
	}
	repo := fstest.MapFS{
		"shop/d.yaml":   {Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: checkout, namespace: shop}\nspec:\n  replicas: 1\n")},
		"shop/lol.yaml": {Data: []byte(b.String())},
	}
	in := intent(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":3}}`)
	_, err := New().Plan(context.Background(), repo, in)
	if err == nil || !strings.Contains(err.Error(), "shop/lol.yaml") || !strings.Contains(err.Error(), "max_yaml_alias_nodes") {
		t.Fatalf("error %v, want shop/lol.yaml and max_yaml_alias_nodes named", err)
	}
}
