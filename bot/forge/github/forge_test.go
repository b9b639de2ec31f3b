package github

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/githubtest"
	"github.com/medic-bot/medic/bot/forge/gittest"
)

// harness is the GitHub forge against the API double and a real git
// smart-HTTP server that accepts the double's installation tokens.
type harness struct {
	api   *githubtest.Server
	git   *gittest.Server
	forge *Forge
	app   *App
	repo  forge.Repo
	opts  githubtest.RepoOptions
}

func newHarness(t *testing.T, opts githubtest.RepoOptions, files map[string]string) *harness {
	t.Helper()
	h := &harness{repo: forge.Repo{Owner: "acme", Name: "infra"}}
	h.git = gittest.NewServer(t, gittest.WithAuth(func(owner, repo, token string) bool {
		return h.api.TokenValid(token)
	}))
	h.api = githubtest.New(t,
		githubtest.WithRefResolver(h.git.Resolve),
		githubtest.WithMerger(func(owner, repo, headSHA, base, method, title, message string) (string, error) {
			if method == "squash" {
				return h.git.SquashMerge(owner, repo, headSHA, base, title)
			}
			return h.git.Merge(owner, repo, headSHA, base, title)
		}),
		githubtest.WithMergeCheck(func(owner, repo, headSHA, base string) bool {
			ok, err := h.git.Mergeable(owner, repo, headSHA, base)
			return err == nil && ok
		}),
		githubtest.WithRefDeleter(func(owner, repo, ref string) error {
			h.git.DeleteBranch(t, owner, repo, strings.TrimPrefix(ref, "heads/"))
			return nil
		}))
	if files == nil {
		files = map[string]string{"README.md": "infra\n"}
	}
	h.git.CreateRepo(t, h.repo.Owner, h.repo.Name, "main", files)
	opts.Owner, opts.Name, opts.DefaultBranch = h.repo.Owner, h.repo.Name, "main"
	opts.CloneURL = h.git.CloneURL(h.repo.Owner, h.repo.Name)
	h.opts = opts
	h.api.AddRepo(opts)
	h.api.SetPermission(h.repo.Owner, h.repo.Name, "sre-oncall", "write")
	cfg := DefaultConfig()
	cfg.AppID, cfg.APIURL = h.api.AppID(), h.api.RESTURL()
	app, err := NewApp(cfg, h.api.PrivateKeyPEM(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.app = app
	h.forge, err = NewForge(app, t.TempDir(), Options{Records: forgetest.NewMemoryRecords()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) Forge() forge.Forge    { return h.forge }
func (h *harness) Repo() forge.Repo      { return h.repo }
func (h *harness) DefaultBranch() string { return "main" }
func (h *harness) Head(t testing.TB, branch string) (string, bool) {
	return h.git.Head(t, h.repo.Owner, h.repo.Name, branch)
}
func (h *harness) ReadFile(t testing.TB, ref, path string) ([]byte, bool) {
	return h.git.ReadFile(t, h.repo.Owner, h.repo.Name, ref, path)
}
func (h *harness) Commit(t testing.TB, branch string, files map[string]string, deletes []string, msg string) string {
	return h.git.Commit(t, h.repo.Owner, h.repo.Name, branch, files, deletes, msg)
}
func (h *harness) Parents(t testing.TB, sha string) []string {
	return h.git.Parents(t, h.repo.Owner, h.repo.Name, sha)
}
func (h *harness) Message(t testing.TB, sha string) string {
	return h.git.Message(t, h.repo.Owner, h.repo.Name, sha)
}

// Settle passes the required checks on the pull request's head; with
// auto-merge or a queue, the double then merges it like GitHub does.
func (h *harness) Settle(t testing.TB, pr forge.PullRequest) {
	head := pr.Head
	if p, ok := h.api.PR(h.repo.Owner, h.repo.Name, pr.Number); ok {
		head = p.HeadSHA
	}
	for _, c := range h.opts.RequiredChecks {
		h.api.CompleteCheck(h.repo.Owner, h.repo.Name, head, c, "success")
	}
}

// TestContract runs the forge contract on the three ways GitHub merges:
// a REST merge once checks pass, native auto-merge, and a merge queue.
func TestContract(t *testing.T) {
	for name, opts := range map[string]githubtest.RepoOptions{
		"rest":       {RequiredChecks: []string{"ci"}},
		"auto-merge": {RequiredChecks: []string{"ci"}, AllowAutoMerge: true},
		"queue":      {RequiredChecks: []string{"ci"}, MergeQueue: true},
	} {
		t.Run(name, func(t *testing.T) {
			forgetest.Run(t, func(t *testing.T) forgetest.Harness { return newHarness(t, opts, nil) })
		})
	}
}

func TestProposeLabelsReviewersAndCheckRun(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, map[string]string{
		".medic.yaml": "version: 1\nlabels: [medic, healing]\nreviewers:\n  users: [sre-oncall]\n",
	})
	h.api.SetFile("acme", "infra", "main", ".medic.yaml", "version: 1\nlabels: [medic, healing]\nreviewers:\n  users: [sre-oncall]\n")
	r := forgetest.NewRequest(h, "inc-7", "set_resources", map[string]string{"apps/checkout.yaml": "memory: 768Mi\n"})
	r.Decision.Automerge = true
	r.Decision.Reasons = []string{"limit raised 1.5x, within 2x"}
	r.Decision.Labels = []string{"medic/automerge"}
	pr, err := h.forge.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := h.api.PR("acme", "infra", pr.Number)
	if !ok {
		t.Fatal("the double has no pull request")
	}
	for _, l := range []string{"medic", "healing", "medic/automerge"} {
		if !slices.Contains(got.Labels, l) {
			t.Errorf("labels %v lack %q", got.Labels, l)
		}
	}
	if !slices.Contains(got.RequestedReviewers, "sre-oncall") {
		t.Errorf("reviewers %v lack sre-oncall", got.RequestedReviewers)
	}
	if !strings.Contains(got.Body, "<!-- medic:incident=inc-7") || !strings.Contains(got.Body, "xychart-beta") {
		t.Errorf("body is not medic's:\n%s", got.Body)
	}
	runs := h.api.CheckRuns("acme", "infra", pr.Head)
	if len(runs) != 1 || runs[0].Name != CheckName || runs[0].Conclusion != "success" ||
		!strings.Contains(runs[0].Output.Summary, "limit raised 1.5x") {
		t.Errorf("check runs on the head: %+v", runs)
	}
	msg := h.git.Message(t, "acme", "infra", pr.Head)
	if !strings.Contains(msg, "Medic-Incident: inc-7") {
		t.Errorf("commit message lacks the trailer:\n%s", msg)
	}
	if errs := h.api.Errors(); len(errs) > 0 {
		t.Errorf("the double found invalid traffic: %v", errs)
	}
}

func TestInvalidRepoConfigRefusesAndIsReported(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	bad := "version: 1\nlimits:\n  max_open_prs: -1\nlables: [x]\n"
	h.api.SetFile("acme", "infra", "main", ".medic.yaml", bad)
	r := forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"})
	_, err := h.forge.Propose(t.Context(), r)
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, forge.ErrRefused) {
		t.Fatalf("Propose with an invalid .medic.yaml: %v, want ErrInvalidConfig", err)
	}
	if !strings.Contains(err.Error(), "lables") || !strings.Contains(err.Error(), "max_open_prs") {
		t.Errorf("the error does not name every problem: %v", err)
	}
	if len(h.api.PRs("acme", "infra")) != 0 {
		t.Error("a pull request was opened despite the invalid config")
	}
	sha, _ := h.git.Head(t, "acme", "infra", "main")
	h.api.SetFile("acme", "infra", sha, ".medic.yaml", bad)
	if err := h.forge.CheckRepoConfig(t.Context(), h.repo, sha); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("CheckRepoConfig: %v", err)
	}
	runs := h.api.CheckRuns("acme", "infra", sha)
	if len(runs) != 1 || runs[0].Name != "medic/config" || runs[0].Conclusion != "failure" || !strings.Contains(runs[0].Output.Summary, "lables") {
		t.Errorf("config check run: %+v", runs)
	}
}

func TestLimits(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	h.api.SetFile("acme", "infra", "main", ".medic.yaml", "version: 1\nlimits:\n  max_open_prs: 2\n  prs_per_hour: 10\n")
	for i, id := range []string{"inc-a", "inc-b"} {
		if _, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, id, "scale", map[string]string{"a.yaml": "replicas: " + string(rune('3'+i)) + "\n"})); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-c", "scale", map[string]string{"a.yaml": "replicas: 9\n"}))
	if !errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "max_open_prs") {
		t.Fatalf("third pull request: %v, want ErrLimited naming max_open_prs", err)
	}
	// Updating an incident's open pull request is not a new one.
	if _, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-a", "scale", map[string]string{"a.yaml": "replicas: 7\n"})); err != nil {
		t.Fatalf("update under the limit: %v", err)
	}

	h2 := newHarness(t, githubtest.RepoOptions{}, nil)
	h2.api.SetFile("acme", "infra", "main", ".medic.yaml", "version: 1\nlimits:\n  prs_per_hour: 1\n")
	if _, err := h2.forge.Propose(t.Context(), forgetest.NewRequest(h2, "inc-a", "scale", map[string]string{"a.yaml": "replicas: 3\n"})); err != nil {
		t.Fatal(err)
	}
	_, err = h2.forge.Propose(t.Context(), forgetest.NewRequest(h2, "inc-b", "scale", map[string]string{"a.yaml": "replicas: 4\n"}))
	if !errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "prs_per_hour") {
		t.Fatalf("second pull request in an hour: %v, want ErrLimited naming prs_per_hour", err)
	}
}

