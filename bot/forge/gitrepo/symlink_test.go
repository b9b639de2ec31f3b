package gitrepo_test

import (
	"context"
	"testing"

	"github.com/medic-bot/medic/bot/forge/gitrepo"
	"github.com/medic-bot/medic/bot/forge/gittest"
	"github.com/medic-bot/medic/patchers/repofs/repofstest"
)

// TestTreeSymlinks: a fetched tree follows the repository's links only
// inside it, the same rule as a folder on disk (repofstest's layout,
// committed by the git command line and fetched over smart HTTP).
func TestTreeSymlinks(t *testing.T) {
	ctx := context.Background()
	s := gittest.NewServer(t, gittest.WithToken(token))
	head := s.CreateRepoFromDir(t, "acme", "links", "main", repofstest.Disk(t))
	c, err := gitrepo.NewCache(t.TempDir(), gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := open(t, c, s, "links")
	if got, err := r.Fetch(ctx, auth, "main"); err != nil || got != head {
		t.Fatalf("Fetch = %s, %v; want %s", got, err, head)
	}
	fsys, err := r.Tree(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	repofstest.Check(t, fsys)
}
