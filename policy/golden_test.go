package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestInputGolden builds the input document from a Change the manifest
// patcher plans on the fixture repo, compares it with
// testdata/input.golden.json byte for byte, and decides on it.
func TestInputGolden(t *testing.T) {
	ctx := context.Background()
	intent, err := patchers.ParseIntent([]byte(`{"kind": "set_resources",
 "target": {"namespace": "shop", "kind": "Deployment", "name": "checkout", "container": "app"},
 "params": {"limits": {"memory": "768Mi"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := manifest.New().Plan(ctx, os.DirFS("../fixtures/repos/manifests"), intent)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{
		Incident: map[string]any{"id": "INC-301", "workload": "shop/Deployment/checkout", "anomaly": "oom_killed"},
		Proposal: Proposal{Intent: intent, Rationale: "container app OOMKilled 3 times in 10 minutes", Confidence: 0.92, Source: "playbook"},
		Change:   ch,
		Repo:     Repo{Owner: "acme", Name: "infra", DefaultBranch: "main", Environment: "staging"},
		Now:      time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}
	got, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "input.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("input differs from %s (run with -update after checking):\n%s", golden, got)
	}
	if _, err := ParseInput(want); err != nil {
		t.Errorf("golden input does not parse: %v", err)
	}
	d, err := defaultGate(t).Decide(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || !d.Automerge {
		t.Errorf("decision %+v, want automerge of a 1.5x memory limit in staging", d)
	}
}

// FuzzParseInput checks that any input ParseInput accepts gets a decision
// from the default gate, and that automerge never comes without allow.
func FuzzParseInput(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "input.golden.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"proposal":{"source":"x","intent":{"kind":"scale","target":{"namespace":"a","kind":"Deployment","name":"b"},"params":{"replicas":3}}},"change":{"files":null,"rendered_diff":"-  replicas: 2\n","changed_objects":null,"summary":""},"repo":{"owner":"o","name":"n","default_branch":"main","environment":""},"now":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	g := defaultGate(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInput(b)
		if err != nil {
			return
		}
		d, err := g.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Automerge && !d.Allow {
			t.Fatalf("automerge without allow: %+v", d)
		}
	})
}
