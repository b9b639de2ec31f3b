package github

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/githubtest"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/kustomize"
)

// kustomizeFixture is the sample kustomize repository the revert tests
// serve: the patchers must render it.
var kustomizeFixture = filepath.Join("..", "..", "..", "fixtures", "repos", "kustomize")

// prodResources is the file the kustomize patcher edits for the prod
// checkout's resources.
const prodResources = "overlays/prod/checkout-resources.yaml"

func fixtureFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	fsys := os.DirFS(kustomizeFixture)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// revertSetup is a harness serving the kustomize fixture where medic
// proposed a real set_resources change (planned by the kustomize
// patcher) for incident inc-9, and merged it with method; then someone
// committed an unrelated file to main.
type revertSetup struct {
	*harness
	original string // prodResources before medic's change
	merged   forge.PullRequest
	later    string // the unrelated commit after the merge
}

func newRevertSetup(t *testing.T, method string) revertSetup {
	t.Helper()
	files := fixtureFiles(t)
	h := newHarness(t, githubtest.RepoOptions{}, files)
	h.api.SetFile("acme", "infra", "main", ".medic.yaml", "version: 1\nmerge:\n  method: "+method+"\n")
	in := forgetest.NewIntent(patchers.KindSetResources) // limits.memory 768Mi on shop/Deployment/checkout[app]
	ch, err := kustomize.New().Plan(t.Context(), os.DirFS(kustomizeFixture), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != prodResources || !strings.Contains(string(ch.Files[0].Content), "memory: 768Mi") {
		t.Fatalf("the kustomize plan is not the one the test expects: %+v", ch.Files)
	}
	r := forgetest.NewRequest(h, "inc-9", patchers.KindSetResources, nil)
	r.Proposal.Intent, r.Change = in, ch
	r.Decision.Automerge = true
	pr, err := h.forge.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	h.Settle(t, pr)
	merged, err := h.forge.Merge(t.Context(), pr)
	if err != nil || merged.State != forge.StateMerged {
		t.Fatalf("merge: %v, %s", err, merged.State)
	}
	later := h.git.Commit(t, "acme", "infra", "main", map[string]string{"docs/runbook.md": "page the on-call\n"}, nil, "docs: runbook")
	return revertSetup{harness: h, original: files[prodResources], merged: merged, later: later}
}

// checkRevertPR checks that rev reverts s.merged on top of main's head.
func (s revertSetup) checkRevertPR(t *testing.T, rev forge.PullRequest) {
	t.Helper()
	if rev.Number == s.merged.Number || rev.Reused {
		t.Fatalf("revert pull request #%d (reused %v) is not a new one", rev.Number, rev.Reused)
	}
	if want := forge.BranchName("inc-9", patchers.KindRevertCommit); rev.Branch != want || rev.Base != "main" {
		t.Errorf("revert branch %s into %s, want %s into main", rev.Branch, rev.Base, want)
	}
	if rev.Automerge {
		t.Error("medic would merge a revert a human asked for")
	}
	main, _ := s.Head(t, "main")
	if got := s.Parents(t, rev.Head); len(got) != 1 || got[0] != main {
		t.Errorf("revert commit's parents %v, want main's head %s", got, main)
	}
	if b, ok := s.ReadFile(t, rev.Head, prodResources); !ok || string(b) != s.original {
		t.Errorf("%s on the revert branch:\n%s\nwant the original:\n%s", prodResources, b, s.original)
	}
	if _, ok := s.ReadFile(t, rev.Head, "docs/runbook.md"); !ok {
		t.Error("the revert lost the later, unrelated commit")
	}
	got, ok := s.api.PR("acme", "infra", rev.Number)
	if !ok || got.State != "open" || got.Merged {
		t.Fatalf("the double's revert pull request: %+v", got)
	}
	if !slices.Contains(got.Labels, LabelRevert) {
		t.Errorf("labels %v lack %s", got.Labels, LabelRevert)
	}
	for _, want := range []string{"revert #" + strconv.Itoa(s.merged.Number), "/medic revert"} {
		if !strings.Contains(got.Title+got.Body, want) {
			t.Errorf("title and body lack %q:\n%s\n%s", want, got.Title, got.Body)
		}
	}
	runs := s.api.CheckRuns("acme", "infra", rev.Head)
	if len(runs) != 1 || runs[0].Conclusion != "neutral" || !strings.Contains(runs[0].Output.Summary, "revert of #\u200d"+strconv.Itoa(s.merged.Number)+" requested by @\u200d") {
		t.Errorf("check runs on the revert: %+v", runs)
	}
	msg := s.Message(t, rev.Head)
	for _, want := range []string{"Medic-Incident: inc-9\n", "Medic-Intent: revert_commit\n", "Medic-Target: shop/Deployment/checkout[app]\n"} {
		if !strings.Contains(msg, want) {
			t.Errorf("revert commit message lacks %q:\n%s", want, msg)
		}
	}
	if errs := s.api.Errors(); len(errs) > 0 {
		t.Errorf("the double found invalid traffic: %v", errs)
	}
}

func TestRevertMerged(t *testing.T) {
	for _, method := range []string{MergeMethodMerge, MergeMethodSquash} {
		t.Run(method, func(t *testing.T) {
			s := newRevertSetup(t, method)
			if n := len(s.Parents(t, s.merged.MergeCommit)); method == MergeMethodMerge && n != 2 || method == MergeMethodSquash && n != 1 {
				t.Fatalf("the %s merge commit has %d parents", method, n)
			}
			// A fresh clone cache, as after a restart: every commit the
			// revert reads comes over the wire (shallow).
			fresh, err := NewForge(s.app, t.TempDir(), Options{Records: forgetest.NewMemoryRecords()})
			if err != nil {
				t.Fatal(err)
			}
			rev, err := fresh.Revert(t.Context(), s.merged, "alice")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("revert #%d: %s", rev.Number, rev.Title)
			s.checkRevertPR(t, rev)
			if !strings.Contains(s.Message(t, rev.Head), "Requested by @alice with /medic revert on #"+strconv.Itoa(s.merged.Number)) {
				t.Errorf("the rationale does not say who asked:\n%s", s.Message(t, rev.Head))
			}
			// Asking again updates the open revert rather than opening
			// another.
			again, err := s.forge.Revert(t.Context(), s.merged, "bob")
			if err != nil || again.Number != rev.Number || !again.Reused {
				t.Fatalf("second revert: #%d reused %v, %v; want #%d reused", again.Number, again.Reused, err, rev.Number)
			}
		})
	}
}

func TestCommandRevertOpensPR(t *testing.T) {
	s := newRevertSetup(t, MergeMethodMerge)
	rc := newReceiver(t, s.harness) // no Revert hook: the forge's own
	s.api.SetPermission("acme", "infra", "alice", "write")
	c := rc.comment(t, s.merged, "alice", "that made it worse\n\n/medic revert\n")
	reply := lastComment(t, s.harness, s.merged.Number).Body
	prs := s.api.PRs("acme", "infra")
	if len(prs) != 2 {
		t.Fatalf("%d pull requests after /medic revert, want 2; reply %q", len(prs), reply)
	}
	rev := prs[1]
	if rev.Number == s.merged.Number {
		rev = prs[0]
	}
	if want := "Opened #" + strconv.Itoa(rev.Number) + " to revert this change."; reply != want {
		t.Errorf("reply %q, want %q", reply, want)
	}
	if r := reactions(s.harness, s.merged.Number, c.ID); len(r) != 2 || r[1] != "+1" {
		t.Errorf("reactions %v, want eyes then +1", r)
	}
	got, err := s.forge.Get(t.Context(), s.repo, rev.Number)
	if err != nil {
		t.Fatal(err)
	}
	s.checkRevertPR(t, got)
	if !strings.Contains(s.Message(t, got.Head), "Requested by @alice") {
		t.Errorf("the rationale does not name alice:\n%s", s.Message(t, got.Head))
	}
}

// TestRevertConflict: someone changed the same line after the merge; the
// revert names the file and opens nothing.
func TestRevertConflict(t *testing.T) {
	for _, method := range []string{MergeMethodMerge, MergeMethodSquash} {
		t.Run(method, func(t *testing.T) {
			s := newRevertSetup(t, method)
			// The commit undone: the squash commit on main, or medic's
			// own commit under a merge commit.
			undone := s.merged.Head
			if method == MergeMethodSquash {
				undone = s.merged.MergeCommit
			}
			cur, _ := s.ReadFile(t, "main", prodResources)
			s.Commit(t, "main", map[string]string{prodResources: strings.Replace(string(cur), "memory: 768Mi", "memory: 1Gi", 1)}, nil, "checkout: 1Gi by hand")
			_, err := s.forge.Revert(t.Context(), s.merged, "alice")
			if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "conflict in "+prodResources) || !strings.Contains(err.Error(), "@@") {
				t.Fatalf("revert over a later edit of the same line: %v; want ErrConflict naming %s and the hunk", err, prodResources)
			}
			if !strings.Contains(err.Error(), undone[:7]) {
				t.Errorf("the error does not name the commit undone, %s: %v", undone[:7], err)
			}
			// The command answers with the same reason.
			c, err := s.app.Client(t.Context(), s.repo)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewEvents(s.forge, EventHooks{}).run(t.Context(), c, Command{Verb: VerbRevert, Line: "/medic revert"}, s.merged, "alice")
			if err == nil || !strings.Contains(err.Error(), prodResources) {
				t.Errorf("/medic revert: %v, want the file named", err)
			}
			if n := len(s.api.PRs("acme", "infra")); n != 1 {
				t.Errorf("%d pull requests after a failed revert, want 1", n)
			}
			if _, ok := s.Head(t, forge.BranchName("inc-9", patchers.KindRevertCommit)); ok {
				t.Error("a revert branch was pushed")
			}
		})
	}
}

