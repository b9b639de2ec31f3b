package github

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/githubtest"
)

var testSecret = []byte("webhook-secret")

// receiver is the webhook handler with Events behind it, on a harness.
type receiver struct {
	h       *harness
	handler *WebhookHandler
	mu      sync.Mutex
	done    chan error
	merged  []forge.PullRequest
	changed []forge.Repo
}

func newReceiver(t *testing.T, h *harness) *receiver {
	t.Helper()
	rc := &receiver{h: h}
	ev := NewEvents(h.forge, EventHooks{
		Merged: func(_ context.Context, pr forge.PullRequest) {
			rc.mu.Lock()
			rc.merged = append(rc.merged, pr)
			rc.mu.Unlock()
		},
		ConfigChanged: func(_ context.Context, r forge.Repo) {
			rc.mu.Lock()
			rc.changed = append(rc.changed, r)
			rc.mu.Unlock()
		},
	})
	rc.done = make(chan error, 1)
	handler := EventHandlerFunc(func(ctx context.Context, e Event) error {
		err := ev.HandleEvent(ctx, e)
		rc.done <- err
		return err
	})
	var err error
	rc.handler, err = NewWebhookHandler(WebhookConfig{Secrets: [][]byte{testSecret}, Deliveries: NewMemoryDeliveries(100), Handler: handler})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.handler.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.handler.Shutdown(context.Background()) })
	return rc
}

