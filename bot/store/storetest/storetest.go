package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/store"
)

// Run runs the contract suite: every behaviour store.Store promises, as
// parallel subtests. open must return a Store on a database of its own for
// each subtest t it is called with, and further Stores on that same
// database when called again with the same t (two medic replicas); Opener
// makes one from a DSNFunc. open owns closing what it returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"CreateAssignsNumbersPerRepo", testCreateNumbers},
		{"RoundTrip", testRoundTrip},
		{"EmptyAndNilLists", testEmptyLists},
		{"ExplicitNumber", testExplicitNumber},
		{"OneOpenPRPerIncident", testOneOpenPerIncident},
		{"NotFound", testNotFound},
		{"OpenPRForIncident", testOpenPRForIncident},
		{"ListPRs", testListPRs},
		{"RepoIsCaseInsensitive", testRepoCase},
		{"InvalidInput", testInvalid},
		{"UpdateReplaces", testUpdate},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentCreateSameIncident", testConcurrentSameIncident},
		{"FirstDelivery", testFirstDelivery},
		{"ConcurrentFirstDelivery", testConcurrentFirstDelivery},
		{"ForgetDeliveries", testForgetDeliveries},
		{"SaveEvent", testSaveEvent},
		{"ClaimEvents", testClaimEvents},
		{"ConcurrentClaimEvents", testConcurrentClaimEvents},
		{"RenewEvents", testRenewEvents},
		{"RenewEventsReplicas", testRenewEventsReplicas},
		{"FinishEvent", testFinishEvent},
		{"ForgetEvents", testForgetEvents},
		{"Replicas", testReplicas},
		{"CancelledContext", testCancelled},
		{"CloseTwice", testCloseTwice},
	}
	tests = append(tests, incidentTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

var (
	repoA = forge.Repo{Owner: "acme", Name: "infra"}
	repoB = forge.Repo{Owner: "acme", Name: "apps"}
	// t0 has nanoseconds and is not in UTC, to check both survive.
	t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newPR is an open pull request for incident in repo, numbered by the
// store.
func newPR(repo forge.Repo, incident string) forge.PullRequest {
	return forge.PullRequest{
		Repo:       repo,
		Title:      "medic: raise checkout's memory limit",
		Branch:     forge.BranchName(incident, "set_resources"),
		Base:       "main",
		Head:       "0123456789abcdef0123456789abcdef01234567",
		IncidentID: incident,
		Intent:     "set_resources",
		State:      forge.StateOpen,
		Created:    t0,
		Updated:    t0,
	}
}

func mustCreate(t *testing.T, s store.Store, pr forge.PullRequest) forge.PullRequest {
	t.Helper()
	got, err := s.CreatePR(ctxFor(t), pr)
	if err != nil {
		t.Fatalf("CreatePR(%s, incident %q): %v", pr.Repo, pr.IncidentID, err)
	}
	return got
}

// equalPR compares pull requests, times with time.Equal, and checks the
// stored times are in UTC.
func equalPR(t *testing.T, got, want forge.PullRequest) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{{"Created", got.Created, want.Created}, {"Updated", got.Updated, want.Updated}} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %s, want %s", c.name, c.got.Format(time.RFC3339Nano), c.want.Format(time.RFC3339Nano))
		}
		if c.got.Location() != time.UTC {
			t.Errorf("%s is in %s, want UTC", c.name, c.got.Location())
		}
	}
	got.Created, got.Updated = want.Created, want.Updated
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pull request\n got %+v\nwant %+v", got, want)
	}
}

func numbers(prs []forge.PullRequest) []int {
	n := []int{}
	for _, pr := range prs {
		n = append(n, pr.Number)
	}
	return n
}

func testCreateNumbers(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	for i, want := range []int{1, 2, 3} {
		pr := mustCreate(t, s, newPR(repoA, fmt.Sprintf("inc-%d", i)))
		if pr.Number != want {
			t.Errorf("CreatePR #%d got number %d, want %d", i, pr.Number, want)
		}
	}
	if pr := mustCreate(t, s, newPR(repoB, "inc-0")); pr.Number != 1 {
		t.Errorf("first pull request in %s got number %d, want 1", repoB, pr.Number)
	}
}

