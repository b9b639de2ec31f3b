package forge

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// Forge is where changes become pull requests. Implementations are safe for
// concurrent use.
type Forge interface {
	// Propose pushes the change to the incident's branch and opens its pull
	// request, or updates the incident's open pull request. It refuses
	// (ErrRefused) a request the policy did not allow.
	Propose(ctx context.Context, r Request) (PullRequest, error)
	// Merge merges an open pull request, or hands it to the forge's own
	// merge machinery (auto-merge, a merge queue). It returns the pull
	// request's state afterwards; ErrNotReady means it cannot merge yet
	// (checks pending) and may be retried later.
	Merge(ctx context.Context, pr PullRequest) (PullRequest, error)
	// Get returns a pull request's current state.
	Get(ctx context.Context, repo Repo, number int) (PullRequest, error)
	// Close closes an open pull request without merging it, leaving
	// comment on it when comment is not empty.
	Close(ctx context.Context, pr PullRequest, comment string) (PullRequest, error)
}

// Repo names a repository on a forge.
type Repo struct {
	Owner string `json:"owner"`
	Name  string `json:"name"`
}

// String is "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

var repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// Validate reports a missing or malformed owner or name.
func (r Repo) Validate() error {
	if !repoPart.MatchString(r.Owner) || !repoPart.MatchString(r.Name) || r.Name == "." || r.Name == ".." {
		return fmt.Errorf("repository %q must be owner/name", r.String())
	}
	return nil
}

// State is a pull request's state.
type State string

// Pull request states.
const (
	StateOpen   State = "open"
	StateMerged State = "merged"
	StateClosed State = "closed"
)

// MergeStatus says how an open pull request is on its way to merging.
type MergeStatus string

// Merge statuses of an open pull request.
const (
	MergeNone      MergeStatus = ""           // nobody asked to merge it
	MergeAuto      MergeStatus = "auto_merge" // the forge merges it when its checks pass
	MergeQueued    MergeStatus = "queued"     // it is in the branch's merge queue
	MergeWaiting   MergeStatus = "waiting"    // medic merges it when its checks pass
	MergeCompleted MergeStatus = "merged"     // merged
)

