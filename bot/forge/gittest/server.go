package gittest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Username is the Basic-auth username GitHub expects with an installation
// token.
const Username = "x-access-token"

// Realm is the realm of the server's WWW-Authenticate challenge.
const Realm = "gittest"

// Errors the Server's methods return; test with errors.Is.
var (
	// ErrConflict: a merge did not apply cleanly.
	ErrConflict = errors.New("merge conflict")
	// ErrNotFound: no such repository, branch, commit or ref.
	ErrNotFound = errors.New("not found")
)

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server demand HTTP Basic credentials on every request:
// username x-access-token and a password that check accepts for the
// repository. check is called from the server's goroutines.
func WithAuth(check func(owner, repo, token string) bool) Option {
	return func(s *Server) { s.check = check }
}

// WithToken is WithAuth accepting token, and only token, for every
// repository.
func WithToken(token string) Option {
	return WithAuth(func(_, _, t string) bool { return t == token })
}

// WithWriteCheck makes the server refuse pushes (receive-pack requests)
// whose token write does not accept for the repository with 403
// Forbidden, as GitHub answers a token that may read but not write. The
// token is the Basic-auth password, "" when there is none.
func WithWriteCheck(write func(owner, repo, token string) bool) Option {
	return func(s *Server) { s.write = write }
}

// WithoutSHA1InWant makes the server refuse fetches of a commit by id
// (uploadpack.allowReachableSHA1InWant off, as on some git servers). By
// default the server allows them, as GitHub does.
func WithoutSHA1InWant() Option {
	return func(s *Server) { s.noSHA1InWant = true }
}

// Server is a git smart-HTTP server over the bare repositories in a
// temporary folder. Its methods are safe for concurrent use; the methods
// that take a testing.TB fail the test on unexpected errors.
type Server struct {
	srv          *httptest.Server
	root         string // GIT_PROJECT_ROOT: <root>/<owner>/<name>.git
	home         string // HOME and global config of every git command
	gitPath      string
	check        func(owner, repo, token string) bool
	write        func(owner, repo, token string) bool
	noSHA1InWant bool
	pushes       atomic.Int64
	tick         atomic.Int64 // commit clock, minutes after epoch
	// mu serialises the helper methods that write, so their
	// read-compute-update sequences do not interleave. Pushes over HTTP
	// are serialised by git's own ref locks.
	mu sync.Mutex
}

// epoch is the first commit time; each commit the server makes is a
// minute after the one before.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var partRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

func validName(owner, name string) bool {
	return partRE.MatchString(owner) && partRE.MatchString(name) &&
		owner != "." && owner != ".." && name != "." && name != ".." &&
		!strings.HasSuffix(name, ".git")
}

