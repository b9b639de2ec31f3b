package gittest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// zeroSHA is git's "no commit" id, the old value of a ref being created.
const zeroSHA = "0000000000000000000000000000000000000000"

// CreateRepo creates the bare repository owner/name whose HEAD is
// defaultBranch and, when files is not empty, commits files (path to
// content) to it as its first commit. It returns that commit's id, or ""
// for an empty repository.
func (s *Server) CreateRepo(t testing.TB, owner, name, defaultBranch string, files map[string]string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.initRepo(t, owner, name, defaultBranch)
	if len(files) == 0 {
		return ""
	}
	sha, err := s.commitFiles(dir, "", "", defaultBranch, files, nil, "Initial commit\n")
	if err != nil {
		t.Fatalf("gittest: create %s/%s: %v", owner, name, err)
	}
	return sha
}

// CreateRepoFromDir creates the bare repository owner/name whose HEAD is
// branch, with the files under dir (such as a fixture repository) as its
// first commit on branch, and returns that commit's id. Executable bits
// are kept; a .gitignore in dir applies.
func (s *Server) CreateRepoFromDir(t testing.TB, owner, name, branch, dir string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	gitDir := s.initRepo(t, owner, name, branch)
	index := s.tempIndex(t)
	env := []string{"GIT_INDEX_FILE=" + index}
	if _, err := s.git(gitDir, nil, env, "--work-tree="+abs, "add", "--all", "."); err != nil {
		t.Fatalf("gittest: create %s/%s from %s: %v", owner, name, dir, err)
	}
	sha, err := s.writeCommit(gitDir, env, "", "", "Initial commit\n", branch)
	if err != nil {
		t.Fatalf("gittest: create %s/%s from %s: %v", owner, name, dir, err)
	}
	return sha
}

func (s *Server) initRepo(t testing.TB, owner, name, branch string) string {
	t.Helper()
	if !validName(owner, name) {
		t.Fatalf("gittest: %q/%q is not a valid repository name", owner, name)
	}
	if err := checkBranch(branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	dir := s.Dir(owner, name)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("gittest: repository %s/%s already exists", owner, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	if _, err := s.git(dir, nil, nil, "init", "--quiet", "--bare", "--initial-branch="+branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	return dir
}

// tempIndex is the path of a not-yet-existing index file, removed when
// the test ends.
func (s *Server) tempIndex(t testing.TB) string {
	t.Helper()
	f, err := os.CreateTemp(s.home, "index-*")
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	t.Cleanup(func() { os.Remove(name) })
	return name
}

// checkBranch refuses branch names git would refuse or read as an option.
func checkBranch(b string) error {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, ".") || strings.Contains(b, "..") ||
		strings.Contains(b, "//") || strings.Contains(b, "@{") || b == "@" ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f") {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	for _, r := range b {
		if r < 0x20 {
			return fmt.Errorf("%q is not a valid branch name", b)
		}
	}
	return nil
}

// checkRef refuses revisions that git would read as an option.
func checkRef(ref string) error {
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return fmt.Errorf("%q is not a valid revision: %w", ref, ErrNotFound)
	}
	return nil
}

// commitFiles commits files and deletes on top of parent, or of start
// when parent is "" (both "" for a root commit), and moves branch from
// parent to the new commit.
func (s *Server) commitFiles(gitDir, parent, start, branch string, files map[string]string, deletes []string, msg string) (string, error) {
	f, err := os.CreateTemp(s.home, "index-*")
	if err != nil {
		return "", err
	}
	index := f.Name()
	f.Close()
	os.Remove(index)
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index}
	from := parent
	if from == "" {
		from = start
	}
	if from != "" {
		if _, err := s.git(gitDir, nil, env, "read-tree", from); err != nil {
			return "", err
		}
	}
	var info strings.Builder
	for _, p := range deletes {
		if from == "" {
			return "", fmt.Errorf("delete %s: %w", p, ErrNotFound)
		}
		if _, err := s.git(gitDir, nil, nil, "cat-file", "-e", from+":"+p); err != nil {
			return "", fmt.Errorf("delete %s: %w", p, ErrNotFound)
		}
		fmt.Fprintf(&info, "0 %s\t%s\n", zeroSHA, p)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		blob, err := s.git(gitDir, []byte(files[p]), nil, "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&info, "100644 %s\t%s\n", strings.TrimSpace(blob), p)
	}
	if _, err := s.git(gitDir, []byte(info.String()), env, "update-index", "--index-info"); err != nil {
		return "", err
	}
	return s.writeCommit(gitDir, env, from, parent, msg, branch)
}