func testRoundTrip(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	in := forge.PullRequest{
		Repo:        repoA,
		URL:         "https://github.com/acme/infra/pull/1",
		NodeID:      "PR_kwDOABCD1234",
		Title:       "medic: roll back checkout's image — \"quotes\", 'apostrophes', ünïcode",
		Body:        "Line one\nline two\n\n```diff\n- a\n+ b\n```\n",
		Branch:      "medic/inc-42-rollback-image",
		Base:        "main",
		Head:        "fedcba9876543210fedcba9876543210fedcba98",
		IncidentID:  "inc-42",
		Intent:      "rollback_image",
		State:       forge.StateOpen,
		Merge:       forge.MergeAuto,
		Automerge:   true,
		MergeCommit: "",
		Labels:      []string{"medic", "automerge", "env:prod"},
		Reviewers:   []string{"octocat", "acme/sre"},
		Created:     t0,
		Updated:     t0.Add(90*time.Second + 7),
		Reused:      true,
	}
	got, err := s.CreatePR(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Number = 1
	want.Reused = false // not stored
	want.Created, want.Updated = in.Created.UTC(), in.Updated.UTC()
	if got.Number != 1 {
		t.Errorf("CreatePR number = %d, want 1", got.Number)
	}
	stored, err := s.PR(ctx, repoA, 1)
	if err != nil {
		t.Fatal(err)
	}
	equalPR(t, stored, want)

	// Every field changes, including to a merged state.
	upd := stored
	upd.URL, upd.NodeID, upd.Title, upd.Body = "https://example.test/2", "PR_2", "t2", ""
	upd.Branch, upd.Base, upd.Head = "medic/inc-42-scale", "release", "aaaa"
	upd.Intent, upd.State, upd.Merge = "scale", forge.StateMerged, forge.MergeCompleted
	upd.Automerge, upd.MergeCommit = false, "bbbb"
	upd.Labels, upd.Reviewers = []string{"x"}, nil
	upd.Created, upd.Updated = time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 1, time.UTC)
	if err := s.UpdatePR(ctx, upd); err != nil {
		t.Fatal(err)
	}
	stored, err = s.PR(ctx, repoA, 1)
	if err != nil {
		t.Fatal(err)
	}
	equalPR(t, stored, upd)
}

func testEmptyLists(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	a := newPR(repoA, "nil-lists")
	b := newPR(repoA, "empty-lists")
	b.Labels, b.Reviewers = []string{}, []string{}
	var zero forge.PullRequest
	zero.Repo, zero.IncidentID, zero.State = repoA, "zero", forge.StateClosed
	for _, in := range []forge.PullRequest{a, b, zero} {
		got := mustCreate(t, s, in)
		stored, err := s.PR(ctx, repoA, got.Number)
		if err != nil {
			t.Fatal(err)
		}
		in.Number = got.Number
		in.Created, in.Updated = in.Created.UTC(), in.Updated.UTC()
		equalPR(t, stored, in)
	}
}

func testExplicitNumber(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	pr := newPR(repoA, "inc-1")
	pr.Number = 42
	if got := mustCreate(t, s, pr); got.Number != 42 {
		t.Errorf("CreatePR with number 42 stored number %d", got.Number)
	}
	if got := mustCreate(t, s, newPR(repoA, "inc-2")); got.Number != 43 {
		t.Errorf("CreatePR after #42 got number %d, want 43", got.Number)
	}
	low := newPR(repoA, "inc-3")
	low.Number = 7
	mustCreate(t, s, low)
	if got := mustCreate(t, s, newPR(repoA, "inc-4")); got.Number != 44 {
		t.Errorf("CreatePR after #7 got number %d, want 44 (numbers never go back)", got.Number)
	}
	dup := newPR(repoA, "inc-5")
	dup.Number = 42
	if _, err := s.CreatePR(ctx, dup); !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "number 42") {
		t.Errorf("CreatePR with a taken number: err = %v, want ErrConflict naming number 42", err)
	}
}

func testOneOpenPerIncident(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	first := mustCreate(t, s, newPR(repoA, "inc-1"))
	_, err := s.CreatePR(ctx, newPR(repoA, "inc-1"))
	if !errors.Is(err, forge.ErrConflict) {
		t.Fatalf("second open pull request for an incident: err = %v, want ErrConflict", err)
	}
	if !forge.IsPermanent(err) {
		t.Errorf("conflict %v is not permanent", err)
	}
	if !strings.Contains(err.Error(), repoA.String()) || !strings.Contains(err.Error(), `"inc-1"`) {
		t.Errorf("error %q does not name the repository and the incident", err)
	}
	// The same incident may have an open pull request in another
	// repository, and closed or merged ones beside its open one.
	mustCreate(t, s, newPR(repoB, "inc-1"))
	merged := newPR(repoA, "inc-1")
	merged.State = forge.StateMerged
	if got := mustCreate(t, s, merged); got.Number != 2 {
		t.Errorf("number after a refused CreatePR = %d, want 2 (a refused create uses no number)", got.Number)
	}
	// Closing the open one makes room for another; reopening the closed
	// one then conflicts.
	first.State = forge.StateClosed
	if err := s.UpdatePR(ctx, first); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newPR(repoA, "inc-1"))
	first.State = forge.StateOpen
	if err := s.UpdatePR(ctx, first); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("reopening a second pull request for an incident: err = %v, want ErrConflict", err)
	}
}

