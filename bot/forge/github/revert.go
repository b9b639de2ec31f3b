package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/gitrepo"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/registry"
	"github.com/medic-bot/medic/patchers/render"
	"github.com/medic-bot/medic/policy"
)

// LabelRevert marks the pull requests medic opens to revert one of its
// merged changes at someone's request.
const LabelRevert = "medic/revert"

// SourceRevert is the proposal source of a requested revert.
const SourceRevert = "revert"

// Revert opens a pull request reverting pr, one of medic's merged pull
// requests, at requestedBy's request (/medic revert). It reads pr's state
// afresh; a pull request that is not merged fails with ErrConflict, and
// one whose head is not a commit medic made (no Medic-Incident and
// Medic-Target trailers, for that incident) with ErrRefused.
//
// The commit reverted is the one the merge put on the base branch when it
// has a single parent (a squash or rebase merge), else pr's head (the
// merge commit of a merge-commit merge has two parents; the head's diff
// against its parent is exactly what medic proposed). Its diff is undone
// on the base branch's current head by the repository's patcher wrapped
// with patchers/history (a revert_commit intent on the original target),
// so later commits are kept. When the history patcher refuses (a hunk no
// longer applies, which the error names with its file; the revert would
// not change the target) Revert fails with ErrConflict, and when the
// change is already undone too; nothing is opened then.
//
// The revert is proposed through Propose for the same incident, on the
// branch medic/<incident>-revert-commit, labelled medic/revert: allowed,
// but never merged by medic (a human asked, another human reviews). An
// open revert pull request of the incident is updated rather than
// duplicated; an open pull request of the incident with another change
// fails with ErrConflict, as Propose would otherwise replace it.
func (f *Forge) Revert(ctx context.Context, pr forge.PullRequest, requestedBy string) (forge.PullRequest, error) {
	fail := func(err error) (forge.PullRequest, error) {
		return forge.PullRequest{}, fmt.Errorf("revert #%d: %w", pr.Number, err)
	}
	cur, err := f.Get(ctx, pr.Repo, pr.Number)
	if err != nil {
		return fail(err)
	}
	switch {
	case cur.State != forge.StateMerged:
		return fail(fmt.Errorf("%w: it is %s, not merged", forge.ErrConflict, cur.State))
	case cur.IncidentID == "":
		return fail(fmt.Errorf("%w: branch %s is not one of medic's", forge.ErrRefused, cur.Branch))
	case cur.Head == "":
		return fail(fmt.Errorf("%w: GitHub reports no head commit", forge.ErrNotFound))
	}
	log := f.logger.With(keyRepo, pr.Repo.String(), keyPR, pr.Number, keyIncident, cur.IncidentID)

	c, err := f.app.Client(ctx, pr.Repo)
	if err != nil {
		return fail(err)
	}
	info, err := f.repo(ctx, c, pr.Repo)
	if err != nil {
		return fail(err)
	}
	if err := f.checkOpenForIncident(ctx, c, cur); err != nil {
		return fail(err)
	}
	base := cur.Base
	if base == "" {
		base = info.defaultBranch
	}
	tok, err := f.app.Token(ctx, pr.Repo)
	if err != nil {
		return fail(err)
	}
	auth := gitrepo.Auth{Token: tok}
	repo, err := f.git.Open(ctx, info.cloneURL)
	if err != nil {
		return fail(err)
	}
	head, err := repo.Fetch(ctx, auth, base)
	if err != nil {
		return fail(err)
	}
	for _, sha := range []string{cur.Head, cur.MergeCommit} {
		if sha == "" {
			continue
		}
		if err := repo.FetchCommit(ctx, auth, sha); err != nil {
			return fail(err)
		}
	}
	var rc revertCommit
	if err := repo.WithGit(ctx, func(g *git.Repository) error {
		rc, err = pickRevertCommit(g, cur)
		return err
	}); err != nil {
		return fail(err)
	}
	// The history patcher diffs the commit against its parent.
	if err := repo.FetchCommit(ctx, auth, rc.parent); err != nil {
		return fail(err)
	}
	params, err := json.Marshal(patchers.RevertCommitParams{Commit: rc.sha})
	if err != nil {
		return fail(err)
	}
	in := patchers.Intent{Kind: patchers.KindRevertCommit, Target: rc.target, Params: params}
	var change patchers.Change
	if err := repo.WithGit(ctx, func(g *git.Repository) error {
		change, err = planRevert(ctx, g, head, in, f.render)
		return err
	}); err != nil {
		return fail(err)
	}
	if change.NoOp {
		return fail(fmt.Errorf("%w: nothing to revert, %s already undoes it (%s)", forge.ErrConflict, base, change.Summary))
	}
	change.Summary = strings.TrimPrefix(cur.Title, "medic: ")

	req := forge.Request{
		Repo: pr.Repo, Base: base, BaseCommit: head,
		Incident: incident.Incident{ID: cur.IncidentID, Workload: detect.Workload{
			Namespace: rc.target.Namespace, Kind: rc.target.Kind, Name: rc.target.Name, Container: rc.target.Container}},
		Proposal: policy.Proposal{
			Intent: in, Source: SourceRevert, Confidence: 1,
			Rationale: fmt.Sprintf("Requested by @%s with /medic revert on #%d: %s", requestedBy, cur.Number, cur.Title),
		},
		Change: change, Reverts: cur.Number,
		Decision: policy.Decision{
			Allow: true, Automerge: false,
			Reasons: []string{fmt.Sprintf("revert of #%d requested by @%s", cur.Number, requestedBy)},
			Labels:  []string{LabelRevert},
		},
	}
	if cfg, err := f.RepoConfig(ctx, pr.Repo); err == nil && len(change.Files) > 0 {
		req.Environment, _ = cfg.EnvironmentFor(change.Files[0].Path)
	}
	out, err := f.Propose(ctx, req)
	if err != nil {
		return fail(err)
	}
	log.Info("revert proposed", "revert_pr", out.Number, "commit", rc.sha, "requested_by", requestedBy)
	return out, nil
}