// PullRequest is the state of one of medic's pull requests.
type PullRequest struct {
	Repo   Repo   `json:"repo"`
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
	// NodeID is the forge's global id (GitHub's GraphQL node id).
	NodeID string `json:"node_id,omitempty"`
	Title  string `json:"title"`
	Body   string `json:"body,omitempty"`
	// Branch is the head branch: medic/<incident>-<intent>.
	Branch string `json:"branch"`
	// Base is the branch it merges into.
	Base string `json:"base"`
	// Head is the commit medic pushed.
	Head       string `json:"head"`
	IncidentID string `json:"incident_id"`
	// Intent is the proposal's intent kind.
	Intent string      `json:"intent"`
	State  State       `json:"state"`
	Merge  MergeStatus `json:"merge,omitempty"`
	// Automerge records that the policy allowed merging without a human.
	Automerge bool `json:"automerge"`
	// MergeCommit is the commit the merge made on Base.
	MergeCommit string    `json:"merge_commit,omitempty"`
	Labels      []string  `json:"labels,omitempty"`
	Reviewers   []string  `json:"reviewers,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// Reused says Propose updated an existing pull request rather than
	// opening one. Not stored.
	Reused bool `json:"-"`
}

// Request is everything Propose needs.
type Request struct {
	Repo Repo
	// Base is the branch the pull request merges into; empty means the
	// repository's default branch.
	Base string
	// BaseCommit is the commit the change was planned on; the change is
	// committed on top of it so the pull request shows exactly the planned
	// diff. Empty means Base's head.
	BaseCommit  string
	Environment string
	Incident    incident.Incident
	Proposal    policy.Proposal
	Change      patchers.Change
	Decision    policy.Decision
	// Labels and Reviewers come from the repository's configuration; the
	// decision's labels are added to Labels.
	Labels    []string
	Reviewers []string
	// Commands says the forge runs /medic commands posted on its pull
	// requests, so the body lists them. The forge sets it: the zero value
	// (the local forge) lists none.
	Commands bool
	// Reverts is the number of the pull request this one reverts (0:
	// none). The title starts "revert #N, ", a live reference medic
	// writes itself; the rest of the title is inert.
	Reverts int
}

// Validate refuses requests that must not become a pull request: an
// invalid incident or intent, a change that edits nothing, or a decision
// that does not allow it.
func (r Request) Validate() error {
	var errs []error
	if err := r.Repo.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := r.Incident.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := r.Proposal.Intent.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("proposal: %w", err))
	}
	if r.Change.NoOp || len(r.Change.Files) == 0 {
		errs = append(errs, errors.New("the change edits no file"))
	}
	for _, f := range r.Change.Files {
		if err := CheckPath(f.Path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if !r.Decision.Allow {
		reasons := strings.Join(r.Decision.Reasons, "; ")
		if reasons == "" {
			reasons = "no reason given"
		}
		return fmt.Errorf("%w: the policy does not allow this change (%s)", ErrRefused, reasons)
	}
	return nil
}

// Branch is the request's head branch.
func (r Request) Branch() string { return BranchName(r.Incident.ID, r.Proposal.Intent.Kind) }

// AllLabels is the configured labels plus the decision's, without repeats,
// in first-seen order.
func (r Request) AllLabels() []string {
	return Union(r.Labels, r.Decision.Labels)
}

// Union is the strings of lists without repeats or empties, in first-seen
// order.
func Union(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			if s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// CheckPath refuses a change path that could leave the repository or
// touch git's own files: absolute, with .. or empty segments, or inside
// .git.
func CheckPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return fmt.Errorf("change path %q must be relative to the repository root", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("change path %q has an empty, . or .. segment", p)
		}
		if strings.EqualFold(seg, ".git") {
			return fmt.Errorf("change path %q is inside .git", p)
		}
	}
	return nil
}

// BranchPrefix starts every medic branch.
const BranchPrefix = "medic/"

// BranchName is medic/<incident>-<intent>, the intent's underscores as
// dashes.
func BranchName(incidentID, intentKind string) string {
	return BranchPrefix + incidentID + "-" + strings.ReplaceAll(intentKind, "_", "-")
}

// ParseBranch splits a medic branch into its incident id and intent kind
// (one of patchers.KindNames); ok is false for any other branch. When two
// kinds' suffixes fit, the longer wins, so the answer does not depend on
// the catalogue's order.
func ParseBranch(branch string) (incidentID, intentKind string, ok bool) {
	rest, found := strings.CutPrefix(branch, BranchPrefix)
	if !found {
		return "", "", false
	}
	for _, k := range patchers.KindNames() {
		suffix := "-" + strings.ReplaceAll(k, "_", "-")
		if id, cut := strings.CutSuffix(rest, suffix); cut && id != "" && len(k) > len(intentKind) {
			incidentID, intentKind, ok = id, k, true
		}
	}
	return incidentID, intentKind, ok
}

// Title is the pull request title for a request.
func Title(r Request) string {
	s := r.Change.Summary
	if s == "" {
		s = r.Proposal.Intent.Kind + " " + r.Proposal.Intent.Target.String()
	}
	s = inertTitle(singleLine(redactSecrets(r, s)))
	if r.Reverts > 0 {
		s = fmt.Sprintf("revert #%d, %s", r.Reverts, s)
	}
	return "medic: " + s
}

// redactSecrets hides a secret-looking set_env value (old and new) in s,
// as the body does: titles and commit messages are mailed and cached too.
func redactSecrets(r Request, s string) string {
	diffs := make([]string, len(r.Change.Files))
	for i, f := range r.Change.Files {
		diffs[i] = f.Diff
	}
	rd := newRedactor(r.Proposal.Intent, diffs)
	return rd.text(s)
}

// TrailerIncident is the commit trailer naming the incident.
const TrailerIncident = "Medic-Incident"

// TrailerTarget is the commit trailer naming the intent's target in
// patchers.Target.String form (see ParseTarget).
const TrailerTarget = "Medic-Target"

// CommitMessage is the commit message for a request: the title, the
// rationale, and trailers naming the incident, the intent and its target.
func CommitMessage(r Request) string {
	var b strings.Builder
	b.WriteString(Title(r))
	b.WriteString("\n\n")
	if r.Proposal.Rationale != "" {
		b.WriteString(redactSecrets(r, strings.TrimSpace(r.Proposal.Rationale)))
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "%s: %s\n", TrailerIncident, r.Incident.ID)
	fmt.Fprintf(&b, "Medic-Intent: %s\n", r.Proposal.Intent.Kind)
	fmt.Fprintf(&b, "%s: %s\n", TrailerTarget, r.Proposal.Intent.Target)
	return b.String()
}

// ParseTarget reads a target written by patchers.Target.String,
// "namespace/Kind/name" with an optional "[container]"; it refuses
// anything else, but does not validate the names (Intent.Validate does).
func ParseTarget(s string) (patchers.Target, error) {
	rest := strings.TrimSpace(s)
	var t patchers.Target
	if strings.HasSuffix(rest, "]") {
		open := strings.LastIndex(rest, "[")
		if open < 0 {
			return patchers.Target{}, fmt.Errorf("target %q: ] without [", s)
		}
		t.Container, rest = rest[open+1:len(rest)-1], rest[:open]
		if t.Container == "" {
			return patchers.Target{}, fmt.Errorf("target %q: empty container", s)
		}
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" || strings.ContainsAny(rest, "[]") {
		return patchers.Target{}, fmt.Errorf("target %q is not namespace/Kind/name[container]", s)
	}
	t.Namespace, t.Kind, t.Name = parts[0], parts[1], parts[2]
	return t, nil
}

// Errors a forge returns; test with errors.Is.
var (
	// ErrRefused: the request must not become a pull request (invalid, or
	// not allowed by policy). Permanent.
	ErrRefused = errors.New("refused")
	// ErrNotFound: no such pull request, branch or repository.
	ErrNotFound = errors.New("not found")
	// ErrNotReady: the pull request cannot merge yet (checks pending,
	// not mergeable yet); try again later.
	ErrNotReady = errors.New("not ready to merge")
	// ErrConflict: the pull request is not open, or the change does not
	// apply to its base any more.
	ErrConflict = errors.New("conflict")
)

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix (no permission, no
// such repository, a rejected request).
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return permanent{err}
}

// IsPermanent reports whether err, or an error it wraps, is permanent.
// ErrRefused, ErrNotFound and ErrConflict are always permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || errors.Is(err, ErrRefused) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

// Records keeps pull-request records: the local forge's only copy of its
// pull requests, and the GitHub forge's memory of what it opened. A store
// shared by several medic replicas makes Create atomic across them.
// Implementations are safe for concurrent use.
type Records interface {
	// CreatePR stores a new pull request, assigning the next number in its
	// repository when pr.Number is 0. It fails with ErrConflict when the
	// incident already has an open pull request in that repository.
	CreatePR(ctx context.Context, pr PullRequest) (PullRequest, error)
	// UpdatePR replaces the stored record with the same repository and
	// number; ErrNotFound when there is none.
	UpdatePR(ctx context.Context, pr PullRequest) error
	// PR returns one pull request; ErrNotFound when there is none.
	PR(ctx context.Context, repo Repo, number int) (PullRequest, error)
	// OpenPRForIncident returns the incident's open pull request in repo;
	// ErrNotFound when there is none.
	OpenPRForIncident(ctx context.Context, repo Repo, incidentID string) (PullRequest, error)
	// ListPRs returns repo's pull requests in the given state (all states
	// when state is empty), oldest first.
	ListPRs(ctx context.Context, repo Repo, state State) ([]PullRequest, error)
}