func testNotFound(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	mustCreate(t, s, newPR(repoA, "inc-1"))
	if _, err := s.PR(ctx, repoA, 2); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "acme/infra#2") {
		t.Errorf("PR(absent) err = %v, want ErrNotFound naming acme/infra#2", err)
	}
	if _, err := s.PR(ctx, repoB, 1); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("PR(other repo) err = %v, want ErrNotFound", err)
	}
	absent := newPR(repoA, "inc-2")
	absent.Number = 9
	if err := s.UpdatePR(ctx, absent); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "acme/infra#9") {
		t.Errorf("UpdatePR(absent) err = %v, want ErrNotFound naming acme/infra#9", err)
	}
	if _, err := s.PR(ctx, repoA, 9); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("UpdatePR(absent) stored a pull request: err = %v", err)
	}
	if _, err := s.OpenPRForIncident(ctx, repoA, "inc-2"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("OpenPRForIncident(absent) err = %v, want ErrNotFound", err)
	}
	if _, err := s.OpenPRForIncident(ctx, repoB, "inc-1"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("OpenPRForIncident(other repo) err = %v, want ErrNotFound", err)
	}
}

func testOpenPRForIncident(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, st := range []forge.State{forge.StateMerged, forge.StateClosed, forge.StateOpen, forge.StateClosed} {
		pr := newPR(repoA, "inc-1")
		pr.State = st
		mustCreate(t, s, pr)
	}
	got, err := s.OpenPRForIncident(ctx, repoA, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 3 || got.State != forge.StateOpen {
		t.Errorf("OpenPRForIncident = #%d (%s), want #3 (open)", got.Number, got.State)
	}
	got.State = forge.StateMerged
	if err := s.UpdatePR(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenPRForIncident(ctx, repoA, "inc-1"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("OpenPRForIncident after merge: err = %v, want ErrNotFound", err)
	}
}

func testListPRs(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	if prs, err := s.ListPRs(ctx, repoA, ""); err != nil || len(prs) != 0 {
		t.Errorf("ListPRs on an empty store = %v, %v; want none", prs, err)
	}
	states := []forge.State{forge.StateOpen, forge.StateMerged, forge.StateOpen, forge.StateClosed, forge.StateMerged}
	for i, st := range states {
		pr := newPR(repoA, fmt.Sprintf("inc-%d", i))
		pr.State = st
		mustCreate(t, s, pr)
	}
	mustCreate(t, s, newPR(repoB, "other"))
	// A number given out of order still lists by number.
	early := newPR(repoA, "early")
	early.Number, early.State = 0, forge.StateClosed
	late := newPR(repoA, "late")
	late.Number = 100
	mustCreate(t, s, late)
	mustCreate(t, s, early) // #101
	for _, c := range []struct {
		state forge.State
		want  []int
	}{
		{"", []int{1, 2, 3, 4, 5, 100, 101}},
		{forge.StateOpen, []int{1, 3, 100}},
		{forge.StateMerged, []int{2, 5}},
		{forge.StateClosed, []int{4, 101}},
	} {
		prs, err := s.ListPRs(ctx, repoA, c.state)
		if err != nil {
			t.Fatal(err)
		}
		if got := numbers(prs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListPRs(%q) = %v, want %v", c.state, got, c.want)
		}
		for _, pr := range prs {
			if pr.Repo != repoA || (c.state != "" && pr.State != c.state) {
				t.Errorf("ListPRs(%s, %q) returned %s#%d (%s)", repoA, c.state, pr.Repo, pr.Number, pr.State)
			}
		}
	}
	prs, err := s.ListPRs(ctx, repoA, forge.StateOpen)
	if err != nil {
		t.Fatal(err)
	}
	want := newPR(repoA, "inc-0")
	want.Number = 1
	want.Created, want.Updated = want.Created.UTC(), want.Updated.UTC()
	equalPR(t, prs[0], want)
}

func testRepoCase(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	upper := forge.Repo{Owner: "Acme", Name: "Infra"}
	mustCreate(t, s, newPR(upper, "inc-1"))
	got, err := s.PR(ctx, repoA, 1)
	if err != nil {
		t.Fatalf("PR(%s) of a pull request created in %s: %v", repoA, upper, err)
	}
	if got.Repo != upper {
		t.Errorf("stored repository = %s, want %s as created", got.Repo, upper)
	}
	if _, err := s.CreatePR(ctx, newPR(repoA, "inc-1")); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("CreatePR in %s for an incident open in %s: err = %v, want ErrConflict", repoA, upper, err)
	}
	if pr := mustCreate(t, s, newPR(repoA, "inc-2")); pr.Number != 2 {
		t.Errorf("number in %s after #1 in %s = %d, want 2", repoA, upper, pr.Number)
	}
}

func testInvalid(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, c := range []struct {
		name string
		edit func(*forge.PullRequest)
	}{
		{"no owner", func(pr *forge.PullRequest) { pr.Repo.Owner = "" }},
		{"bad name", func(pr *forge.PullRequest) { pr.Repo.Name = "a/b" }},
		{"unknown state", func(pr *forge.PullRequest) { pr.State = "draft" }},
		{"negative number", func(pr *forge.PullRequest) { pr.Number = -1 }},
	} {
		pr := newPR(repoA, "inc-1")
		c.edit(&pr)
		if _, err := s.CreatePR(ctx, pr); err == nil {
			t.Errorf("CreatePR with %s succeeded", c.name)
		}
	}
	if prs, err := s.ListPRs(ctx, repoA, ""); err != nil || len(prs) != 0 {
		t.Errorf("refused CreatePRs stored %v (err %v)", numbers(prs), err)
	}
	// An empty state means open.
	pr := newPR(repoA, "inc-1")
	pr.State = ""
	if got := mustCreate(t, s, pr); got.State != forge.StateOpen {
		t.Errorf("CreatePR with no state returned state %q, want open", got.State)
	}
	got, err := s.PR(ctx, repoA, 1)
	if err != nil || got.State != forge.StateOpen {
		t.Errorf("stored state = %q (err %v), want open", got.State, err)
	}
	got.State = "draft"
	if err := s.UpdatePR(ctx, got); err == nil {
		t.Error("UpdatePR with an unknown state succeeded")
	}
	if _, err := s.FirstDelivery(ctx, "", t0); err == nil {
		t.Error("FirstDelivery with an empty id succeeded")
	}
}

func testUpdate(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	pr := mustCreate(t, s, newPR(repoA, "inc-1"))
	other := mustCreate(t, s, newPR(repoA, "inc-2"))
	pr.Merge, pr.Labels, pr.Updated = forge.MergeWaiting, []string{"medic"}, t0.Add(time.Hour)
	if err := s.UpdatePR(ctx, pr); err != nil {
		t.Fatal(err)
	}
	got, err := s.PR(ctx, repoA, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	pr.Created, pr.Updated = pr.Created.UTC(), pr.Updated.UTC()
	equalPR(t, got, pr)
	// The other record is untouched.
	got, err = s.PR(ctx, repoA, other.Number)
	if err != nil {
		t.Fatal(err)
	}
	other.Created, other.Updated = other.Created.UTC(), other.Updated.UTC()
	equalPR(t, got, other)
}

// concurrently runs fn(i) for i in [0, n) at once and waits.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testConcurrentCreate(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	const n = 8
	got := make([]int, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		pr, err := s.CreatePR(ctx, newPR(repoA, fmt.Sprintf("inc-%d", i)))
		got[i], errs[i] = pr.Number, err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	checkOneToN(t, got)
}

// oneWins checks that exactly one of concurrent calls (what) succeeded
// and the others failed with forge.ErrConflict, and returns the index of
// the one, or -1.
func oneWins(t *testing.T, what string, errs []error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("%s: calls %d and %d both succeeded", what, won, i)
		case err == nil:
			won = i
		case !errors.Is(err, forge.ErrConflict):
			t.Errorf("%s: call %d: %v, want nil or ErrConflict", what, i, err)
		}
	}
	if won < 0 {
		t.Errorf("%s: none of %d concurrent calls succeeded, want 1", what, len(errs))
	}
	return won
}

