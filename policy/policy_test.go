package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/patchers"
)

var noon = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // a Wednesday

func memInput(env, old, new string) Input {
	return Input{
		Incident: map[string]any{"id": "inc-1", "anomaly": "oom_killed"},
		Proposal: Proposal{
			Intent: patchers.Intent{
				Kind:   patchers.KindSetResources,
				Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "cart"},
				Params: json.RawMessage(`{"limits":{"memory":"` + new + `"}}`),
			},
			Rationale:  "OOMKilled 3 times in 10 minutes",
			Confidence: 0.9,
			Source:     "playbook",
		},
		Change: patchers.Change{
			Files: []patchers.FileChange{{Path: "overlays/" + env + "/cart.yaml",
				Diff: "--- a/overlays/x/cart.yaml\n+++ b/overlays/x/cart.yaml\n@@ -10 +10 @@\n-            memory: " + old + "\n+            memory: " + new + "\n"}},
			RenderedDiff:   "--- before\n+++ after\n@@ -20,3 +20,3 @@\n           limits:\n-            memory: " + old + "\n+            memory: " + new + "\n",
			ChangedObjects: []patchers.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "cart"}},
			Summary:        "shop/Deployment/cart[cart]: memory limit " + old + " -> " + new,
		},
		Repo: Repo{Owner: "acme", Name: "infra", DefaultBranch: "main", Environment: env},
		Now:  noon,
	}
}

