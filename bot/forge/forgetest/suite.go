package forgetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/patchers"
)

// Harness gives the suite one forge and a view of the git repository
// behind it. Run makes a fresh harness for every case.
type Harness interface {
	// Forge is the forge under test.
	Forge() forge.Forge
	// Repo is the repository the forge answers to.
	Repo() forge.Repo
	// DefaultBranch is the repository's default branch.
	DefaultBranch() string
	// Head is the commit a branch points at; ok false when it does not
	// exist.
	Head(t testing.TB, branch string) (sha string, ok bool)
	// ReadFile reads path at ref (a branch or a commit); ok false when
	// the file does not exist there.
	ReadFile(t testing.TB, ref, path string) (content []byte, ok bool)
	// Commit adds someone else's commit to branch (files written, deletes
	// removed) and returns it.
	Commit(t testing.TB, branch string, files map[string]string, deletes []string, msg string) string
	// Parents are a commit's parents, first parent first.
	Parents(t testing.TB, sha string) []string
	// Message is a commit's message.
	Message(t testing.TB, sha string) string
	// Settle makes whatever the forge waits on happen (required checks
	// pass, auto-merge or merge queue complete) for pr; a no-op on forges
	// that wait on nothing.
	Settle(t testing.TB, pr forge.PullRequest)
}

// NoConflicts is an optional interface of a Harness whose forge cannot
// produce a merge conflict (for instance a fake server that merges without
// looking at content). Run skips the conflicting-merge case, logging the
// reason NoConflicts returns.
type NoConflicts interface {
	NoConflicts() (reason string)
}

// Run runs the forge contract against the forges newHarness makes, one
// fresh harness per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"ProposeOpens", testProposeOpens},
		{"ProposeOnBaseCommit", testProposeOnBaseCommit},
		{"ProposeAgainUpdates", testProposeAgainUpdates},
		{"TwoIncidentsTwoPRs", testTwoIncidents},
		{"ConcurrentProposeOnePR", testConcurrentPropose},
		{"Refused", testRefused},
		{"DeleteFile", testDeleteFile},
		{"Merge", testMerge},
		{"MergeClosed", testMergeClosed},
		{"CloseThenPropose", testCloseThenPropose},
		{"GetUnknown", testGetUnknown},
		{"MergeConflict", testMergeConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newHarness(t))
		})
	}
}

func propose(t *testing.T, h Harness, r forge.Request) forge.PullRequest {
	t.Helper()
	pr, err := h.Forge().Propose(t.Context(), r)
	if err != nil {
		t.Fatalf("Propose(%s, %s): %v", r.Incident.ID, r.Proposal.Intent.Kind, err)
	}
	return pr
}

func get(t *testing.T, h Harness, number int) forge.PullRequest {
	t.Helper()
	pr, err := h.Forge().Get(t.Context(), h.Repo(), number)
	if err != nil {
		t.Fatalf("Get(%d): %v", number, err)
	}
	return pr
}

func head(t *testing.T, h Harness, branch string) string {
	t.Helper()
	sha, ok := h.Head(t, branch)
	if !ok {
		t.Fatalf("branch %s does not exist", branch)
	}
	return sha
}

