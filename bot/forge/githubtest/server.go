package githubtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is a GitHub Enterprise Server lookalike for one test: REST under
// URL()/api/v3/, GraphQL at URL()/api/graphql. Every REST request it
// receives and every REST response it sends is checked against GitHub's
// OpenAPI description; any mismatch, unknown route or invalid request
// fails the test at cleanup (see Errors). Its methods are safe for
// concurrent use.
type Server struct {
	tb     testing.TB
	srv    *httptest.Server
	spec   *spec
	appID  int64
	key    *rsa.PrivateKey
	keyPEM []byte

	now           func() time.Time
	tokenLifetime time.Duration
	resolver      func(owner, repo, ref string) (string, error)
	merger        func(owner, repo, headSHA, base, method, title, message string) (string, error)
	mergeCheck    func(owner, repo, headSHA, base string) bool

	mu            sync.Mutex
	errs          []string
	calls         []Call
	installations map[int64]*installation
	tokens        map[string]token
	repos         map[string]*repoState
	failures      []*failure
	nextID        int64
	rateUsed      int
	rateReset     time.Time
	requestIDs    atomic.Int64
	refDeleter    func(owner, repo, ref string) error
}

// Option configures a Server.
type Option func(*Server)

// WithRefResolver makes the double ask resolve for the commit a branch
// points to when a pull request is created or updated and when its head
// is read, so that a real git server can back it. Without it the double
// resolves refs set with SetRef (and each repository's default branch).
// An error means the ref does not exist.
func WithRefResolver(resolve func(owner, repo, ref string) (sha string, err error)) Option {
	return func(s *Server) { s.resolver = resolve }
}

// WithMerger makes the double call merge to merge a pull request's head
// into base with method ("merge", "squash" or "rebase"), title and
// message; it returns the merge commit. An error (a conflict) makes the
// merge fail with GitHub's 405 "Pull Request is not mergeable". Without a
// merger the double makes up a merge commit.
func WithMerger(merge func(owner, repo, headSHA, base, method, title, message string) (mergeSHA string, err error)) Option {
	return func(s *Server) { s.merger = merge }
}

// WithMergeCheck makes the double report a pull request as mergeable
// only when check says its head merges into base without conflicts, as
// GitHub computes mergeable / mergeable_state "dirty" (a real git server
// can answer with a trial merge). Without it every pull request is
// mergeable unless a test sets PullRequest.Mergeable.
func WithMergeCheck(check func(owner, repo, headSHA, base string) bool) Option {
	return func(s *Server) { s.mergeCheck = check }
}

// WithRefDeleter makes DELETE /repos/{owner}/{repo}/git/refs/{ref} call
// deleteRef with the ref ("heads/<branch>") after the double's checks, so
// that a real git server loses the branch too; an error answers 422
// "Reference does not exist".
func WithRefDeleter(deleteRef func(owner, repo, ref string) error) Option {
	return func(s *Server) { s.refDeleter = deleteRef }
}

// WithTokenLifetime sets how long installation tokens live (GitHub: one
// hour), to test refreshing them.
func WithTokenLifetime(d time.Duration) Option {
	return func(s *Server) { s.tokenLifetime = d }
}

// WithClock sets the clock for token expiry and timestamps. App JWTs are
// always checked against the real time, since clients sign them with it.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithAppID sets the test App's id (default 4242).
func WithAppID(id int64) Option {
	return func(s *Server) { s.appID = id }
}

// Call is one request the double answered.
type Call struct {
	Method string
	// Path is the request's escaped URL path, with /api/v3 or /api/graphql.
	Path   string
	Status int
}

type failure struct {
	method  string
	path    *regexp.Regexp
	n       int
	status  int
	headers map[string]string
	message string
}

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
	keyErr  error
)

// New starts a double for t, closed by t.Cleanup, which also reports every
// error the double recorded with t.Errorf.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	sp, err := loadSpec()
	if err != nil {
		t.Fatalf("githubtest: %v", err)
	}
	// One RSA key per process: generating one takes long under -race.
	keyOnce.Do(func() { testKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		t.Fatalf("githubtest: generate app key: %v", keyErr)
	}
	s := &Server{
		tb:            t,
		spec:          sp,
		appID:         4242,
		key:           testKey,
		now:           time.Now,
		tokenLifetime: time.Hour,
		installations: map[int64]*installation{},
		tokens:        map[string]token{},
		repos:         map[string]*repoState{},
		nextID:        1000,
	}
	s.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.key)})
	for _, o := range opts {
		o(s)
	}
	s.rateReset = s.now().Add(time.Hour).Truncate(time.Second)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(func() {
		s.srv.Close()
		for _, e := range s.Errors() {
			t.Errorf("githubtest: %s", e)
		}
	})
	return s
}

// URL is the server's root, like https://ghe.example.com.
func (s *Server) URL() string { return s.srv.URL }

// RESTURL is the REST API root with a trailing slash: URL()/api/v3/.
func (s *Server) RESTURL() string { return s.srv.URL + "/api/v3/" }

// GraphQLURL is the GraphQL endpoint: URL()/api/graphql.
func (s *Server) GraphQLURL() string { return s.srv.URL + "/api/graphql" }

