package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// RepoOptions describes a repository of the double.
type RepoOptions struct {
	Owner, Name string
	// DefaultBranch defaults to "main".
	DefaultBranch string
	// CloneURL is what the API reports as clone_url (a git server's URL);
	// it defaults to URL()/owner/name.git.
	CloneURL string
	// AllowAutoMerge allows enabling auto-merge on pull requests.
	AllowAutoMerge bool
	// MergeQueue makes the default branch require a merge queue: REST
	// merges are refused and pull requests go through enqueuePullRequest.
	MergeQueue bool
	// RequiredChecks are the status checks (check run names or commit
	// status contexts) the default branch requires before merging.
	RequiredChecks []string
	Private        bool
	// Installation is the App installation that can access the
	// repository; 0 means the owner's installation, made if needed.
	Installation int64
}

// PullRequest is the double's state of a pull request.
type PullRequest struct {
	Number int
	NodeID string
	Title  string
	Body   string
	// Head and Base are branch names; HeadSHA and BaseSHA their commits
	// when last resolved.
	Head, Base       string
	HeadSHA, BaseSHA string
	// State is "open" or "closed".
	State          string
	Draft          bool
	Merged         bool
	MergeCommitSHA string
	// MergeMethod is how it was merged: "merge", "squash" or "rebase".
	MergeMethod string
	Labels      []string
	// RequestedReviewers are user logins.
	RequestedReviewers []string
	// AutoMerge is set while auto-merge is enabled.
	AutoMerge *AutoMerge
	// Queued is true while the pull request is in the merge queue, since
	// QueuedAt.
	Queued   bool
	QueuedAt time.Time
	// Mergeable and MergeableState override what the double reports
	// (by default mergeable, "clean" or "blocked" by required checks).
	Mergeable      *bool
	MergeableState string
	User           string
	Created        time.Time
	Updated        time.Time
	Closed         time.Time
	MergedAt       time.Time
}

// AutoMerge is an enabled auto-merge request.
type AutoMerge struct {
	// Method is "merge", "squash" or "rebase".
	Method  string
	Enabled time.Time
}

// Issue is the double's state of an issue (not a pull request).
type Issue struct {
	Number    int
	NodeID    string
	Title     string
	Body      string
	State     string
	Labels    []string
	Assignees []string
	User      string
	Created   time.Time
	Updated   time.Time
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID     int64
	NodeID string
	// Issue is the issue or pull request number.
	Issue     int
	Body      string
	User      string
	Reactions []Reaction
	Created   time.Time
}

// Reaction is a reaction to a comment.
type Reaction struct {
	ID      int64
	Content string
	User    string
}

// CheckRun is a check run on a commit.
type CheckRun struct {
	ID         int64
	NodeID     string
	Name       string
	HeadSHA    string
	Status     string
	Conclusion string
	DetailsURL string
	ExternalID string
	Output     CheckRunOutput
	Started    time.Time
	Completed  time.Time
}

// CheckRunOutput is a check run's output.
type CheckRunOutput struct {
	Title, Summary, Text string
}

// Status is a commit status.
type Status struct {
	ID          int64
	Context     string
	State       string
	Description string
	TargetURL   string
	Created     time.Time
}

type repoState struct {
	opts RepoOptions
	// mergeCheck tells whether a head merges cleanly into a base (see
	// WithMergeCheck); nil means always.
	mergeCheck func(headSHA, base string) bool
	created    time.Time
	id         int64
	nodeID     string
	refs       map[string]string            // branch -> sha (without a resolver)
	files      map[string]map[string]string // ref -> path -> content
	perms      map[string]string
	nextNumber int
	pulls      map[int]*PullRequest
	issues     map[int]*Issue
	comments   []*Comment
	checkRuns  []*CheckRun
	statuses   map[string][]*Status
	deleted    []string
}

func repoKey(owner, name string) string { return strings.ToLower(owner + "/" + name) }