func defaultGate(t testing.TB) *OPAGate {
	t.Helper()
	// Tests check answers, not latency: a generous timeout keeps them
	// stable under -race on a loaded machine.
	g, err := NewGate(context.Background(), Default(), Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDefaultBundle(t *testing.T) {
	kubeSystem := memInput("staging", "512Mi", "768Mi")
	kubeSystem.Proposal.Intent.Target.Namespace = "kube-system"
	kubeSystem.Change.ChangedObjects[0].Namespace = "kube-system"
	extra := memInput("staging", "512Mi", "768Mi")
	extra.Change.ChangedObjects = append(extra.Change.ChangedObjects, patchers.Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cart-env"})
	deleted := memInput("staging", "512Mi", "768Mi")
	deleted.Change.Files = append(deleted.Change.Files, patchers.FileChange{Path: "apps/old.yaml", Diff: "--- a/apps/old.yaml\n+++ /dev/null\n"})
	prodNight := memInput("production", "512Mi", "768Mi")
	prodNight.Now = time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	prodDay := memInput("production", "512Mi", "768Mi")
	cpu := memInput("staging", "500m", "1")
	cpu.Proposal.Intent.Params = json.RawMessage(`{"limits":{"cpu":"1"}}`)
	cpu.Change.RenderedDiff = "-            cpu: 500m\n+            cpu: \"1\"\n"
	rollback := memInput("staging", "x", "x")
	rollback.Proposal.Intent = patchers.Intent{Kind: patchers.KindRollbackImage, Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart"}, Params: json.RawMessage(`{"previous":true}`)}
	rollbackOther := rollback
	rollbackOther.Proposal.Intent.Params = json.RawMessage(`{"image":"evil/cart:latest"}`)
	scale := memInput("staging", "x", "x")
	scale.Proposal.Intent = patchers.Intent{Kind: patchers.KindScale, Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart"}, Params: json.RawMessage(`{"replicas":4}`)}
	scale.Change.RenderedDiff = "-  replicas: 2\n+  replicas: 4\n"
	scaleBeyondHPA := scale
	scaleBeyondHPA.Incident = map[string]any{"hpa": map[string]any{"max_replicas": 3}}

	tests := []struct {
		name             string
		in               Input
		allow, automerge bool
		reasons          []string // exactly, in order
	}{
		{"memory 1.5x in staging", memInput("staging", "512Mi", "768Mi"), true, true, nil},
		{"memory 2x in staging", memInput("staging", "1Gi", "2Gi"), true, true, nil},
		{"memory 3x", memInput("staging", "512Mi", "1536Mi"), true, false, []string{"memory limit 512Mi -> 1536Mi is 3x, above the 2x auto-merge bound"}},
		{"memory 8x", memInput("staging", "512Mi", "4Gi"), true, false, []string{"memory limit 512Mi -> 4Gi is 8x, above the 2x auto-merge bound"}},
		{"memory above cap", memInput("staging", "6Gi", "10Gi"), true, false, []string{"memory limit 10Gi is above the max_memory cap 8Gi"}},
		{"cpu 2x", cpu, true, true, nil},
		{"kube-system", kubeSystem, false, false, []string{
			"change touches Deployment/cart in namespace kube-system, which is protected: it is in protected_namespaces",
			"target namespace kube-system is protected: it is in protected_namespaces",
		}},
		{"more objects than the target", extra, true, false, []string{"change touches ConfigMap/cart-env besides the target Deployment/cart"}},
		{"deletes a file", deleted, true, false, []string{"change deletes apps/old.yaml; a deletion is never merged automatically"}},
		{"production at night", prodNight, true, false, []string{`production change (environment "production") at Wednesday 23:00 UTC is outside the auto-merge hours 09:00-17:00 UTC, Monday to Friday`}},
		{"production in hours", prodDay, true, true, nil},
		{"rollback to previous", rollback, true, true, nil},
		{"rollback to a named image", rollbackOther, true, false, []string{"rollback_image to a named image from a playbook proposal; medic merges only a rollback to the previous image or one taken from history"}},
		{"scale up", scale, true, true, nil},
		{"scale beyond the HPA max", scaleBeyondHPA, true, false, []string{"replicas 2 -> 4 is above the HPA's maxReplicas 3"}},
	}
	g := defaultGate(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := g.Decide(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow || d.Automerge != tt.automerge {
				t.Errorf("allow, automerge = %v, %v; want %v, %v (reasons %q)", d.Allow, d.Automerge, tt.allow, tt.automerge, d.Reasons)
			}
			if !slices.Equal(d.Reasons, tt.reasons) && (len(d.Reasons) != 0 || len(tt.reasons) != 0) {
				t.Errorf("reasons\n%q\nwant\n%q", d.Reasons, tt.reasons)
			}
		})
	}
}

func TestFreezeWindowFromData(t *testing.T) {
	b := Default()
	b.Data = map[string]any{"medic": map[string]any{"config": map[string]any{
		"freeze_windows": []any{map[string]any{"start": "2026-11-24T00:00:00Z", "end": "2026-11-30T00:00:00Z", "reason": "black friday"}},
	}}}
	g, err := NewGate(context.Background(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := g.Decide(context.Background(), memInput("staging", "512Mi", "768Mi"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Automerge || !slices.Contains(d.Reasons, "change freeze 2026-11-24T00:00:00Z to 2026-11-30T00:00:00Z: black friday") || !slices.Contains(d.Labels, "medic/freeze") {
		t.Errorf("decision %+v, want review for the freeze", d)
	}
	after := memInput("staging", "512Mi", "768Mi")
	after.Now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if d, _ := g.Decide(context.Background(), after); !d.Automerge {
		t.Errorf("after the freeze: %+v, want automerge", d)
	}
}

func gateFor(t *testing.T, files map[string]string, opts Options) *OPAGate {
	t.Helper()
	fsys := fstest.MapFS{}
	for k, v := range files {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	b, err := LoadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGate(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFailClosed(t *testing.T) {
	tests := []struct {
		name   string
		rego   string
		opts   Options
		reason string
	}{
		{"runtime conflict", `package medic
automerge := true if input.repo.environment
automerge := false if input.repo.name
`, Options{}, "eval_conflict_error"},
		{"slow rule hits the timeout", `package medic
xs := numbers.range(1, 5000)
automerge if {
	some a in xs
	some b in xs
	some c in xs
	a * b * c < 0
}
`, Options{Timeout: 20 * time.Millisecond}, "timed out after 20ms"},
		{"undefined decision", `package medic
decision := {"allow": true, "automerge": true, "reasons": [], "labels": []} if input.repo.owner == "nobody"
`, Options{}, "undefined"},
		{"decision of the wrong shape", `package medic
decision := {"allow": true, "automerge": "yes", "reasons": [], "labels": [], "extra": 1}
`, Options{}, "does not match its schema"},
		{"deny of the wrong type", `package medic
deny contains 42
automerge := true
`, Options{}, "does not match its schema"},
		{"automerge of the wrong type", `package medic
automerge := "yes"
`, Options{}, "want a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gateFor(t, map[string]string{"p.rego": tt.rego}, tt.opts)
			d, err := g.Decide(context.Background(), memInput("staging", "512Mi", "768Mi"))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow || d.Automerge || !slices.Contains(d.Labels, LabelPolicyError) {
				t.Fatalf("decision %+v, want closed", d)
			}
			if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], tt.reason) || !strings.HasPrefix(d.Reasons[0], "policy evaluation failed: ") {
				t.Errorf("reasons %q, want one containing %q", d.Reasons, tt.reason)
			}
		})
	}
}

func TestDecideCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := defaultGate(t).Decide(ctx, memInput("staging", "512Mi", "768Mi")); err == nil {
		t.Fatal("no error for a cancelled context")
	}
}

func TestRepoPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("syntax error names file and line, gate fails closed", func(t *testing.T) {
		fsys := fstest.MapFS{".medic/policy/extra.rego": {Data: []byte("package medic\n\ndeny contains msg if {\n\tmsg := \n}\n")}}
		g, err := NewRepoGate(ctx, fsys, ".medic/policy", Options{})
		if err == nil || !strings.Contains(err.Error(), ".medic/policy/extra.rego:") {
			t.Fatalf("error %v, want one naming .medic/policy/extra.rego:LINE", err)
		}
		d, _ := g.Decide(ctx, memInput("staging", "512Mi", "768Mi"))
		if d.Automerge || d.Allow {
			t.Errorf("decision %+v, want closed", d)
		}
	})
	t.Run("type error names file and line", func(t *testing.T) {
		fsys := fstest.MapFS{".medic/policy/extra.rego": {Data: []byte("package medic\n\nreview contains msg if {\n\tmsg := concat(1, 2)\n}\n")}}
		_, err := NewRepoGate(ctx, fsys, ".medic/policy", Options{})
		if err == nil || !strings.Contains(err.Error(), ".medic/policy/extra.rego:4") {
			t.Fatalf("error %v, want one naming .medic/policy/extra.rego:4", err)
		}
	})
	t.Run("extends the defaults", func(t *testing.T) {
		fsys := fstest.MapFS{
			".medic/policy/team.rego": {Data: []byte("package medic\n\nreview contains \"cart is owned by payments\" if input.proposal.intent.target.name == \"cart\"\n")},
			".medic/policy/data.yaml": {Data: []byte("medic:\n  config:\n    protected_namespaces: [shop]\n")},
		}
		g, err := NewRepoGate(ctx, fsys, ".medic/policy", Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := g.Decide(ctx, memInput("staging", "512Mi", "768Mi"))
		if d.Allow || d.Automerge || !slices.Contains(d.Reasons, "cart is owned by payments") || !slices.Contains(d.Reasons, "target namespace shop is protected: it is in protected_namespaces") {
			t.Errorf("decision %+v, want the repo's review and data-driven deny", d)
		}
	})
	t.Run("replaces the defaults", func(t *testing.T) {
		fsys := fstest.MapFS{".medic/policy/own.rego": {Data: []byte("package medic\n\nautomerge if input.repo.environment == \"dev\"\n")}}
		g, err := NewRepoGate(ctx, fsys, ".medic/policy", Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := memInput("dev", "512Mi", "4Gi") // 8x: the defaults would review
		in.Proposal.Intent.Target.Namespace = "kube-system"
		if d, _ := g.Decide(ctx, in); !d.Automerge {
			t.Errorf("decision %+v, want the repo's automerge", d)
		}
	})
	t.Run("no folder uses the defaults", func(t *testing.T) {
		g, err := NewRepoGate(ctx, fstest.MapFS{}, ".medic/policy", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := g.Decide(ctx, memInput("staging", "512Mi", "768Mi")); !d.Automerge {
			t.Errorf("decision %+v, want automerge", d)
		}
	})
}

func TestDefaultBundleRegoTests(t *testing.T) {
	res, err := RunTests(context.Background(), Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 5 {
		t.Fatalf("%d tests ran", len(res))
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s (%s) failed: %v", r.Name, r.Location, r.Err)
		}
	}
}

func TestInputSchemaIsJSON(t *testing.T) {
	var schema struct {
		Required   []string       `json:"required"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(InputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(memInput("staging", "512Mi", "768Mi"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for k := range doc {
		if _, ok := schema.Properties[k]; !ok {
			t.Errorf("input key %q is not in the schema", k)
		}
	}
	for _, k := range schema.Required {
		if _, ok := doc[k]; !ok {
			t.Errorf("schema requires %q, the input lacks it", k)
		}
	}
}

// repo200 is a repo bundle of 200 review rules extending the defaults.
func repo200(tb testing.TB) Bundle {
	var sb strings.Builder
	sb.WriteString("package medic\n\n")
	for i := range 200 {
		fmt.Fprintf(&sb, "review contains \"team rule %d\" if {\n\tinput.proposal.intent.target.name == \"svc-%d\"\n\tinput.repo.environment != \"dev\"\n}\n\n", i, i)
	}
	b, err := LoadDir(fstest.MapFS{"team.rego": {Data: []byte(sb.String())}}, ".")
	if err != nil {
		tb.Fatal(err)
	}
	return ForRepo(b)
}

// BenchmarkDecide reports ns/decision, decisions/s and the p99 latency of
// one decision with the default bundle and with a 200-rule repo bundle.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name   string
		bundle func(testing.TB) Bundle
	}{
		{"default", func(testing.TB) Bundle { return Default() }},
		{"repo200", repo200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, err := NewGate(context.Background(), bc.bundle(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := memInput("staging", "512Mi", "768Mi")
			ctx := context.Background()
			var lat []time.Duration
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				d, err := g.Decide(ctx, in)
				lat = append(lat, time.Since(t0))
				if err != nil || !d.Automerge {
					b.Fatalf("decision %+v, %v", d, err)
				}
			}
			total := time.Since(start)
			slices.Sort(lat)
			b.ReportMetric(float64(total.Nanoseconds())/float64(len(lat)), "ns/decision")
			b.ReportMetric(float64(len(lat))/total.Seconds(), "decisions/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
