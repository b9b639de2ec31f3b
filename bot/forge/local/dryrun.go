package local

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/medic-bot/medic/bot/forge"
)

// DryRun is a forge that opens nothing: Propose writes the pull request it
// would open to Out and returns it with Number 0. Merge, Close and Get
// fail with an error wrapping forge.ErrRefused, since a dry run has no pull
// requests. Safe for concurrent use; writes to Out do not interleave.
type DryRun struct {
	out           io.Writer
	defaultBranch string
	mu            sync.Mutex
}

var _ forge.Forge = (*DryRun)(nil)

// NewDryRun returns a dry-run forge writing to out; defaultBranch is the
// base of requests that name none ("main" when empty).
func NewDryRun(out io.Writer, defaultBranch string) *DryRun {
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	return &DryRun{out: out, defaultBranch: defaultBranch}
}

// Propose validates r like a real forge (refusing what it would refuse)
// and writes the pull request it would open: repository, base, branch,
// title, labels, reviewers, whether it would merge on its own and why, the
// files, and the body.
func (d *DryRun) Propose(ctx context.Context, r forge.Request) (forge.PullRequest, error) {
	if err := r.Validate(); err != nil {
		return forge.PullRequest{}, fmt.Errorf("propose: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return forge.PullRequest{}, err
	}
	pr := forge.PullRequest{
		Repo:       r.Repo,
		Title:      forge.Title(r),
		Body:       renderBody(r),
		Branch:     r.Branch(),
		Base:       r.Base,
		IncidentID: r.Incident.ID,
		Intent:     r.Proposal.Intent.Kind,
		State:      forge.StateOpen,
		Automerge:  r.Decision.Automerge,
		Labels:     r.AllLabels(),
		Reviewers:  r.Reviewers,
	}
	if pr.Base == "" {
		pr.Base = d.defaultBranch
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dry run: would open a pull request on %s\n", pr.Repo)
	fmt.Fprintf(&b, "  base:      %s", pr.Base)
	if r.BaseCommit != "" {
		fmt.Fprintf(&b, " at %s", r.BaseCommit)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  branch:    %s\n", pr.Branch)
	fmt.Fprintf(&b, "  title:     %s\n", pr.Title)
	fmt.Fprintf(&b, "  labels:    %s\n", orNone(pr.Labels))
	fmt.Fprintf(&b, "  reviewers: %s\n", orNone(pr.Reviewers))
	automerge := "no"
	if pr.Automerge {
		automerge = "yes"
	}
	fmt.Fprintf(&b, "  automerge: %s", automerge)
	if len(r.Decision.Reasons) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(r.Decision.Reasons, "; "))
	}
	b.WriteString("\n  files:\n")
	for _, f := range r.Change.Files {
		if f.Deleted {
			fmt.Fprintf(&b, "    %s (deleted)\n", f.Path)
		} else {
			fmt.Fprintf(&b, "    %s\n", f.Path)
		}
	}
	b.WriteString("  body:\n")
	for _, l := range strings.Split(strings.TrimRight(pr.Body, "\n"), "\n") {
		if l == "" {
			b.WriteString("\n")
		} else {
			b.WriteString("    " + l + "\n")
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := io.WriteString(d.out, b.String()); err != nil {
		return forge.PullRequest{}, fmt.Errorf("write dry run: %w", err)
	}
	return pr, nil
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

func dryRunErr(what string) error {
	return fmt.Errorf("%s: %w: this is a dry run, no pull request exists", what, forge.ErrRefused)
}

// Merge fails: a dry run has no pull requests.
func (d *DryRun) Merge(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	return forge.PullRequest{}, dryRunErr(fmt.Sprintf("merge pull request #%d", pr.Number))
}

// Get fails: a dry run has no pull requests.
func (d *DryRun) Get(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	return forge.PullRequest{}, dryRunErr(fmt.Sprintf("get pull request #%d", number))
}

// Close fails: a dry run has no pull requests.
func (d *DryRun) Close(ctx context.Context, pr forge.PullRequest, comment string) (forge.PullRequest, error) {
	return forge.PullRequest{}, dryRunErr(fmt.Sprintf("close pull request #%d", pr.Number))
}
