package gitrepo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/gittest"
	"github.com/medic-bot/medic/patchers"
)

// TestLeaseHeldByServer moves the branch after Push checked the lease and
// before it sent the update: the server's old-value check refuses it.
func TestLeaseHeldByServer(t *testing.T) {
	ctx := context.Background()
	s := gittest.NewServer(t)
	head := s.CreateRepo(t, "acme", "infra", "main", map[string]string{"a.txt": "a\n"})
	c, err := NewCache(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Open(ctx, s.CloneURL("acme", "infra"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sha, err := r.Commit(ctx, CommitRequest{
		Parent:  head,
		Files:   []patchers.FileChange{{Path: "a.txt", Content: []byte("medic\n")}},
		Message: "medic\n", Author: Signature{Name: "medic", Email: "medic@example.com"}, When: time.Unix(0, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	const branch = "medic/inc-9-scale"
	var racer string
	r.beforeSend = func() {
		racer = s.Commit(t, "acme", "infra", branch, map[string]string{"b.txt": "replica\n"}, nil, "another replica")
	}
	err = r.Push(ctx, Auth{}, sha, branch, "")
	if !errors.Is(err, ErrStale) {
		t.Fatalf("Push racing another push: %v, want ErrStale", err)
	}
	if got, _ := s.Head(t, "acme", "infra", branch); got != racer {
		t.Errorf("branch = %s, want the other replica's %s", got, racer)
	}

	r.beforeSend = func() { s.SetBranch(t, "acme", "infra", "main", sha) }
	err = r.Push(ctx, Auth{}, sha, "main", head)
	if err != nil {
		t.Errorf("Push racing a push of the same commit: %v", err)
	}
}

func TestFailRedactsToken(t *testing.T) {
	r := &Repo{name: "acme/infra"}
	const tok = "ghs_SECRET"
	err := r.fail("fetch main of", Auth{Token: tok}, errors.Join(transport.ErrAuthenticationRequired, errors.New("GET https://x-access-token:"+tok+"@example.com failed")))
	if strings.Contains(err.Error(), tok) {
		t.Errorf("token in %v", err)
	}
	if !errors.Is(err, transport.ErrAuthenticationRequired) || !forge.IsPermanent(err) {
		t.Errorf("classification lost: %v", err)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), tok) {
			t.Errorf("token in the chain: %v", e)
		}
	}
	err = r.fail("push to", Auth{Token: tok}, errors.New("boom "+tok))
	if strings.Contains(err.Error(), tok) || forge.IsPermanent(err) {
		t.Errorf("plain error: %v", err)
	}
}
