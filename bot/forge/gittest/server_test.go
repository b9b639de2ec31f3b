package gittest_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/medic-bot/medic/bot/forge/gittest"
)

const token = "ghs_testtoken123"

// run runs the git command line in dir with the server's clean
// environment.
func run(t *testing.T, s *gittest.Server, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = s.Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustRun(t *testing.T, s *gittest.Server, dir string, args ...string) string {
	t.Helper()
	out, err := run(t, s, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCLICloneAndPush(t *testing.T) {
	s := gittest.NewServer(t, gittest.WithToken(token))
	first := s.CreateRepo(t, "acme", "infra", "main", map[string]string{
		"README.md":       "hello\n",
		"apps/app.yaml":   "replicas: 1\n",
		"apps/other.yaml": "x: 1\n",
	})
	if sha, ok := s.Head(t, "acme", "infra", "main"); !ok || sha != first {
		t.Fatalf("Head = %s, %v; want %s", sha, ok, first)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	mustRun(t, s, "", "clone", "--quiet", s.AuthURL("acme", "infra", token), dir)
	if b, err := os.ReadFile(filepath.Join(dir, "apps/app.yaml")); err != nil || string(b) != "replicas: 1\n" {
		t.Fatalf("cloned app.yaml = %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps/app.yaml"), []byte("replicas: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, dir, "commit", "--quiet", "-am", "scale up")
	mustRun(t, s, dir, "push", "--quiet", "origin", "HEAD:refs/heads/feature")
	if s.Pushes() != 1 {
		t.Errorf("Pushes = %d, want 1", s.Pushes())
	}
	head, ok := s.Head(t, "acme", "infra", "feature")
	if !ok {
		t.Fatal("feature branch not pushed")
	}
	if got := strings.TrimSpace(mustRun(t, s, dir, "rev-parse", "HEAD")); got != head {
		t.Errorf("feature = %s, want %s", head, got)
	}
	if b, ok := s.ReadFile(t, "acme", "infra", "feature", "apps/app.yaml"); !ok || string(b) != "replicas: 3\n" {
		t.Errorf("ReadFile = %q, %v", b, ok)
	}
	if _, ok := s.ReadFile(t, "acme", "infra", "feature", "apps/missing.yaml"); ok {
		t.Error("ReadFile of a missing file is ok")
	}
	if _, ok := s.ReadFile(t, "acme", "infra", "feature", "apps"); ok {
		t.Error("ReadFile of a folder is ok")
	}
	if p := s.Parents(t, "acme", "infra", head); len(p) != 1 || p[0] != first {
		t.Errorf("Parents = %v, want [%s]", p, first)
	}
	if m := s.Message(t, "acme", "infra", head); m != "scale up\n" {
		t.Errorf("Message = %q", m)
	}
	if got, err := s.Resolve("acme", "infra", "feature"); err != nil || got != head {
		t.Errorf("Resolve(feature) = %s, %v", got, err)
	}
	if got, err := s.Resolve("acme", "infra", head[:12]); err != nil || got != head {
		t.Errorf("Resolve(short sha) = %s, %v", got, err)
	}
	for _, ref := range []string{"nope", "-v", "refs/heads/nope"} {
		if _, err := s.Resolve("acme", "infra", ref); !errors.Is(err, gittest.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := s.Resolve("acme", "missing", "main"); !errors.Is(err, gittest.ErrNotFound) {
		t.Errorf("Resolve in a missing repo = %v, want ErrNotFound", err)
	}
}

func TestCLIAuthRefused(t *testing.T) {
	s := gittest.NewServer(t, gittest.WithAuth(func(owner, repo, tok string) bool {
		return owner == "acme" && repo == "infra" && tok == token
	}))
	s.CreateRepo(t, "acme", "infra", "main", map[string]string{"a": "1\n"})
	s.CreateRepo(t, "acme", "other", "main", map[string]string{"a": "1\n"})
	for name, url := range map[string]string{
		"bad token":     s.AuthURL("acme", "infra", "wrong"),
		"no token":      s.CloneURL("acme", "infra"),
		"other repo":    s.AuthURL("acme", "other", token),
		"wrong user":    strings.Replace(s.AuthURL("acme", "infra", token), gittest.Username, "someone", 1),
		"not repo path": s.URL() + "/acme.git",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, s, "", "ls-remote", url)
			if err == nil {
				t.Fatalf("ls-remote succeeded: %s", out)
			}
		})
	}
	// The refusal is a 401 with a Basic challenge.
	res, err := http.Get(s.CloneURL("acme", "infra") + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Basic challenge", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

func TestWriteCheck(t *testing.T) {
	s := gittest.NewServer(t, gittest.WithAuth(func(_, _, tok string) bool { return tok == token || tok == "reader" }),
		gittest.WithWriteCheck(func(_, _, tok string) bool { return tok == token }))
	s.CreateRepo(t, "acme", "infra", "main", map[string]string{"a": "1\n"})
	dir := filepath.Join(t.TempDir(), "c")
	mustRun(t, s, "", "clone", "--quiet", s.AuthURL("acme", "infra", "reader"), dir)
	mustRun(t, s, dir, "commit", "--quiet", "--allow-empty", "-m", "x")
	if out, err := run(t, s, dir, "push", "origin", "HEAD:refs/heads/x"); err == nil || !strings.Contains(out, "403") {
		t.Errorf("push with a read-only token: %v\n%s", err, out)
	}
	mustRun(t, s, dir, "push", "--quiet", s.AuthURL("acme", "infra", token), "HEAD:refs/heads/x")
	if s.Pushes() != 1 {
		t.Errorf("Pushes = %d, want 1", s.Pushes())
	}
}

func TestGoGitCloneAndPush(t *testing.T) {
	s := gittest.NewServer(t, gittest.WithToken(token))
	first := s.CreateRepo(t, "acme", "infra", "main", map[string]string{"a.txt": "one\n"})
	auth := &githttp.BasicAuth{Username: gittest.Username, Password: token}

	r, err := git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: s.CloneURL("acme", "infra"), Auth: auth, Depth: 1})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	ref, err := r.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
	if err != nil || ref.Hash().String() != first {
		t.Fatalf("origin/main = %v, %v; want %s", ref, err, first)
	}
	c, err := r.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	obj := r.Storer.NewEncodedObject()
	commit := &object.Commit{
		Author:       object.Signature{Name: "bot", Email: "bot@example.com"},
		Committer:    object.Signature{Name: "bot", Email: "bot@example.com"},
		Message:      "same tree\n",
		TreeHash:     c.TreeHash,
		ParentHashes: []plumbing.Hash{c.Hash},
	}
	if err := commit.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := r.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(&git.PushOptions{
		Auth:     auth,
		RefSpecs: []config.RefSpec{config.RefSpec(h.String() + ":refs/heads/bot")},
	})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if got, ok := s.Head(t, "acme", "infra", "bot"); !ok || got != h.String() {
		t.Errorf("bot = %s, %v; want %s", got, ok, h)
	}

	_, err = git.Clone(memory.NewStorage(), nil, &git.CloneOptions{
		URL:  s.CloneURL("acme", "infra"),
		Auth: &githttp.BasicAuth{Username: gittest.Username, Password: "nope"},
	})
	if !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("clone with a bad token: %v, want ErrAuthenticationRequired", err)
	}
	_, err = git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: s.CloneURL("acme", "nothere"), Auth: auth})
	if !errors.Is(err, transport.ErrRepositoryNotFound) {
		t.Errorf("clone of a missing repository: %v, want ErrRepositoryNotFound", err)
	}
}

func TestCreateRepoFromDirAndCommit(t *testing.T) {
	s := gittest.NewServer(t)
	fixture := filepath.Join("..", "..", "..", "fixtures", "repos", "kustomize")
	first := s.CreateRepoFromDir(t, "acme", "infra", "trunk", fixture)
	want, err := os.ReadFile(filepath.Join(fixture, "overlays/prod/checkout-resources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.ReadFile(t, "acme", "infra", first, "overlays/prod/checkout-resources.yaml"); !ok || !bytes.Equal(got, want) {
		t.Fatalf("ReadFile = %q, %v", got, ok)
	}
	if p := s.Parents(t, "acme", "infra", first); len(p) != 0 {
		t.Errorf("first commit has parents %v", p)
	}
	second := s.Commit(t, "acme", "infra", "trunk", map[string]string{"new/file.txt": "x\n"}, []string{"README.md"}, "someone else")
	if p := s.Parents(t, "acme", "infra", second); len(p) != 1 || p[0] != first {
		t.Errorf("Parents = %v", p)
	}
	if _, ok := s.ReadFile(t, "acme", "infra", "trunk", "README.md"); ok {
		t.Error("README.md not deleted")
	}
	if _, ok := s.ReadFile(t, "acme", "infra", "trunk", "base/checkout.yaml"); !ok {
		t.Error("base/checkout.yaml lost")
	}
	// Anonymous access works without an auth option.
	dir := filepath.Join(t.TempDir(), "c")
	mustRun(t, s, "", "clone", "--quiet", "--branch", "trunk", s.CloneURL("acme", "infra"), dir)
	if _, err := os.Stat(filepath.Join(dir, "new/file.txt")); err != nil {
		t.Error(err)
	}
	// Empty repositories accept a first push.
	if sha := s.CreateRepo(t, "acme", "empty", "main", nil); sha != "" {
		t.Errorf("empty repo head %q", sha)
	}
	mustRun(t, s, dir, "push", "--quiet", s.CloneURL("acme", "empty"), "HEAD:refs/heads/main")
	if got, ok := s.Head(t, "acme", "empty", "main"); !ok || got != second {
		t.Errorf("pushed main = %s, %v; want %s", got, ok, second)
	}
	s.SetBranch(t, "acme", "empty", "copy", first)
	s.DeleteBranch(t, "acme", "empty", "main")
	if b := s.Branches(t, "acme", "empty"); len(b) != 1 || b["copy"] != first {
		t.Errorf("Branches = %v", b)
	}
}

func TestMerge(t *testing.T) {
	s := gittest.NewServer(t)
	base := s.CreateRepo(t, "acme", "infra", "main", map[string]string{
		"a.txt": "a1\n",
		"b.txt": "b1\n",
	})
	feature := s.Commit(t, "acme", "infra", "feature", map[string]string{"a.txt": "a2\n"}, nil, "change a")
	if p := s.Parents(t, "acme", "infra", feature); len(p) != 1 || p[0] != base {
		t.Fatalf("feature branched from %v, want %s", p, base)
	}
	// Someone else changes another file on main: a clean merge.
	other := s.Commit(t, "acme", "infra", "main", map[string]string{"b.txt": "b2\n"}, nil, "change b")
	merged, err := s.Merge("acme", "infra", feature, "main", "Merge pull request #1")
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if p := s.Parents(t, "acme", "infra", merged); len(p) != 2 || p[0] != other || p[1] != feature {
		t.Errorf("merge parents = %v, want [%s %s]", p, other, feature)
	}
	if head, _ := s.Head(t, "acme", "infra", "main"); head != merged {
		t.Errorf("main = %s, want %s", head, merged)
	}
	if m := s.Message(t, "acme", "infra", merged); m != "Merge pull request #1\n" {
		t.Errorf("message %q", m)
	}
	for f, want := range map[string]string{"a.txt": "a2\n", "b.txt": "b2\n"} {
		if got, _ := s.ReadFile(t, "acme", "infra", "main", f); string(got) != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if _, err := s.Merge("acme", "infra", feature, "main", "again"); !errors.Is(err, gittest.ErrUpToDate) {
		t.Errorf("merging again: %v, want ErrUpToDate", err)
	}

	// A fast-forwardable head still gets a merge commit.
	s.SetBranch(t, "acme", "infra", "ff", merged)
	ff := s.Commit(t, "acme", "infra", "ff", map[string]string{"c.txt": "c\n"}, nil, "add c")
	m2, err := s.Merge("acme", "infra", ff, "main", "merge ff")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Parents(t, "acme", "infra", m2); len(p) != 2 || p[0] != merged || p[1] != ff {
		t.Errorf("no-ff merge parents = %v", p)
	}

	// A conflicting head fails with ErrConflict and leaves main alone.
	s.SetBranch(t, "acme", "infra", "clash", m2)
	clash := s.Commit(t, "acme", "infra", "clash", map[string]string{"a.txt": "mine\n"}, nil, "clash")
	theirs := s.Commit(t, "acme", "infra", "main", map[string]string{"a.txt": "theirs\n"}, nil, "theirs")
	_, err = s.Merge("acme", "infra", clash, "main", "conflict")
	if !errors.Is(err, gittest.ErrConflict) || !strings.Contains(err.Error(), "a.txt") {
		t.Errorf("conflicting merge: %v, want ErrConflict naming a.txt", err)
	}
	if head, _ := s.Head(t, "acme", "infra", "main"); head != theirs {
		t.Errorf("main moved to %s after a conflict", head)
	}

	// Squash merges have one parent.
	s.SetBranch(t, "acme", "infra", "sq", theirs)
	sq := s.Commit(t, "acme", "infra", "sq", map[string]string{"d.txt": "d\n"}, nil, "add d")
	squashed, err := s.SquashMerge("acme", "infra", sq, "main", "squash")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Parents(t, "acme", "infra", squashed); len(p) != 1 || p[0] != theirs {
		t.Errorf("squash parents = %v", p)
	}
	if got, _ := s.ReadFile(t, "acme", "infra", "main", "d.txt"); string(got) != "d\n" {
		t.Errorf("d.txt = %q", got)
	}

	for name, err := range map[string]error{
		"missing repo":   second(s.Merge("acme", "nope", sq, "main", "m")),
		"missing base":   second(s.Merge("acme", "infra", sq, "nope", "m")),
		"missing commit": second(s.Merge("acme", "infra", strings.Repeat("1", 40), "main", "m")),
	} {
		if !errors.Is(err, gittest.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func second(_ string, err error) error { return err }
