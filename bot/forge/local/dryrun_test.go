package local_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/local"
	"github.com/medic-bot/medic/patchers"
)

// repoOnly answers what NewRequest asks of a harness.
type repoOnly struct{ forgetest.Harness }

func (repoOnly) Repo() forge.Repo      { return testRepo }
func (repoOnly) DefaultBranch() string { return "" }

func TestDryRun(t *testing.T) {
	var out strings.Builder
	d := local.NewDryRun(&out, "trunk")
	r := forgetest.NewRequest(repoOnly{}, "inc-7", patchers.KindSetResources, map[string]string{resourcesPath: "memory: 768Mi\n"})
	r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: "base/old.yaml", Deleted: true})
	r.Decision.Automerge = true
	r.Decision.Reasons = []string{"memory raise within 2x", "staging is not prod"}
	pr, err := d.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 0 || pr.State != forge.StateOpen || pr.Base != "trunk" || pr.Branch != "medic/inc-7-set-resources" || !pr.Automerge {
		t.Errorf("Propose returned %+v", pr)
	}
	wantHead := "dry run: would open a pull request on acme/infra\n" +
		"  base:      trunk\n" +
		"  branch:    medic/inc-7-set-resources\n" +
		"  title:     " + forge.Title(r) + "\n" +
		"  labels:    medic, medic/remediation\n" +
		"  reviewers: sre-oncall\n" +
		"  automerge: yes (memory raise within 2x; staging is not prod)\n" +
		"  files:\n" +
		"    " + resourcesPath + "\n" +
		"    base/old.yaml (deleted)\n" +
		"  body:\n"
	got := out.String()
	if !strings.HasPrefix(got, wantHead) {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", got, wantHead)
	}
	for _, l := range strings.Split(strings.TrimRight(pr.Body, "\n"), "\n") {
		if l != "" && !strings.Contains(got, "    "+l+"\n") {
			t.Errorf("the body line %q is not in the output", l)
		}
	}

	out.Reset()
	r.Decision = forge.Request{}.Decision
	if _, err := d.Propose(t.Context(), r); !errors.Is(err, forge.ErrRefused) {
		t.Errorf("Propose of a disallowed change: %v, want ErrRefused", err)
	}
	if out.Len() != 0 {
		t.Errorf("a refused dry run wrote %q", out.String())
	}
	if _, err := d.Merge(t.Context(), pr); !errors.Is(err, forge.ErrRefused) || !strings.Contains(err.Error(), "dry run") {
		t.Errorf("Merge: %v", err)
	}
	if _, err := d.Close(t.Context(), pr, ""); !errors.Is(err, forge.ErrRefused) {
		t.Errorf("Close: %v", err)
	}
	if _, err := d.Get(t.Context(), testRepo, 1); !errors.Is(err, forge.ErrRefused) {
		t.Errorf("Get: %v", err)
	}
}

func TestDryRunNoLabels(t *testing.T) {
	var out strings.Builder
	r := forgetest.NewRequest(repoOnly{}, "inc-7", patchers.KindScale, map[string]string{"a.yaml": "replicas: 4\n"})
	r.Base = "main"
	r.BaseCommit = "3f9c2ab"
	r.Labels, r.Decision.Labels, r.Reviewers, r.Decision.Reasons = nil, nil, nil, nil
	if _, err := local.NewDryRun(&out, "").Propose(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  base:      main at 3f9c2ab\n", "  labels:    (none)\n", "  reviewers: (none)\n", "  automerge: no\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