// AddRepo adds a repository, with its default branch pointing at a
// made-up commit unless a ref resolver is set.
func (s *Server) AddRepo(o RepoOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.DefaultBranch == "" {
		o.DefaultBranch = "main"
	}
	if o.CloneURL == "" {
		o.CloneURL = s.srv.URL + "/" + o.Owner + "/" + o.Name + ".git"
	}
	if o.Installation == 0 {
		for _, in := range s.installations {
			if strings.EqualFold(in.account, o.Owner) && (o.Installation == 0 || in.id < o.Installation) {
				o.Installation = in.id
			}
		}
		if o.Installation == 0 {
			o.Installation = s.addInstallationLocked(o.Owner)
		}
	} else if s.installations[o.Installation] == nil {
		s.tb.Fatalf("githubtest: AddRepo %s/%s: no installation %d", o.Owner, o.Name, o.Installation)
	}
	s.nextID++
	var check func(headSHA, base string) bool
	if s.mergeCheck != nil {
		owner, name, mc := o.Owner, o.Name, s.mergeCheck
		check = func(headSHA, base string) bool { return mc(owner, name, headSHA, base) }
	}
	r := &repoState{
		mergeCheck: check,
		opts:       o,
		created:    s.now().UTC().Truncate(time.Second),
		id:         s.nextID,
		nodeID:     nodeID("R_", s.nextID),
		refs:       map[string]string{o.DefaultBranch: fakeSHA(o.Owner, o.Name, o.DefaultBranch, "0")},
		files:      map[string]map[string]string{},
		perms:      map[string]string{},
		pulls:      map[int]*PullRequest{},
		issues:     map[int]*Issue{},
		statuses:   map[string][]*Status{},
	}
	s.repos[repoKey(o.Owner, o.Name)] = r
}

// Installation returns the installation id of a repository.
func (s *Server) Installation(owner, repo string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRepo(owner, repo).opts.Installation
}

func (s *Server) mustRepo(owner, repo string) *repoState {
	r := s.repos[repoKey(owner, repo)]
	if r == nil {
		s.tb.Fatalf("githubtest: no repository %s/%s (AddRepo it first)", owner, repo)
	}
	return r
}

// nodeID makes a GraphQL global id in GitHub's newer style: a type
// prefix and an opaque part.
func nodeID(prefix string, id int64) string {
	return fmt.Sprintf("%skwDOtest%d", prefix, id)
}

func fakeSHA(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// SetRef points a branch at a commit, for the double's own ref
// resolution (without WithRefResolver).
func (s *Server) SetRef(owner, repo, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(owner, repo).refs[branch] = sha
}

// DeletedRefs returns the refs deleted through the API ("heads/x").
func (s *Server) DeletedRefs(owner, repo string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mustRepo(owner, repo).deleted...)
}

// SetFile sets a file's content at ref (a branch, or "" for the default
// branch) for GET contents.
func (s *Server) SetFile(owner, repo, ref, path, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repo)
	if ref == "" {
		ref = r.opts.DefaultBranch
	}
	if r.files[ref] == nil {
		r.files[ref] = map[string]string{}
	}
	r.files[ref][strings.Trim(path, "/")] = content
}

// SetPermission sets a user's permission on a repository: "admin",
// "maintain", "write", "triage", "read" or "none".
func (s *Server) SetPermission(owner, repo, user, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(owner, repo).perms[strings.ToLower(user)] = permission
}

// PR returns a copy of a pull request; ok is false when there is none.
func (s *Server) PR(owner, repo string, number int) (pr PullRequest, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustRepo(owner, repo).pulls[number]
	if p == nil {
		return PullRequest{}, false
	}
	return p.clone(), true
}