// Client is an HTTP client of the server (plain, no authentication).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Errors returns what the double found wrong so far: unknown routes,
// requests and responses that do not match GitHub's description, invalid
// GraphQL. New reports them with t.Errorf at cleanup.
func (s *Server) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// Requests returns every request answered so far, in order.
func (s *Server) Requests() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Server) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// FailNext makes the next n REST requests whose method is method (any
// when empty) and whose path below /api/v3 (e.g. /repos/o/r/pulls)
// matches pathRegexp fail with status, the given extra headers (which
// override the rate-limit headers, e.g. X-RateLimit-Remaining: 0 or
// Retry-After: 1) and a GitHub error body carrying message. The request
// must still be valid; authentication is not checked for it. GraphQL
// requests match with the path /graphql.
func (s *Server) FailNext(method, pathRegexp string, n int, status int, headers map[string]string, message string) {
	re := regexp.MustCompile(pathRegexp)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{method: strings.ToUpper(method), path: re, n: n, status: status, headers: headers, message: message})
}

func (s *Server) takeFailure(method, path string) *failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures {
		if f.n > 0 && (f.method == "" || f.method == method) && f.path.MatchString(path) {
			f.n--
			return f
		}
	}
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.EscapedPath(), Status: rec.status})
		s.mu.Unlock()
	}()
	path := r.URL.EscapedPath()
	switch {
	case path == "/api/graphql":
		s.serveGraphQL(rec, r)
	case strings.HasPrefix(path, "/api/v3/"):
		s.serveREST(rec, r, strings.TrimPrefix(path, "/api/v3"))
	default:
		s.errorf("%s %s: not under /api/v3/ or /api/graphql", r.Method, path)
		writeJSON(rec, http.StatusNotFound, ghError("Not Found", "404"))
	}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

const docsURL = "https://docs.github.com/rest"

// ghError is GitHub's basic-error body.
func ghError(message, status string) map[string]any {
	m := map[string]any{"message": message, "documentation_url": docsURL}
	if status != "" {
		m["status"] = status
	}
	return m
}

// validationFailed is GitHub's 422 body.
func validationFailed(resource, field, code, message string) map[string]any {
	e := map[string]any{"resource": resource, "code": code}
	if field != "" {
		e["field"] = field
	}
	if message != "" {
		e["message"] = message
	}
	return map[string]any{"message": "Validation Failed", "errors": []any{e}, "documentation_url": docsURL, "status": "422"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}

// reply is a handler's answer: a status and a partial body that the
// double completes from the schema and validates.
type reply struct {
	status  int
	body    any
	headers map[string]string
}

func (s *Server) rateHeaders(h http.Header) {
	s.mu.Lock()
	s.rateUsed++
	used := s.rateUsed
	reset := s.rateReset
	s.mu.Unlock()
	const limit = 5000
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Api-Version-Selected", apiVersion)
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, path string) {
	s.rateHeaders(w.Header())
	w.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("TEST:%d", s.requestIDs.Add(1)))
	op, params, pathMatched := s.spec.route(r.Method, path)
	if op == nil {
		if pathMatched {
			s.errorf("%s %s: method not described for this path", r.Method, path)
		} else {
			s.errorf("%s %s: no such operation in the description", r.Method, path)
		}
		writeJSON(w, http.StatusNotFound, ghError("Not Found", "404"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.errorf("%s %s: read body: %v", r.Method, path, err)
		return
	}
	if err := s.spec.validateRequest(op, params, r.URL.Query(), r.Header, r.Header.Get("Content-Type"), body); err != nil {
		s.errorf("%s %s (%s): invalid request: %v", r.Method, path, op.key, err)
		s.send(w, op, r, reply{status: http.StatusUnprocessableEntity, body: map[string]any{
			"message": "Invalid request.\n\n" + err.Error(), "documentation_url": docsURL, "status": "422"}})
		return
	}
	if f := s.takeFailure(r.Method, path); f != nil {
		body := ghError(f.message, strconv.Itoa(f.status))
		if strings.Contains(strings.ToLower(f.message), "secondary rate limit") {
			// Clients recognise a secondary rate limit by this link.
			body["documentation_url"] = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		}
		rep := reply{status: f.status, body: body, headers: f.headers}
		s.send(w, op, r, rep)
		return
	}
	req := &restRequest{r: r, op: op, params: params, body: bytes.TrimSpace(body), query: r.URL.Query()}
	s.send(w, op, r, s.handle(req))
}

// send completes, validates and writes a reply.
func (s *Server) send(w http.ResponseWriter, op *operation, r *http.Request, rep reply) {
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	var out []byte
	if rep.body != nil {
		body := rep.body
		if _, raw, _ := s.spec.responseSchema(op, rep.status); raw != nil {
			body = s.spec.complete(raw, body, placeholders{url: s.srv.URL + "/", time: s.now().UTC().Format(time.RFC3339)})
		}
		var err error
		out, err = json.Marshal(body)
		if err != nil {
			s.errorf("%s: marshal response: %v", op.key, err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	if err := s.spec.validateResponse(op, rep.status, out); err != nil {
		s.errorf("%s %s (%s): the double's response does not match the description: %v", r.Method, r.URL.EscapedPath(), op.key, err)
	}
	if out != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	w.Write(out)
}
