package crew

import (
	"context"
	"errors"
	"strings"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// Crew proposes remediations for an incident. Suggest returns at least one
// proposal, or nil and an error: a *NoAction (errors.As) when nothing safe
// can be done, any other error when the crew could not decide (the
// repository could not be read, the context ended). Proposals never fight
// over one field of the target. Implementations are safe for concurrent
// use; the RepoView is only read.
type Crew interface {
	Suggest(ctx context.Context, in incident.Incident, repo RepoView) ([]Proposal, error)
}

// Func adapts a function to Crew.
type Func func(ctx context.Context, in incident.Incident, repo RepoView) ([]Proposal, error)

// Suggest calls f.
func (f Func) Suggest(ctx context.Context, in incident.Incident, repo RepoView) ([]Proposal, error) {
	return f(ctx, in, repo)
}

// Proposal is one remediation a crew proposes.
type Proposal struct {
	Intent patchers.Intent `json:"intent"`
	// Rationale says why, citing the evidence (anomalies, commits,
	// rendered values).
	Rationale string `json:"rationale"`
	// Confidence is how sure the crew is, in [0,1].
	Confidence float64 `json:"confidence"`
	// Source names who proposed it: "playbook/<rule>".
	Source string `json:"source"`
	// Evidence lists the facts the rationale rests on, one a line.
	Evidence []string `json:"evidence,omitempty"`
	// Rejected are the alternatives considered for this symptom and why
	// they were not proposed.
	Rejected []Alternative `json:"rejected,omitempty"`
}

// Alternative is a remediation considered and rejected.
type Alternative struct {
	// Kind is the intent kind considered.
	Kind string `json:"kind"`
	// Intent is the intent itself when it was computed far enough to
	// have one.
	Intent *patchers.Intent `json:"intent,omitempty"`
	// Reason says why it was rejected.
	Reason string `json:"reason"`
}

// Policy is the proposal in the form the policy gate decides on.
func (p Proposal) Policy() policy.Proposal {
	return policy.Proposal{Intent: p.Intent, Rationale: p.Rationale, Confidence: p.Confidence, Source: p.Source}
}

// NoAction is the error a Crew returns when no change to the repository can
// help: the incident moves to no_action, the reason is recorded and
// surfaced, and no pull request is opened.
type NoAction struct {
	// Reason says why nothing is proposed, citing the evidence.
	Reason string `json:"reason"`
	// Rejected are the remediations considered, each with its reason.
	Rejected []Alternative `json:"rejected,omitempty"`
}

// Error is "no action: <reason>".
func (n *NoAction) Error() string { return "no action: " + n.Reason }

// AsNoAction returns the *NoAction err wraps, if any.
func AsNoAction(err error) (*NoAction, bool) {
	var n *NoAction
	ok := errors.As(err, &n)
	return n, ok
}

// noAction builds a *NoAction from reasons (joined as sentences).
func noAction(rejected []Alternative, reasons ...string) *NoAction {
	return &NoAction{Reason: strings.Join(reasons, "; "), Rejected: rejected}
}
