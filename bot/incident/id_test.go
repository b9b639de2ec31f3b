package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
)

func TestNewID(t *testing.T) {
	w := detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}
	a := detect.Anomaly{Workload: w, Signal: "container.memory.working_set", Detector: "saturation",
		Onset: t0.Add(-90 * time.Second), At: t0}
	id := NewID("acme/infra", w, a, 0)
	if want := "shop-checkout-20261102t135830-"; !strings.HasPrefix(id, want) {
		t.Fatalf("id %q, want prefix %q", id, want)
	}
	if id != NewID("acme/infra", w, a, 0) {
		t.Fatal("NewID is not deterministic")
	}
	// The container is not part of the workload's identity.
	wc := w
	wc.Container = "envoy"
	if NewID("acme/infra", wc, a, 0) != id {
		t.Fatal("container changed the id")
	}
	other := func(f func(repo *string, w *detect.Workload, a *detect.Anomaly)) string {
		r, w2, a2 := "acme/infra", w, a
		f(&r, &w2, &a2)
		return NewID(r, w2, a2, 0)
	}
	for name, got := range map[string]string{
		"repo":     other(func(r *string, _ *detect.Workload, _ *detect.Anomaly) { *r = "acme/other" }),
		"kind":     other(func(_ *string, w *detect.Workload, _ *detect.Anomaly) { w.Kind = "StatefulSet" }),
		"onset":    other(func(_ *string, _ *detect.Workload, a *detect.Anomaly) { a.Onset = a.Onset.Add(time.Nanosecond) }),
		"at":       other(func(_ *string, _ *detect.Workload, a *detect.Anomaly) { a.At = a.At.Add(time.Second) }),
		"signal":   other(func(_ *string, _ *detect.Workload, a *detect.Anomaly) { a.Signal = "k8s.event:OOMKilled" }),
		"detector": other(func(_ *string, _ *detect.Workload, a *detect.Anomaly) { a.Detector = "event" }),
		"n":        NewID("acme/infra", w, a, 1),
	} {
		if got == id {
			t.Errorf("another %s gave the same id %s", name, id)
		}
	}
}

func TestNewIDIsBranchSafe(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, w := range []detect.Workload{
		{Namespace: "shop", Name: "checkout"},
		{Namespace: strings.Repeat("n", 63), Kind: "Deployment", Name: strings.Repeat("very-long-name-", 17)},
		{Namespace: "Shop..Prod", Name: "--Ünïcode/../ref.lock@{x}"},
		{Name: "日本"},
		{Name: "a-"},
	} {
		id := NewID("acme/infra", w, detect.Anomaly{At: at}, 0)
		if err := (Incident{ID: id, Workload: detect.Workload{Name: "x"}}).Validate(); err != nil {
			t.Errorf("workload %q: %v", w.Key(), err)
		}
		if strings.Contains(id, "--") || strings.HasSuffix(id, "-") || len(id) > 63 {
			t.Errorf("workload %q: id %q", w.Key(), id)
		}
		// The onset is UTC: the +01:00 zone does not leak into the id.
		if !strings.Contains(id, "-20260102t020405-") {
			t.Errorf("workload %q: id %q lacks the UTC onset", w.Key(), id)
		}
	}
	if id := NewID("r", detect.Workload{Name: "日本"}, detect.Anomaly{At: at}, 0); !strings.HasPrefix(id, "incident-") {
		t.Errorf("no letters to keep: %q", id)
	}
}

func TestSlugify(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"shop-checkout", 38, "shop-checkout"},
		{"Shop__Check.Out", 38, "shop-check-out"},
		{"--a--b--", 38, "a-b"},
		{"abcdef", 3, "abc"},
		{"ab-cd", 3, "ab"}, // no dash at the end
		{"ab-cd", 4, "ab-c"},
	} {
		if got := slugify(c.in, c.max); got != c.want {
			t.Errorf("slugify(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// FuzzNewID: whatever names the telemetry carries, the id is a valid,
// branch-safe incident id.
func FuzzNewID(f *testing.F) {
	f.Add("acme/infra", "shop", "Deployment", "checkout", "container.memory.working_set", int64(0), 0)
	f.Add("", "", "", "", "", int64(-1), -1)
	f.Add("r", "Ünï", "Kind/../x", "name.lock", "sig\x00", int64(1<<62), 1<<40)
	f.Fuzz(func(t *testing.T, repo, ns, kind, name, signal string, nanos int64, n int) {
		w := detect.Workload{Namespace: ns, Kind: kind, Name: name}
		a := detect.Anomaly{Signal: signal, At: time.Unix(0, nanos), Onset: time.Unix(0, nanos/2)}
		id := NewID(repo, w, a, n)
		if err := (Incident{ID: id, Workload: detect.Workload{Name: "x"}}).Validate(); err != nil {
			t.Fatalf("NewID(%q, %q, %q) = %q: %v", repo, w.Key(), signal, id, err)
		}
		if strings.Contains(id, "--") || id != NewID(repo, w, a, n) {
			t.Fatalf("id %q", id)
		}
	})
}
