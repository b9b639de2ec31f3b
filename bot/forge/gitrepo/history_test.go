package gitrepo_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/medic-bot/medic/bot/forge/gitrepo"
	"github.com/medic-bot/medic/patchers"
)

func TestWithGit(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	var msg string
	var parents int
	err := r.WithGit(ctx, func(g *git.Repository) error {
		cm, err := g.CommitObject(plumbing.NewHash(head))
		if err != nil {
			return err
		}
		msg, parents = cm.Message, cm.NumParents()
		return nil
	})
	if err != nil || msg != "docs two\n" || parents != 1 {
		t.Fatalf("WithGit read %q with %d parents, %v", msg, parents, err)
	}

	sentinel := errors.New("stop")
	if err := r.WithGit(ctx, func(*git.Repository) error { return sentinel }); err != sentinel {
		t.Errorf("WithGit returned %v, want fn's error as it is", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	called := false
	if err := r.WithGit(done, func(*git.Repository) error { called = true; return nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("WithGit on a done context: %v, called %v", err, called)
	}
}

// TestWithGitTakesTurns: WithGit and the Repo's own methods share the
// lock (the race detector watches).
func TestWithGitTakesTurns(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- r.WithGit(ctx, func(g *git.Repository) error {
				_, err := g.CommitObject(plumbing.NewHash(head))
				return err
			})
		}()
		go func() {
			defer wg.Done()
			_, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: head, Message: "m", Author: medic,
				Files: []patchers.FileChange{{Path: "docs/n.md", Content: []byte{byte('a' + i), '\n'}}}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