// deliver sends one of GitHub's example payloads, pointed at the harness's
// repository and installation and changed by edit, and waits until the
// event was handled.
func (rc *receiver) deliver(t *testing.T, event, file string, edit func(p map[string]any)) {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(githubtest.Payload(t, event, file), &p); err != nil {
		t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = "infra", "acme/infra"
	repo["owner"].(map[string]any)["login"] = "acme"
	repo["default_branch"] = "main"
	p["installation"] = map[string]any{"id": rc.h.api.Installation("acme", "infra"), "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
	if edit != nil {
		edit(p)
	}
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	rc.handler.ServeHTTP(w, githubtest.Delivery(t, "http://medic/webhooks/github", event, body, testSecret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("delivery of %s/%s: %d %s", event, file, w.Code, w.Body)
	}
	select {
	case err := <-rc.done:
		if err != nil {
			t.Errorf("handling %s/%s: %v", event, file, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the event was not handled")
	}
}

func (rc *receiver) comment(t *testing.T, pr forge.PullRequest, user, body string) githubtest.Comment {
	t.Helper()
	c := rc.h.api.AddComment("acme", "infra", pr.Number, user, body)
	rc.deliver(t, "issue_comment", "created.with-installation.payload.json", func(p map[string]any) {
		issue := p["issue"].(map[string]any)
		issue["number"] = pr.Number
		issue["pull_request"] = map[string]any{"url": "https://api.github.com/repos/acme/infra/pulls/1", "html_url": "https://github.com/acme/infra/pull/1",
			"diff_url": "https://github.com/acme/infra/pull/1.diff", "patch_url": "https://github.com/acme/infra/pull/1.patch", "merged_at": nil}
		cm := p["comment"].(map[string]any)
		cm["id"], cm["body"] = c.ID, body
		cm["user"].(map[string]any)["login"] = user
	})
	return c
}

func lastComment(t *testing.T, h *harness, n int) githubtest.Comment {
	t.Helper()
	cs := h.api.Comments("acme", "infra", n)
	if len(cs) == 0 {
		t.Fatal("no comment")
	}
	return cs[len(cs)-1]
}

func reactions(h *harness, n int, id int64) []string {
	var out []string
	for _, c := range h.api.Comments("acme", "infra", n) {
		if c.ID == id {
			for _, r := range c.Reactions {
				out = append(out, r.Content)
			}
		}
	}
	return out
}

func proposeOne(t *testing.T, h *harness, automerge bool) forge.PullRequest {
	t.Helper()
	r := forgetest.NewRequest(h, "inc-9", "scale", map[string]string{"apps/checkout.yaml": "replicas: 4\n"})
	r.Decision.Automerge = automerge
	r.Decision.Reasons = []string{"scale-up within the HPA maximum"}
	pr, err := h.forge.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestCommandClose(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, false)
	h.api.SetPermission("acme", "infra", "alice", "write")
	c := rc.comment(t, pr, "alice", "thanks, but no\n\n/medic close\n")
	got, _ := h.api.PR("acme", "infra", pr.Number)
	if got.State != "closed" {
		t.Fatalf("state %q after /medic close", got.State)
	}
	if !strings.Contains(lastComment(t, h, pr.Number).Body, "Closed at @alice's request") {
		t.Errorf("reply: %q", lastComment(t, h, pr.Number).Body)
	}
	if r := reactions(h, pr.Number, c.ID); len(r) != 2 || r[0] != "eyes" || r[1] != "+1" {
		t.Errorf("reactions %v, want eyes then +1", r)
	}
	if deleted := h.api.DeletedRefs("acme", "infra"); len(deleted) != 1 || deleted[0] != "heads/"+pr.Branch {
		t.Errorf("deleted refs %v", deleted)
	}
	if _, ok := h.git.Head(t, "acme", "infra", pr.Branch); ok {
		t.Error("the branch is still on the git server")
	}
}

func TestCommandNeedsWriteAccess(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, false)
	h.api.SetPermission("acme", "infra", "mallory", "read")
	rc.comment(t, pr, "mallory", "/medic close")
	if got, _ := h.api.PR("acme", "infra", pr.Number); got.State != "open" {
		t.Fatal("a reader closed the pull request")
	}
	if !strings.Contains(lastComment(t, h, pr.Number).Body, "only people with write access") {
		t.Errorf("reply: %q", lastComment(t, h, pr.Number).Body)
	}
}

func TestCommandExplainAndUnknown(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, true)
	h.api.SetPermission("acme", "infra", "alice", "admin")
	rc.comment(t, pr, "alice", "/medic explain")
	reply := lastComment(t, h, pr.Number).Body
	for _, want := range []string{"incident `inc-9`", "`scale`", "medic may merge this change on its own", "scale-up within the HPA maximum"} {
		if !strings.Contains(reply, want) {
			t.Errorf("explain lacks %q:\n%s", want, reply)
		}
	}
	rc.comment(t, pr, "alice", "/medic dance")
	if reply := lastComment(t, h, pr.Number).Body; !strings.Contains(reply, "Unknown command `dance`") {
		t.Errorf("unknown command reply: %q", reply)
	}
	// Quoting a command does not run it.
	n := len(h.api.Comments("acme", "infra", pr.Number))
	rc.comment(t, pr, "alice", "> /medic close\nwhy would you?")
	if got, _ := h.api.PR("acme", "infra", pr.Number); got.State != "open" || len(h.api.Comments("acme", "infra", pr.Number)) != n+1 {
		t.Error("a quoted command ran")
	}
}

func TestCommandRetryMergesAfterChecks(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{RequiredChecks: []string{"ci"}}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, true)
	if _, err := h.forge.Merge(t.Context(), pr); err == nil {
		t.Fatal("merged before checks")
	}
	h.Settle(t, pr)
	h.api.SetPermission("acme", "infra", "alice", "write")
	rc.comment(t, pr, "alice", "/medic retry")
	if got, _ := h.api.PR("acme", "infra", pr.Number); !got.Merged {
		t.Fatalf("not merged after /medic retry: %q", lastComment(t, h, pr.Number).Body)
	}
}

func TestChecksPassedMergesWaitingPR(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{RequiredChecks: []string{"ci"}}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, true)
	if _, err := h.forge.Merge(t.Context(), pr); err == nil {
		t.Fatal("merged before checks")
	}
	h.Settle(t, pr)
	rc.deliver(t, "check_suite", "completed.payload.json", func(p map[string]any) {
		cs := p["check_suite"].(map[string]any)
		cs["head_sha"], cs["conclusion"] = pr.Head, "success"
		prs := cs["pull_requests"].([]any)
		x := prs[0].(map[string]any)
		x["number"] = pr.Number
		x["head"].(map[string]any)["sha"] = pr.Head
		x["head"].(map[string]any)["ref"] = pr.Branch
	})
	if got, _ := h.api.PR("acme", "infra", pr.Number); !got.Merged {
		t.Fatal("check_suite success did not merge the waiting pull request")
	}
}

func TestPullRequestClosedRecordsMerge(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, true)
	if _, err := h.forge.Merge(t.Context(), pr); err != nil {
		t.Fatal(err)
	}
	got, _ := h.api.PR("acme", "infra", pr.Number)
	rc.deliver(t, "pull_request", "closed.payload.json", func(p map[string]any) {
		p["number"] = pr.Number
		x := p["pull_request"].(map[string]any)
		x["number"], x["merged"], x["merged_at"], x["merge_commit_sha"] = pr.Number, true, "2026-11-25T10:00:00Z", got.MergeCommitSHA
		x["head"].(map[string]any)["ref"] = pr.Branch
		x["head"].(map[string]any)["sha"] = pr.Head
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.merged) != 1 || rc.merged[0].Number != pr.Number || rc.merged[0].IncidentID != "inc-9" || !rc.merged[0].Automerge {
		t.Fatalf("Merged hook: %+v", rc.merged)
	}
}

func TestPushValidatesRepoConfig(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	sha := h.git.Commit(t, "acme", "infra", "main", map[string]string{".medic.yaml": "version: 2\n"}, nil, "configure medic")
	h.api.SetFile("acme", "infra", sha, ".medic.yaml", "version: 2\n")
	rc.deliver(t, "push", "payload.json", func(p map[string]any) {
		p["ref"], p["after"], p["deleted"], p["created"] = "refs/heads/main", sha, false, false
		p["commits"] = []any{map[string]any{"id": sha, "tree_id": sha, "distinct": true, "message": "configure medic",
			"timestamp": "2026-11-25T10:00:00Z", "url": "https://github.com/acme/infra/commit/" + sha,
			"author": map[string]any{"name": "A", "email": "a@example.com"}, "committer": map[string]any{"name": "A", "email": "a@example.com"},
			"added": []any{".medic.yaml"}, "removed": []any{}, "modified": []any{}}}
	})
	runs := h.api.CheckRuns("acme", "infra", sha)
	if len(runs) != 1 || runs[0].Name != "medic/config" || runs[0].Conclusion != "failure" || !strings.Contains(runs[0].Output.Summary, "version") {
		t.Fatalf("check runs on the pushed commit: %+v", runs)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.changed) != 1 {
		t.Errorf("ConfigChanged hook called %d times", len(rc.changed))
	}
}

func TestCheckRunButtons(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	rc := newReceiver(t, h)
	pr := proposeOne(t, h, true)
	runs := h.api.CheckRuns("acme", "infra", pr.Head)
	if len(runs) != 1 {
		t.Fatalf("check runs %+v", runs)
	}
	h.api.SetPermission("acme", "infra", "alice", "write")
	press := func(user, id string) {
		rc.deliver(t, "check_run", "requested_action.payload.json", func(p map[string]any) {
			p["requested_action"] = map[string]any{"identifier": id}
			p["sender"].(map[string]any)["login"] = user
			cr := p["check_run"].(map[string]any)
			cr["name"], cr["head_sha"] = CheckName, pr.Head
			x := cr["pull_requests"].([]any)[0].(map[string]any)
			x["number"] = pr.Number
		})
	}
	press("mallory", VerbClose) // no permission recorded: "none"
	if got, _ := h.api.PR("acme", "infra", pr.Number); got.State != "open" {
		t.Fatal("a button press without write access closed the pull request")
	}
	press("alice", VerbExplain)
	if !strings.Contains(lastComment(t, h, pr.Number).Body, "incident `inc-9`") {
		t.Errorf("Explain button: %q", lastComment(t, h, pr.Number).Body)
	}
	press("alice", VerbClose)
	if got, _ := h.api.PR("acme", "infra", pr.Number); got.State != "closed" {
		t.Fatal("the Close button did not close the pull request")
	}
}
