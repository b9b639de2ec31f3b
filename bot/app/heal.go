package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// HealRequest is one proposal on its way to a pull request: the stages
// after the crew (patchers, policy, forge), wired for one repository.
type HealRequest struct {
	Repo forge.Repo
	// DefaultBranch is what the policy input calls the repository's
	// default branch.
	DefaultBranch string
	Environment   string
	// View is the repository at BaseCommit, read by the patcher.
	View       fs.FS
	BaseCommit string
	Patcher    patchers.Patcher
	Gate       policy.Gate
	Forge      forge.Forge
	Incident   incident.Incident
	Proposal   policy.Proposal
	// Now is the decision time (the policy's time.now_ns()).
	Now       time.Time
	Labels    []string
	Reviewers []string
}

// HealResult is what one pass did.
type HealResult struct {
	Change   patchers.Change
	Decision policy.Decision
	// PR is the pull request opened or updated; zero when none was
	// (a no-op change, or a policy that did not allow it).
	PR forge.PullRequest
	// MergeErr is why an auto-mergeable pull request did not merge yet
	// (forge.ErrNotReady: it merges when its checks pass).
	MergeErr error
}

// Heal plans the proposal's intent, asks the policy, opens or updates the
// incident's pull request when the policy allows it, and merges it when
// the policy allows that too. A change the policy does not allow is not an
// error: the result says why (Decision.Reasons). Errors are for what
// could not be done: a plan that failed, a forge that failed.
func Heal(ctx context.Context, hr HealRequest) (HealResult, error) {
	var res HealResult
	ch, err := hr.Patcher.Plan(ctx, hr.View, hr.Proposal.Intent)
	if err != nil {
		return res, fmt.Errorf("plan %s: %w", hr.Proposal.Intent.Kind, err)
	}
	res.Change = ch
	if ch.NoOp {
		return res, nil
	}
	incDoc, err := toMap(hr.Incident)
	if err != nil {
		return res, fmt.Errorf("policy input: %w", err)
	}
	res.Decision, err = hr.Gate.Decide(ctx, policy.Input{
		Incident: incDoc, Proposal: hr.Proposal, Change: ch, Now: hr.Now,
		Repo: policy.Repo{Owner: hr.Repo.Owner, Name: hr.Repo.Name, DefaultBranch: hr.DefaultBranch, Environment: hr.Environment},
	})
	if err != nil {
		return res, fmt.Errorf("decide: %w", err)
	}
	if !res.Decision.Allow {
		return res, nil
	}
	res.PR, err = hr.Forge.Propose(ctx, forge.Request{
		Repo: hr.Repo, Base: hr.DefaultBranch, BaseCommit: hr.BaseCommit, Environment: hr.Environment,
		Incident: hr.Incident, Proposal: hr.Proposal, Change: ch, Decision: res.Decision,
		Labels: hr.Labels, Reviewers: hr.Reviewers,
	})
	if err != nil {
		return res, fmt.Errorf("propose: %w", err)
	}
	// The forge's own Automerge is the decision's unless the repository
	// forbids merging (.medic.yaml merge.automerge: false); a dry run
	// opened nothing (number 0).
	if !res.Decision.Automerge || !res.PR.Automerge || res.PR.Number == 0 {
		return res, nil
	}
	merged, err := hr.Forge.Merge(ctx, res.PR)
	switch {
	case errors.Is(err, forge.ErrNotReady):
		res.MergeErr = err
	case err != nil:
		return res, fmt.Errorf("merge #%d: %w", res.PR.Number, err)
	default:
		merged.Reused = res.PR.Reused // Merge reports the state, not how Propose got there
		res.PR = merged
	}
	return res, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}
