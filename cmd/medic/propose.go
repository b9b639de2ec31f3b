package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/medic-bot/medic/bot/app"
	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/local"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/render"
	"github.com/medic-bot/medic/policy"
)

// prOptions are `medic patch --pr`'s settings.
type prOptions struct {
	dryRun       bool
	incidentFile string
	environment  string
	storeDSN     string
	rationale    string
	policyDir    string
	// limits bound the renders (medic.yaml's render:, from --config).
	limits render.Limits
}

func (o *prOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "with --pr: print the pull request medic would open, change nothing")
	f.StringVar(&o.incidentFile, "incident", "", "with --pr: the incident (JSON) the change answers; default: a manual incident of its own for the intent")
	f.StringVar(&o.environment, "environment", "", "with --pr: the environment the policy decides for (default: the first .medic.yaml environment whose paths hold the target, else production)")
	f.StringVar(&o.storeDSN, "store", "", "with --pr: where the local forge keeps pull requests (default sqlite:<repo>/.git/medic.db)")
	f.StringVar(&o.rationale, "rationale", "", "with --pr: why this change (goes into the pull request)")
	f.StringVar(&o.policyDir, "policy", ".medic/policy", "with --pr: the repository's policy folder (the default bundle when absent)")
}

// proposeLocal plans in on the committed HEAD of the git repository at
// dir, asks the policy, and opens (or updates) the incident's pull request
// on the local git forge: a branch medic/<incident>-<intent> in the
// repository and a record in the store. When the policy allows
// auto-merge, it merges it as a merge commit on the default branch.
func proposeLocal(cmd *cobra.Command, dir string, in patchers.Intent, o prOptions) error {
	ctx := cmd.Context()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	gr, err := git.PlainOpen(dir)
	if err != nil {
		return usageError{fmt.Errorf("--pr needs --repo to be the root of a git work tree: %w", err)}
	}
	head, err := gr.Head()
	if err != nil {
		return usageError{fmt.Errorf("--pr: the repository has no commit: %w", err)}
	}
	if !head.Name().IsBranch() {
		return usageError{errors.New("--pr: HEAD is detached; check out the branch pull requests should merge into")}
	}
	commit, err := gr.CommitObject(head.Hash())
	if err != nil {
		return err
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	// The plan reads the committed tree: the pull request is against
	// HEAD, whatever the work tree holds.
	view := history.TreeFS(tree)
	p, err := pickPatcher(view, ".", o.limits)
	if err != nil {
		return usageError{err}
	}
	p = history.Wrap(p, gr)

	gate, gerr := policy.NewRepoGate(ctx, view, o.policyDir, policy.Options{})
	if gerr != nil {
		fmt.Fprintf(errOut, "policy %s is broken, so medic fails closed: %v\n", o.policyDir, gerr)
	}
	inc, err := loadIncident(o.incidentFile, in)
	if err != nil {
		return usageError{err}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	repo := forge.Repo{Owner: "local", Name: repoName(abs)}
	branch := head.Name().Short()

	var f forge.Forge
	if o.dryRun {
		f = local.NewDryRun(out, branch)
	} else {
		dsn := o.storeDSN
		if dsn == "" {
			dsn = "sqlite:" + filepath.Join(abs, ".git", "medic.db")
		}
		st, err := store.Open(ctx, dsn)
		if err != nil {
			return usageError{err}
		}
		defer st.Close()
		f, err = local.New(local.Config{Dir: abs, Repo: repo, Records: st})
		if err != nil {
			return usageError{err}
		}
	}
	res, err := app.Heal(ctx, app.HealRequest{
		Repo: repo, DefaultBranch: branch, Environment: o.environment,
		View: view, BaseCommit: head.Hash().String(), Patcher: p, Gate: gate, Forge: f,
		Incident: inc, Proposal: policy.Proposal{Intent: in, Rationale: o.rationale, Confidence: 1, Source: "cli"},
		Now: time.Now().UTC(),
	})
	if err != nil && res.PR.Number != 0 {
		// The pull request is open; only the merge failed.
		pr := res.PR
		fmt.Fprintf(out, "pull request #%d %s: %s -> %s (%s)\n", pr.Number, prVerb(pr), pr.Branch, pr.Base, short(pr.Head))
		fmt.Fprintf(out, "not merged, the pull request stays open: %v\n", err)
		return noError{fmt.Sprintf("pull request #%d is open but did not merge: %v", pr.Number, err)}
	}
	if err != nil {
		if errors.Is(err, history.ErrNoPrevious) {
			return noError{err.Error()}
		}
		if errors.Is(err, patchers.ErrRefused) {
			return noError{fmt.Sprintf("%s patcher refused the plan: %v", p.Name(), err)}
		}
		if errors.Is(err, forge.ErrRefused) {
			return noError{err.Error()}
		}
		return usageError{err}
	}
	if res.Change.NoOp {
		fmt.Fprintf(out, "%s\nnothing to propose: the repository already says this\n", res.Change.Summary)
		return nil
	}
	printDecision(out, res.Decision)
	if !res.Decision.Allow {
		return noError{"the policy does not allow this change: no pull request"}
	}
	if o.dryRun {
		return nil
	}
	pr := res.PR
	fmt.Fprintf(out, "pull request #%d %s: %s -> %s (%s)\n", pr.Number, prVerb(pr), pr.Branch, pr.Base, short(pr.Head))
	switch {
	case pr.State == forge.StateMerged:
		fmt.Fprintf(out, "merged into %s as %s\n", pr.Base, short(pr.MergeCommit))
	case res.MergeErr != nil:
		fmt.Fprintf(out, "not merged yet: %v\n", res.MergeErr)
	default:
		fmt.Fprintln(out, "waiting for a human review (merge the branch to accept it)")
	}
	return nil
}

// prVerb is "updated" for a pull request Propose found open and updated,
// merged afterwards or not, and "opened" otherwise.
func prVerb(pr forge.PullRequest) string {
	if pr.Reused {
		return "updated"
	}
	return "opened"
}

func printDecision(w io.Writer, d policy.Decision) {
	fmt.Fprintf(w, "policy: allow=%v automerge=%v\n", d.Allow, d.Automerge)
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// repoName is a forge-safe name for the repository folder.
func repoName(abs string) string {
	name := filepath.Base(abs)
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if s := strings.Trim(b.String(), "."); s != "" {
		return s
	}
	return "repo"
}

// loadIncident reads an incident file, or makes a manual incident for the
// intent (see manualIncidentID).
func loadIncident(file string, in patchers.Intent) (incident.Incident, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return incident.Incident{}, fmt.Errorf("read incident: %w", err)
		}
		var inc incident.Incident
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&inc); err != nil {
			return incident.Incident{}, fmt.Errorf("parse incident %s: %w", file, err)
		}
		if err := inc.Validate(); err != nil {
			return incident.Incident{}, fmt.Errorf("incident %s: %w", file, err)
		}
		return inc, nil
	}
	id, err := manualIncidentID(in)
	if err != nil {
		return incident.Incident{}, err
	}
	t := in.Target
	return incident.Incident{
		ID:       id,
		Workload: detect.Workload{Namespace: t.Namespace, Kind: t.Kind, Name: t.Name, Container: t.Container},
		Opened:   time.Now().UTC(),
	}, nil
}

// manualIncidentID names the manual incident of an intent given by hand:
// "manual-" and a hash of the canonical intent (kind, target, and params
// with keys sorted and spacing dropped). The same intent always gets the
// same id, so running the command again updates its own pull request;
// a different intent for the same target gets its own incident, branch
// and pull request instead of replacing the pending one.
func manualIncidentID(in patchers.Intent) (string, error) {
	var params any
	if len(in.Params) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(in.Params)))
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil {
			return "", fmt.Errorf("canonical intent: params: %w", err)
		}
	}
	canon, err := json.Marshal(struct {
		Kind   string          `json:"kind"`
		Target patchers.Target `json:"target"`
		Params any             `json:"params"`
	}{in.Kind, in.Target, params})
	if err != nil {
		return "", fmt.Errorf("canonical intent: %w", err)
	}
	sum := sha256.Sum256(canon)
	return "manual-" + hex.EncodeToString(sum[:5]), nil
}