// checkFiles checks that ref holds r's change: its files' content, and no
// deleted file.
func checkFiles(t *testing.T, h Harness, ref string, r forge.Request) {
	t.Helper()
	for _, f := range r.Change.Files {
		got, ok := h.ReadFile(t, ref, f.Path)
		switch {
		case f.Deleted && ok:
			t.Errorf("%s at %s exists; the change deletes it", f.Path, ref)
		case !f.Deleted && !ok:
			t.Errorf("%s at %s does not exist", f.Path, ref)
		case !f.Deleted && string(got) != string(f.Content):
			t.Errorf("%s at %s is\n%s\nwant\n%s", f.Path, ref, got, f.Content)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// samePR compares what every forge must report the same way.
func samePR(t *testing.T, what string, got, want forge.PullRequest) {
	t.Helper()
	if got.Repo != want.Repo || got.Number != want.Number || got.Title != want.Title ||
		got.Branch != want.Branch || got.Base != want.Base || got.Head != want.Head ||
		got.IncidentID != want.IncidentID || got.Intent != want.Intent || got.State != want.State ||
		got.Automerge != want.Automerge || !sameSet(got.Labels, want.Labels) || !sameSet(got.Reviewers, want.Reviewers) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func hasTrailer(msg, key, value string) bool {
	for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}

func testProposeOpens(t *testing.T, h Harness) {
	base := head(t, h, h.DefaultBranch())
	r := NewRequest(h, "inc-open", patchers.KindSetResources, map[string]string{
		"forgetest/checkout/memory.yaml": "limits:\n  memory: 768Mi\n",
		"forgetest/checkout/notes.txt":   "raised by medic\n",
	})
	pr := propose(t, h, r)
	if pr.Number <= 0 {
		t.Errorf("Number = %d, want > 0", pr.Number)
	}
	if pr.Reused {
		t.Error("Reused = true for the incident's first pull request")
	}
	if want := forge.BranchName("inc-open", patchers.KindSetResources); pr.Branch != want {
		t.Errorf("Branch = %q, want %q", pr.Branch, want)
	}
	if pr.Base != h.DefaultBranch() {
		t.Errorf("Base = %q, want %q", pr.Base, h.DefaultBranch())
	}
	if want := forge.Title(r); pr.Title != want {
		t.Errorf("Title = %q, want %q", pr.Title, want)
	}
	if pr.State != forge.StateOpen {
		t.Errorf("State = %q, want open", pr.State)
	}
	if pr.Repo != h.Repo() || pr.IncidentID != "inc-open" || pr.Intent != patchers.KindSetResources {
		t.Errorf("Repo, IncidentID, Intent = %v, %q, %q", pr.Repo, pr.IncidentID, pr.Intent)
	}
	if !sameSet(pr.Labels, r.AllLabels()) || !sameSet(pr.Reviewers, r.Reviewers) || pr.Automerge != r.Decision.Automerge {
		t.Errorf("Labels, Reviewers, Automerge = %q, %q, %v; want %q, %q, %v",
			pr.Labels, pr.Reviewers, pr.Automerge, r.AllLabels(), r.Reviewers, r.Decision.Automerge)
	}
	if got := head(t, h, pr.Branch); got != pr.Head {
		t.Errorf("branch %s is at %s, the pull request's head is %s", pr.Branch, got, pr.Head)
	}
	if ps := h.Parents(t, pr.Head); !slices.Equal(ps, []string{base}) {
		t.Errorf("head's parents = %v, want the base head [%s]", ps, base)
	}
	checkFiles(t, h, pr.Head, r)
	if msg := h.Message(t, pr.Head); !hasTrailer(msg, forge.TrailerIncident, "inc-open") {
		t.Errorf("commit message has no %s: inc-open trailer:\n%s", forge.TrailerIncident, msg)
	}
	if got := head(t, h, h.DefaultBranch()); got != base {
		t.Errorf("Propose moved %s from %s to %s", h.DefaultBranch(), base, got)
	}
	samePR(t, "Get after Propose", get(t, h, pr.Number), pr)
}

func testProposeOnBaseCommit(t *testing.T, h Harness) {
	old := head(t, h, h.DefaultBranch())
	newer := h.Commit(t, h.DefaultBranch(), map[string]string{"forgetest/other.txt": "someone else\n"}, nil, "someone else's change")
	r := NewRequest(h, "inc-base", patchers.KindScale, map[string]string{"forgetest/checkout/replicas.yaml": "replicas: 4\n"})
	r.BaseCommit = old
	pr := propose(t, h, r)
	if ps := h.Parents(t, pr.Head); !slices.Equal(ps, []string{old}) {
		t.Errorf("head's parents = %v, want BaseCommit [%s] (not the newer head %s)", ps, old, newer)
	}
	checkFiles(t, h, pr.Head, r)
	if _, ok := h.ReadFile(t, pr.Head, "forgetest/other.txt"); ok {
		t.Error("the head holds a file of a commit after BaseCommit")
	}
}

func testProposeAgainUpdates(t *testing.T, h Harness) {
	r1 := NewRequest(h, "inc-again", patchers.KindSetResources, map[string]string{"forgetest/checkout/memory.yaml": "memory: 768Mi\n"})
	pr1 := propose(t, h, r1)

	r2 := NewRequest(h, "inc-again", patchers.KindSetResources, map[string]string{"forgetest/checkout/memory.yaml": "memory: 1Gi\n"})
	pr2 := propose(t, h, r2)
	if pr2.Number != pr1.Number || !pr2.Reused {
		t.Errorf("second Propose: Number %d Reused %v, want %d true", pr2.Number, pr2.Reused, pr1.Number)
	}
	if pr2.Head == pr1.Head {
		t.Error("second Propose kept the old head")
	}
	checkFiles(t, h, pr2.Head, r2)

	// Another intent for the same incident: still the same pull request.
	r3 := NewRequest(h, "inc-again", patchers.KindScale, map[string]string{"forgetest/checkout/replicas.yaml": "replicas: 4\n"})
	pr3 := propose(t, h, r3)
	if pr3.Number != pr1.Number || !pr3.Reused {
		t.Errorf("Propose of another intent: Number %d Reused %v, want %d true", pr3.Number, pr3.Reused, pr1.Number)
	}
	if pr3.Head == pr2.Head {
		t.Error("Propose of another intent kept the old head")
	}
	checkFiles(t, h, pr3.Head, r3)
	if got := head(t, h, pr3.Branch); got != pr3.Head {
		t.Errorf("branch %s is at %s, the pull request's head is %s", pr3.Branch, got, pr3.Head)
	}
	if pr3.State != forge.StateOpen {
		t.Errorf("State = %q, want open", pr3.State)
	}
	got := get(t, h, pr1.Number)
	if got.Head != pr3.Head || got.State != forge.StateOpen {
		t.Errorf("Get: Head %s State %s, want %s open", got.Head, got.State, pr3.Head)
	}
}

func testTwoIncidents(t *testing.T, h Harness) {
	a := propose(t, h, NewRequest(h, "inc-a", patchers.KindScale, map[string]string{"forgetest/a.yaml": "replicas: 4\n"}))
	b := propose(t, h, NewRequest(h, "inc-b", patchers.KindScale, map[string]string{"forgetest/b.yaml": "replicas: 5\n"}))
	if a.Number == b.Number || a.Reused || b.Reused {
		t.Errorf("two incidents: numbers %d, %d, reused %v, %v; want two new pull requests", a.Number, b.Number, a.Reused, b.Reused)
	}
	if a.Branch == b.Branch {
		t.Errorf("two incidents share branch %s", a.Branch)
	}
}

func testConcurrentPropose(t *testing.T, h Harness) {
	const n = 4
	prs := make([]forge.PullRequest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := NewRequest(h, "inc-race", patchers.KindSetResources, map[string]string{"forgetest/checkout/memory.yaml": strings.Repeat("x", i+1) + "\n"})
			prs[i], errs[i] = h.Forge().Propose(t.Context(), r)
		})
	}
	wg.Wait()
	opened := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Propose %d: %v", i, errs[i])
		}
		if prs[i].Number != prs[0].Number {
			t.Errorf("concurrent proposals for one incident opened #%d and #%d", prs[0].Number, prs[i].Number)
		}
		if !prs[i].Reused {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("%d proposals say they opened the pull request, want 1", opened)
	}
}

func testRefused(t *testing.T, h Harness) {
	cases := []struct {
		name string
		edit func(r *forge.Request)
	}{
		{"not allowed", func(r *forge.Request) {
			r.Decision.Allow = false
			r.Decision.Reasons = []string{"prod changes need a human"}
		}},
		{"no-op change", func(r *forge.Request) { r.Change.NoOp = true }},
		{"path outside the repository", func(r *forge.Request) { r.Change.Files[0].Path = "../x" }},
		{"invalid incident id", func(r *forge.Request) { r.Incident.ID = "Bad_ID" }},
		{"invalid intent", func(r *forge.Request) { r.Proposal.Intent.Params = []byte(`{"replicas":-1}`) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewRequest(h, "inc-refused", patchers.KindScale, map[string]string{"forgetest/replicas.yaml": "replicas: 4\n"})
			c.edit(&r)
			_, err := h.Forge().Propose(t.Context(), r)
			if !errors.Is(err, forge.ErrRefused) {
				t.Fatalf("Propose: %v, want ErrRefused", err)
			}
			if !forge.IsPermanent(err) {
				t.Errorf("refusal %v is not permanent", err)
			}
			if sha, ok := h.Head(t, r.Branch()); ok {
				t.Errorf("refused Propose created branch %s at %s", r.Branch(), sha)
			}
		})
	}
}

func testDeleteFile(t *testing.T, h Harness) {
	const path = "forgetest/checkout/obsolete.yaml"
	h.Commit(t, h.DefaultBranch(), map[string]string{path: "old: true\n", "forgetest/checkout/keep.yaml": "keep: true\n"}, nil, "add files")
	r := DeleteRequest(h, "inc-delete", patchers.KindSetEnv, path)
	pr := propose(t, h, r)
	if _, ok := h.ReadFile(t, pr.Head, path); ok {
		t.Errorf("%s still exists on the pull request's head", path)
	}
	if _, ok := h.ReadFile(t, pr.Head, "forgetest/checkout/keep.yaml"); !ok {
		t.Error("deleting one file removed its neighbour")
	}
	if _, ok := h.ReadFile(t, h.DefaultBranch(), path); !ok {
		t.Errorf("Propose removed %s from %s", path, h.DefaultBranch())
	}
}

// merge settles pr and merges it, settling again when the forge handed it
// to its own merge machinery, and returns its state from Get.
func merge(t *testing.T, h Harness, pr forge.PullRequest) forge.PullRequest {
	t.Helper()
	h.Settle(t, pr)
	got, err := h.Forge().Merge(t.Context(), pr)
	if err != nil {
		t.Fatalf("Merge(#%d): %v", pr.Number, err)
	}
	if got.State == forge.StateOpen {
		h.Settle(t, got)
	}
	return get(t, h, pr.Number)
}

func testMerge(t *testing.T, h Harness) {
	r := NewRequest(h, "inc-merge", patchers.KindSetResources, map[string]string{"forgetest/checkout/memory.yaml": "memory: 768Mi\n"})
	pr := propose(t, h, r)
	other := h.Commit(t, h.DefaultBranch(), map[string]string{"forgetest/other.txt": "someone else\n"}, nil, "someone else's change")

	got := merge(t, h, pr)
	if got.State != forge.StateMerged {
		t.Fatalf("after Merge, State = %q, want merged", got.State)
	}
	if got.MergeCommit == "" {
		t.Fatal("merged pull request has no MergeCommit")
	}
	if got.Merge != forge.MergeCompleted {
		t.Errorf("Merge = %q, want %q", got.Merge, forge.MergeCompleted)
	}
	if base := head(t, h, h.DefaultBranch()); base != got.MergeCommit {
		t.Errorf("%s is at %s, want the merge commit %s", h.DefaultBranch(), base, got.MergeCommit)
	}
	if ps := h.Parents(t, got.MergeCommit); len(ps) == 0 || ps[0] != other {
		t.Errorf("merge commit's parents = %v, want the other commit %s first", ps, other)
	}
	checkFiles(t, h, h.DefaultBranch(), r)
	if c, ok := h.ReadFile(t, h.DefaultBranch(), "forgetest/other.txt"); !ok || string(c) != "someone else\n" {
		t.Errorf("the merge lost the other commit's file: %q, %v", c, ok)
	}
}

func testMergeClosed(t *testing.T, h Harness) {
	pr := propose(t, h, NewRequest(h, "inc-closed", patchers.KindScale, map[string]string{"forgetest/replicas.yaml": "replicas: 4\n"}))
	closed, err := h.Forge().Close(t.Context(), pr, "")
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	before := head(t, h, h.DefaultBranch())
	if _, err := h.Forge().Merge(t.Context(), closed); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("Merge of a closed pull request: %v, want ErrConflict", err)
	}
	if after := head(t, h, h.DefaultBranch()); after != before {
		t.Errorf("Merge of a closed pull request moved %s", h.DefaultBranch())
	}
}

