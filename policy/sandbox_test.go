package policy

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/patchers/render"
)

// TestRepoPolicyMemoryBounded: a repo policy whose one builtin call
// allocates far past the sandbox's memory limit ends its child, not medic:
// the decision fails closed naming max_memory_bytes, medic's own heap does
// not grow, and the next decision of a sane policy still works. (Run in
// process, the policy below takes about 200 MB: small enough to stay
// harmless if the sandbox ever regressed.)
func TestRepoPolicyMemoryBounded(t *testing.T) {
	ctx := context.Background()
	// replace makes the 200 MB string in one call.
	bomb := `package medic

deny contains "big" if {
	a := replace("xxxxxxxxxx", "x", "xxxxxxxxxx")
	b := replace(a, "x", a)
	c := replace(b, "x", concat("", [b, b]))
	count(c) > 0
}
`
	lim := DefaultSandboxLimits()
	lim.MaxMemoryBytes = 96 << 20
	opts := Options{Timeout: 30 * time.Second, Sandbox: lim}
	g, err := NewRepoGate(ctx, fstest.MapFS{"p/p.rego": {Data: []byte(bomb)}}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := g.Decide(ctx, memInput("staging", "512Mi", "768Mi"))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || d.Automerge || len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], "max_memory_bytes") {
		t.Fatalf("decision %+v, want closed naming max_memory_bytes", d)
	}
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 32<<20 {
		t.Errorf("medic allocated %d MiB evaluating a sandboxed policy", grew>>20)
	}
	// The same gate answers again (a new child), and a sane policy works.
	ok := "package medic\n\nreview contains \"look\" if { input.repo.environment == \"staging\" }\n"
	g2, err := NewRepoGate(ctx, fstest.MapFS{"p/p.rego": {Data: []byte(ok)}}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	d, err = g2.Decide(ctx, memInput("staging", "512Mi", "768Mi"))
	if err != nil || !d.Allow || d.Automerge || !strings.Contains(strings.Join(d.Reasons, ";"), "look") {
		t.Fatalf("sane policy: %+v %v", d, err)
	}
}

// TestRepoPolicyWallClockBounded: the sandbox's timeout bounds the child's
// work (here a compile, which takes longer than 1 ms), and the gate fails
// closed naming it.
func TestRepoPolicyWallClockBounded(t *testing.T) {
	ctx := context.Background()
	src := "package medic\n\ndeny contains \"no\" if { input.repo.environment == \"staging\" }\n"
	lim := DefaultSandboxLimits()
	lim.Timeout = time.Millisecond
	_, err := NewRepoGate(ctx, fstest.MapFS{"p/p.rego": {Data: []byte(src)}}, "p", Options{Sandbox: lim})
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("NewRepoGate = %v, want render.ErrLimit naming timeout", err)
	}
}

// TestRepoPolicyFilesBounded: the policy folder is read up to
// max_input_bytes; past it the gate fails closed naming the limit.
func TestRepoPolicyFilesBounded(t *testing.T) {
	lim := DefaultSandboxLimits()
	lim.MaxInputBytes = 1 << 10
	big := "package medic\n\n# " + strings.Repeat("x", 2<<10) + "\n"
	g, err := NewRepoGate(context.Background(), fstest.MapFS{"p/p.rego": {Data: []byte(big)}}, "p", Options{Sandbox: lim})
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "max_input_bytes") {
		t.Fatalf("NewRepoGate = %v, want render.ErrLimit naming max_input_bytes", err)
	}
	if d, _ := g.Decide(context.Background(), memInput("staging", "512Mi", "768Mi")); d.Allow {
		t.Fatalf("decision %+v, want closed", d)
	}
}
