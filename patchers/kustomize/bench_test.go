package kustomize

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers/render"
)

// bigRepo is a base of n Deployments with staging and prod overlays, prod
// patching every tenth one.
func bigRepo(n int) fstest.MapFS {
	m := fstest.MapFS{}
	var res, patches strings.Builder
	for i := range n {
		name := fmt.Sprintf("svc-%03d", i)
		m["base/"+name+".yaml"] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`# %[1]s
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
        - name: app
          image: registry.example.com/shop/%[1]s:1.0.0
          resources:
            requests:
              memory: 128Mi
            limits:
              memory: 256Mi
`, name))}
		fmt.Fprintf(&res, "  - %s.yaml\n", name)
		if i%10 == 0 {
			m["overlays/prod/"+name+"-resources.yaml"] = &fstest.MapFile{Data: []byte(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          resources:\n            limits:\n              memory: 512Mi\n", name))}
			fmt.Fprintf(&patches, "  - path: %s-resources.yaml\n", name)
		}
	}
	m["base/kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources:\n" + res.String())}
	m["overlays/staging/kustomization.yaml"] = &fstest.MapFile{Data: []byte("namespace: shop-staging\nresources:\n  - ../../base\n")}
	m["overlays/prod/kustomization.yaml"] = &fstest.MapFile{Data: []byte("namespace: shop\nresources:\n  - ../../base\npatches:\n" + patches.String())}
	return m
}

// BenchmarkPlan is the time per intent on a repository of 500 workloads
// in two environments; BenchmarkBuildTwice is two kustomize builds of both
// environments, for comparison.
func BenchmarkPlan(b *testing.B) {
	repo := bigRepo(500)
	in := intent(b, "set_resources", "shop", "Deployment", "svc-250", "app", `{"limits":{"memory":"768Mi"}}`)
	b.ResetTimer()
	for b.Loop() {
		ch, err := New().Plan(context.Background(), repo, in)
		if err != nil || len(ch.Files) != 1 {
			b.Fatal(err, ch.Summary)
		}
	}
}

func BenchmarkBuildTwice(b *testing.B) {
	repo := bigRepo(500)
	for b.Loop() {
		for range 2 {
			for _, dir := range []string{"overlays/staging", "overlays/prod"} {
				if _, err := render.Kustomize(repo, dir); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
