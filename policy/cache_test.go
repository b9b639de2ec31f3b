package policy

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestCacheRecompilesOnChange(t *testing.T) {
	ctx := context.Background()
	c := NewCache(Options{})
	fsys := fstest.MapFS{}
	in := memInput("staging", "512Mi", "768Mi")

	g1, err := c.Gate(ctx, "acme/infra", fsys, ".medic/policy")
	if err != nil {
		t.Fatal(err)
	}
	if g2, _ := c.Gate(ctx, "acme/infra", fsys, ".medic/policy"); g2 != g1 {
		t.Error("unchanged folder: gate was rebuilt")
	}
	if d, _ := g1.Decide(ctx, in); !d.Automerge {
		t.Fatalf("defaults: %+v, want automerge", d)
	}

	fsys[".medic/policy/team.rego"] = &fstest.MapFile{Data: []byte("package medic\n\nreview contains \"frozen by team\" if true\n")}
	g3, err := c.Gate(ctx, "acme/infra", fsys, ".medic/policy")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := g3.Decide(ctx, in); d.Automerge {
		t.Errorf("after adding a repo rule: %+v, want review", d)
	}

	fsys[".medic/policy/team.rego"] = &fstest.MapFile{Data: []byte("package medic\n\nreview contains \n")}
	g4, err := c.Gate(ctx, "acme/infra", fsys, ".medic/policy")
	if err == nil {
		t.Fatal("no error for a broken repo policy")
	}
	if d, _ := g4.Decide(ctx, in); d.Automerge || d.Allow {
		t.Errorf("broken repo policy: %+v, want closed", d)
	}
	if _, err := c.Gate(ctx, "acme/infra", fsys, ".medic/policy"); err == nil {
		t.Error("cached broken policy: the error was dropped")
	}
	if _, err := c.Gate(ctx, "acme/other", fstest.MapFS{}, ".medic/policy"); err != nil {
		t.Errorf("another repo: %v", err)
	}
}

func TestDecideConcurrently(t *testing.T) {
	// A generous timeout: this checks concurrent correctness, not latency
	// (8 goroutines under -race on a small machine exceed 100ms).
	g, err := NewGate(context.Background(), Default(), Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if d, err := g.Decide(context.Background(), memInput("staging", "512Mi", "768Mi")); err != nil || !d.Automerge {
					t.Errorf("decision %+v, %v", d, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
