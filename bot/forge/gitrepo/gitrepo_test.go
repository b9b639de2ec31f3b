package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/gitrepo"
	"github.com/medic-bot/medic/bot/forge/gittest"
	"github.com/medic-bot/medic/patchers"
)

const token = "ghs_installationTOKEN42"

var (
	auth    = gitrepo.Auth{Token: token}
	medic   = gitrepo.Signature{Name: "medic[bot]", Email: "123+medic[bot]@users.noreply.github.com"}
	planned = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	fixture = filepath.Join("..", "..", "..", "fixtures", "repos", "kustomize")
)

const resources = "overlays/prod/checkout-resources.yaml"

// setup serves acme/infra, the kustomize fixture plus two later commits
// (so a depth-1 fetch is really shallow), and returns the server, an
// empty cache and main's head.
func setup(t *testing.T, opts ...gittest.Option) (*gittest.Server, *gitrepo.Cache, string) {
	t.Helper()
	s := gittest.NewServer(t, append([]gittest.Option{gittest.WithToken(token)}, opts...)...)
	s.CreateRepoFromDir(t, "acme", "infra", "main", fixture)
	s.Commit(t, "acme", "infra", "main", map[string]string{"docs/one.md": "one\n"}, nil, "docs one")
	head := s.Commit(t, "acme", "infra", "main", map[string]string{"docs/two.md": "two\n"}, nil, "docs two")
	c, err := gitrepo.NewCache(t.TempDir(), gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, head
}

func open(t *testing.T, c *gitrepo.Cache, s *gittest.Server, name string) *gitrepo.Repo {
	t.Helper()
	r, err := c.Open(context.Background(), s.CloneURL("acme", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cli runs the git command line with the server's clean environment.
func cli(t *testing.T, s *gittest.Server, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = s.Env()
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

func TestFetchCommitPush(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if r.Name() != "acme/infra" {
		t.Errorf("Name = %q", r.Name())
	}
	got, err := r.Fetch(ctx, auth, "main")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got != head {
		t.Fatalf("Fetch = %s, want %s", got, head)
	}
	fsys, err := r.Tree(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	old, err := fs.ReadFile(fsys, resources)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(old, []byte("memory: 512Mi")) {
		t.Fatalf("%s = %q", resources, old)
	}
	if _, err := fs.Stat(fsys, "base/kustomization.yaml"); err != nil {
		t.Error(err)
	}

	msg := "medic: raise checkout memory\n\nMedic-Incident: inc-1\nMedic-Intent: set_resources\n"
	edited := bytes.Replace(old, []byte("memory: 512Mi"), []byte("memory: 768Mi"), 1)
	sha, err := r.Commit(ctx, gitrepo.CommitRequest{
		Parent: got,
		Files: []patchers.FileChange{
			{Path: resources, Content: edited},
			{Path: "overlays/prod/notes/why.md", Content: []byte("OOMKilled\n")},
			{Path: "README.md", Deleted: true},
			{Path: "docs/one.md", Deleted: true},
		},
		Message: msg,
		Author:  medic,
		When:    planned,
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	branch := forge.BranchName("inc-1", patchers.KindSetResources)
	if err := r.Push(ctx, auth, sha, branch, ""); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if h, ok := s.Head(t, "acme", "infra", branch); !ok || h != sha {
		t.Fatalf("%s = %s, %v; want %s", branch, h, ok, sha)
	}

	// Read it back with the git command line.
	dir := filepath.Join(t.TempDir(), "check")
	cli(t, s, "", "clone", "--quiet", "--branch", branch, s.AuthURL("acme", "infra", token), dir)
	if b, err := os.ReadFile(filepath.Join(dir, resources)); err != nil || !bytes.Equal(b, edited) {
		t.Errorf("pushed %s = %q, %v", resources, b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "overlays/prod/notes/why.md")); err != nil || string(b) != "OOMKilled\n" {
		t.Errorf("pushed why.md = %q, %v", b, err)
	}
	for _, gone := range []string{"README.md", "docs/one.md"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not deleted: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "docs/two.md")); err != nil {
		t.Errorf("docs/two.md lost: %v", err)
	}
	if p := s.Parents(t, "acme", "infra", sha); len(p) != 1 || p[0] != head {
		t.Errorf("parents %v, want [%s]", p, head)
	}
	if m := s.Message(t, "acme", "infra", sha); m != msg {
		t.Errorf("message %q, want %q", m, msg)
	}
	author := cli(t, s, dir, "log", "-1", "--format=%an <%ae> %aI|%cn <%ce>")
	if want := "medic[bot] <123+medic[bot]@users.noreply.github.com> 2026-11-25T12:00:00+00:00|medic[bot] <123+medic[bot]@users.noreply.github.com>\n"; author != want {
		t.Errorf("author %q, want %q", author, want)
	}
	trailers := cli(t, s, dir, "log", "-1", "--format=%(trailers:key=Medic-Incident,valueonly)")
	if strings.TrimSpace(trailers) != "inc-1" {
		t.Errorf("Medic-Incident trailer %q", trailers)
	}
	// The server's repository is whole.
	s.Git(t, "acme", "infra", "fsck", "--strict", "--no-progress")
	if n := s.Pushes(); n != 1 {
		t.Errorf("Pushes = %d", n)
	}

	// The same request makes the same commit; pushing it again changes
	// nothing.
	again, err := r.Commit(ctx, gitrepo.CommitRequest{
		Parent: got,
		Files: []patchers.FileChange{
			{Path: "docs/one.md", Deleted: true},
			{Path: "README.md", Deleted: true},
			{Path: "overlays/prod/notes/why.md", Content: []byte("OOMKilled\n")},
			{Path: resources, Content: edited},
		},
		Message: msg,
		Author:  medic,
		When:    planned.In(time.FixedZone("CET", 3600)),
	})
	if err != nil || again != sha {
		t.Errorf("second Commit = %s, %v; want %s", again, err, sha)
	}
	if err := r.Push(ctx, auth, sha, branch, ""); err != nil {
		t.Errorf("pushing the same commit again: %v", err)
	}
	if n := s.Pushes(); n != 1 {
		t.Errorf("Pushes = %d after a repeated push", n)
	}

	if h, ok, err := r.RemoteBranch(ctx, auth, branch); err != nil || !ok || h != sha {
		t.Errorf("RemoteBranch = %s, %v, %v", h, ok, err)
	}
	if err := r.DeleteBranch(ctx, auth, branch); err != nil {
		t.Fatalf("DeleteBranch: %v", err)
	}
	if _, ok := s.Head(t, "acme", "infra", branch); ok {
		t.Error("branch not deleted")
	}
	if _, ok, err := r.RemoteBranch(ctx, auth, branch); err != nil || ok {
		t.Errorf("RemoteBranch after delete = %v, %v", ok, err)
	}
	if err := r.DeleteBranch(ctx, auth, branch); err != nil {
		t.Errorf("deleting a missing branch: %v", err)
	}
}

func TestShallowPush(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	shallow, err := os.ReadFile(filepath.Join(cloneDir(t, c, "infra"), "shallow"))
	if err != nil || strings.TrimSpace(string(shallow)) != head {
		t.Fatalf("the clone is not shallow at %s: %q, %v", head, shallow, err)
	}
	// Two commits on top of each other, pushed at once, and a push to
	// main itself (a fast-forward of the shallow tip).
	first, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: head, Files: []patchers.FileChange{{Path: "a.txt", Content: []byte("a\n")}}, Message: "a\n", Author: medic, When: planned})
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: first, Files: []patchers.FileChange{{Path: "b/b.txt", Content: []byte("b\n")}}, Message: "b\n", Author: medic, When: planned})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, auth, second, "main", head); err != nil {
		t.Fatalf("Push from a shallow clone: %v", err)
	}
	s.Git(t, "acme", "infra", "fsck", "--strict", "--no-progress")
	if got, _ := s.ReadFile(t, "acme", "infra", "main", "a.txt"); string(got) != "a\n" {
		t.Errorf("a.txt = %q", got)
	}
	if p := s.Parents(t, "acme", "infra", second); len(p) != 1 || p[0] != first {
		t.Errorf("parents of second %v", p)
	}
}

// cloneDir is the cache's clone of acme/name.
func cloneDir(t *testing.T, c *gitrepo.Cache, name string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(c.Dir(), "*", "acme", name+".git"))
	if err != nil || len(m) != 1 {
		t.Fatalf("clone of acme/%s: %v %v", name, m, err)
	}
	return m[0]
}

func TestCommitOnOlderBase(t *testing.T) {
	for _, byID := range []bool{true, false} {
		t.Run(fmt.Sprintf("by id %v", byID), func(t *testing.T) {
			ctx := context.Background()
			var opts []gittest.Option
			if !byID {
				opts = append(opts, gittest.WithoutSHA1InWant())
			}
			s, c, planBase := setup(t, opts...)
			later := s.Commit(t, "acme", "infra", "main", map[string]string{"base/db.yaml": "# changed by someone\n"}, nil, "someone else")
			r := open(t, c, s, "infra")
			if h, err := r.Fetch(ctx, auth, "main"); err != nil || h != later {
				t.Fatalf("Fetch = %s, %v", h, err)
			}
			if r.HasCommit(planBase) {
				t.Fatal("the shallow clone has the older commit already")
			}
			if _, err := r.Tree(ctx, planBase); !errors.Is(err, gitrepo.ErrNotFetched) {
				t.Errorf("Tree of an unfetched commit: %v, want ErrNotFetched", err)
			}
			if err := r.FetchCommit(ctx, auth, planBase); err != nil {
				t.Fatalf("FetchCommit: %v", err)
			}
			fsys, err := r.Tree(ctx, planBase)
			if err != nil {
				t.Fatal(err)
			}
			db, err := fs.ReadFile(fsys, "base/db.yaml")
			if err != nil || strings.HasPrefix(string(db), "# changed") {
				t.Fatalf("db.yaml at the older commit = %q, %v", db, err)
			}
			sha, err := r.Commit(ctx, gitrepo.CommitRequest{
				Parent:  planBase,
				Files:   []patchers.FileChange{{Path: "base/cart.yaml", Content: []byte("# planned on an older commit\n")}},
				Message: "older\n", Author: medic, When: planned,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Push(ctx, auth, sha, "medic/inc-2-scale", ""); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if p := s.Parents(t, "acme", "infra", sha); len(p) != 1 || p[0] != planBase {
				t.Errorf("parents %v, want [%s]", p, planBase)
			}
			if got, _ := s.ReadFile(t, "acme", "infra", sha, "base/db.yaml"); !bytes.Equal(got, db) {
				t.Errorf("the pushed commit has the newer db.yaml")
			}
			s.Git(t, "acme", "infra", "fsck", "--strict", "--no-progress")
			// A merge brings in both.
			merged, err := s.Merge("acme", "infra", sha, "main", "merge")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := s.ReadFile(t, "acme", "infra", merged, "base/db.yaml"); !strings.HasPrefix(string(got), "# changed") {
				t.Errorf("merge lost the later change")
			}

			// A fresh clone can start from the older commit.
			c2, err := gitrepo.NewCache(t.TempDir(), gitrepo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			fresh := open(t, c2, s, "infra")
			// (Without fetch by id it deepens the default branch.)
			if err := fresh.FetchCommit(ctx, auth, planBase); err != nil {
				t.Fatalf("FetchCommit into an empty clone: %v", err)
			}
			if fsys, err := fresh.Tree(ctx, planBase); err != nil {
				t.Error(err)
			} else if b, err := fs.ReadFile(fsys, "base/db.yaml"); err != nil || !bytes.Equal(b, db) {
				t.Errorf("db.yaml = %q, %v", b, err)
			}

			// A commit the server does not have.
			err = r.FetchCommit(ctx, auth, strings.Repeat("ab", 20))
			if !errors.Is(err, forge.ErrNotFound) || !forge.IsPermanent(err) {
				t.Errorf("FetchCommit of an unknown commit: %v, want permanent ErrNotFound", err)
			}
		})
	}
}

func TestPushLease(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	mk := func(content string) string {
		sha, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: head, Files: []patchers.FileChange{{Path: "x.txt", Content: []byte(content)}}, Message: content, Author: medic, When: planned})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	one, two := mk("one\n"), mk("two\n")
	const branch = "medic/inc-3-set-env"
	if err := r.Push(ctx, auth, one, branch, ""); err != nil {
		t.Fatal(err)
	}
	// Another replica already pushed: "must not exist" fails.
	if err := r.Push(ctx, auth, two, branch, ""); !errors.Is(err, gitrepo.ErrStale) {
		t.Errorf("Push expecting no branch: %v, want ErrStale", err)
	}
	// A human moved the branch.
	human := s.Commit(t, "acme", "infra", branch, map[string]string{"y.txt": "human\n"}, nil, "human fix")
	if err := r.Push(ctx, auth, two, branch, one); !errors.Is(err, gitrepo.ErrStale) || !strings.Contains(err.Error(), human) {
		t.Errorf("Push over a human's commit: %v, want ErrStale naming %s", err, human)
	}
	if h, _ := s.Head(t, "acme", "infra", branch); h != human {
		t.Fatalf("the human's commit was overwritten by %s", h)
	}
	// With the right lease the forced push replaces it.
	if err := r.Push(ctx, auth, two, branch, human); err != nil {
		t.Fatalf("Push with the right lease: %v", err)
	}
	if h, _ := s.Head(t, "acme", "infra", branch); h != two {
		t.Errorf("branch = %s, want %s", h, two)
	}
	// A lease on a branch that is gone.
	s.DeleteBranch(t, "acme", "infra", branch)
	if err := r.Push(ctx, auth, one, branch, two); !errors.Is(err, gitrepo.ErrStale) {
		t.Errorf("Push expecting a deleted branch: %v, want ErrStale", err)
	}
	if err := r.Push(ctx, auth, one, branch, "nothex"); err == nil || !forge.IsPermanent(err) {
		t.Errorf("a malformed lease: %v", err)
	}
	if err := r.Push(ctx, auth, strings.Repeat("cd", 20), branch, ""); !errors.Is(err, gitrepo.ErrNotFetched) {
		t.Errorf("pushing a commit the clone lacks: %v", err)
	}
}

// storedObjects counts the objects in the clone, loose and packed (an
// object stored twice counts twice).
func storedObjects(t *testing.T, s *gittest.Server, dir string) int {
	t.Helper()
	out := cli(t, s, dir, "count-objects", "-v")
	total, found := 0, 0
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		if k == "count" || k == "in-pack" {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatal(err)
			}
			total += n
			found++
		}
	}
	if found != 2 {
		t.Fatalf("count-objects: %s", out)
	}
	return total
}

func TestReopenFetchesOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t)
	r := open(t, c, s, "infra")
	if r2 := open(t, c, s, "infra"); r2 != r {
		t.Error("a second Open made another Repo")
	}
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	dir := cloneDir(t, c, "infra")
	before := storedObjects(t, s, dir)

	// A restart: a new Cache over the same folder has the commit
	// without fetching.
	c2, err := gitrepo.NewCache(c.Dir(), gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2 := open(t, c2, s, "infra")
	if !r2.HasCommit(head) {
		t.Fatal("the reopened clone lost the fetched commit")
	}
	if got, err := r2.Fetch(ctx, auth, "main"); err != nil || got != head {
		t.Fatalf("Fetch with nothing new = %s, %v", got, err)
	}
	if n := storedObjects(t, s, dir); n != before {
		t.Errorf("fetching nothing new added %d objects", n-before)
	}
	// One new file deep in the tree: a commit, three trees, one blob.
	next := s.Commit(t, "acme", "infra", "main", map[string]string{resources: "# new\n"}, nil, "resize")
	if got, err := r2.Fetch(ctx, auth, "main"); err != nil || got != next {
		t.Fatalf("Fetch = %s, %v; want %s", got, err, next)
	}
	if n := storedObjects(t, s, dir) - before; n != 5 {
		t.Errorf("fetching one changed file brought %d objects, want 5 of %d", n, before)
	}
	fsys, err := r2.Tree(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, resources); err != nil || string(b) != "# new\n" {
		t.Errorf("%s = %q, %v", resources, b, err)
	}
	if b, err := fs.ReadFile(fsys, "base/checkout.yaml"); err != nil || len(b) == 0 {
		t.Errorf("unchanged file base/checkout.yaml = %q, %v", b, err)
	}

	// main is rewritten (a force push): the new head is no descendant of
	// what the clone has, and still arrives whole.
	s.SetBranch(t, "acme", "infra", "main", head)
	rewritten := s.Commit(t, "acme", "infra", "main", map[string]string{"base/db.yaml": "# rewritten\n"}, []string{"docs/two.md"}, "rewrite")
	if got, err := r2.Fetch(ctx, auth, "main"); err != nil || got != rewritten {
		t.Fatalf("Fetch after a force push = %s, %v; want %s", got, err, rewritten)
	}
	fsys, err = r2.Tree(ctx, rewritten)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "base/db.yaml"); err != nil || string(b) != "# rewritten\n" {
		t.Errorf("db.yaml = %q, %v", b, err)
	}
	if _, err := fs.Stat(fsys, "docs/two.md"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("docs/two.md: %v, want not exist", err)
	}
	if err := fs.WalkDir(fsys, ".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
		t.Error(err)
	}
	cli(t, s, dir, "fsck", "--no-progress", "--connectivity-only", rewritten)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r2.Fetch(cancelled, auth, "main"); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, c, _ := setup(t)
	s.CreateRepoFromDir(t, "acme", "apps", "main", fixture)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		name := []string{"infra", "apps"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				r, err := c.Open(ctx, s.CloneURL("acme", name))
				if err != nil {
					return err
				}
				head, err := r.Fetch(ctx, auth, "main")
				if err != nil {
					return err
				}
				fsys, err := r.Tree(ctx, head)
				if err != nil {
					return err
				}
				old, err := fs.ReadFile(fsys, resources)
				if err != nil {
					return err
				}
				if _, err := fs.ReadDir(fsys, "base"); err != nil {
					return err
				}
				sha, err := r.Commit(ctx, gitrepo.CommitRequest{
					Parent:  head,
					Files:   []patchers.FileChange{{Path: resources, Content: append(old, fmt.Sprintf("# %d\n", i)...)}},
					Message: fmt.Sprintf("change %d\n", i), Author: medic, When: planned,
				})
				if err != nil {
					return err
				}
				return r.Push(ctx, auth, sha, fmt.Sprintf("medic/inc-%d-scale", i), "")
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, name := range []string{"infra", "apps"} {
		if n := len(s.Branches(t, "acme", name)); n != 9 {
			t.Errorf("acme/%s has %d branches, want 9", name, n)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	ctx := context.Background()
	s, c, head := setup(t, gittest.WithWriteCheck(func(_, _, tok string) bool { return tok == token }))
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	sha, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: head, Files: []patchers.FileChange{{Path: "x", Content: []byte("x")}}, Message: "x", Author: medic, When: planned})
	if err != nil {
		t.Fatal(err)
	}
	bad := gitrepo.Auth{Token: "ghs_expiredSECRET99"}
	calls := map[string]func(gitrepo.Auth) error{
		"fetch": func(a gitrepo.Auth) error { _, err := r.Fetch(ctx, a, "main"); return err },
		"fetch commit": func(a gitrepo.Auth) error {
			return r.FetchCommit(ctx, a, strings.Repeat("ef", 20))
		},
		"push":          func(a gitrepo.Auth) error { return r.Push(ctx, a, sha, "medic/x-scale", "") },
		"delete":        func(a gitrepo.Auth) error { return r.DeleteBranch(ctx, a, "main") },
		"remote branch": func(a gitrepo.Auth) error { _, _, err := r.RemoteBranch(ctx, a, "main"); return err },
	}
	for name, call := range calls {
		for _, a := range []gitrepo.Auth{bad, {}} {
			t.Run(name+" "+a.String(), func(t *testing.T) {
				err := call(a)
				if err == nil {
					t.Fatal("no error")
				}
				if !forge.IsPermanent(err) || !errors.Is(err, transport.ErrAuthenticationRequired) {
					t.Errorf("%v: want a permanent authentication error", err)
				}
				if strings.Contains(err.Error(), bad.Token) || strings.Contains(fmt.Sprintf("%+v", err), bad.Token) {
					t.Errorf("the error shows the token: %v", err)
				}
				if !strings.Contains(err.Error(), "acme/infra") {
					t.Errorf("the error does not name the repository: %v", err)
				}
			})
		}
	}
	if h, _ := s.Head(t, "acme", "infra", "main"); h != head {
		t.Error("a refused delete deleted main")
	}

	// A token that may read but not write: 403, also permanent.
	s2 := gittest.NewServer(t, gittest.WithAuth(func(_, _, tok string) bool { return tok == "reader" }),
		gittest.WithWriteCheck(func(_, _, _ string) bool { return false }))
	s2.CreateRepoFromDir(t, "acme", "infra", "main", fixture)
	ro := open(t, c, s2, "infra")
	reader := gitrepo.Auth{Token: "reader"}
	h2, err := ro.Fetch(ctx, reader, "main")
	if err != nil {
		t.Fatal(err)
	}
	sha2, err := ro.Commit(ctx, gitrepo.CommitRequest{Parent: h2, Files: []patchers.FileChange{{Path: "x", Content: []byte("x")}}, Message: "x", Author: medic, When: planned})
	if err != nil {
		t.Fatal(err)
	}
	err = ro.Push(ctx, reader, sha2, "medic/x-scale", "")
	if !forge.IsPermanent(err) || !errors.Is(err, transport.ErrAuthorizationFailed) || strings.Contains(err.Error(), "reader") {
		t.Errorf("push with a read-only token: %v, want a permanent authorization error", err)
	}
	if got := fmt.Sprintf("%v %+v %#v %s", bad, bad, bad, bad); strings.Contains(got, bad.Token) {
		t.Errorf("printing an Auth shows the token: %s", got)
	}

	missing := open(t, c, s, "missing")
	_, err = missing.Fetch(ctx, auth, "main")
	if !errors.Is(err, forge.ErrNotFound) || !forge.IsPermanent(err) {
		t.Errorf("fetch of a missing repository: %v, want permanent ErrNotFound", err)
	}
	_, err = r.Fetch(ctx, auth, "no-such-branch")
	if !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("fetch of a missing branch: %v, want ErrNotFound", err)
	}
}

func TestCommitChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := gittest.NewServer(t)
	head := s.CreateRepoFromDir(t, "acme", "infra", "main", dir)
	c, err := gitrepo.NewCache(t.TempDir(), gitrepo.Options{Now: func() time.Time { return planned }})
	if err != nil {
		t.Fatal(err)
	}
	r := open(t, c, s, "infra")
	if _, err := r.Fetch(ctx, gitrepo.Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	clone := cloneDir(t, c, "infra")
	objects := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(clone, "objects"), func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	ok := patchers.FileChange{Path: "base/new.yaml", Content: []byte("new\n")}
	for _, tc := range []struct {
		name  string
		files []patchers.FileChange
		want  string
	}{
		{"parent folder", []patchers.FileChange{{Path: "../x", Content: []byte("x")}}, "segment"},
		{"absolute", []patchers.FileChange{{Path: "/etc/passwd", Content: []byte("x")}}, "relative"},
		{"git dir", []patchers.FileChange{{Path: ".git/config", Content: []byte("x")}}, ".git"},
		{"empty segment", []patchers.FileChange{{Path: "base//x", Content: []byte("x")}}, "segment"},
		{"backslash", []patchers.FileChange{{Path: `base\x`, Content: []byte("x")}}, "relative"},
		{"folder", []patchers.FileChange{{Path: "overlays", Content: []byte("x")}}, "overlays is a folder"},
		{"delete folder", []patchers.FileChange{{Path: "overlays/prod", Deleted: true}}, "overlays/prod is a folder"},
		{"delete missing", []patchers.FileChange{{Path: "base/nope.yaml", Deleted: true}}, "no such file"},
		{"delete in missing folder", []patchers.FileChange{{Path: "nope/x.yaml", Deleted: true}}, "no such file"},
		{"through a file", []patchers.FileChange{{Path: "README.md/x", Content: []byte("x")}}, "README.md is not a folder"},
		{"twice", []patchers.FileChange{ok, ok}, "twice"},
		{"file and folder", []patchers.FileChange{{Path: "new", Content: []byte("x")}, {Path: "new/x", Content: []byte("x")}}, "both"},
		{"no files", nil, "no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := objects()
			// A valid edit alongside: nothing of it may be written.
			files := append([]patchers.FileChange{ok}, tc.files...)
			if tc.files == nil {
				files = nil
			}
			_, err := r.Commit(ctx, gitrepo.CommitRequest{Parent: head, Files: files, Message: "m", Author: medic})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit: %v, want an error with %q", err, tc.want)
			}
			if !forge.IsPermanent(err) {
				t.Errorf("not permanent: %v", err)
			}
			if n := objects(); n != before {
				t.Errorf("a refused commit wrote %d objects", n-before)
			}
		})
	}

	base := gitrepo.CommitRequest{Parent: head, Files: []patchers.FileChange{ok}, Message: "m\n", Author: medic}
	for name, mutate := range map[string]func(*gitrepo.CommitRequest){
		"no author":       func(q *gitrepo.CommitRequest) { q.Author = gitrepo.Signature{} },
		"bad committer":   func(q *gitrepo.CommitRequest) { q.Committer = gitrepo.Signature{Name: "a>b", Email: "x"} },
		"empty message":   func(q *gitrepo.CommitRequest) { q.Message = " \n" },
		"short parent id": func(q *gitrepo.CommitRequest) { q.Parent = head[:10] },
	} {
		q := base
		mutate(&q)
		if _, err := r.Commit(ctx, q); err == nil || !forge.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	q := base
	q.Parent = strings.Repeat("12", 20)
	if _, err := r.Commit(ctx, q); !errors.Is(err, gitrepo.ErrNotFetched) {
		t.Errorf("unfetched parent: %v, want ErrNotFetched", err)
	}

	// Writing what is there already is no change.
	readme, _ := s.ReadFile(t, "acme", "infra", head, "README.md")
	q = base
	q.Files = []patchers.FileChange{{Path: "README.md", Content: readme}}
	if _, err := r.Commit(ctx, q); !errors.Is(err, gitrepo.ErrNoChange) {
		t.Errorf("same content: %v, want ErrNoChange", err)
	}

	// Edited files keep their mode; the clock dates commits without When.
	q = base
	q.Files = []patchers.FileChange{{Path: "run.sh", Content: []byte("#!/bin/sh\nexit 0\n")}, {Path: "sub/dir/new.sh", Content: []byte("x")}}
	sha, err := r.Commit(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, gitrepo.Auth{}, sha, "modes", ""); err != nil {
		t.Fatal(err)
	}
	if out := s.Git(t, "acme", "infra", "ls-tree", "-r", sha, "run.sh", "sub/dir/new.sh"); !strings.HasPrefix(out, "100755 ") || !strings.Contains(out, "100644 blob") {
		t.Errorf("modes:\n%s", out)
	}
	if out := s.Git(t, "acme", "infra", "log", "-1", "--format=%aI", sha); strings.TrimSpace(out) != "2026-11-25T12:00:00+00:00" {
		t.Errorf("date %s", out)
	}
	s.Git(t, "acme", "infra", "fsck", "--strict", "--no-progress")
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	c, err := gitrepo.NewCache(t.TempDir(), gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{
		"https://github.com/acme/infra.git",
		"https://GitHub.com/acme/infra",
		"http://127.0.0.1:8080/acme/infra.git",
		"https://ghe.example.com/git/acme/infra.git",
	} {
		r, err := c.Open(ctx, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if r.Name() != "acme/infra" {
			t.Errorf("Open(%q).Name() = %q", u, r.Name())
		}
	}
	a, _ := c.Open(ctx, "https://github.com/acme/infra.git")
	b, _ := c.Open(ctx, "https://github.com/acme/infra")
	if a != b {
		t.Error("the same repository opened twice")
	}
	for _, u := range []string{
		"https://x-access-token:SECRETTOKEN@github.com/acme/infra.git",
		"https://github.com/../../etc/passwd",
		"https://github.com/acme/..",
		"https://github.com/acme/%2e%2e",
		"https://github.com/acme",
		"https://github.com/acme/infra?x=1",
		"file:///tmp/acme/infra",
		"ssh://git@github.com/acme/infra.git",
		"https://gith ub.com/acme/infra",
		"https://github.com/acme/in fra",
		"",
	} {
		_, err := c.Open(ctx, u)
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if !forge.IsPermanent(err) {
			t.Errorf("Open(%q): %v is not permanent", u, err)
		}
		if strings.Contains(err.Error(), "SECRETTOKEN") {
			t.Errorf("Open(%q) error shows the credential: %v", u, err)
		}
	}
	// Nothing was created outside the cache.
	entries, err := os.ReadDir(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "http") {
			t.Errorf("unexpected %s in the cache", e.Name())
		}
	}
}
