package helm

import (
	"context"
	"os"
	"testing"
)

// BenchmarkPlan is the time per intent on the fixture: an edit of an
// existing key, a key that must be added, and an HPA turned on.
func BenchmarkPlan(b *testing.B) {
	repo := os.DirFS(fixture)
	for _, bc := range []struct{ name, kind, ns, target, params string }{
		{"existing-key", "set_resources", "shop", "checkout", `{"limits":{"memory":"1Gi"}}`},
		{"new-key", "set_resources", "shop-staging", "cart", `{"limits":{"cpu":"300m"}}`},
		{"enable-hpa", "set_hpa", "shop-staging", "checkout", `{"maxReplicas":4}`},
		{"image", "rollback_image", "shop", "cart", `{"image":"ghcr.io/acme/cart:2.2.0"}`},
	} {
		in := intent(b, bc.kind, bc.ns, bc.target, bc.params)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := New().Plan(context.Background(), repo, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
