package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/medic-bot/medic/bot/forge"
)

// reconcile brings an open record in line with the repository, where a
// user may have merged or deleted the pull request's branch by hand: a
// branch (or, when it is gone, the recorded head) that the base branch
// contains is merged; a branch that is gone otherwise is closed. The
// record is stored when it changes. Finished records are returned as they
// are. Callers hold f.mu.
func (f *Forge) reconcile(ctx context.Context, rec forge.PullRequest) (forge.PullRequest, error) {
	if rec.State != forge.StateOpen {
		return rec, nil
	}
	ref, exists, err := f.branchHead(rec.Branch)
	if err != nil {
		return forge.PullRequest{}, err
	}
	head := plumbing.NewHash(rec.Head)
	if exists {
		head = ref.Hash()
	}
	mergeCommit, merged, err := f.mergedInto(head, rec.Base)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("reconcile pull request #%d: %w", rec.Number, err)
	}
	switch {
	case merged:
		rec.State, rec.Merge, rec.Head, rec.MergeCommit = forge.StateMerged, forge.MergeCompleted, head.String(), mergeCommit
	case !exists:
		rec.State, rec.Merge = forge.StateClosed, forge.MergeNone
	default:
		return rec, nil
	}
	rec.Updated = f.cfg.Now().UTC()
	if err := f.cfg.Records.UpdatePR(ctx, rec); err != nil {
		return forge.PullRequest{}, fmt.Errorf("record pull request #%d as %s: %w", rec.Number, rec.State, err)
	}
	f.log.Info("pull request finished outside medic", keyIncident, rec.IncidentID, keyPR, rec.Number, keyBranch, rec.Branch, "state", string(rec.State))
	return rec, nil
}

// mergedInto reports whether base contains commit h, and the commit of
// base's first-parent line that brought it in (h itself after a
// fast-forward; empty when h came in some other way).
func (f *Forge) mergedInto(h plumbing.Hash, base string) (string, bool, error) {
	baseRef, ok, err := f.branchHead(base)
	if err != nil || !ok {
		return "", false, err
	}
	tip, err := f.repo.CommitObject(baseRef.Hash())
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", base, err)
	}
	c, err := f.repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", h, err)
	}
	if c.Hash != tip.Hash {
		anc, err := c.IsAncestor(tip)
		if err != nil {
			return "", false, fmt.Errorf("is %s on %s: %w", h, base, err)
		}
		if !anc {
			return "", false, nil
		}
	}
	for cur := tip; ; {
		if cur.Hash == h {
			return cur.Hash.String(), true, nil
		}
		for _, p := range cur.ParentHashes[min(1, len(cur.ParentHashes)):] {
			if p == h {
				return cur.Hash.String(), true, nil
			}
		}
		if cur.NumParents() == 0 {
			return "", true, nil
		}
		next, err := cur.Parent(0)
		if err != nil {
			return "", true, nil
		}
		cur = next
	}
}