// PRs returns copies of a repository's pull requests by number.
func (s *Server) PRs(owner, repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repo)
	var out []PullRequest
	for _, p := range r.pulls {
		out = append(out, p.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// UpdatePR changes a pull request's state as the test needs (say, a
// conflict: Mergeable false, MergeableState "dirty"); the change is not
// validated.
func (s *Server) UpdatePR(owner, repo string, number int, update func(*PullRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustRepo(owner, repo).pulls[number]
	if p == nil {
		s.tb.Fatalf("githubtest: no pull request %s/%s#%d", owner, repo, number)
	}
	update(p)
}

func (p *PullRequest) clone() PullRequest {
	c := *p
	c.Labels = slices.Clone(p.Labels)
	c.RequestedReviewers = slices.Clone(p.RequestedReviewers)
	if p.AutoMerge != nil {
		am := *p.AutoMerge
		c.AutoMerge = &am
	}
	if p.Mergeable != nil {
		m := *p.Mergeable
		c.Mergeable = &m
	}
	return c
}

// Issues returns copies of a repository's issues (not pull requests).
func (s *Server) Issues(owner, repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, i := range s.mustRepo(owner, repo).issues {
		c := *i
		c.Labels = slices.Clone(i.Labels)
		c.Assignees = slices.Clone(i.Assignees)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// Comments returns copies of the comments on an issue or pull request,
// oldest first.
func (s *Server) Comments(owner, repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.mustRepo(owner, repo).comments {
		if c.Issue == number {
			cc := *c
			cc.Reactions = slices.Clone(c.Reactions)
			out = append(out, cc)
		}
	}
	return out
}

// CheckRuns returns copies of the check runs on a commit, oldest first.
func (s *Server) CheckRuns(owner, repo, sha string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, c := range s.mustRepo(owner, repo).checkRuns {
		if c.HeadSHA == sha {
			out = append(out, *c)
		}
	}
	return out
}

// CompleteCheck completes the check run name on sha with conclusion
// ("success", "failure", "neutral", ...), creating it when needed, as a
// CI system would; then pull requests with auto-merge or in the merge
// queue whose required checks now pass are merged.
func (s *Server) CompleteCheck(owner, repo, sha, name, conclusion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repo)
	now := s.now().UTC().Truncate(time.Second)
	var run *CheckRun
	for _, c := range r.checkRuns {
		if c.HeadSHA == sha && c.Name == name {
			run = c
		}
	}
	if run == nil {
		s.nextID++
		run = &CheckRun{ID: s.nextID, NodeID: nodeID("CR_", s.nextID), Name: name, HeadSHA: sha, Started: now}
		r.checkRuns = append(r.checkRuns, run)
	}
	run.Status, run.Conclusion, run.Completed = "completed", conclusion, now
	s.autoMergeLocked(r)
}

// SetStatus sets a commit status (state "error", "failure", "pending"
// or "success") for context on sha; then pull requests waiting for it
// merge as with CompleteCheck.
func (s *Server) SetStatus(owner, repo, sha, context, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repo)
	s.nextID++
	r.statuses[sha] = append(r.statuses[sha], &Status{ID: s.nextID, Context: context, State: state, Created: s.now().UTC().Truncate(time.Second)})
	s.autoMergeLocked(r)
}

// checkVerdict is the state of one required check on a commit.
type checkVerdict int

const (
	checkMissing checkVerdict = iota
	checkPending
	checkFailed
	checkPassed
)

func (r *repoState) verdict(sha, name string) checkVerdict {
	v := checkMissing
	for _, c := range r.checkRuns {
		if c.HeadSHA != sha || c.Name != name {
			continue
		}
		switch {
		case c.Status != "completed":
			v = checkPending
		case c.Conclusion == "success" || c.Conclusion == "neutral" || c.Conclusion == "skipped":
			v = checkPassed
		default:
			v = checkFailed
		}
	}
	if v != checkMissing {
		return v
	}
	// The latest status of the context counts.
	for _, st := range r.statuses[sha] {
		if st.Context != name {
			continue
		}
		switch st.State {
		case "success":
			v = checkPassed
		case "pending":
			v = checkPending
		default:
			v = checkFailed
		}
	}
	return v
}

// blockingCheck returns GitHub's message for the first required check
// that does not pass on sha, or "" when all pass.
func (r *repoState) blockingCheck(sha string) string {
	for _, name := range r.opts.RequiredChecks {
		switch r.verdict(sha, name) {
		case checkMissing, checkPending:
			return fmt.Sprintf("Required status check %q is expected.", name)
		case checkFailed:
			return fmt.Sprintf("Required status check %q is failing.", name)
		}
	}
	return ""
}

// resolveLocked resolves a branch with the resolver or the double's refs.
func (s *Server) resolveLocked(r *repoState, ref string) (string, error) {
	if s.resolver != nil {
		sha, err := s.resolver(r.opts.Owner, r.opts.Name, ref)
		if err == nil && sha == "" {
			err = errors.New("empty sha")
		}
		return sha, err
	}
	if sha, ok := r.refs[ref]; ok {
		return sha, nil
	}
	return "", fmt.Errorf("no ref %q", ref)
}

// refreshHeadLocked re-reads an open pull request's head commit.
func (s *Server) refreshHeadLocked(r *repoState, p *PullRequest) {
	if p.State != "open" {
		return
	}
	if sha, err := s.resolveLocked(r, p.Head); err == nil && sha != p.HeadSHA {
		p.HeadSHA = sha
		p.Updated = s.now().UTC().Truncate(time.Second)
	}
}

var errNotMergeable = errors.New("Pull Request is not mergeable")

// mergeLocked merges an open pull request, through the merger when set.
func (s *Server) mergeLocked(r *repoState, p *PullRequest, method, title, message string) error {
	if method == "" {
		method = "merge"
	}
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.Number, r.opts.Owner, p.Head)
		if method == "squash" {
			title = fmt.Sprintf("%s (#%d)", p.Title, p.Number)
		}
	}
	if message == "" && method != "squash" {
		message = p.Title
	}
	var sha string
	if s.merger != nil {
		var err error
		sha, err = s.merger(r.opts.Owner, r.opts.Name, p.HeadSHA, p.Base, method, title, message)
		if err != nil {
			return fmt.Errorf("%w: %v", errNotMergeable, err)
		}
	} else {
		sha = fakeSHA(r.opts.Owner, r.opts.Name, p.HeadSHA, p.Base, method)
		r.refs[p.Base] = sha
	}
	now := s.now().UTC().Truncate(time.Second)
	p.State, p.Merged, p.MergeCommitSHA, p.MergeMethod = "closed", true, sha, method
	p.Closed, p.MergedAt, p.Updated = now, now, now
	p.AutoMerge, p.Queued = nil, false
	return nil
}

// autoMergeLocked merges pull requests with auto-merge enabled or in the
// merge queue once their required checks pass, as GitHub does.
func (s *Server) autoMergeLocked(r *repoState) {
	numbers := make([]int, 0, len(r.pulls))
	for n := range r.pulls {
		numbers = append(numbers, n)
	}
	sort.Ints(numbers)
	for _, n := range numbers {
		p := r.pulls[n]
		if p.State != "open" || (p.AutoMerge == nil && !p.Queued) {
			continue
		}
		s.refreshHeadLocked(r, p)
		if r.blockingCheck(p.HeadSHA) != "" || (p.Mergeable != nil && !*p.Mergeable) {
			continue
		}
		method := "merge"
		if p.AutoMerge != nil {
			method = p.AutoMerge.Method
		}
		if err := s.mergeLocked(r, p, method, "", ""); err != nil {
			// GitHub disables auto-merge when the merge fails.
			p.AutoMerge, p.Queued = nil, false
			p.MergeableState = "dirty"
			f := false
			p.Mergeable = &f
		}
	}
}

// AddComment adds a comment by user (a person, not the App) on issue or
// pull request number, as if they wrote it on GitHub, and returns it; a
// test then delivers the issue_comment webhook naming its ID.
func (s *Server) AddComment(owner, repo string, number int, user, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repo)
	s.nextID++
	c := &Comment{ID: s.nextID, NodeID: nodeID("IC_", s.nextID), Issue: number, Body: body, User: user, Created: s.now().UTC().Truncate(time.Second)}
	r.comments = append(r.comments, c)
	return *c
}