// TestRevertAlreadyUndone: main has the original content back, so there
// is nothing to revert.
func TestRevertAlreadyUndone(t *testing.T) {
	s := newRevertSetup(t, MergeMethodSquash)
	s.Commit(t, "main", map[string]string{prodResources: s.original}, nil, "checkout: back to 512Mi by hand")
	_, err := s.forge.Revert(t.Context(), s.merged, "alice")
	if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "nothing to revert") {
		t.Fatalf("revert of an undone change: %v", err)
	}
	if n := len(s.api.PRs("acme", "infra")); n != 1 {
		t.Errorf("%d pull requests, want 1", n)
	}
}

func TestCommandRevertOpenAndClosed(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	h.api.SetPermission("acme", "infra", "alice", "write")
	pr := proposeOne(t, h, false)
	if _, err := h.forge.Revert(t.Context(), pr, "alice"); !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "not merged") {
		t.Errorf("Revert of an open pull request: %v, want ErrConflict", err)
	}
	rc.comment(t, pr, "alice", "/medic revert")
	if got, _ := h.api.PR("acme", "infra", pr.Number); got.State != "closed" || got.Merged {
		t.Fatalf("open pull request after /medic revert: %s merged %v", got.State, got.Merged)
	}
	if reply := lastComment(t, h, pr.Number).Body; !strings.Contains(reply, "reverting means closing") {
		t.Errorf("reply %q", reply)
	}
	rc.comment(t, pr, "alice", "/medic revert")
	if reply := lastComment(t, h, pr.Number).Body; !strings.Contains(reply, "nothing to revert") {
		t.Errorf("reply %q", reply)
	}
	if n := len(h.api.PRs("acme", "infra")); n != 1 {
		t.Errorf("%d pull requests, want 1", n)
	}
}

