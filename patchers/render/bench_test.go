package render

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bigRender returns a render of n Deployments; the one at index changed
// (if any) has a different memory limit.
func bigRender(n, changed int) []byte {
	var b strings.Builder
	for i := range n {
		mem := "256Mi"
		if i == changed {
			mem = "768Mi"
		}
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: svc-%03d
  name: svc-%03d
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: svc-%03d
  template:
    metadata:
      labels:
        app: svc-%03d
    spec:
      containers:
      - image: ghcr.io/shop/svc-%03d:1.0.0
        name: app
        resources:
          limits:
            cpu: 500m
            memory: %s
          requests:
            cpu: 100m
            memory: 128Mi
---
`, i, i, i, i, i, mem)
	}
	return []byte(b.String())
}

func BenchmarkUnifiedDiff(b *testing.B) {
	before, after := bigRender(500, -1), bigRender(500, 250)
	b.SetBytes(int64(len(before) + len(after)))
	for b.Loop() {
		if UnifiedDiff("r", "r", before, after) == "" {
			b.Fatal("no diff")
		}
	}
}

func BenchmarkChanged(b *testing.B) {
	before, after := bigRender(500, -1), bigRender(500, 250)
	for b.Loop() {
		objs, err := Changed(before, after)
		if err != nil || len(objs) != 1 {
			b.Fatal(objs, err)
		}
	}
}

func TestBigRenderDiff(t *testing.T) {
	before, after := bigRender(500, -1), bigRender(500, 250)
	d := UnifiedDiff("r", "r", before, after)
	if strings.Count(d, "\n-") != 1 || strings.Count(d, "\n+") != 2 { // "+++" header counts once
		t.Errorf("diff of one field:\n%s", d)
	}
	objs, err := Changed(before, after)
	if err != nil || len(objs) != 1 || objs[0].Name != "svc-250" {
		t.Errorf("Changed = %v, %v", objs, err)
	}
	// Every object changed: the diff still finishes and applies.
	other := []byte(strings.ReplaceAll(string(before), "256Mi", "300Mi"))
	if back := applyDiff(t, string(before), UnifiedDiff("r", "r", before, other)); back != string(other) {
		t.Error("diff of 500 changes does not apply")
	}
}

// bigKustomizeRepo is a base of n services and a prod overlay patching
// each one's memory limit.
func bigKustomizeRepo(n int) fstest.MapFS {
	m := fstest.MapFS{}
	var res, patches strings.Builder
	for i := range n {
		svc := fmt.Sprintf("svc-%03d", i)
		res.WriteString("- " + svc + ".yaml\n")
		doc := strings.ReplaceAll(strings.Replace(string(bigRender(1, -1)), "  namespace: shop\n", "", 1), "svc-000", svc)
		m["base/"+svc+".yaml"] = &fstest.MapFile{Data: []byte(strings.TrimSuffix(doc, "---\n"))}
		patches.WriteString("- path: " + svc + ".yaml\n")
		m["prod/"+svc+".yaml"] = &fstest.MapFile{Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + svc +
			"\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits:\n            memory: 512Mi\n")}
	}
	m["base/kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources:\n" + res.String())}
	m["prod/kustomization.yaml"] = &fstest.MapFile{Data: []byte("namespace: shop-prod\nresources:\n- ../base\npatches:\n" + patches.String())}
	return m
}

// BenchmarkRenderAndDiff is one intent's render work on a 500-workload
// kustomize repo: build before and after, Changed, and the rendered diff.
func BenchmarkRenderAndDiff(b *testing.B) {
	repo := bigKustomizeRepo(500)
	edited := Overlay(repo, map[string][]byte{"prod/svc-250.yaml": []byte(strings.Replace(string(repo["prod/svc-250.yaml"].Data), "512Mi", "768Mi", 1))})
	for b.Loop() {
		before, err := Kustomize(repo, "prod")
		if err != nil {
			b.Fatal(err)
		}
		after, err := Kustomize(edited, "prod")
		if err != nil {
			b.Fatal(err)
		}
		objs, err := Changed(before, after)
		if err != nil || len(objs) != 1 {
			b.Fatal(objs, err)
		}
		if UnifiedDiff("r", "r", before, after) == "" {
			b.Fatal("no diff")
		}
	}
}

// BenchmarkKustomize is one build of the same repo, the yardstick for
// BenchmarkRenderAndDiff (the aim: no slower than two builds).
func BenchmarkKustomize(b *testing.B) {
	repo := bigKustomizeRepo(500)
	for b.Loop() {
		if _, err := Kustomize(repo, "prod"); err != nil {
			b.Fatal(err)
		}
	}
}
