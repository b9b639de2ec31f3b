package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/gitrepo"
	"github.com/medic-bot/medic/bot/redact"
	"github.com/medic-bot/medic/patchers/render"
	"github.com/medic-bot/medic/policy"
)

// Log keys.
const (
	keyRepo     = "github_repo"
	keyPR       = "github_pr_num"
	keyIncident = "incident_id"
)

// CheckName is the check run carrying the policy decision on every head
// commit medic pushes.
const CheckName = "medic/policy"

// ConfigFile is the per-repository configuration on the default branch.
const ConfigFile = ".medic.yaml"

// Forge opens, updates and merges medic's pull requests on GitHub as an
// App installation. Safe for concurrent use; proposals for one incident
// are serialised so that an incident never gets two pull requests.
type Forge struct {
	app     *App
	git     *gitrepo.Cache
	records forge.Records
	author  Signature
	now     func() time.Time
	logger  *slog.Logger
	configs *configCache
	render  render.Limits

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Options are the Forge's collaborators.
type Options struct {
	// Records remembers pull requests (optional): with it, Get keeps the
	// policy's automerge verdict, and PR limits see closed pull requests.
	Records forge.Records
	Now     func() time.Time
	Logger  *slog.Logger
	// Render bounds the renders of the changes the forge plans itself
	// (/medic revert); zero means render.DefaultLimits.
	Render render.Limits
}

// NewForge returns the GitHub forge for app, cloning into cacheDir.
func NewForge(app *App, cacheDir string, opts Options) (*Forge, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cache, err := gitrepo.NewCache(cacheDir, gitrepo.Options{})
	if err != nil {
		return nil, fmt.Errorf("github forge: %w", err)
	}
	if opts.Render == (render.Limits{}) {
		opts.Render = render.DefaultLimits()
	}
	author := app.cfg.CommitAuthor
	if author.Name == "" {
		author = DefaultConfig().CommitAuthor
	}
	return &Forge{app: app, git: cache, records: opts.Records, author: author, now: opts.Now,
		logger: opts.Logger.With("component", "forge.github"), configs: newConfigCache(),
		render: opts.Render, locks: map[string]*sync.Mutex{}}, nil
}

var _ forge.Forge = (*Forge)(nil)

func (f *Forge) lock(key string) func() {
	f.mu.Lock()
	m, ok := f.locks[key]
	if !ok {
		m = &sync.Mutex{}
		f.locks[key] = m
	}
	f.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// repoInfo is what medic needs of a repository.
type repoInfo struct {
	defaultBranch  string
	cloneURL       string
	allowAutoMerge bool
	allowSquash    bool
	allowMerge     bool
	allowRebase    bool
}

func (f *Forge) repo(ctx context.Context, c *gh.Client, r forge.Repo) (repoInfo, error) {
	rp, _, err := c.Repositories.Get(ctx, r.Owner, r.Name)
	if err != nil {
		return repoInfo{}, classify("get repository "+r.String(), err)
	}
	if rp.GetArchived() {
		return repoInfo{}, forge.Permanent(fmt.Errorf("%w: repository %s is archived", forge.ErrRefused, r))
	}
	return repoInfo{
		defaultBranch: rp.GetDefaultBranch(), cloneURL: rp.GetCloneURL(),
		allowAutoMerge: rp.GetAllowAutoMerge(),
		// GitHub omits these for tokens without admin rights; absent means allowed.
		allowSquash: rp.AllowSquashMerge == nil || rp.GetAllowSquashMerge(),
		allowMerge:  rp.AllowMergeCommit == nil || rp.GetAllowMergeCommit(),
		allowRebase: rp.AllowRebaseMerge == nil || rp.GetAllowRebaseMerge(),
	}, nil
}

// Propose pushes the change to the incident's branch and opens or updates
// its pull request, with labels, reviewers and the medic/policy check run.
func (f *Forge) Propose(ctx context.Context, r forge.Request) (forge.PullRequest, error) {
	if err := r.Validate(); err != nil {
		return forge.PullRequest{}, err
	}
	log := f.logger.With(keyRepo, r.Repo.String(), keyIncident, r.Incident.ID)
	c, err := f.app.Client(ctx, r.Repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	info, err := f.repo(ctx, c, r.Repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	rc, err := f.RepoConfig(ctx, r.Repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	if rc.Paused {
		return forge.PullRequest{}, fmt.Errorf("%w: medic is paused in %s (%s: paused: true)", forge.ErrRefused, r.Repo, ConfigFile)
	}
	base := r.Base
	if base == "" {
		base = info.defaultBranch
	}

	defer f.lock(r.Repo.String() + "#" + r.Incident.ID)()

	open, err := f.openMedicPRs(ctx, c, r.Repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	var existing *gh.PullRequest
	for _, p := range open {
		if id, _, ok := forge.ParseBranch(p.GetHead().GetRef()); ok && id == r.Incident.ID {
			existing = p
			break
		}
	}
	if existing == nil {
		if err := f.checkLimits(ctx, c, r.Repo, rc, len(open)); err != nil {
			return forge.PullRequest{}, err
		}
	}
	branch := r.Branch()
	lease := leaseNone
	if existing != nil {
		branch = existing.GetHead().GetRef()
		lease = existing.GetHead().GetSHA()
		if err := f.checkOurHead(ctx, r.Repo, existing); err != nil {
			return forge.PullRequest{}, err
		}
	}

	head, err := f.push(ctx, r, info, base, branch, lease)
	if err != nil {
		return forge.PullRequest{}, err
	}

	r.Commands = true // Events runs /medic commands on GitHub
	title, body := forge.Title(r), forge.Body(r)
	var p *gh.PullRequest
	reused := existing != nil
	if existing != nil {
		p, _, err = c.PullRequests.Edit(ctx, r.Repo.Owner, r.Repo.Name, existing.GetNumber(), &gh.PullRequest{Title: &title, Body: &body})
		if err != nil {
			return forge.PullRequest{}, classify(fmt.Sprintf("update pull request #%d", existing.GetNumber()), err)
		}
	} else {
		p, _, err = c.PullRequests.Create(ctx, r.Repo.Owner, r.Repo.Name, &gh.NewPullRequest{
			Title: &title, Head: &branch, Base: &base, Body: &body, MaintainerCanModify: gh.Bool(false)})
		if err != nil {
			if statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "already exists") {
				return forge.PullRequest{}, classify("create pull request", err)
			}
			// Another replica opened it between our list and create.
			p, err = f.findByHead(ctx, c, r.Repo, branch)
			if err != nil {
				return forge.PullRequest{}, err
			}
			reused = true
			if p, _, err = c.PullRequests.Edit(ctx, r.Repo.Owner, r.Repo.Name, p.GetNumber(), &gh.PullRequest{Title: &title, Body: &body}); err != nil {
				return forge.PullRequest{}, classify("update pull request", err)
			}
		}
	}
	log = log.With(keyPR, p.GetNumber())

	labels := forge.Union(rc.Labels, r.AllLabels())
	if len(labels) > 0 {
		if _, _, err := c.Issues.AddLabelsToIssue(ctx, r.Repo.Owner, r.Repo.Name, p.GetNumber(), labels); err != nil {
			return forge.PullRequest{}, classify(fmt.Sprintf("label pull request #%d", p.GetNumber()), err)
		}
	}
	users := forge.Union(rc.Reviewers.Users, r.Reviewers)
	if !reused && (len(users) > 0 || len(rc.Reviewers.Teams) > 0) {
		// A reviewer who cannot review (not a collaborator) is GitHub's
		// 422; the pull request stands without them, and the check run
		// says so.
		if _, _, err := c.PullRequests.RequestReviewers(ctx, r.Repo.Owner, r.Repo.Name, p.GetNumber(),
			gh.ReviewersRequest{Reviewers: users, TeamReviewers: rc.Reviewers.Teams}); err != nil {
			if statusOf(err) != http.StatusUnprocessableEntity {
				return forge.PullRequest{}, classify("request reviewers", err)
			}
			log.Warn("reviewers not requested", "error", classify("request reviewers", err))
			users = nil
		}
	}
	if err := f.checkRun(ctx, c, r, head); err != nil {
		return forge.PullRequest{}, err
	}

	out := f.fromGitHub(r.Repo, p)
	out.Head = head
	out.Automerge = r.Decision.Automerge && rc.Merge.Automerge
	out.Labels = labels
	out.Reviewers = users
	out.Reused = reused
	out.IncidentID = r.Incident.ID
	out.Intent = r.Proposal.Intent.Kind
	if err := f.remember(ctx, out); err != nil {
		return out, err
	}
	log.Info("pull request proposed", "reused", reused, "automerge", out.Automerge)
	return out, nil
}

// leaseNone asks push to create the branch: it must not exist, unless it
// is a leftover of one of medic's closed pull requests.
const leaseNone = ""

// checkOurHead refuses to overwrite an open pull request's branch when its
// head is not the commit medic recorded pushing: someone else pushed to
// it, and their work is theirs to keep.
func (f *Forge) checkOurHead(ctx context.Context, repo forge.Repo, p *gh.PullRequest) error {
	if f.records == nil {
		return nil
	}
	rec, err := f.records.PR(ctx, repo, p.GetNumber())
	if err != nil || rec.Head == "" {
		return nil
	}
	if rec.Head != p.GetHead().GetSHA() {
		return fmt.Errorf("%w: pull request #%d's branch %s has commits medic did not push (head %s, medic pushed %s); medic will not overwrite them",
			forge.ErrConflict, p.GetNumber(), p.GetHead().GetRef(), short(p.GetHead().GetSHA()), short(rec.Head))
	}
	return nil
}

// push commits the change on its base commit and pushes it to branch. The
// push is leased: it only replaces the branch when it still points at
// lease (the open pull request's head), so a commit pushed meanwhile is
// never overwritten (gitrepo.ErrStale). A branch with no open pull request
// is medic's own leftover and is replaced.
func (f *Forge) push(ctx context.Context, r forge.Request, info repoInfo, base, branch, lease string) (string, error) {
	tok, err := f.app.Token(ctx, r.Repo)
	if err != nil {
		return "", err
	}
	auth := gitrepo.Auth{Token: tok}
	repo, err := f.git.Open(ctx, info.cloneURL)
	if err != nil {
		return "", err
	}
	parent := r.BaseCommit
	if parent == "" {
		parent, err = repo.Fetch(ctx, auth, base)
	} else {
		err = repo.FetchCommit(ctx, auth, parent)
	}
	if err != nil {
		return "", err
	}
	sha, err := repo.Commit(ctx, gitrepo.CommitRequest{
		Parent: parent, Files: r.Change.Files, Message: forge.CommitMessage(r),
		Author: gitrepo.Signature{Name: f.author.Name, Email: f.author.Email}, When: f.now(),
	})
	if err != nil {
		return "", err
	}
	expect := lease
	if lease == leaseNone {
		current, exists, err := repo.RemoteBranch(ctx, auth, branch)
		if err != nil {
			return "", err
		}
		if exists {
			expect = current
		}
	}
	if err := repo.Push(ctx, auth, sha, branch, expect); err != nil {
		if errors.Is(err, gitrepo.ErrStale) {
			return "", fmt.Errorf("%w: %w", forge.ErrConflict, err)
		}
		return "", err
	}
	return sha, nil
}

// openMedicPRs lists the repository's open pull requests on medic branches.
func (f *Forge) openMedicPRs(ctx context.Context, c *gh.Client, r forge.Repo) ([]*gh.PullRequest, error) {
	var out []*gh.PullRequest
	opts := &gh.PullRequestListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.PullRequests.List(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return nil, classify("list pull requests of "+r.String(), err)
		}
		for _, p := range page {
			if _, _, ok := forge.ParseBranch(p.GetHead().GetRef()); ok && p.GetHead().GetRepo().GetFullName() == r.String() {
				out = append(out, p)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func (f *Forge) findByHead(ctx context.Context, c *gh.Client, r forge.Repo, branch string) (*gh.PullRequest, error) {
	ps, _, err := c.PullRequests.List(ctx, r.Owner, r.Name, &gh.PullRequestListOptions{State: "open", Head: r.Owner + ":" + branch})
	if err != nil {
		return nil, classify("find pull request of "+branch, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("find pull request of %s: %w", branch, forge.ErrNotFound)
	}
	return ps[0], nil
}

// ErrLimited means the repository's limits (max open pull requests, pull
// requests per hour) stop medic from opening another now.
var ErrLimited = errors.New("limit reached")

// checkLimits enforces max_open_prs and prs_per_hour before a new pull
// request. The hourly count reads the newest pull requests of the
// repository, so it holds across restarts and replicas.
func (f *Forge) checkLimits(ctx context.Context, c *gh.Client, r forge.Repo, rc RepoConfig, open int) error {
	if max := rc.Limits.MaxOpenPRs; max > 0 && open >= max {
		return fmt.Errorf("%w: %s has %d open medic pull requests (limits.max_open_prs: %d)", ErrLimited, r, open, max)
	}
	per := rc.Limits.PRsPerHour
	if per <= 0 {
		return nil
	}
	recent, _, err := c.PullRequests.List(ctx, r.Owner, r.Name, &gh.PullRequestListOptions{
		State: "all", Sort: "created", Direction: "desc", ListOptions: gh.ListOptions{PerPage: 100}})
	if err != nil {
		return classify("list recent pull requests of "+r.String(), err)
	}
	since := f.now().Add(-time.Hour)
	n := 0
	for _, p := range recent {
		if _, _, ok := forge.ParseBranch(p.GetHead().GetRef()); ok && p.GetCreatedAt().After(since) {
			n++
		}
	}
	if n >= per {
		return fmt.Errorf("%w: %s had %d medic pull requests in the last hour (limits.prs_per_hour: %d)", ErrLimited, r, n, per)
	}
	return nil
}

// checkRun records the policy decision on the head commit.
func (f *Forge) checkRun(ctx context.Context, c *gh.Client, r forge.Request, head string) error {
	conclusion, title := "neutral", "Policy: a human must review this change"
	if r.Decision.Automerge {
		conclusion, title = "success", "Policy: medic may merge this change on its own"
	}
	if slices.Contains(r.Decision.Labels, policy.LabelPolicyError) {
		conclusion, title = "failure", "Policy: could not be evaluated (failed closed)"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "**Allowed:** %v  \n**Auto-merge:** %v\n\n", r.Decision.Allow, r.Decision.Automerge)
	for _, reason := range r.Decision.Reasons {
		// A repository's policy wrote it: inert, as in the body.
		fmt.Fprintf(&sb, "- %s\n", forge.Text(reason, 300))
	}
	if len(r.Decision.Reasons) == 0 {
		sb.WriteString("No reasons given.\n")
	}
	now := gh.Timestamp{Time: f.now()}
	_, _, err := c.Checks.CreateCheckRun(ctx, r.Repo.Owner, r.Repo.Name, gh.CreateCheckRunOptions{
		Name: CheckName, HeadSHA: head, Status: gh.String("completed"), Conclusion: gh.String(conclusion),
		StartedAt: &now, CompletedAt: &now, ExternalID: gh.String(r.Incident.ID),
		Output:  &gh.CheckRunOutput{Title: gh.String(title), Summary: gh.String(sb.String())},
		Actions: checkActions(r.Decision.Automerge),
	})
	if err != nil {
		return classify("create the medic/policy check run", err)
	}
	return nil
}

// checkActions are the buttons on the medic/policy check run; a press
// arrives as a check_run requested_action event and runs the command of
// the same name (for people with write access).
func checkActions(automerge bool) []*gh.CheckRunAction {
	acts := []*gh.CheckRunAction{
		{Label: "Explain", Description: "Why medic proposes this", Identifier: VerbExplain},
		{Label: "Close", Description: "Close without merging", Identifier: VerbClose},
	}
	if automerge {
		acts = append(acts, &gh.CheckRunAction{Label: "Retry merge", Description: "Try the merge again", Identifier: VerbRetry})
	}
	return acts
}

// remember stores pr in Records when the forge has them.
func (f *Forge) remember(ctx context.Context, pr forge.PullRequest) error {
	if f.records == nil {
		return nil
	}
	if _, err := f.records.PR(ctx, pr.Repo, pr.Number); err == nil {
		return f.records.UpdatePR(ctx, pr)
	} else if !errors.Is(err, forge.ErrNotFound) {
		return err
	}
	_, err := f.records.CreatePR(ctx, pr)
	return err
}

func (f *Forge) fromGitHub(r forge.Repo, p *gh.PullRequest) forge.PullRequest {
	out := forge.PullRequest{
		Repo: r, Number: p.GetNumber(), URL: p.GetHTMLURL(), NodeID: p.GetNodeID(),
		Title: p.GetTitle(), Body: p.GetBody(), Branch: p.GetHead().GetRef(), Base: p.GetBase().GetRef(),
		Head: p.GetHead().GetSHA(), State: forge.StateOpen,
		Created: p.GetCreatedAt().Time, Updated: p.GetUpdatedAt().Time,
	}
	out.IncidentID, out.Intent, _ = forge.ParseBranch(out.Branch)
	switch {
	case p.GetMerged() || p.MergedAt != nil:
		out.State, out.Merge, out.MergeCommit = forge.StateMerged, forge.MergeCompleted, p.GetMergeCommitSHA()
	case p.GetState() == "closed":
		out.State = forge.StateClosed
	case p.AutoMerge != nil:
		out.Merge = forge.MergeAuto
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	for _, u := range p.RequestedReviewers {
		out.Reviewers = append(out.Reviewers, u.GetLogin())
	}
	return out
}

// Get returns the pull request's state on GitHub, with the policy's
// automerge verdict from Records when known.
func (f *Forge) Get(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	c, err := f.app.Client(ctx, repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	p, _, err := c.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return forge.PullRequest{}, classify(fmt.Sprintf("get pull request #%d", number), err)
	}
	out := f.fromGitHub(repo, p)
	if f.records != nil {
		if rec, err := f.records.PR(ctx, repo, number); err == nil {
			out.Automerge = rec.Automerge
			if out.Merge == forge.MergeNone && rec.State == forge.StateOpen {
				out.Merge = rec.Merge
			}
		}
	}
	return out, nil
}

// Merge merges pr the way the repository wants: GitHub's native
// auto-merge when the repository allows it, the merge queue when the
// branch has one, else a REST merge pinned to the head medic pushed once
// the required checks pass (ErrNotReady until then). The caller decides
// that the policy allows it; Merge still refuses when the repository's
// .medic.yaml says merge.automerge: false or paused, and when the pull
// request's head is not the commit medic pushed (someone else's commits
// are never merged by medic).
func (f *Forge) Merge(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	cur, err := f.Get(ctx, pr.Repo, pr.Number)
	if err != nil {
		return forge.PullRequest{}, err
	}
	switch cur.State {
	case forge.StateMerged:
		return cur, nil
	case forge.StateClosed:
		return cur, fmt.Errorf("merge pull request #%d: %w: it is closed", pr.Number, forge.ErrConflict)
	}
	if pr.Head != "" && cur.Head != pr.Head {
		return cur, fmt.Errorf("merge pull request #%d: %w: its head %s is not the commit medic pushed (%s); a human must merge it",
			pr.Number, forge.ErrConflict, short(cur.Head), short(pr.Head))
	}
	rc, err := f.RepoConfig(ctx, pr.Repo)
	if err != nil {
		return cur, err
	}
	if !rc.Merge.Automerge || rc.Paused {
		return cur, fmt.Errorf("merge pull request #%d: %w: %s does not let medic merge (merge.automerge: false or paused)", pr.Number, forge.ErrRefused, ConfigFile)
	}
	c, err := f.app.Client(ctx, pr.Repo)
	if err != nil {
		return cur, err
	}
	if err := f.checkMergeable(ctx, c, pr); err != nil {
		return cur, err
	}
	info, err := f.repo(ctx, c, pr.Repo)
	if err != nil {
		return cur, err
	}
	method := rc.Merge.Method
	log := f.logger.With(keyRepo, pr.Repo.String(), keyPR, pr.Number)
	if info.allowAutoMerge && cur.NodeID != "" {
		err := f.enableAutoMerge(ctx, pr.Repo, cur.NodeID, method)
		switch {
		case err == nil:
			cur.Merge = forge.MergeAuto
			log.Info("auto-merge enabled", "method", method)
			return f.updated(ctx, cur)
		case isGraphQL(err, "merge queue"):
			return f.enqueue(ctx, cur)
		case isGraphQL(err, "clean status"):
			// Checks already pass: GitHub wants a plain merge.
		default:
			return cur, err
		}
	}
	res, _, err := c.PullRequests.Merge(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, "",
		&gh.PullRequestOptions{SHA: cur.Head, MergeMethod: method})
	if err != nil {
		switch code := statusOf(err); {
		case code == http.StatusMethodNotAllowed && strings.Contains(strings.ToLower(err.Error()), "merge queue"):
			return f.enqueue(ctx, cur)
		case code == http.StatusMethodNotAllowed:
			if err := f.checkMergeable(ctx, c, pr); err != nil {
				return cur, err
			}
			cur.Merge = forge.MergeWaiting
			if _, uerr := f.updated(ctx, cur); uerr != nil {
				return cur, uerr
			}
			return cur, fmt.Errorf("merge pull request #%d: %w: %s", pr.Number, forge.ErrNotReady, errorMessage(asErrorResponse(err)))
		default:
			return cur, classify(fmt.Sprintf("merge pull request #%d", pr.Number), err)
		}
	}
	cur.State, cur.Merge, cur.MergeCommit = forge.StateMerged, forge.MergeCompleted, res.GetSHA()
	log.Info("pull request merged", "method", method)
	return f.updated(ctx, cur)
}

// checkMergeable fails with ErrConflict when GitHub says the pull request
// conflicts with its base (mergeable false). GitHub computes mergeability
// in the background; unknown (null) is not a conflict.
func (f *Forge) checkMergeable(ctx context.Context, c *gh.Client, pr forge.PullRequest) error {
	p, _, err := c.PullRequests.Get(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number)
	if err != nil {
		return classify(fmt.Sprintf("get pull request #%d", pr.Number), err)
	}
	if p.Mergeable != nil && !p.GetMergeable() {
		return fmt.Errorf("merge pull request #%d: %w: it conflicts with %s (mergeable_state %s); medic will propose again on the new base",
			pr.Number, forge.ErrConflict, p.GetBase().GetRef(), p.GetMergeableState())
	}
	return nil
}

func asErrorResponse(err error) *gh.ErrorResponse {
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return er
	}
	return &gh.ErrorResponse{Message: redact.Scrub(err.Error())}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func isGraphQL(err error, substr string) bool {
	var ge *GraphQLError
	if !errors.As(err, &ge) {
		return false
	}
	for _, e := range ge.Errors {
		if strings.Contains(strings.ToLower(e.Message), substr) {
			return true
		}
	}
	return false
}

const enableAutoMergeMutation = `mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}`

const enqueueMutation = `mutation Enqueue($pullRequestId: ID!) {
  enqueuePullRequest(input: {pullRequestId: $pullRequestId}) {
    mergeQueueEntry { position state }
  }
}`

func (f *Forge) enableAutoMerge(ctx context.Context, repo forge.Repo, nodeID, method string) error {
	return f.app.graphQL(ctx, repo, "enable auto-merge", enableAutoMergeMutation,
		map[string]any{"pullRequestId": nodeID, "mergeMethod": strings.ToUpper(method)}, nil)
}

func (f *Forge) enqueue(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	if err := f.app.graphQL(ctx, pr.Repo, "add to the merge queue", enqueueMutation,
		map[string]any{"pullRequestId": pr.NodeID}, nil); err != nil {
		return pr, err
	}
	pr.Merge = forge.MergeQueued
	f.logger.Info("pull request queued", keyRepo, pr.Repo.String(), keyPR, pr.Number)
	return f.updated(ctx, pr)
}

func (f *Forge) updated(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	pr.Updated = f.now()
	if f.records != nil {
		if err := f.remember(ctx, pr); err != nil {
			return pr, err
		}
	}
	return pr, nil
}

// Close closes an open pull request, leaving comment on it first.
func (f *Forge) Close(ctx context.Context, pr forge.PullRequest, comment string) (forge.PullRequest, error) {
	c, err := f.app.Client(ctx, pr.Repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	if comment != "" {
		if _, _, err := c.Issues.CreateComment(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, &gh.IssueComment{Body: &comment}); err != nil {
			return forge.PullRequest{}, classify(fmt.Sprintf("comment on pull request #%d", pr.Number), err)
		}
	}
	p, _, err := c.PullRequests.Edit(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, &gh.PullRequest{State: gh.String("closed")})
	if err != nil {
		return forge.PullRequest{}, classify(fmt.Sprintf("close pull request #%d", pr.Number), err)
	}
	out := f.fromGitHub(pr.Repo, p)
	out.Automerge = pr.Automerge
	if out.State == forge.StateOpen {
		out.State = forge.StateClosed
	}
	return f.updated(ctx, out)
}
