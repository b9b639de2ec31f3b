package history

import (
	"os"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/kustomize"
	"github.com/medic-bot/medic/patchers/repofs/repofstest"
)

// commitDir commits everything in dir (links as mode 120000) and returns
// the repository.
func commitDir(t *testing.T, dir string) *testRepo {
	t.Helper()
	g, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRepo{t: t, dir: dir, repo: g}
	r.commit("import")
	return r
}

func headTree(t *testing.T, r *testRepo) *treeFS {
	t.Helper()
	head, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	return &treeFS{root: tree}
}

// TestTreeFSLinks: a git tree's links follow the same rule as the disk:
// inside the tree they are read, out of it they are errors.
func TestTreeFSLinks(t *testing.T) {
	r := commitDir(t, repofstest.Disk(t))
	raw := headTree(t, r)
	if e, err := raw.root.FindEntry("up.yaml"); err != nil || e.Mode != filemode.Symlink {
		t.Fatalf("up.yaml in the tree: %v, %v; want a link (mode 120000)", e, err)
	}
	repofstest.Check(t, TreeFS(raw.root))
}

// TestRenderLinkOutOfTree: a kustomize resource that is a link out of the
// repository fails to render at HEAD and in the history walk, without the
// outside content in the error.
func TestRenderLinkOutOfTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../fixtures/repos/kustomize")); err != nil {
		t.Fatal(err)
	}
	repofstest.LinkOutside(t, dir, "base/db.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  k: "+repofstest.Secret+"\n")
	r := commitDir(t, dir)
	view := TreeFS(headTree(t, r).root)
	_, _, err := kustomize.New().(patchers.TargetRenderer).RenderTarget(t.Context(), view, patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"})
	if err == nil || !strings.Contains(err.Error(), "db.yaml") || strings.Contains(err.Error(), repofstest.Secret) {
		t.Fatalf("render: err = %v; want an error naming db.yaml without the content", err)
	}
	_, err = Wrap(kustomize.New(), r.repo).Plan(t.Context(), view, intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Previous: true}))
	if err == nil || strings.Contains(err.Error(), repofstest.Secret) {
		t.Fatalf("previous: err = %v", err)
	}
}