// checkOneToN checks numbers are 1..len(numbers), each once.
func checkOneToN(t *testing.T, numbers []int) {
	t.Helper()
	seen := map[int]bool{}
	for _, n := range numbers {
		if n < 1 || n > len(numbers) || seen[n] {
			t.Fatalf("numbers %v are not 1..%d each once", numbers, len(numbers))
		}
		seen[n] = true
	}
}

func testConcurrentSameIncident(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	const n = 8
	errs := make([]error, n)
	concurrently(n, func(i int) {
		_, errs[i] = s.CreatePR(ctx, newPR(repoA, "inc-1"))
	})
	oneWins(t, "CreatePR for one incident", errs)
	if pr := mustCreate(t, s, newPR(repoA, "inc-2")); pr.Number != 2 {
		t.Errorf("number after conflicting creates = %d, want 2", pr.Number)
	}
}

func testFirstDelivery(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for i, c := range []struct {
		id   string
		want bool
	}{
		{"72d3162e-cc78-11e3-81ab-4c9367dc0958", true},
		{"72d3162e-cc78-11e3-81ab-4c9367dc0958", false},
		{"72d3162e-cc78-11e3-81ab-4c9367dc0959", true},
		{"72d3162e-cc78-11e3-81ab-4c9367dc0958", false},
	} {
		first, err := s.FirstDelivery(ctx, c.id, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if first != c.want {
			t.Errorf("call %d: FirstDelivery(%s) = %v, want %v", i, c.id, first, c.want)
		}
	}
}

func testConcurrentFirstDelivery(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	const n = 8
	firsts := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		firsts[i], errs[i] = s.FirstDelivery(ctx, "same-delivery", t0)
	})
	checkExactlyOne(t, firsts, errs)
}