func TestMergeRefusesForeignCommits(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	r := forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"})
	pr, err := h.forge.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	h.git.Commit(t, "acme", "infra", pr.Branch, map[string]string{"b.yaml": "x\n"}, nil, "someone pushed to medic's branch")
	_, err = h.forge.Merge(t.Context(), pr)
	if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "not the commit medic pushed") {
		t.Fatalf("Merge after a foreign push: %v", err)
	}
	if p, _ := h.api.PR("acme", "infra", pr.Number); p.Merged {
		t.Error("merged someone else's commit")
	}
}

func TestMergeRespectsRepoConfig(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	h.api.SetFile("acme", "infra", "main", ".medic.yaml", "version: 1\nmerge:\n  automerge: false\n")
	pr, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.forge.Merge(t.Context(), pr); !errors.Is(err, forge.ErrRefused) {
		t.Fatalf("Merge with merge.automerge false: %v, want ErrRefused", err)
	}
}

func TestMergeWaitsForChecks(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{RequiredChecks: []string{"ci"}}, nil)
	pr, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.forge.Merge(t.Context(), pr)
	if !errors.Is(err, forge.ErrNotReady) || got.Merge != forge.MergeWaiting {
		t.Fatalf("Merge before checks: %v (%s), want ErrNotReady and waiting", err, got.Merge)
	}
	h.Settle(t, pr)
	got, err = h.forge.Merge(t.Context(), pr)
	if err != nil || got.State != forge.StateMerged {
		t.Fatalf("Merge after checks: %v, %s", err, got.State)
	}
}