func testCloseThenPropose(t *testing.T, h Harness) {
	pr := propose(t, h, NewRequest(h, "inc-close", patchers.KindScale, map[string]string{"forgetest/replicas.yaml": "replicas: 4\n"}))
	closed, err := h.Forge().Close(t.Context(), pr, "the workload recovered by itself")
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if closed.State != forge.StateClosed || closed.Number != pr.Number {
		t.Errorf("Close returned #%d %s, want #%d closed", closed.Number, closed.State, pr.Number)
	}
	if got := get(t, h, pr.Number); got.State != forge.StateClosed {
		t.Errorf("Get after Close: State = %q, want closed", got.State)
	}
	again := propose(t, h, NewRequest(h, "inc-close", patchers.KindScale, map[string]string{"forgetest/replicas.yaml": "replicas: 5\n"}))
	if again.Number == pr.Number || again.Reused || again.State != forge.StateOpen {
		t.Errorf("Propose after Close: #%d Reused %v %s, want a new open pull request (not #%d)", again.Number, again.Reused, again.State, pr.Number)
	}
	if got := get(t, h, pr.Number); got.State != forge.StateClosed {
		t.Errorf("the closed pull request is %s after a new Propose", got.State)
	}
}

func testGetUnknown(t *testing.T, h Harness) {
	if _, err := h.Forge().Get(t.Context(), h.Repo(), 987654); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Get of an unknown number: %v, want ErrNotFound", err)
	}
}

