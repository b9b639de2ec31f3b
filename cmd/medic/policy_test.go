package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medic-bot/medic/policy"
)

const policyInput = `{
  "incident": {"id": "inc-1"},
  "proposal": {"source": "playbook", "confidence": 0.9, "rationale": "OOMKilled",
    "intent": {"kind": "set_resources", "target": {"namespace": "shop", "kind": "Deployment", "name": "cart", "container": "cart"},
      "params": {"limits": {"memory": "768Mi"}}}},
  "change": {"files": [{"path": "apps/cart.yaml", "diff": "--- a/apps/cart.yaml\n+++ b/apps/cart.yaml\n"}],
    "rendered_diff": "-            memory: 512Mi\n+            memory: 768Mi\n",
    "changed_objects": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "cart"}],
    "summary": "raise memory"},
  "repo": {"owner": "acme", "name": "infra", "default_branch": "main", "environment": "staging"},
  "now": "2026-11-25T12:00:00Z"
}`

func writePolicyFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runMedic(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPolicyEval(t *testing.T) {
	dir := writePolicyFiles(t, map[string]string{
		"in.json":       policyInput,
		"prod.json":     strings.Replace(policyInput, `"staging"`, `"production"`, 1),
		"bad.json":      `{"proposal": {}, "bogus": 1}`,
		"trunc.json":    `{"proposal":`,
		"nonow.json":    strings.Replace(policyInput, `"now": "2026-11-25T12:00:00Z"`, `"now": "0001-01-01T00:00:00Z"`, 1),
		"p/team.rego":   "package medic\n\nreview contains \"payments owns cart\" if input.proposal.intent.target.name == \"cart\"\n",
		"broken/x.rego": "package medic\n\ndeny contains msg if {\n",
	})
	tests := []struct {
		name      string
		args      []string
		code      int
		automerge bool
		stdout    string
		stderr    string
	}{
		{"default bundle", []string{"--input", "in.json"}, 0, true, `"automerge": true`, ""},
		{"production at noon", []string{"--input", "prod.json"}, 0, true, `"medic/production"`, ""},
		{"timeout fails closed", []string{"--input", "in.json", "--timeout", "1ns"}, 0, false, "policy evaluation failed: timed out", ""},
		{"repo policy extends", []string{"--policy", "p", "--input", "in.json"}, 0, false, "payments owns cart", ""},
		{"broken policy names file:line", []string{"--policy", "broken", "--input", "in.json"}, 2, false, "", "x.rego:"},
		{"unknown field", []string{"--input", "bad.json"}, 2, false, "", `unknown field "bogus"`},
		{"truncated JSON", []string{"--input", "trunc.json"}, 2, false, "", "trunc.json: parse policy input"},
		{"no now", []string{"--input", "nonow.json"}, 2, false, "", "now is missing"},
		{"no input flag", nil, 2, false, "", "--input is required"},
		{"missing file", []string{"--input", "nope.json"}, 2, false, "", "read input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A generous bound: the test checks answers, not latency.
			args := []string{"policy", "eval", "--timeout", "1m"}
			for _, a := range tt.args {
				if strings.HasSuffix(a, ".json") || a == "p" || a == "broken" {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			code, out, errs := runMedic(args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errs)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Errorf("stdout %q stderr %q; want %q and %q", out, errs, tt.stdout, tt.stderr)
			}
			if code != 0 {
				return
			}
			var d policy.Decision
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatalf("decision is not JSON: %v\n%s", err, out)
			}
			if d.Automerge != tt.automerge {
				t.Errorf("automerge %v, want %v", d.Automerge, tt.automerge)
			}
		})
	}
}

func TestPolicyTest(t *testing.T) {
	dir := writePolicyFiles(t, map[string]string{
		"ok/team.rego":       "package medic\n\nreview contains \"payments owns cart\" if input.proposal.intent.target.name == \"cart\"\n",
		"ok/team_test.rego":  "package medic_test\n\nimport data.medic\n\ntest_cart_reviewed if medic.review[\"payments owns cart\"] with input as {\"proposal\": {\"intent\": {\"kind\": \"scale\", \"target\": {\"name\": \"cart\", \"namespace\": \"shop\"}}}}\n",
		"bad/team.rego":      "package medic\n\nreview contains \"x\" if input.a\n",
		"bad/team_test.rego": "package medic_test\n\nimport data.medic\n\ntest_fails if medic.review[\"x\"] with input as {\"a\": false}\n",
		"empty/team.rego":    "package medic\n\ndeny contains \"x\" if input.a\n",
		"syntax/a_test.rego": "package medic_test\n\ntest_x if {\n",
	})
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"embedded bundle", nil, 0, "PASS data.medic_test.test_memory_1_5x_staging_automerges", ""},
		{"repo folder", []string{"ok"}, 0, "PASS data.medic_test.test_cart_reviewed", ""},
		{"failing test", []string{"bad"}, 1, "FAIL data.medic_test.test_fails (team_test.rego:5)", "1 of 1 tests failed"},
		{"no tests", []string{"empty"}, 1, "0 passed", "no tests found"},
		{"syntax error", []string{"syntax"}, 2, "", "a_test.rego:4: rego_parse_error"},
		{"not a folder", []string{"nope"}, 2, "", "is not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"policy", "test"}
			for _, a := range tt.args {
				args = append(args, filepath.Join(dir, a))
			}
			code, out, errs := runMedic(args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Errorf("stdout %q stderr %q; want %q and %q", out, errs, tt.stdout, tt.stderr)
			}
		})
	}
}