func TestRetriesAndPermanentErrors(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	h.app.tr.sleep = func(context.Context, time.Duration) error { return nil }
	h.api.FailNext("POST", `/repos/acme/infra/pulls$`, 2, 502, nil, "Server Error")
	pr, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err != nil {
		t.Fatalf("Propose through two 502s: %v", err)
	}
	h.api.FailNext("GET", `/repos/acme/infra/pulls/\d+$`, 1, 403, nil, "Resource not accessible by integration")
	_, err = h.forge.Get(t.Context(), h.repo, pr.Number)
	if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "lacks a permission") {
		t.Fatalf("403: %v, want a permanent permission error", err)
	}
	_, err = h.forge.Get(t.Context(), h.repo, 999)
	if !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("404: %v, want ErrNotFound", err)
	}
	h.api.FailNext("GET", `/repos/acme/infra/pulls/\d+$`, 1, 403, map[string]string{"Retry-After": "1"}, "You have exceeded a secondary rate limit")
	if _, err := h.forge.Get(t.Context(), h.repo, pr.Number); err != nil {
		t.Fatalf("a secondary rate limit with Retry-After must be waited out: %v", err)
	}
}

func TestTokensNeverInErrors(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	tok, err := h.app.Token(t.Context(), h.repo)
	if err != nil {
		t.Fatal(err)
	}
	h.api.FailNext("POST", `/repos/acme/infra/pulls$`, 1, 422, nil, "Validation Failed")
	_, err = h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err == nil {
		t.Fatal("want the 422")
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "ghs_") {
		t.Fatalf("an error carries a token: %v", err)
	}
}

func TestProposeKeepsForeignCommits(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	pr, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err != nil {
		t.Fatal(err)
	}
	theirs := h.git.Commit(t, "acme", "infra", pr.Branch, map[string]string{"a.yaml": "replicas: 3 # reviewed\n"}, nil, "a reviewer's fixup")
	_, err = h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", "scale", map[string]string{"a.yaml": "replicas: 5\n"}))
	if !errors.Is(err, forge.ErrConflict) {
		t.Fatalf("Propose over a reviewer's commit: %v, want ErrConflict", err)
	}
	if got, _ := h.git.Head(t, "acme", "infra", pr.Branch); got != theirs {
		t.Fatal("medic overwrote a reviewer's commit")
	}
}
