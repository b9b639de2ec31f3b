package forgetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
)

// RunRecords runs the forge.Records contract against the records
// newRecords makes, one fresh (empty) instance per subtest.
func RunRecords(t *testing.T, newRecords func(t *testing.T) forge.Records) {
	repo := forge.Repo{Owner: "acme", Name: "infra"}
	other := forge.Repo{Owner: "acme", Name: "platform"}
	at := time.Date(2026, 11, 2, 14, 7, 0, 0, time.UTC)
	pr := func(repo forge.Repo, incidentID string) forge.PullRequest {
		return forge.PullRequest{
			Repo: repo, Title: "medic: raise memory", Branch: forge.BranchName(incidentID, "set_resources"),
			Base: "main", Head: "0123456789abcdef0123456789abcdef01234567", IncidentID: incidentID,
			Intent: "set_resources", State: forge.StateOpen, Labels: []string{"medic"},
			Reviewers: []string{"sre"}, Created: at, Updated: at,
		}
	}

	t.Run("NumbersPerRepo", func(t *testing.T) {
		rs := newRecords(t)
		a, err := rs.CreatePR(t.Context(), pr(repo, "inc-a"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := rs.CreatePR(t.Context(), pr(repo, "inc-b"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := rs.CreatePR(t.Context(), pr(other, "inc-a"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Number <= 0 || b.Number <= a.Number {
			t.Errorf("numbers in one repository: %d then %d", a.Number, b.Number)
		}
		if c.Number <= 0 {
			t.Errorf("number in another repository: %d", c.Number)
		}
		got, err := rs.PR(t.Context(), repo, b.Number)
		if err != nil || got.IncidentID != "inc-b" || !got.Created.Equal(at) || !slices.Equal(got.Labels, []string{"medic"}) {
			t.Errorf("PR(%d) = %+v, %v", b.Number, got, err)
		}
	})

	t.Run("OneOpenPerIncident", func(t *testing.T) {
		rs := newRecords(t)
		first, err := rs.CreatePR(t.Context(), pr(repo, "inc-a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.CreatePR(t.Context(), pr(repo, "inc-a")); !errors.Is(err, forge.ErrConflict) {
			t.Fatalf("second open pull request for an incident: %v, want ErrConflict", err)
		}
		open, err := rs.OpenPRForIncident(t.Context(), repo, "inc-a")
		if err != nil || open.Number != first.Number {
			t.Fatalf("OpenPRForIncident = #%d, %v; want #%d", open.Number, err, first.Number)
		}
		first.State = forge.StateClosed
		if err := rs.UpdatePR(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		if _, err := rs.OpenPRForIncident(t.Context(), repo, "inc-a"); !errors.Is(err, forge.ErrNotFound) {
			t.Fatalf("OpenPRForIncident after closing: %v, want ErrNotFound", err)
		}
		second, err := rs.CreatePR(t.Context(), pr(repo, "inc-a"))
		if err != nil || second.Number == first.Number {
			t.Fatalf("new pull request after closing: #%d, %v", second.Number, err)
		}
		all, err := rs.ListPRs(t.Context(), repo, "")
		if err != nil || len(all) != 2 || all[0].Number != first.Number {
			t.Fatalf("ListPRs(all) = %v, %v", all, err)
		}
		openList, err := rs.ListPRs(t.Context(), repo, forge.StateOpen)
		if err != nil || len(openList) != 1 || openList[0].Number != second.Number {
			t.Fatalf("ListPRs(open) = %v, %v", openList, err)
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		rs := newRecords(t)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = rs.CreatePR(t.Context(), pr(repo, "inc-race")) })
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, forge.ErrConflict):
				t.Errorf("CreatePR: %v", err)
			}
		}
		if created != 1 {
			t.Errorf("%d concurrent CreatePR calls for one incident succeeded, want 1", created)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		rs := newRecords(t)
		if _, err := rs.PR(t.Context(), repo, 42); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("PR: %v, want ErrNotFound", err)
		}
		missing := pr(repo, "inc-a")
		missing.Number = 42
		if err := rs.UpdatePR(t.Context(), missing); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("UpdatePR: %v, want ErrNotFound", err)
		}
		if _, err := rs.OpenPRForIncident(t.Context(), repo, "inc-a"); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("OpenPRForIncident: %v, want ErrNotFound", err)
		}
		if l, err := rs.ListPRs(t.Context(), repo, ""); err != nil || len(l) != 0 {
			t.Errorf("ListPRs = %v, %v; want none", l, err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		rs := newRecords(t)
		p, err := rs.CreatePR(t.Context(), pr(repo, "inc-a"))
		if err != nil {
			t.Fatal(err)
		}
		p.State = forge.StateMerged
		p.Merge = forge.MergeCompleted
		p.MergeCommit = "89abcdef0123456789abcdef0123456789abcdef"
		p.Labels = []string{"medic", "automerge"}
		p.Updated = at.Add(time.Hour)
		if err := rs.UpdatePR(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		got, err := rs.PR(t.Context(), repo, p.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != forge.StateMerged || got.Merge != forge.MergeCompleted || got.MergeCommit != p.MergeCommit ||
			!slices.Equal(got.Labels, p.Labels) || !got.Updated.Equal(p.Updated) {
			t.Errorf("after UpdatePR: %+v", got)
		}
	})
}