func testMergeConflict(t *testing.T, h Harness) {
	if nc, ok := h.(NoConflicts); ok {
		t.Skipf("the harness cannot produce conflicts: %s", nc.NoConflicts())
	}
	const path = "forgetest/checkout/limits.yaml"
	h.Commit(t, h.DefaultBranch(), map[string]string{path: "cpu: 500m\nmemory: 512Mi\nreplicas: 3\n"}, nil, "add limits")
	pr := propose(t, h, NewRequest(h, "inc-conflict", patchers.KindSetResources, map[string]string{path: "cpu: 500m\nmemory: 768Mi\nreplicas: 3\n"}))
	theirs := h.Commit(t, h.DefaultBranch(), map[string]string{path: "cpu: 500m\nmemory: 640Mi\nreplicas: 3\n"}, nil, "a human raised memory too")

	h.Settle(t, pr)
	_, err := h.Forge().Merge(t.Context(), pr)
	if !errors.Is(err, forge.ErrConflict) {
		t.Fatalf("Merge of a conflicting pull request: %v, want ErrConflict", err)
	}
	if got := head(t, h, h.DefaultBranch()); got != theirs {
		t.Errorf("a conflicting Merge moved %s from %s to %s", h.DefaultBranch(), theirs, got)
	}
	if c, _ := h.ReadFile(t, h.DefaultBranch(), path); string(c) != "cpu: 500m\nmemory: 640Mi\nreplicas: 3\n" {
		t.Errorf("%s on %s is %q after a conflicting Merge", path, h.DefaultBranch(), c)
	}
	if got := get(t, h, pr.Number); got.State != forge.StateOpen {
		t.Errorf("after a conflicting Merge, State = %q, want open", got.State)
	}
}
