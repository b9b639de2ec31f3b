package local_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/local"
)

// The harness drives the repository with the git CLI: someone else's
// commits come from real git, and git fsck checks what the forge wrote.

var testRepo = forge.Repo{Owner: "acme", Name: "infra"}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("the git command is not installed")
	}
}

// git runs git in dir and returns its trimmed output; ok is false when it
// exits with status 1 (a "no" from rev-parse --verify and friends).
func gitOK(t testing.TB, dir string, stdin []byte, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Someone Else", "GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=Someone Else", "GIT_COMMITTER_EMAIL=someone@example.com",
	)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && stderr.Len() == 0 {
			return "", false
		}
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 128 && strings.Contains(stderr.String(), "not a valid object name") {
			return "", false
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), true
}

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, ok := gitOK(t, dir, nil, args...)
	if !ok {
		t.Fatalf("git %s: exit status 1", strings.Join(args, " "))
	}
	return out
}

// newCheckout makes a git checkout of the kustomize fixture with one
// commit on main.
func newCheckout(t testing.TB) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "infra")
	copyDir(t, filepath.Join("..", "..", "..", "fixtures", "repos", "kustomize"), dir)
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "infra: kustomize base and overlays")
	return dir
}

// newBare makes a bare clone of a fresh checkout.
func newBare(t testing.TB) string {
	t.Helper()
	src := newCheckout(t)
	dir := filepath.Join(t.TempDir(), "infra.git")
	git(t, filepath.Dir(src), "clone", "-q", "--bare", src, dir)
	return dir
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// clock is a deterministic, advancing clock.
func clock() func() time.Time {
	t := time.Date(2026, 11, 2, 14, 10, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

type harness struct {
	f   *local.Forge
	dir string
}

func newHarness(t testing.TB, dir string, records forge.Records) *harness {
	t.Helper()
	f, err := local.New(local.Config{Dir: dir, Repo: testRepo, Records: records, Now: clock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Everything the forge wrote must be valid git.
		if out, err := exec.Command("git", "-C", dir, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
			t.Errorf("git fsck: %v\n%s", err, out)
		}
	})
	return &harness{f: f, dir: dir}
}

func (h *harness) Forge() forge.Forge                   { return h.f }
func (h *harness) Repo() forge.Repo                     { return testRepo }
func (h *harness) DefaultBranch() string                { return "main" }
func (h *harness) Settle(testing.TB, forge.PullRequest) {}

func (h *harness) Head(t testing.TB, branch string) (string, bool) {
	t.Helper()
	return gitOK(t, h.dir, nil, "rev-parse", "-q", "--verify", "refs/heads/"+branch+"^{commit}")
}

func (h *harness) ReadFile(t testing.TB, ref, path string) ([]byte, bool) {
	t.Helper()
	if out, _ := gitOK(t, h.dir, nil, "ls-tree", ref, "--", path); !strings.HasPrefix(out, "100") {
		return nil, false
	}
	cmd := exec.Command("git", "-C", h.dir, "cat-file", "blob", ref+":"+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file %s:%s: %v", ref, path, err)
	}
	return out, true
}

func (h *harness) Parents(t testing.TB, sha string) []string {
	t.Helper()
	return strings.Fields(git(t, h.dir, "rev-list", "--parents", "-n1", sha))[1:]
}

func (h *harness) Message(t testing.TB, sha string) string {
	t.Helper()
	return git(t, h.dir, "log", "-1", "--format=%B", sha)
}

// Commit commits with git's plumbing and a private index, so it works in a
// bare repository and leaves a checkout's index alone; when branch is
// checked out, it commits in the checkout instead, as a user would.
func (h *harness) Commit(t testing.TB, branch string, files map[string]string, deletes []string, msg string) string {
	t.Helper()
	if cur, ok := gitOK(t, h.dir, nil, "symbolic-ref", "-q", "HEAD"); ok && cur == "refs/heads/"+branch && git(t, h.dir, "rev-parse", "--is-bare-repository") == "false" {
		for p, c := range files {
			full := filepath.Join(h.dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
			git(t, h.dir, "add", "--", p)
		}
		for _, p := range deletes {
			git(t, h.dir, "rm", "-q", "--", p)
		}
		git(t, h.dir, "commit", "-q", "-m", msg)
		return git(t, h.dir, "rev-parse", "HEAD")
	}
	old := git(t, h.dir, "rev-parse", "refs/heads/"+branch)
	idx := filepath.Join(t.TempDir(), "index")
	env := func(args ...string) *exec.Cmd {
		cmd := exec.Command("git", args...)
		cmd.Dir = h.dir
		cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+idx, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
			"GIT_AUTHOR_NAME=Someone Else", "GIT_AUTHOR_EMAIL=someone@example.com",
			"GIT_COMMITTER_NAME=Someone Else", "GIT_COMMITTER_EMAIL=someone@example.com")
		return cmd
	}
	run := func(cmd *exec.Cmd) string {
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd.Args, err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	run(env("read-tree", old))
	for p, c := range files {
		cmd := env("hash-object", "-w", "--stdin")
		cmd.Stdin = strings.NewReader(c)
		blob := run(cmd)
		run(env("update-index", "--add", "--cacheinfo", "100644,"+blob+","+p))
	}
	for _, p := range deletes {
		cmd := env("update-index", "--index-info")
		cmd.Stdin = strings.NewReader("0 0000000000000000000000000000000000000000\t" + p + "\n")
		run(cmd)
	}
	tree := run(env("write-tree"))
	commit := run(env("commit-tree", tree, "-p", old, "-m", msg))
	run(env("update-ref", "refs/heads/"+branch, commit, old))
	return commit
}
