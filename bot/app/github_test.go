package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/githubtest"
	"github.com/medic-bot/medic/bot/forge/gittest"
)

// ghHarness serves forgetest's Harness for the app's GitHub forge.
type ghHarness struct {
	f   forge.Forge
	git *gittest.Server
}

func (h ghHarness) Forge() forge.Forge    { return h.f }
func (h ghHarness) Repo() forge.Repo      { return forge.Repo{Owner: "acme", Name: "infra"} }
func (h ghHarness) DefaultBranch() string { return "main" }
func (h ghHarness) Head(t testing.TB, b string) (string, bool) {
	return h.git.Head(t, "acme", "infra", b)
}
func (h ghHarness) ReadFile(t testing.TB, ref, p string) ([]byte, bool) {
	return h.git.ReadFile(t, "acme", "infra", ref, p)
}
func (h ghHarness) Commit(t testing.TB, b string, files map[string]string, del []string, msg string) string {
	return h.git.Commit(t, "acme", "infra", b, files, del, msg)
}
func (h ghHarness) Parents(t testing.TB, sha string) []string {
	return h.git.Parents(t, "acme", "infra", sha)
}
func (h ghHarness) Message(t testing.TB, sha string) string {
	return h.git.Message(t, "acme", "infra", sha)
}
func (h ghHarness) Settle(testing.TB, forge.PullRequest) {}

// TestGitHubApp runs medic serve's GitHub App against the API double and a
// real git server: webhooks on the real listener (signature checked,
// redeliveries dropped), a /medic close command closing a pull request
// the app's forge opened, the record kept in the SQLite store, and the
// GitHub self-metrics.
func TestGitHubApp(t *testing.T) {
	var api *githubtest.Server
	gsrv := gittest.NewServer(t, gittest.WithAuth(func(_, _, tok string) bool { return api.TokenValid(tok) }))
	api = githubtest.New(t, githubtest.WithRefResolver(gsrv.Resolve), githubtest.WithRefDeleter(func(o, r, ref string) error {
		gsrv.DeleteBranch(t, o, r, strings.TrimPrefix(ref, "heads/"))
		return nil
	}))
	gsrv.CreateRepo(t, "acme", "infra", "main", map[string]string{"README.md": "infra\n"})
	api.AddRepo(githubtest.RepoOptions{Owner: "acme", Name: "infra", CloneURL: gsrv.CloneURL("acme", "infra")})
	api.SetPermission("acme", "infra", "alice", "write")

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, api.PrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loopbackConfig()
	cfg.GitHub.AppID, cfg.GitHub.PrivateKeyFile, cfg.GitHub.APIURL = api.AppID(), keyFile, api.RESTURL()
	cfg.GitHub.CacheDir = filepath.Join(dir, "clones")
	cfg.Store.DSN = "sqlite:" + filepath.Join(dir, "medic.db")
	secret := "s3cret-webhook"
	env := map[string]string{"MEDIC_GITHUB_WEBHOOK_SECRET": secret}
	a, err := New(cfg, Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)
	url := "http://" + a.HTTPAddr() + "/webhooks/github"

	h := ghHarness{f: a.github.forge, git: gsrv}
	pr, err := h.f.Propose(ctx, forgetest.NewRequest(h, "inc-3", "scale", map[string]string{"apps/a.yaml": "replicas: 3\n"}))
	if err != nil {
		t.Fatal(err)
	}

	// An unsigned delivery is refused before anything else.
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"zen":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: %d, want 401", resp.StatusCode)
	}

	c := api.AddComment("acme", "infra", pr.Number, "alice", "/medic close")
	var p map[string]any
	if err := json.Unmarshal(githubtest.Payload(t, "issue_comment", "created.with-installation.payload.json"), &p); err != nil {
		t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = "infra", "acme/infra"
	repo["owner"].(map[string]any)["login"] = "acme"
	p["installation"] = map[string]any{"id": api.Installation("acme", "infra"), "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
	issue := p["issue"].(map[string]any)
	issue["number"] = pr.Number
	issue["pull_request"] = map[string]any{"url": "https://api.github.com/repos/acme/infra/pulls/1"}
	cm := p["comment"].(map[string]any)
	cm["id"], cm["body"] = c.ID, "/medic close"
	cm["user"].(map[string]any)["login"] = "alice"
	body, _ := json.Marshal(p)
	req := githubtest.Delivery(t, url, "issue_comment", body, []byte(secret))
	for i, want := range []int{http.StatusAccepted, http.StatusOK} { // the second is a redelivery
		r2 := req.Clone(ctx)
		r2.Body, _ = req.GetBody()
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("delivery %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, _ := api.PR("acme", "infra", pr.Number); got.State == "closed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/medic close did not close the pull request")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		if rec, err := a.github.store.PR(ctx, h.Repo(), pr.Number); err == nil && rec.State == forge.StateClosed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec, err := a.github.store.PR(ctx, h.Repo(), pr.Number); err != nil || rec.State != forge.StateClosed || rec.IncidentID != "inc-3" {
		t.Fatalf("store record: %+v, %v", rec, err)
	}
	metrics := get(t, "http://"+a.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`medic_github_webhooks_total{result="unauthorized"} 1`,
		`medic_github_webhooks_total{result="duplicate"} 1`,
		`medic_github_webhooks_total{result="accepted"} 1`,
		"medic_github_requests_total",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if errs := api.Errors(); len(errs) > 0 {
		t.Errorf("invalid GitHub traffic: %v", errs)
	}
}

func TestGitHubConfigErrors(t *testing.T) {
	cfg := loopbackConfig()
	cfg.GitHub.AppID = 42
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "private_key_file") || !strings.Contains(err.Error(), "cache_dir") {
		t.Fatalf("an App without key and cache: %v", err)
	}
	cfg.GitHub.PrivateKeyFile = filepath.Join(t.TempDir(), "missing.pem")
	cfg.GitHub.CacheDir = t.TempDir()
	_, err = New(cfg, Options{Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "webhook secret") {
		t.Fatalf("no webhook secret: %v", err)
	}
	_, err = New(cfg, Options{Getenv: func(k string) string {
		if k == "MEDIC_GITHUB_WEBHOOK_SECRET" {
			return "x"
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing key file: %v", err)
	}
}