func checkExactlyOne(t *testing.T, firsts []bool, errs []error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range firsts {
		if f {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of %d concurrent FirstDelivery calls with one id returned true, want 1", n, len(firsts))
	}
}

func testForgetDeliveries(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for i, id := range []string{"d0", "d1", "d2", "d3"} {
		// One nanosecond apart around before, in mixed zones.
		at := t0.Add(time.Duration(i-2) * time.Nanosecond)
		if i%2 == 1 {
			at = at.UTC()
		}
		if _, err := s.FirstDelivery(ctx, id, at); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.ForgetDeliveries(ctx, t0.In(time.FixedZone("PST", -8*3600)))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ForgetDeliveries removed %d, want 2 (the two strictly before)", n)
	}
	for _, c := range []struct {
		id   string
		want bool
	}{{"d0", true}, {"d1", true}, {"d2", false}, {"d3", false}} {
		first, err := s.FirstDelivery(ctx, c.id, t0)
		if err != nil {
			t.Fatal(err)
		}
		if first != c.want {
			t.Errorf("after ForgetDeliveries, FirstDelivery(%s) = %v, want %v", c.id, first, c.want)
		}
	}
	if n, err := s.ForgetDeliveries(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("ForgetDeliveries(zero time) = %d, %v; want 0, nil", n, err)
	}
}

// testReplicas uses two Stores on one database, as two medic replicas.
func testReplicas(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	ctx := ctxFor(t)
	pr := mustCreate(t, a, newPR(repoA, "inc-0"))
	got, err := b.PR(ctx, repoA, pr.Number)
	if err != nil {
		t.Fatalf("replica b does not see replica a's pull request: %v", err)
	}
	if got.IncidentID != "inc-0" {
		t.Errorf("replica b read incident %q, want inc-0", got.IncidentID)
	}
	if _, err := b.CreatePR(ctx, newPR(repoA, "inc-0")); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("replica b creating a second open pull request for the incident: err = %v, want ErrConflict", err)
	}

	const n = 8
	replicas := []store.Store{a, b}
	got8 := make([]int, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		pr, err := replicas[i%2].CreatePR(ctx, newPR(repoA, fmt.Sprintf("inc-%d", i+1)))
		got8[i], errs[i] = pr.Number, err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	checkOneToN(t, append(got8, pr.Number))

	firsts := make([]bool, n)
	concurrently(n, func(i int) {
		firsts[i], errs[i] = replicas[i%2].FirstDelivery(ctx, "replicated-delivery", t0)
	})
	checkExactlyOne(t, firsts, errs)
}

func testCancelled(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreatePR(ctx, newPR(repoA, "inc-1")); !errors.Is(err, context.Canceled) {
		t.Errorf("CreatePR with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.PR(ctx, repoA, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("PR with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.FirstDelivery(ctx, "d", t0); !errors.Is(err, context.Canceled) {
		t.Errorf("FirstDelivery with a cancelled context: err = %v, want context.Canceled", err)
	}
	// The store still works afterwards.
	if pr := mustCreate(t, s, newPR(repoA, "inc-1")); pr.Number != 1 {
		t.Errorf("number after a cancelled CreatePR = %d, want 1", pr.Number)
	}
}

func testCloseTwice(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func webhookEvent(id string, at time.Time) store.WebhookEvent {
	return store.WebhookEvent{
		DeliveryID: id,
		Type:       "pull_request",
		Payload:    []byte(`{"action":"closed","number":1,"bytes":"\u00e9\u0000"}` + "\xff"),
		ReceivedAt: at,
	}
}

func mustSave(t *testing.T, s store.Store, ev store.WebhookEvent) {
	t.Helper()
	saved, err := s.SaveEvent(ctxFor(t), ev)
	if err != nil || !saved {
		t.Fatalf("SaveEvent(%s) = %v, %v; want true, nil", ev.DeliveryID, saved, err)
	}
}

func mustClaim(t *testing.T, s store.Store, owner string, now time.Time, lease time.Duration, max int) []string {
	t.Helper()
	evs, err := s.ClaimEvents(ctxFor(t), owner, now, lease, max)
	if err != nil {
		t.Fatalf("ClaimEvents(%s): %v", owner, err)
	}
	ids := []string{}
	for _, ev := range evs {
		ids = append(ids, ev.DeliveryID)
	}
	return ids
}

func testSaveEvent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	ev := webhookEvent("e1", t0)
	mustSave(t, s, ev)
	again := webhookEvent("e1", t0.Add(time.Minute))
	again.Type = "push"
	if saved, err := s.SaveEvent(ctx, again); err != nil || saved {
		t.Errorf("second SaveEvent(e1) = %v, %v; want false, nil", saved, err)
	}
	if _, err := s.SaveEvent(ctx, webhookEvent("", t0)); err == nil {
		t.Error("SaveEvent with an empty delivery id succeeded")
	}
	evs, err := s.ClaimEvents(ctx, "r1", t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("claimed %d events, want 1", len(evs))
	}
	got := evs[0]
	if got.DeliveryID != "e1" || got.Type != ev.Type || string(got.Payload) != string(ev.Payload) ||
		!got.ReceivedAt.Equal(t0) || got.ReceivedAt.Location() != time.UTC || got.Attempts != 0 ||
		got.ClaimedBy != "r1" || !got.ClaimedUntil.Equal(t0.Add(time.Minute)) || got.LastError != "" {
		t.Errorf("claimed %+v, want the first save of e1 leased to r1 until t0+1m", got)
	}

	// An event saved leased is not claimable until its lease ends.
	leased := webhookEvent("e2", t0)
	leased.ClaimedBy, leased.ClaimedUntil = "r2", t0.Add(time.Hour)
	mustSave(t, s, leased)
	if ids := mustClaim(t, s, "r3", t0.Add(30*time.Second), time.Minute, 10); len(ids) != 0 {
		t.Errorf("claimed %v within leases, want none", ids)
	}
	if ids := mustClaim(t, s, "r3", t0.Add(time.Hour), time.Minute, 10); !reflect.DeepEqual(ids, []string{"e1", "e2"}) {
		t.Errorf("claimed %v once the leases ended, want [e1 e2]", ids)
	}
}

func testClaimEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for i, id := range []string{"c", "a", "b", "d"} {
		mustSave(t, s, webhookEvent(id, t0.Add(time.Duration(i)*time.Second)))
	}
	if ids := mustClaim(t, s, "r1", t0, time.Minute, 3); !reflect.DeepEqual(ids, []string{"c", "a", "b"}) {
		t.Errorf("first claim = %v, want the 3 oldest [c a b]", ids)
	}
	if ids := mustClaim(t, s, "r2", t0.Add(time.Second), time.Minute, 3); !reflect.DeepEqual(ids, []string{"d"}) {
		t.Errorf("second claim = %v, want [d]", ids)
	}
	if ids := mustClaim(t, s, "r2", t0.Add(59*time.Second), time.Minute, 10); len(ids) != 0 {
		t.Errorf("claim within the leases = %v, want none", ids)
	}
	// r1's lease ends at t0+1m exactly: claimable again, r2's is not.
	if ids := mustClaim(t, s, "r2", t0.Add(time.Minute), time.Minute, 10); !reflect.DeepEqual(ids, []string{"c", "a", "b"}) {
		t.Errorf("claim after r1's lease ended = %v, want [c a b]", ids)
	}
	for _, c := range []struct {
		owner string
		lease time.Duration
		max   int
	}{{"", time.Minute, 1}, {"r", 0, 1}, {"r", time.Minute, 0}} {
		if _, err := s.ClaimEvents(ctx, c.owner, t0, c.lease, c.max); err == nil {
			t.Errorf("ClaimEvents(%q, lease %s, max %d) succeeded", c.owner, c.lease, c.max)
		}
	}
}

// testConcurrentClaimEvents claims from two Stores on one database at once.
func testConcurrentClaimEvents(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	const events, claimers = 40, 8
	for i := range events {
		mustSave(t, a, webhookEvent(fmt.Sprintf("e%02d", i), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	replicas := []store.Store{a, b}
	claimed := make([][]store.WebhookEvent, claimers)
	errs := make([]error, claimers)
	concurrently(claimers, func(i int) {
		claimed[i], errs[i] = replicas[i%2].ClaimEvents(ctxFor(t), fmt.Sprintf("r%d", i), t0, time.Minute, 7)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i, evs := range claimed {
		owner := fmt.Sprintf("r%d", i)
		for _, ev := range evs {
			if prev, ok := seen[ev.DeliveryID]; ok {
				t.Errorf("%s claimed by %s and %s", ev.DeliveryID, prev, owner)
			}
			if ev.ClaimedBy != owner {
				t.Errorf("%s returned to %s says it is claimed by %s", ev.DeliveryID, owner, ev.ClaimedBy)
			}
			seen[ev.DeliveryID] = owner
		}
	}
	// The claims may skip rows locked by one another, so what is left is
	// claimed afterwards; every event is claimed exactly once in all.
	for _, id := range mustClaim(t, b, "rest", t0, time.Minute, events) {
		if prev, ok := seen[id]; ok {
			t.Errorf("%s claimed by %s and rest", id, prev)
		}
		seen[id] = "rest"
	}
	if len(seen) != events {
		t.Errorf("%d events claimed, want %d", len(seen), events)
	}
}

// testRenewEvents renews the leases an owner holds, and only those: a
// renewed event stays unclaimable past its first lease; a released,
// finished, unknown or foreign one is reported lost and left as it is.
func testRenewEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, id := range []string{"held", "other", "released", "done"} {
		mustSave(t, s, webhookEvent(id, t0))
	}
	if ids := mustClaim(t, s, "r1", t0, time.Minute, 10); len(ids) != 4 {
		t.Fatalf("claimed %v, want all 4", ids)
	}
	if err := s.FinishEvent(ctx, "released", t0, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishEvent(ctx, "done", t0, nil); err != nil {
		t.Fatal(err)
	}
	// "other" is taken by r2 once r1's lease has ended.
	later := t0.Add(time.Minute)
	lost, err := s.RenewEvents(ctx, "r2", []string{"other"}, later, time.Minute)
	if err != nil || !reflect.DeepEqual(lost, []string{"other"}) {
		t.Fatalf("RenewEvents by r2 of r1's event = %v, %v; want [other] lost", lost, err)
	}
	if ids := mustClaim(t, s, "r2", later, time.Minute, 10); !reflect.DeepEqual(ids, []string{"held", "other", "released"}) {
		t.Fatalf("claimed %v after r1's lease, want [held other released]", ids)
	}
	// r2 renews at t0+1m30s; r1 no longer holds anything.
	renewAt := t0.Add(90 * time.Second)
	lost, err = s.RenewEvents(ctx, "r2", []string{"held", "done", "absent"}, renewAt, time.Minute)
	if err != nil || !reflect.DeepEqual(lost, []string{"done", "absent"}) {
		t.Errorf("RenewEvents(r2) = %v, %v; want [done absent] lost", lost, err)
	}
	lost, err = s.RenewEvents(ctx, "r1", []string{"held", "other"}, renewAt, time.Minute)
	if err != nil || !reflect.DeepEqual(lost, []string{"held", "other"}) {
		t.Errorf("RenewEvents(r1) after r2 claimed = %v, %v; want both lost", lost, err)
	}
	// r2's claim ended at t0+2m, but "held" was renewed until t0+2m30s.
	if ids := mustClaim(t, s, "r3", t0.Add(2*time.Minute), time.Minute, 10); !reflect.DeepEqual(ids, []string{"other", "released"}) {
		t.Errorf("claimed %v at t0+2m, want [other released]: held was renewed", ids)
	}
	if ids := mustClaim(t, s, "r3", renewAt.Add(time.Minute), time.Minute, 10); !reflect.DeepEqual(ids, []string{"held"}) {
		t.Errorf("claimed %v once the renewed lease ended, want [held]", ids)
	}
	if lost, err := s.RenewEvents(ctx, "r3", nil, t0, time.Minute); err != nil || len(lost) != 0 {
		t.Errorf("RenewEvents with no ids = %v, %v", lost, err)
	}
	for _, c := range []struct {
		owner string
		lease time.Duration
	}{{"", time.Minute}, {"r", 0}} {
		if _, err := s.RenewEvents(ctx, c.owner, []string{"held"}, t0, c.lease); err == nil {
			t.Errorf("RenewEvents(%q, lease %s) succeeded", c.owner, c.lease)
		}
	}
}

// testRenewEventsReplicas renews from one Store while another claims on
// the same database: an event is never held by both.
func testRenewEventsReplicas(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	const events = 20
	ids := make([]string, events)
	for i := range ids {
		ids[i] = fmt.Sprintf("e%02d", i)
		mustSave(t, a, webhookEvent(ids[i], t0))
	}
	mustClaim(t, a, "a", t0, time.Minute, events)
	// At t0+1m the leases end: a renews while b claims.
	at := t0.Add(time.Minute)
	var (
		lost    []string
		claimed []string
		errs    [2]error
	)
	concurrently(2, func(i int) {
		if i == 0 {
			lost, errs[0] = a.RenewEvents(ctxFor(t), "a", ids, at, time.Minute)
			return
		}
		var evs []store.WebhookEvent
		evs, errs[1] = b.ClaimEvents(ctxFor(t), "b", at, time.Minute, events)
		for _, ev := range evs {
			claimed = append(claimed, ev.DeliveryID)
		}
	})
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lost)
	slices.Sort(claimed)
	if !slices.Equal(lost, claimed) {
		t.Errorf("a lost %v but b claimed %v: want the same events", lost, claimed)
	}
	// Whatever a kept is not claimable until its renewed lease ends.
	if got := mustClaim(t, b, "c", at.Add(time.Minute-time.Millisecond), time.Minute, events); len(got) != 0 {
		t.Errorf("claimed %v within the leases, want none", got)
	}
}

func testFinishEvent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, id := range []string{"ok", "retry", "permanent"} {
		mustSave(t, s, webhookEvent(id, t0))
	}
	now := t0
	claim := func(want ...string) []store.WebhookEvent {
		t.Helper()
		now = now.Add(time.Hour)
		evs, err := s.ClaimEvents(ctx, "r1", now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.DeliveryID)
		}
		if !reflect.DeepEqual(ids, want) {
			t.Fatalf("claimed %v, want %v", ids, want)
		}
		return evs
	}
	claim("ok", "permanent", "retry")
	boom := errors.New("boom")
	for _, c := range []struct {
		id  string
		err error
	}{{"ok", nil}, {"retry", boom}, {"permanent", forge.Permanent(boom)}} {
		if err := s.FinishEvent(ctx, c.id, now, c.err); err != nil {
			t.Fatal(err)
		}
	}
	// A failed event is released at once: claimable before its lease
	// would have ended.
	for attempt := 1; attempt < store.MaxEventAttempts; attempt++ {
		now = now.Add(-time.Hour + time.Second)
		evs := claim("retry")
		if evs[0].Attempts != attempt || evs[0].LastError != "boom" {
			t.Errorf("claim %d: attempts %d, last error %q; want %d, boom", attempt, evs[0].Attempts, evs[0].LastError, attempt)
		}
		if err := s.FinishEvent(ctx, "retry", now, boom); err != nil {
			t.Fatal(err)
		}
	}
	claim() // given up after MaxEventAttempts
	if err := s.FinishEvent(ctx, "absent", now, nil); err != nil {
		t.Errorf("FinishEvent(absent) = %v, want nil", err)
	}
	if err := s.FinishEvent(ctx, "ok", now, boom); err != nil {
		t.Errorf("FinishEvent(done) = %v, want nil", err)
	}
	claim()
	// Done events still drop redeliveries.
	for _, id := range []string{"ok", "retry", "permanent"} {
		if saved, err := s.SaveEvent(ctx, webhookEvent(id, now)); err != nil || saved {
			t.Errorf("SaveEvent(%s) after it was done = %v, %v; want false, nil", id, saved, err)
		}
	}
}

func testForgetEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, id := range []string{"d0", "d1", "d2", "pending"} {
		mustSave(t, s, webhookEvent(id, t0.Add(-time.Hour)))
	}
	for i, id := range []string{"d0", "d1", "d2"} {
		// Finished one nanosecond apart around before, in mixed zones.
		at := t0.Add(time.Duration(i-1) * time.Nanosecond)
		if i%2 == 1 {
			at = at.UTC()
		}
		if err := s.FinishEvent(ctx, id, at, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.ForgetEvents(ctx, t0.In(time.FixedZone("PST", -8*3600)))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("ForgetEvents removed %d, want 1 (d0, the one done strictly before)", n)
	}
	for _, c := range []struct {
		id   string
		want bool
	}{{"d0", true}, {"d1", false}, {"d2", false}, {"pending", false}} {
		saved, err := s.SaveEvent(ctx, webhookEvent(c.id, t0))
		if err != nil {
			t.Fatal(err)
		}
		if saved != c.want {
			t.Errorf("after ForgetEvents, SaveEvent(%s) = %v, want %v", c.id, saved, c.want)
		}
	}
	if n, err := s.ForgetEvents(ctx, t0.Add(time.Hour*24*365)); err != nil || n != 2 {
		t.Errorf("ForgetEvents(a year on) = %d, %v; want 2 (d1, d2; never the pending ones)", n, err)
	}
}