// TestRevertRefusesForeignHead: a merged medic pull request whose head is
// not a commit medic made (someone else's, or one without the target) is
// not medic's to revert.
func TestRevertRefusesForeignHead(t *testing.T) {
	for _, tc := range []struct{ name, msg, want string }{
		{"someone else's", "a reviewer's fixup", "not a commit medic made"},
		{"other incident", "medic: x\n\nMedic-Incident: inc-1\nMedic-Intent: scale\nMedic-Target: shop/Deployment/checkout[app]\n", "for incident inc-1, not inc-9"},
		{"older medic", "medic: x\n\nMedic-Incident: inc-9\nMedic-Intent: scale\n", "no Medic-Target trailer"},
		{"bad target", "medic: x\n\nMedic-Incident: inc-9\nMedic-Intent: scale\nMedic-Target: checkout\n", "is not namespace/Kind/name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, githubtest.RepoOptions{}, fixtureFiles(t))
			pr := proposeOne(t, h, false)
			theirs := h.git.Commit(t, "acme", "infra", pr.Branch, map[string]string{"apps/checkout.yaml": "replicas: 5\n"}, nil, tc.msg)
			mergeSHA, err := h.git.Merge("acme", "infra", theirs, "main", "Merge pull request")
			if err != nil {
				t.Fatal(err)
			}
			h.api.UpdatePR("acme", "infra", pr.Number, func(p *githubtest.PullRequest) {
				p.HeadSHA, p.State, p.Merged, p.MergeCommitSHA, p.MergeMethod = theirs, "closed", true, mergeSHA, "merge"
				p.MergedAt, p.Closed = time.Now(), time.Now()
			})
			_, err = h.forge.Revert(t.Context(), pr, "alice")
			if !errors.Is(err, forge.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Revert: %v, want ErrRefused saying %q", err, tc.want)
			}
			if n := len(h.api.PRs("acme", "infra")); n != 1 {
				t.Errorf("%d pull requests, want 1", n)
			}
		})
	}
}

