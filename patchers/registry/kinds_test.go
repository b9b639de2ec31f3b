package registry_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/kustomize"
	"github.com/medic-bot/medic/patchers/manifest"
	"github.com/medic-bot/medic/patchers/registry"
)

// layouts are every patcher, each with the fixture repo of its layout.
var layouts = []struct {
	fixture string
	patcher func() patchers.Patcher
}{
	{"kustomize", func() patchers.Patcher { return kustomize.New() }},
	{"helm", func() patchers.Patcher { return helm.New() }},
	{"manifests", func() patchers.Patcher { return manifest.New() }},
}

// targets are workloads every fixture defines: checkout (with an HPA,
// whose image the release changes) and cart (without one).
var targets = []patchers.Target{
	{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"},
	{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "app"},
}

// release is the image the test's second commit sets, so that history
// has a change to roll back and a commit to revert.
const release = "registry.example.com/shop/checkout:9.9.9"

// TestEveryKindHasPatcherSupport fails when an intent kind of the
// catalogue is not carried out by some patcher: on each layout's fixture,
// made a git repository with a release commit, every example params of
// every kind is planned as a change, on one of the targets, by the bare
// patcher, or the patcher says ErrNotSupported for an intent
// that needs git history and the history wrapper plans it.
func TestEveryKindHasPatcherSupport(t *testing.T) {
	if len(layouts) == 0 {
		t.Fatal("no layouts")
	}
	for _, l := range layouts {
		t.Run(l.fixture, func(t *testing.T) {
			dir, repo, head := releaseRepo(t, l.fixture, l.patcher())
			fsys := os.DirFS(dir)
			if p, err := registry.For(fsys, "."); err != nil || p.Name() != l.patcher().Name() {
				t.Fatalf("registry.For(%s) = %v, %v; want the %s patcher", l.fixture, p, err, l.patcher().Name())
			}
			bare := l.patcher()
			wrapped := history.Wrap(l.patcher(), repo)
			for _, k := range patchers.Kinds() {
				for i, ex := range k.Examples {
					t.Run(fmt.Sprintf("%s/%d", k.Name, i), func(t *testing.T) {
						var whyNot []error
						for _, tg := range targets {
							in := patchers.Intent{Kind: k.Name, Target: tg, Params: fixParams(t, k.Name, ex, head)}
							err := supported(t, bare, wrapped, fsys, in)
							if err == nil {
								return
							}
							whyNot = append(whyNot, fmt.Errorf("%s: %w", tg, err))
						}
						t.Fatalf("no target of the %s fixture takes %s %s:\n%v", l.fixture, k.Name, ex, errors.Join(whyNot...))
					})
				}
			}
		})
	}
}

// supported says why neither bare nor, for an intent that needs git
// history, wrapped plans in; nil when one does.
func supported(t *testing.T, bare, wrapped patchers.Patcher, fsys fs.FS, in patchers.Intent) error {
	ch, err := plan(t, bare, fsys, in)
	if errors.Is(err, patchers.ErrNotSupported) {
		if !in.NeedsHistory() {
			return fmt.Errorf("%s says %w, and the intent needs no git history, so nothing else carries it out", bare.Name(), err)
		}
		ch, err = plan(t, wrapped, fsys, in)
		if err != nil {
			return fmt.Errorf("%s needs history, and history.Wrap(%s) did not plan it: %w", in.Kind, bare.Name(), err)
		}
	}
	if err != nil {
		return fmt.Errorf("%s cannot plan it: %w", bare.Name(), err)
	}
	// A no-op is not support: a patcher that ignores a kind it does not
	// know would say the repository already has what it asks.
	if ch.NoOp || len(ch.Files) == 0 {
		return fmt.Errorf("%s changes nothing (%s)", bare.Name(), ch.Summary)
	}
	return nil
}

// fixParams puts the fixture's own values where an example names
// something that must exist in the repository: revert_commit reverts the
// release commit.
func fixParams(t *testing.T, kind string, ex json.RawMessage, head string) json.RawMessage {
	t.Helper()
	if kind != patchers.KindRevertCommit {
		return ex
	}
	b, err := json.Marshal(patchers.RevertCommitParams{Commit: head})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plan runs p.Plan, turning a panic (a kind a patcher's switch forgot)
// into an error.
func plan(t *testing.T, p patchers.Patcher, fsys fs.FS, in patchers.Intent) (ch patchers.Change, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked on %s: %v", p.Name(), in.Kind, r)
		}
	}()
	return p.Plan(t.Context(), fsys, in)
}

// releaseRepo copies fixtures/repos/<fixture> into a new git repository,
// commits it, then commits a release of the target's image (planned by p
// itself, so no layout is edited by hand), and returns the folder, the
// repository and the release commit's hash.
func releaseRepo(t *testing.T, fixture string, p patchers.Patcher) (string, *git.Repository, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "fixtures", "repos", fixture))); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	commit := func(msg string) string {
		t.Helper()
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		when = when.Add(time.Hour)
		h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: when}})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	commit("import " + fixture)
	params, err := json.Marshal(patchers.RollbackImageParams{Image: release})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := p.Plan(t.Context(), os.DirFS(dir), patchers.Intent{Kind: patchers.KindRollbackImage, Target: targets[0], Params: params})
	if err != nil || len(ch.Files) == 0 {
		t.Fatalf("plan the release: %v %+v", err, ch)
	}
	for _, f := range ch.Files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, repo, commit("checkout " + release)
}

// TestUnknownKindRefused: an intent whose kind no patcher knows is an
// error from every patcher: never a no-op that would read as "already
// has", never a panic. (Each patcher also refuses, with ErrNotSupported, a
// valid kind it has no edit for: TestEveryKindHasPatcherSupport keeps that
// from happening.)
func TestUnknownKindRefused(t *testing.T) {
	in := patchers.Intent{Kind: "restart", Target: targets[0], Params: json.RawMessage(`{}`)}
	for _, l := range layouts {
		t.Run(l.fixture, func(t *testing.T) {
			repo := os.DirFS(filepath.Join("..", "..", "fixtures", "repos", l.fixture))
			ch, err := l.patcher().Plan(t.Context(), repo, in)
			if err == nil || ch.NoOp {
				t.Fatalf("Plan(restart) = %+v, %v; want an error", ch, err)
			}
		})
	}
}