// NewServer starts a server and closes it when the test ends. It skips
// the test when git 2.38 or later is not installed.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("gittest: git is not installed")
	}
	tmp := t.TempDir()
	s := &Server{
		root:    filepath.Join(tmp, "repos"),
		home:    filepath.Join(tmp, "home"),
		gitPath: gitPath,
	}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{s.root, s.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("gittest: %v", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.home, ".gitconfig"), nil, 0o644); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	out, err := s.git("", nil, nil, "version")
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	if !gitAtLeast(out, 2, 38) {
		t.Skipf("gittest: needs git 2.38 or later, have %s", strings.TrimSpace(out))
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// gitAtLeast reports whether `git version` output names major.minor or
// later.
func gitAtLeast(version string, major, minor int) bool {
	f := strings.Fields(version)
	if len(f) < 3 {
		return false
	}
	parts := strings.Split(f[2], ".")
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// URL is the server's base URL, http://127.0.0.1:<port>.
func (s *Server) URL() string { return s.srv.URL }

// CloneURL is the repository's URL, <URL>/<owner>/<name>.git, without
// credentials.
func (s *Server) CloneURL(owner, name string) string {
	return s.srv.URL + "/" + owner + "/" + name + ".git"
}

// AuthURL is CloneURL with x-access-token:token as its user information,
// for the git command line.
func (s *Server) AuthURL(owner, name, token string) string {
	return strings.Replace(s.CloneURL(owner, name), "http://", "http://"+Username+":"+token+"@", 1)
}

// Dir is the bare repository's folder on disk.
func (s *Server) Dir(owner, name string) string {
	return filepath.Join(s.root, owner, name+".git")
}

// Pushes counts the receive-pack requests (pushes, branch deletions) that
// passed authentication and the write check.
func (s *Server) Pushes() int { return int(s.pushes.Load()) }

var pathRE = regexp.MustCompile(`^/([^/]+)/([^/]+)\.git(/.*)?$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil || !validName(m[1], m[2]) {
		http.NotFound(w, r)
		return
	}
	owner, name := m[1], m[2]
	if s.check != nil {
		user, token, ok := r.BasicAuth()
		if !ok || user != Username || !s.check(owner, name, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	_, token, _ := r.BasicAuth()
	r.Header.Del("Authorization")
	if fi, err := os.Stat(s.Dir(owner, name)); err != nil || !fi.IsDir() {
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	}
	push := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
	if push && s.write != nil && !s.write(owner, name, token) {
		http.Error(w, "permission denied", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		s.pushes.Add(1)
	}
	if r.ContentLength < 0 && r.Body != nil {
		// net/http/cgi refuses chunked bodies, which git sends for
		// large pushes: buffer them.
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.TransferEncoding = nil
	}
	h := &cgi.Handler{
		Path: s.gitPath,
		Args: []string{"http-backend"},
		Dir:  s.root,
		Env: append(s.env(),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER="+Username,
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=uploadpack.allowReachableSHA1InWant",
			"GIT_CONFIG_VALUE_1="+strconv.FormatBool(!s.noSHA1InWant),
		),
		Stderr: io.Discard,
	}
	h.ServeHTTP(w, r)
}

// env is the clean environment of every git command.
func (s *Server) env() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return []string{
		"PATH=" + path,
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + s.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(s.home, ".gitconfig"),
		"GIT_TERMINAL_PROMPT=0",
		"LANG=C",
		"LC_ALL=C",
		"TZ=UTC",
	}
}

// identity is the fixed author and committer of the server's commits,
// dated one minute after the previous one.
func (s *Server) identity() []string {
	when := epoch.Add(time.Duration(s.tick.Add(1)) * time.Minute)
	date := fmt.Sprintf("@%d +0000", when.Unix())
	return []string{
		"GIT_AUTHOR_NAME=Gittest Author", "GIT_AUTHOR_EMAIL=author@gittest.invalid", "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=Gittest Committer", "GIT_COMMITTER_EMAIL=committer@gittest.invalid", "GIT_COMMITTER_DATE=" + date,
	}
}

// Env is the clean environment the server runs git with (no system or
// global configuration, a temporary HOME, a fixed identity), for tests
// that run the git command line against the server themselves.
func (s *Server) Env() []string {
	return append(s.env(), s.identity()...)
}

// gitError is a failed git command with its standard error.
type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.args, " "), e.err, strings.TrimSpace(e.stderr))
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode is the exit status of a failed git command, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// git runs git in dir with the clean environment plus extra, feeding it
// stdin, and returns its standard output.
func (s *Server) git(dir string, stdin []byte, extra []string, args ...string) (string, error) {
	cmd := exec.Command(s.gitPath, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = s.home
	}
	cmd.Env = append(s.env(), extra...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// Git runs the git command line in the repository's folder with the
// server's clean environment and returns its standard output, failing the
// test when git fails.
func (s *Server) Git(t testing.TB, owner, name string, args ...string) string {
	t.Helper()
	out, err := s.git(s.Dir(owner, name), nil, s.identity(), args...)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	return out
}
