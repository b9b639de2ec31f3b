package githubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"
)

const (
	owner = "acme"
	repo  = "infra"
)

var (
	headSHA = strings.Repeat("a", 40)
	mainSHA = strings.Repeat("b", 40)
)

// app is medic's view of the double: an installation transport and a
// go-github client for the GitHub Enterprise layout.
type app struct {
	itr    *ghinstallation.Transport
	client *github.Client
}

func newApp(t *testing.T, s *Server, inst int64) app {
	t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, s.AppID(), inst, s.PrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(s.RESTURL(), "/")
	client, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(s.RESTURL(), s.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	return app{itr: itr, client: client}
}

func setup(t *testing.T, o RepoOptions, opts ...Option) (*Server, app) {
	t.Helper()
	s := New(t, opts...)
	o.Owner, o.Name = owner, repo
	s.AddRepo(o)
	s.SetRef(owner, repo, "main", mainSHA)
	s.SetRef(owner, repo, "medic/inc-1-scale", headSHA)
	return s, newApp(t, s, s.Installation(owner, repo))
}

func openPR(t *testing.T, a app) *github.PullRequest {
	t.Helper()
	pr, _, err := a.client.PullRequests.Create(context.Background(), owner, repo, &github.NewPullRequest{
		Title: github.String("medic: scale checkout"), Head: github.String("medic/inc-1-scale"),
		Base: github.String("main"), Body: github.String("why"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestAppOpensAndMergesPullRequest(t *testing.T) {
	s, a := setup(t, RepoOptions{RequiredChecks: []string{"ci"}})
	ctx := context.Background()
	s.SetFile(owner, repo, "", ".medic.yaml", "labels: [medic]\n")
	s.SetFile(owner, repo, "", "apps/checkout/values.yaml", "replicas: 2\n")
	s.SetPermission(owner, repo, "alice", "write")

	r, _, err := a.client.Repositories.Get(ctx, owner, repo)
	if err != nil || r.GetDefaultBranch() != "main" || r.GetAllowAutoMerge() {
		t.Fatalf("get repo: %v %+v", err, r)
	}
	fc, _, _, err := a.client.Repositories.GetContents(ctx, owner, repo, "apps/checkout/values.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := fc.GetContent(); c != "replicas: 2\n" {
		t.Errorf("content %q", c)
	}
	if _, _, resp, err := a.client.Repositories.GetContents(ctx, owner, repo, "nope.yaml", nil); resp == nil || resp.StatusCode != 404 {
		t.Errorf("missing file: %v", err)
	}

	pr := openPR(t, a)
	if pr.GetNumber() != 1 || pr.GetHead().GetSHA() != headSHA || pr.GetState() != "open" || pr.GetNodeID() == "" {
		t.Fatalf("created %+v", pr)
	}
	if _, resp, err := a.client.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{
		Title: github.String("again"), Head: github.String("medic/inc-1-scale"), Base: github.String("main"),
	}); resp == nil || resp.StatusCode != 422 {
		t.Errorf("a second pull request for the same head: %v", err)
	}
	var verr *github.ErrorResponse
	if _, _, err := a.client.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{
		Title: github.String("x"), Head: github.String("no-such-branch"), Base: github.String("main"),
	}); !errors.As(err, &verr) || verr.Response.StatusCode != 422 || len(verr.Errors) != 1 || verr.Errors[0].Field != "head" {
		t.Errorf("unknown head: %v", err)
	}

	list, _, err := a.client.PullRequests.List(ctx, owner, repo, &github.PullRequestListOptions{Head: owner + ":medic/inc-1-scale", State: "open"})
	if err != nil || len(list) != 1 || list[0].GetNumber() != 1 {
		t.Fatalf("list by head: %v %d", err, len(list))
	}
	if _, _, err := a.client.PullRequests.RequestReviewers(ctx, owner, repo, 1, github.ReviewersRequest{Reviewers: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.client.PullRequests.RequestReviewers(ctx, owner, repo, 1, github.ReviewersRequest{Reviewers: []string{"mallory"}}); err == nil {
		t.Error("a review from a non-collaborator was requested")
	}
	labels, _, err := a.client.Issues.AddLabelsToIssue(ctx, owner, repo, 1, []string{"medic", "automerge"})
	if err != nil || len(labels) != 2 {
		t.Fatalf("labels: %v %d", err, len(labels))
	}
	c, _, err := a.client.Issues.CreateComment(ctx, owner, repo, 1, &github.IssueComment{Body: github.String("planned")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.client.Reactions.CreateIssueCommentReaction(ctx, owner, repo, c.GetID(), "+1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.client.Issues.Create(ctx, owner, repo, &github.IssueRequest{Title: github.String("revert failed"), Labels: &[]string{"medic"}}); err != nil {
		t.Fatal(err)
	}
	issues, _, err := a.client.Issues.ListByRepo(ctx, owner, repo, &github.IssueListByRepoOptions{Labels: []string{"medic"}})
	if err != nil || len(issues) != 2 || !issues[1].IsPullRequest() {
		t.Fatalf("issues: %v %d", err, len(issues))
	}
	perm, _, err := a.client.Repositories.GetPermissionLevel(ctx, owner, repo, "alice")
	if err != nil || perm.GetPermission() != "write" {
		t.Fatalf("permission: %v %+v", err, perm)
	}

	// Merging waits for the required check.
	_, _, err = a.client.PullRequests.Merge(ctx, owner, repo, 1, "", &github.PullRequestOptions{MergeMethod: "squash"})
	if !errors.As(err, &verr) || verr.Response.StatusCode != 405 || verr.Message != `Required status check "ci" is expected.` {
		t.Fatalf("merge before checks: %v", err)
	}
	run, _, err := a.client.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{Name: "ci", HeadSHA: headSHA, Status: github.String("in_progress")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.client.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{
		Name: "ci", Conclusion: github.String("success"), Output: &github.CheckRunOutput{Title: github.String("ok"), Summary: github.String("all good")},
	}); err != nil {
		t.Fatal(err)
	}
	runs, _, err := a.client.Checks.ListCheckRunsForRef(ctx, owner, repo, "medic/inc-1-scale", nil)
	if err != nil || runs.GetTotal() != 1 || runs.CheckRuns[0].GetConclusion() != "success" {
		t.Fatalf("check runs: %v %+v", err, runs)
	}
	s.SetStatus(owner, repo, headSHA, "deploy/preview", "success")
	st, _, err := a.client.Repositories.GetCombinedStatus(ctx, owner, repo, headSHA, nil)
	if err != nil || st.GetState() != "success" || st.GetTotalCount() != 1 {
		t.Fatalf("status: %v %+v", err, st)
	}
	got, _, err := a.client.PullRequests.Get(ctx, owner, repo, 1)
	if err != nil || got.GetMergeableState() != "clean" || len(got.Labels) != 2 || len(got.RequestedReviewers) != 1 {
		t.Fatalf("get: %v %+v", err, got)
	}
	res, _, err := a.client.PullRequests.Merge(ctx, owner, repo, 1, "", &github.PullRequestOptions{MergeMethod: "squash"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v", err)
	}
	after, _ := s.PR(owner, repo, 1)
	if !after.Merged || after.State != "closed" || after.MergeCommitSHA != res.GetSHA() || after.MergeMethod != "squash" {
		t.Errorf("after merge %+v", after)
	}
	if _, _, err := a.client.PullRequests.Merge(ctx, owner, repo, 1, "", nil); !errors.As(err, &verr) || verr.Response.StatusCode != 405 {
		t.Errorf("merging a closed pull request: %v", err)
	}
	if _, err := a.client.Git.DeleteRef(ctx, owner, repo, "heads/medic/inc-1-scale"); err != nil {
		t.Fatal(err)
	}
	if d := s.DeletedRefs(owner, repo); len(d) != 1 || d[0] != "heads/medic/inc-1-scale" {
		t.Errorf("deleted %v", d)
	}
	if len(s.Comments(owner, repo, 1)) != 1 || len(s.Issues(owner, repo)) != 1 || len(s.CheckRuns(owner, repo, headSHA)) != 1 {
		t.Error("accessors disagree with the calls")
	}
	for _, c := range s.Requests() {
		if !strings.HasPrefix(c.Path, "/api/v3/") {
			t.Errorf("request %+v", c)
		}
	}
}

func TestMergeQueueRefusesRESTMerge(t *testing.T) {
	s, a := setup(t, RepoOptions{MergeQueue: true})
	openPR(t, a)
	var verr *github.ErrorResponse
	_, _, err := a.client.PullRequests.Merge(context.Background(), owner, repo, 1, "", nil)
	if !errors.As(err, &verr) || verr.Response.StatusCode != 405 || verr.Message != "Changes must be made through the merge queue" {
		t.Fatalf("merge: %v", err)
	}
	// Through the queue: enqueued, merged once the checks pass.
	pr, _ := s.PR(owner, repo, 1)
	resp := graphql(t, s, a, `mutation($id: ID!) { enqueuePullRequest(input: {pullRequestId: $id}) { mergeQueueEntry { position state pullRequest { number isInMergeQueue } } } }`,
		map[string]any{"id": pr.NodeID})
	if resp.Errors != nil {
		t.Fatalf("enqueue: %s", resp.Errors)
	}
	var data struct {
		EnqueuePullRequest struct {
			MergeQueueEntry struct {
				Position    int
				PullRequest struct{ IsInMergeQueue bool }
			}
		}
	}
	json.Unmarshal(resp.Data, &data)
	if e := data.EnqueuePullRequest.MergeQueueEntry; e.Position != 1 || !e.PullRequest.IsInMergeQueue {
		t.Errorf("entry %s", resp.Data)
	}
	if pr, _ := s.PR(owner, repo, 1); !pr.Merged {
		t.Errorf("a queued pull request without required checks did not merge: %+v", pr)
	}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

func graphql(t *testing.T, s *Server, a app, query string, vars map[string]any) gqlResponse {
	t.Helper()
	tok, err := a.itr.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", s.GraphQLURL(), bytes.NewReader(body))
	req.Header.Set("Authorization", "bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("graphql: %v %d", err, res.StatusCode)
	}
	return out
}

const enableAutoMerge = `mutation Enable($id: ID!, $method: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledAt } }
  }
}`

func TestAutoMergeMergesWhenChecksPass(t *testing.T) {
	merges := 0
	s, a := setup(t, RepoOptions{AllowAutoMerge: true, RequiredChecks: []string{"ci", "lint"}},
		WithMerger(func(o, r, head, base, method, title, message string) (string, error) {
			merges++
			if head != headSHA || base != "main" || method != "squash" {
				return "", fmt.Errorf("unexpected merge %s %s %s", head, base, method)
			}
			return strings.Repeat("c", 40), nil
		}))
	pr := openPR(t, a)
	resp := graphql(t, s, a, enableAutoMerge, map[string]any{"id": pr.GetNodeID(), "method": "SQUASH"})
	if resp.Errors != nil {
		t.Fatalf("enable: %s", resp.Errors)
	}
	if !strings.Contains(string(resp.Data), `"mergeMethod":"SQUASH"`) {
		t.Errorf("data %s", resp.Data)
	}
	got, _, err := a.client.PullRequests.Get(context.Background(), owner, repo, 1)
	if err != nil || got.GetAutoMerge().GetMergeMethod() != "squash" {
		t.Fatalf("auto_merge: %v %+v", err, got.GetAutoMerge())
	}
	s.CompleteCheck(owner, repo, headSHA, "ci", "success")
	if p, _ := s.PR(owner, repo, 1); p.Merged {
		t.Fatal("merged before lint passed")
	}
	s.CompleteCheck(owner, repo, headSHA, "lint", "success")
	p, _ := s.PR(owner, repo, 1)
	if !p.Merged || p.MergeCommitSHA != strings.Repeat("c", 40) || merges != 1 {
		t.Fatalf("after checks: %+v (merges %d)", p, merges)
	}
	// Read back through GraphQL.
	resp = graphql(t, s, a, `query($id: ID!) { node(id: $id) { __typename ... on PullRequest { state mergeCommit { oid } autoMergeRequest { enabledAt } } } }`,
		map[string]any{"id": pr.GetNodeID()})
	if resp.Errors != nil || !strings.Contains(string(resp.Data), `"state":"MERGED"`) {
		t.Errorf("node: %s %s", resp.Data, resp.Errors)
	}
}

func TestAutoMergeRefusals(t *testing.T) {
	tests := []struct {
		name string
		opts RepoOptions
		want string
	}{
		{"not allowed", RepoOptions{RequiredChecks: []string{"ci"}}, "Pull request Auto merge is not allowed for this repository"},
		{"clean", RepoOptions{AllowAutoMerge: true}, "Pull request Pull request is in clean status"},
		{"merge queue", RepoOptions{AllowAutoMerge: true, MergeQueue: true, RequiredChecks: []string{"ci"}}, "Changes must be made through the merge queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := setup(t, tc.opts)
			pr := openPR(t, a)
			resp := graphql(t, s, a, enableAutoMerge, map[string]any{"id": pr.GetNodeID(), "method": "MERGE"})
			var errs []struct{ Type, Message string }
			json.Unmarshal(resp.Errors, &errs)
			if len(errs) != 1 || errs[0].Type != "UNPROCESSABLE" || errs[0].Message != tc.want {
				t.Errorf("errors %s, want %q", resp.Errors, tc.want)
			}
			if string(resp.Data) != `{"enablePullRequestAutoMerge":null}` {
				t.Errorf("data %s", resp.Data)
			}
		})
	}
}

func TestInvalidGraphQLIsReported(t *testing.T) {
	tests := []struct {
		name, query string
		vars        map[string]any
	}{
		{"unknown mutation", `mutation { mergePullRequest(input: {pullRequestId: "x"}) { clientMutationId } }`, nil},
		{"bad merge method", enableAutoMerge, map[string]any{"id": "x", "method": "FAST_FORWARD"}},
		{"wrong variable type", `mutation($id: String!) { enqueuePullRequest(input: {pullRequestId: $id}) { clientMutationId } }`, map[string]any{"id": "x"}},
		{"missing variable", enableAutoMerge, map[string]any{"method": "MERGE"}},
		{"unknown field", `query($id: ID!) { node(id: $id) { ... on PullRequest { mergeability } } }`, nil},
		{"parse error", `mutation {`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTB{TB: t}
			s := New(ft)
			s.AddRepo(RepoOptions{Owner: owner, Name: repo})
			s.SetRef(owner, repo, "medic/inc-1-scale", headSHA)
			a := newApp(t, s, s.Installation(owner, repo))
			pr := openPR(t, a)
			if tc.name == "unknown field" {
				tc.vars = map[string]any{"id": pr.GetNodeID()}
			}
			resp := graphql(t, s, a, tc.query, tc.vars)
			if resp.Errors == nil || resp.Data != nil {
				t.Errorf("response %s %s", resp.Data, resp.Errors)
			}
			ft.cleanup()
			if len(ft.errors()) == 0 {
				t.Error("the double did not report the invalid operation")
			}
		})
	}
}

// fakeTB catches what the double reports, so that tests can check it
// fails a test without failing this one.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeTB) errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func TestInvalidRequestIsReported(t *testing.T) {
	ft := &fakeTB{TB: t}
	s := New(ft)
	s.AddRepo(RepoOptions{Owner: owner, Name: repo})
	a := newApp(t, s, s.Installation(owner, repo))
	ctx := context.Background()
	// A pull request without head.
	_, resp, _ := a.client.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{Title: github.String("x"), Base: github.String("main")})
	if resp == nil || resp.StatusCode != 422 {
		t.Errorf("status %v", resp)
	}
	// An operation medic does not use, and a wrong API version.
	a.client.Repositories.ListBranches(ctx, owner, repo, nil)
	req, _ := a.client.NewRequest("GET", "repos/acme/infra", nil)
	req.Header.Set("X-GitHub-Api-Version", "2099-01-01")
	a.client.Do(ctx, req, nil)
	errs := s.Errors()
	if len(errs) != 3 {
		t.Fatalf("errors %q", errs)
	}
	for i, want := range []string{`missing property 'head'`, "no such operation", "X-GitHub-Api-Version"} {
		if !strings.Contains(errs[i], want) {
			t.Errorf("error %d %q does not mention %q", i, errs[i], want)
		}
	}
	ft.cleanup()
	if len(ft.errors()) != 3 {
		t.Errorf("cleanup reported %q", ft.errors())
	}
}

func TestAuthentication(t *testing.T) {
	s, a := setup(t, RepoOptions{})
	ctx := context.Background()
	other := s.AddInstallation("someone-else")
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", s.RESTURL()+"repos/acme/infra", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := get(""); c != 401 {
		t.Errorf("no token: %d", c)
	}
	if c := get("token ghs_nope"); c != 401 {
		t.Errorf("bad token: %d", c)
	}
	if c := get("Bearer " + s.AppJWT()); c != 401 {
		t.Errorf("an App JWT on a repository call: %d", c)
	}
	tok, err := a.itr.Token(ctx)
	if err != nil || !strings.HasPrefix(tok, "ghs_") || !s.TokenValid(tok) {
		t.Fatalf("token %q: %v", tok, err)
	}
	if c := get("token " + tok); c != 200 {
		t.Errorf("good token: %d", c)
	}
	// Another installation's token can read a public repository but not
	// write to it, and cannot see a private one.
	b := newApp(t, s, other)
	if _, _, err := b.client.Repositories.Get(ctx, owner, repo); err != nil {
		t.Errorf("other installation reads a public repository: %v", err)
	}
	if _, resp, _ := b.client.Issues.Create(ctx, owner, repo, &github.IssueRequest{Title: github.String("x")}); resp == nil || resp.StatusCode != 403 {
		t.Errorf("other installation writes: %v", resp)
	}
	s.AddRepo(RepoOptions{Owner: owner, Name: "secrets", Private: true})
	if _, resp, _ := b.client.Repositories.Get(ctx, owner, "secrets"); resp == nil || resp.StatusCode != 404 {
		t.Errorf("other installation reads a private repository: %v", resp)
	}
	s.ExpireTokens()
	if s.TokenValid(tok) {
		t.Error("an expired token is valid")
	}
	if c := get("token " + tok); c != 401 {
		t.Errorf("expired token: %d", c)
	}
	// The App JWT reads the repository's installation; a forged one fails.
	ac, _ := github.NewClient(nil).WithAuthToken(s.AppJWT()).WithEnterpriseURLs(s.RESTURL(), s.RESTURL())
	inst, _, err := ac.Apps.FindRepositoryInstallation(ctx, owner, repo)
	if err != nil || inst.GetID() != s.Installation(owner, repo) {
		t.Errorf("find installation: %v %+v", err, inst)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := ghinstallation.New(http.DefaultTransport, s.AppID(), s.Installation(owner, repo),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if err != nil {
		t.Fatal(err)
	}
	forged.BaseURL = strings.TrimSuffix(s.RESTURL(), "/")
	if _, err := forged.Token(ctx); err == nil {
		t.Error("a JWT signed by another key got a token")
	}
}

func TestTokenRefresh(t *testing.T) {
	s, a := setup(t, RepoOptions{}, WithTokenLifetime(30*time.Second))
	ctx := context.Background()
	for range 2 {
		if _, _, err := a.client.Repositories.Get(ctx, owner, repo); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, c := range s.Requests() {
		if strings.HasSuffix(c.Path, "/access_tokens") && c.Status == 201 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d tokens for 2 calls with a 30s lifetime (ghinstallation refreshes a minute early)", n)
	}
}

func TestFailNext(t *testing.T) {
	s, a := setup(t, RepoOptions{})
	ctx := context.Background()
	s.FailNext("GET", `^/repos/acme/infra$`, 2, 502, nil, "Server Error")
	for i := range 2 {
		if _, resp, err := a.client.Repositories.Get(ctx, owner, repo); err == nil || resp.StatusCode != 502 {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, _, err := a.client.Repositories.Get(ctx, owner, repo); err != nil {
		t.Fatalf("third call: %v", err)
	}
	s.FailNext("", `^/repos/acme/infra$`, 1, 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(time.Now().Add(-time.Second).Unix())},
		"API rate limit exceeded for installation ID 1.")
	var rl *github.RateLimitError
	if _, _, err := a.client.Repositories.Get(ctx, owner, repo); !errors.As(err, &rl) {
		t.Fatalf("primary rate limit: %v", err)
	}
	s.FailNext("GET", `/pulls/1$`, 1, 404, nil, "Not Found")
	s.FailNext("PUT", `/merge$`, 1, 422, nil, "Validation Failed")
	openPR(t, a)
	if _, resp, _ := a.client.PullRequests.Get(ctx, owner, repo, 1); resp == nil || resp.StatusCode != 404 {
		t.Errorf("404: %v", resp)
	}
	if _, resp, _ := a.client.PullRequests.Merge(ctx, owner, repo, 1, "", nil); resp == nil || resp.StatusCode != 422 {
		t.Errorf("422: %v", resp)
	}
	_, resp, err := a.client.PullRequests.Get(ctx, owner, repo, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	// Last: go-github makes no request until Retry-After has passed.
	s.FailNext("POST", `/comments$`, 1, 403, map[string]string{"Retry-After": "1"},
		"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	_, _, err = a.client.Issues.CreateComment(ctx, owner, repo, 1, &github.IssueComment{Body: github.String("x")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != time.Second {
		t.Fatalf("secondary rate limit: %v", err)
	}
}

func TestRefResolverAndMergeConflict(t *testing.T) {
	refs := map[string]string{"main": mainSHA, "medic/inc-1-scale": headSHA}
	var mu sync.Mutex
	s := New(t,
		WithRefResolver(func(o, r, ref string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if sha, ok := refs[ref]; ok {
				return sha, nil
			}
			return "", errors.New("no such ref")
		}),
		WithMerger(func(o, r, head, base, method, title, message string) (string, error) {
			return "", errors.New("conflict")
		}))
	s.AddRepo(RepoOptions{Owner: owner, Name: repo})
	a := newApp(t, s, s.Installation(owner, repo))
	openPR(t, a)
	mu.Lock()
	refs["medic/inc-1-scale"] = strings.Repeat("d", 40)
	mu.Unlock()
	pr, _, err := a.client.PullRequests.Get(context.Background(), owner, repo, 1)
	if err != nil || pr.GetHead().GetSHA() != strings.Repeat("d", 40) {
		t.Fatalf("head after a push: %v %s", err, pr.GetHead().GetSHA())
	}
	var verr *github.ErrorResponse
	if _, _, err := a.client.PullRequests.Merge(context.Background(), owner, repo, 1, "", nil); !errors.As(err, &verr) || verr.Response.StatusCode != 405 || verr.Message != "Pull Request is not mergeable" {
		t.Errorf("conflicting merge: %v", err)
	}
}

func TestContentsAndPagination(t *testing.T) {
	s, a := setup(t, RepoOptions{})
	ctx := context.Background()
	s.SetFile(owner, repo, "", "apps/checkout/values.yaml", "a")
	s.SetFile(owner, repo, "", "apps/checkout/overlays/prod/kustomization.yaml", "b")
	s.SetFile(owner, repo, "medic/inc-1-scale", "apps/checkout/values.yaml", "c")
	_, dir, _, err := a.client.Repositories.GetContents(ctx, owner, repo, "apps/checkout", nil)
	if err != nil || len(dir) != 2 || dir[0].GetType() != "dir" || dir[1].GetName() != "values.yaml" {
		t.Fatalf("directory: %v %v", err, dir)
	}
	fc, _, _, err := a.client.Repositories.GetContents(ctx, owner, repo, "apps/checkout/values.yaml", &github.RepositoryContentGetOptions{Ref: "medic/inc-1-scale"})
	if c, _ := fc.GetContent(); err != nil || c != "c" {
		t.Fatalf("file at a branch: %v %q", err, c)
	}
	for i := range 3 {
		branch := fmt.Sprintf("medic/inc-%d-scale", i+2)
		s.SetRef(owner, repo, branch, fmt.Sprintf("%040d", i+1))
		if _, _, err := a.client.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{Title: github.String(branch), Head: github.String(branch), Base: github.String("main")}); err != nil {
			t.Fatal(err)
		}
	}
	opts := &github.PullRequestListOptions{ListOptions: github.ListOptions{PerPage: 2}}
	var all []int
	for {
		prs, resp, err := a.client.PullRequests.List(ctx, owner, repo, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prs {
			all = append(all, p.GetNumber())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if fmt.Sprint(all) != "[3 2 1]" {
		t.Errorf("pages gave %v", all)
	}
}

func TestGraphQLInputVariableAndFailure(t *testing.T) {
	s, a := setup(t, RepoOptions{AllowAutoMerge: true, RequiredChecks: []string{"ci"}})
	pr := openPR(t, a)
	s.FailNext("POST", "^/graphql$", 1, 502, nil, "Server Error")
	tok, _ := a.itr.Token(context.Background())
	req, _ := http.NewRequest("POST", s.GraphQLURL(), strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Authorization", "bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 502 {
		t.Fatalf("injected failure: %v %v", err, res)
	}
	res.Body.Close()
	// The form GraphQL client libraries send: one input variable.
	resp := graphql(t, s, a, `mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { clientMutationId pullRequest { id } } }`,
		map[string]any{"input": map[string]any{"pullRequestId": pr.GetNodeID(), "mergeMethod": "REBASE", "clientMutationId": "m1"}})
	if resp.Errors != nil || !strings.Contains(string(resp.Data), `"clientMutationId":"m1"`) {
		t.Fatalf("enable: %s %s", resp.Data, resp.Errors)
	}
	resp = graphql(t, s, a, `query { repository(owner: "acme", name: "infra") { pullRequest(number: 1) { number autoMergeRequest { mergeMethod } mergeQueueEntry { position } } } }`, nil)
	if resp.Errors != nil || string(resp.Data) != `{"repository":{"pullRequest":{"autoMergeRequest":{"mergeMethod":"REBASE"},"mergeQueueEntry":null,"number":1}}}` {
		t.Errorf("query: %s %s", resp.Data, resp.Errors)
	}
	s.CompleteCheck(owner, repo, headSHA, "ci", "failure")
	if p, _ := s.PR(owner, repo, 1); p.Merged {
		t.Error("merged with a failed check")
	}
	s.CompleteCheck(owner, repo, headSHA, "ci", "success")
	if p, _ := s.PR(owner, repo, 1); !p.Merged || p.MergeMethod != "rebase" {
		t.Errorf("not merged after a rerun: %+v", p)
	}
}
