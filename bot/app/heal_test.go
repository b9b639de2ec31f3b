package app

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// fakePatcher returns ChangeValue or ChangeErr.
type fakePatcher struct {
	ChangeValue patchers.Change
	ChangeErr   error
}

func (p fakePatcher) Name() string      { return "fake" }
func (p fakePatcher) Detect(fs.FS) bool { return true }
func (p fakePatcher) Plan(context.Context, fs.FS, patchers.Intent) (patchers.Change, error) {
	return p.ChangeValue, p.ChangeErr
}

// fakeForge records calls and answers with MergeErr on Merge.
type fakeForge struct {
	proposed []forge.Request
	merged   []forge.PullRequest
	MergeErr error
}

func (f *fakeForge) Propose(_ context.Context, r forge.Request) (forge.PullRequest, error) {
	if err := r.Validate(); err != nil {
		return forge.PullRequest{}, err
	}
	f.proposed = append(f.proposed, r)
	return forge.PullRequest{Repo: r.Repo, Number: len(f.proposed), State: forge.StateOpen, Automerge: r.Decision.Automerge, IncidentID: r.Incident.ID}, nil
}

func (f *fakeForge) Merge(_ context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	f.merged = append(f.merged, pr)
	if f.MergeErr != nil {
		return pr, f.MergeErr
	}
	pr.State, pr.MergeCommit = forge.StateMerged, "abc123"
	return pr, nil
}

func (f *fakeForge) Get(context.Context, forge.Repo, int) (forge.PullRequest, error) {
	return forge.PullRequest{}, forge.ErrNotFound
}

func (f *fakeForge) Close(_ context.Context, pr forge.PullRequest, _ string) (forge.PullRequest, error) {
	return pr, nil
}

func healRequest(p patchers.Patcher, g policy.Gate, f forge.Forge) HealRequest {
	in := forgetest.NewIntent(patchers.KindScale)
	return HealRequest{
		Repo: forge.Repo{Owner: "acme", Name: "infra"}, DefaultBranch: "main", Environment: "staging",
		View: fstest.MapFS{}, Patcher: p, Gate: g, Forge: f,
		Incident: incident.Incident{ID: "inc-1", Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}},
		Proposal: policy.Proposal{Intent: in, Source: "playbook", Confidence: 0.9},
		Now:      time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
	}
}

var aChange = patchers.Change{Files: []patchers.FileChange{{Path: "apps/checkout.yaml", Diff: "-a\n+b\n", Content: []byte("b\n")}}, Summary: "scale checkout"}

func TestHeal(t *testing.T) {
	allowMerge := policy.GateFunc(func(context.Context, policy.Input) (policy.Decision, error) {
		return policy.Decision{Allow: true, Automerge: true, Reasons: []string{"ok"}}, nil
	})
	review := policy.GateFunc(func(_ context.Context, in policy.Input) (policy.Decision, error) {
		if in.Repo.Environment != "staging" || in.Incident["id"] != "inc-1" || len(in.Change.Files) != 1 {
			t.Errorf("the gate saw %+v", in)
		}
		return policy.Decision{Allow: true, Reasons: []string{"needs a human"}}, nil
	})
	deny := policy.GateFunc(func(context.Context, policy.Input) (policy.Decision, error) {
		return policy.Decision{Reasons: []string{"kube-system"}}, nil
	})
	cancelled := policy.GateFunc(func(ctx context.Context, _ policy.Input) (policy.Decision, error) {
		return policy.Decision{}, context.Canceled
	})

	t.Run("merged when the policy allows", func(t *testing.T) {
		f := &fakeForge{}
		res, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, allowMerge, f))
		if err != nil || res.PR.State != forge.StateMerged || len(f.merged) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("left for review", func(t *testing.T) {
		f := &fakeForge{}
		res, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, review, f))
		if err != nil || res.PR.Number != 1 || res.PR.State != forge.StateOpen || len(f.merged) != 0 {
			t.Fatalf("%+v %v, merged %d", res, err, len(f.merged))
		}
	})
	t.Run("denied: no pull request, no error", func(t *testing.T) {
		f := &fakeForge{}
		res, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, deny, f))
		if err != nil || res.Decision.Allow || len(f.proposed) != 0 || res.Decision.Reasons[0] != "kube-system" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("no-op: nothing decided or proposed", func(t *testing.T) {
		f := &fakeForge{}
		called := false
		g := policy.GateFunc(func(context.Context, policy.Input) (policy.Decision, error) {
			called = true
			return policy.Decision{}, nil
		})
		res, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: patchers.Change{NoOp: true}}, g, f))
		if err != nil || !res.Change.NoOp || called || len(f.proposed) != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("plan error", func(t *testing.T) {
		_, err := Heal(t.Context(), healRequest(fakePatcher{ChangeErr: patchers.ErrRefused}, allowMerge, &fakeForge{}))
		if !errors.Is(err, patchers.ErrRefused) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("checks pending: proposed, merge later", func(t *testing.T) {
		f := &fakeForge{MergeErr: forge.ErrNotReady}
		res, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, allowMerge, f))
		if err != nil || !errors.Is(res.MergeErr, forge.ErrNotReady) || res.PR.State != forge.StateOpen {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("merge failure is an error", func(t *testing.T) {
		f := &fakeForge{MergeErr: forge.ErrConflict}
		_, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, allowMerge, f))
		if !errors.Is(err, forge.ErrConflict) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("cancelled decision", func(t *testing.T) {
		f := &fakeForge{}
		_, err := Heal(t.Context(), healRequest(fakePatcher{ChangeValue: aChange}, cancelled, f))
		if !errors.Is(err, context.Canceled) || len(f.proposed) != 0 {
			t.Fatalf("%v", err)
		}
	})
}
