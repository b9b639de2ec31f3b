package forgetest_test

import (
	"path/filepath"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/store"
)

func TestMemoryRecords(t *testing.T) {
	forgetest.RunRecords(t, func(*testing.T) forge.Records { return forgetest.NewMemoryRecords() })
}

func TestMemoryRecordsCopies(t *testing.T) {
	rs := forgetest.NewMemoryRecords()
	labels := []string{"medic"}
	pr, err := rs.CreatePR(t.Context(), forge.PullRequest{Repo: forge.Repo{Owner: "a", Name: "b"}, IncidentID: "inc-a", State: forge.StateOpen, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	labels[0] = "changed"
	pr.Labels[0] = "changed too"
	got, err := rs.PR(t.Context(), pr.Repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels[0] != "medic" {
		t.Errorf("stored labels changed through a caller's slice: %q", got.Labels)
	}
}

func TestNewRequestValidates(t *testing.T) {
	for kind := range forgetest.IntentParams {
		r := forgetest.NewRequest(fakeHarness{}, "inc-1", kind, map[string]string{"a/b.yaml": "x: 1\n"})
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
		if len(r.Incident.Anomalies) == 0 || len(r.Incident.Anomalies[0].Evidence) == 0 {
			t.Errorf("%s: the incident has no anomaly with evidence", kind)
		}
	}
	if err := forgetest.DeleteRequest(fakeHarness{}, "inc-1", "scale", "a/b.yaml").Validate(); err != nil {
		t.Errorf("DeleteRequest: %v", err)
	}
}

// fakeHarness answers the two questions NewRequest asks.
type fakeHarness struct{ forgetest.Harness }

func (fakeHarness) Repo() forge.Repo      { return forge.Repo{Owner: "acme", Name: "infra"} }
func (fakeHarness) DefaultBranch() string { return "main" }

// TestSQLiteStoreRecords runs the Records contract against medic's SQLite
// store too, so the two implementations cannot drift apart.
func TestSQLiteStoreRecords(t *testing.T) {
	forgetest.RunRecords(t, func(t *testing.T) forge.Records {
		st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "medic.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