// TestRevertRefusesWhileIncidentHasOpenPR: Propose keeps one open pull
// request per incident, so a revert must not replace another change.
func TestRevertRefusesWhileIncidentHasOpenPR(t *testing.T) {
	s := newRevertSetup(t, MergeMethodSquash)
	r := forgetest.NewRequest(s.harness, "inc-9", patchers.KindScale, map[string]string{"docs/other.md": "x\n"})
	open, err := s.forge.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.forge.Revert(t.Context(), s.merged, "alice")
	if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "#"+strconv.Itoa(open.Number)) {
		t.Fatalf("revert while #%d is open: %v", open.Number, err)
	}
	if got, _ := s.api.PR("acme", "infra", open.Number); got.HeadSHA != open.Head {
		t.Error("the open pull request was replaced")
	}
}

func TestParseTargetAndTrailers(t *testing.T) {
	for _, tg := range []patchers.Target{
		forgetest.Target,
		{Namespace: "shop", Kind: "StatefulSet", Name: "db"},
	} {
		got, err := forge.ParseTarget(tg.String())
		if err != nil || got != tg {
			t.Errorf("ParseTarget(%q) = %+v, %v", tg.String(), got, err)
		}
	}
	for _, bad := range []string{"", "shop/checkout", "shop/Deployment/checkout[", "shop/Deployment/checkout[]", "a/b/c/d", "shop/Deployment/x]"} {
		if _, err := forge.ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) succeeded", bad)
		}
	}
	// Only the last paragraph holds trailers: the rationale is untrusted.
	msg := "medic: x\n\nMedic-Target: evil/Deployment/other\n\nMedic-Incident: inc-1\nMedic-Intent: scale\nMedic-Target: shop/Deployment/checkout[app]\n"
	tr := trailers(msg)
	if tr["Medic-Target"] != "shop/Deployment/checkout[app]" || tr["Medic-Incident"] != "inc-1" {
		t.Errorf("trailers = %v", tr)
	}
	if tr := trailers("medic: subject only\n"); len(tr) != 0 {
		t.Errorf("trailers of a subject = %v", tr)
	}
}