// checkOpenForIncident refuses a revert while the incident has an open
// pull request with another change: Propose keeps one open pull request
// per incident and would replace that change with the revert.
func (f *Forge) checkOpenForIncident(ctx context.Context, c *gh.Client, pr forge.PullRequest) error {
	open, err := f.openMedicPRs(ctx, c, pr.Repo)
	if err != nil {
		return err
	}
	for _, p := range open {
		id, kind, _ := forge.ParseBranch(p.GetHead().GetRef())
		if id == pr.IncidentID && kind != patchers.KindRevertCommit {
			return fmt.Errorf("%w: incident %s has an open pull request, #%d (%s); close or merge it first",
				forge.ErrConflict, id, p.GetNumber(), kind)
		}
	}
	return nil
}

// revertCommit is the commit a revert undoes and what medic wrote in its
// own commit.
type revertCommit struct {
	sha    string // the commit to undo
	parent string // its parent
	target patchers.Target
}

// pickRevertCommit reads medic's trailers from pr's head and picks the
// commit to undo: the merge's commit on the base when it has one parent,
// else the head.
func pickRevertCommit(g *git.Repository, pr forge.PullRequest) (revertCommit, error) {
	medic, err := g.CommitObject(plumbing.NewHash(pr.Head))
	if err != nil {
		return revertCommit{}, fmt.Errorf("read head commit %s: %w", short(pr.Head), err)
	}
	tr := trailers(medic.Message)
	switch id := tr[forge.TrailerIncident]; {
	case id == "":
		return revertCommit{}, fmt.Errorf("%w: head commit %s is not a commit medic made (no %s trailer); revert it by hand",
			forge.ErrRefused, short(pr.Head), forge.TrailerIncident)
	case id != pr.IncidentID:
		return revertCommit{}, fmt.Errorf("%w: head commit %s is medic's commit for incident %s, not %s",
			forge.ErrRefused, short(pr.Head), id, pr.IncidentID)
	}
	raw := tr[forge.TrailerTarget]
	if raw == "" {
		return revertCommit{}, fmt.Errorf("%w: head commit %s does not name its target (no %s trailer: an older medic made it); revert it by hand",
			forge.ErrRefused, short(pr.Head), forge.TrailerTarget)
	}
	target, err := forge.ParseTarget(raw)
	if err != nil {
		return revertCommit{}, fmt.Errorf("%w: head commit %s: %w", forge.ErrRefused, short(pr.Head), err)
	}
	undo := medic
	if pr.MergeCommit != "" && pr.MergeCommit != pr.Head {
		mc, err := g.CommitObject(plumbing.NewHash(pr.MergeCommit))
		if err != nil {
			return revertCommit{}, fmt.Errorf("read merge commit %s: %w", short(pr.MergeCommit), err)
		}
		if mc.NumParents() == 1 {
			undo = mc // squash or rebase: the change as it landed
		}
	}
	if undo.NumParents() != 1 {
		return revertCommit{}, fmt.Errorf("%w: commit %s has %d parents, medic reverts single-parent commits only",
			forge.ErrRefused, short(undo.Hash.String()), undo.NumParents())
	}
	return revertCommit{sha: undo.Hash.String(), parent: undo.ParentHashes[0].String(), target: target}, nil
}

// planRevert plans in on commit head's files with the repository's
// patcher, wrapped with the history intents.
func planRevert(ctx context.Context, g *git.Repository, head string, in patchers.Intent, limits render.Limits) (patchers.Change, error) {
	c, err := g.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return patchers.Change{}, fmt.Errorf("read commit %s: %w", short(head), err)
	}
	tree, err := c.Tree()
	if err != nil {
		return patchers.Change{}, fmt.Errorf("read tree of %s: %w", short(head), err)
	}
	view := history.TreeFS(tree)
	p, err := registry.ForLimits(view, ".", limits)
	if err != nil {
		return patchers.Change{}, forge.Permanent(fmt.Errorf("plan the revert: %w", err))
	}
	ch, err := history.Wrap(p, g).Plan(ctx, view, in)
	switch {
	case errors.Is(err, patchers.ErrRefused):
		return patchers.Change{}, fmt.Errorf("%w: %w", forge.ErrConflict, err)
	case err != nil:
		return patchers.Change{}, forge.Permanent(fmt.Errorf("plan the revert: %w", err))
	}
	return ch, nil
}

// trailers reads the "Key: value" lines of a commit message's last
// paragraph, where CommitMessage writes them; lines elsewhere (the
// rationale is untrusted text) are ignored. A repeated key keeps its last
// value.
func trailers(msg string) map[string]string {
	msg = strings.TrimRight(strings.ReplaceAll(msg, "\r\n", "\n"), "\n \t")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	} else {
		return nil // a subject line only
	}
	out := map[string]string{}
	for _, line := range strings.Split(msg, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}