// writeCommit commits the index in env on top of from ("" for a root
// commit) and moves branch from old ("" when it must not exist) to it.
func (s *Server) writeCommit(gitDir string, env []string, from, old, msg, branch string) (string, error) {
	tree, err := s.git(gitDir, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", strings.TrimSpace(tree)}
	if from != "" {
		args = append(args, "-p", from)
	}
	args = append(args, "-F", "-")
	out, err := s.git(gitDir, []byte(msg), s.identity(), args...)
	if err != nil {
		return "", err
	}
	sha := strings.TrimSpace(out)
	if old == "" {
		old = zeroSHA
	}
	if _, err := s.git(gitDir, nil, nil, "update-ref", "refs/heads/"+branch, sha, old); err != nil {
		return "", err
	}
	return sha, nil
}

// Commit adds a commit to branch, as someone else pushing to it would:
// files are written (path to content, mode 100644), deletes removed, and
// the commit's id returned. A branch that does not exist is created from
// the default branch (or as a root commit in an empty repository).
func (s *Server) Commit(t testing.TB, owner, name, branch string, files map[string]string, deletes []string, msg string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.repoDir(t, owner, name)
	if err := checkBranch(branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	parent, err := s.resolve(dir, "refs/heads/"+branch)
	var start string
	if err != nil {
		// A new branch starts at the default branch.
		start, _ = s.resolve(dir, "HEAD")
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	sha, err := s.commitFiles(dir, parent, start, branch, files, deletes, msg)
	if err != nil {
		t.Fatalf("gittest: commit to %s/%s %s: %v", owner, name, branch, err)
	}
	return sha
}

// repoDir is the repository's folder; the test fails when it does not
// exist.
func (s *Server) repoDir(t testing.TB, owner, name string) string {
	t.Helper()
	dir, err := s.existing(owner, name)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	return dir
}

func (s *Server) existing(owner, name string) (string, error) {
	if !validName(owner, name) {
		return "", fmt.Errorf("repository %s/%s: %w", owner, name, ErrNotFound)
	}
	dir := s.Dir(owner, name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("repository %s/%s: %w", owner, name, ErrNotFound)
	}
	return dir, nil
}

// resolve is the commit ref names in the repository at gitDir.
func (s *Server) resolve(gitDir, ref string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	out, err := s.git(gitDir, nil, nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 {
			return "", fmt.Errorf("revision %q: %w", ref, ErrNotFound)
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Resolve returns the commit id that ref (a branch, tag, full ref name or
// commit id) names in owner/name; errors wrap ErrNotFound when the
// repository or ref does not exist. It can serve as a GitHub API double's
// ref resolver.
func (s *Server) Resolve(owner, name, ref string) (string, error) {
	dir, err := s.existing(owner, name)
	if err != nil {
		return "", err
	}
	return s.resolve(dir, ref)
}

// Head returns branch's commit; ok is false when the branch does not
// exist.
func (s *Server) Head(t testing.TB, owner, name, branch string) (sha string, ok bool) {
	t.Helper()
	dir := s.repoDir(t, owner, name)
	if err := checkBranch(branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	sha, err := s.resolve(dir, "refs/heads/"+branch)
	if err != nil {
		return "", false
	}
	return sha, true
}

// Branches returns every branch of the repository and its commit.
func (s *Server) Branches(t testing.TB, owner, name string) map[string]string {
	t.Helper()
	dir := s.repoDir(t, owner, name)
	out, err := s.git(dir, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	branches := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		sha, ref, ok := strings.Cut(line, " ")
		if ok {
			branches[strings.TrimPrefix(ref, "refs/heads/")] = sha
		}
	}
	return branches
}

// SetBranch points branch at sha, creating it if needed, as a force push
// by someone else would.
func (s *Server) SetBranch(t testing.TB, owner, name, branch, sha string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.repoDir(t, owner, name)
	if err := checkBranch(branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	c, err := s.resolve(dir, sha)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	if _, err := s.git(dir, nil, nil, "update-ref", "refs/heads/"+branch, c); err != nil {
		t.Fatalf("gittest: %v", err)
	}
}

// DeleteBranch removes branch; it does nothing when there is no such
// branch.
func (s *Server) DeleteBranch(t testing.TB, owner, name, branch string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.repoDir(t, owner, name)
	if err := checkBranch(branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	if _, err := s.git(dir, nil, nil, "update-ref", "-d", "refs/heads/"+branch); err != nil {
		t.Fatalf("gittest: %v", err)
	}
}

// ReadFile returns the file at path in the commit ref names; ok is false
// when ref or the file does not exist.
func (s *Server) ReadFile(t testing.TB, owner, name, ref, path string) ([]byte, bool) {
	t.Helper()
	dir := s.repoDir(t, owner, name)
	c, err := s.resolve(dir, ref)
	if err != nil {
		return nil, false
	}
	obj := c + ":" + path
	if typ, err := s.git(dir, nil, nil, "cat-file", "-t", obj); err != nil || strings.TrimSpace(typ) != "blob" {
		return nil, false
	}
	out, err := s.git(dir, nil, nil, "cat-file", "blob", obj)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	return []byte(out), true
}

// commitObject returns a commit's parents and message.
func (s *Server) commitObject(t testing.TB, owner, name, sha string) (parents []string, message string) {
	t.Helper()
	dir := s.repoDir(t, owner, name)
	c, err := s.resolve(dir, sha)
	if err != nil {
		t.Fatalf("gittest: %s/%s: %v", owner, name, err)
	}
	out, err := s.git(dir, nil, nil, "cat-file", "commit", c)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	header, message, _ := strings.Cut(out, "\n\n")
	for _, line := range strings.Split(header, "\n") {
		if p, ok := strings.CutPrefix(line, "parent "); ok {
			parents = append(parents, p)
		}
	}
	return parents, message
}

// Parents returns a commit's parents, first parent first.
func (s *Server) Parents(t testing.TB, owner, name, sha string) []string {
	t.Helper()
	parents, _ := s.commitObject(t, owner, name, sha)
	return parents
}

// Message returns a commit's message exactly as stored.
func (s *Server) Message(t testing.TB, owner, name, sha string) string {
	t.Helper()
	_, msg := s.commitObject(t, owner, name, sha)
	return msg
}
