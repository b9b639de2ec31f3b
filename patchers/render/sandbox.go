package render

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Renders run in a child process: the current binary, re-executed in a
// hidden mode (as moby's pkg/reexec does), that reads requests on stdin and
// writes rendered YAML on stdout. text/template and krusty cannot be
// stopped from inside: a goroutine with a timeout leaves them allocating.
// A child can be killed. The parent kills it when a render passes its
// timeout or its output limit; the child exits by itself when its memory
// passes MaxMemoryBytes (a watchdog on the Go runtime's own accounting,
// and, outside race builds, an address-space rlimit as a hard stop for a
// single huge allocation). The child runs with an empty PATH, a TMPDIR
// that does not exist and an HTTP transport that refuses every request, so
// a reference that slipped past checkLocal can neither run git nor fetch.
//
// A child serves one render at a time and is reused for the next (starting
// one costs a process start; a race build starts slowly), at most
// GOMAXPROCS at once; an idle child exits after childIdle.

const (
	// childArg and childEnv mark the re-executed process; both must be
	// set, so neither a stray argument nor a stray variable turns medic
	// into a render child.
	childArg   = "-medic-render-child"
	childEnv   = "MEDIC_RENDER_CHILD"
	childToken = "v1"
	// childMemEnv carries MaxMemoryBytes, for the child's rlimit.
	childMemEnv = "MEDIC_RENDER_MEMORY"
	// exitMemory is the child's exit status when it passed its memory
	// limit.
	exitMemory = 3
	childIdle  = 30 * time.Second
	// childStart bounds a child's start-up, before its first render.
	childStart = 2 * time.Minute
	// childNowhere is TMPDIR and HOME in the child: a path that does not
	// exist, so nothing can create files in the host's temp dir.
	childNowhere = "/nonexistent/medic-render"
)

// request is one render sent to the child.
type request struct {
	Op          string // opKustomize or opHelm; the service's name for a Service child
	Payload     []byte // a Service child's request
	Dir         string
	ValuesFiles []string
	Release     string
	Namespace   string
	Limits      Limits
	Files       []repoFile
	// Unreadable are paths whose reading is an error with the given
	// reason: symlinks that lead out of the repository (kustomize only).
	Unreadable map[string]string
}

// repoFile is one repository file: its slash path and content.
type repoFile struct {
	Name string
	Data []byte
}

const (
	opKustomize = "kustomize"
	opHelm      = "helm"
)

// response is the child's answer.
type response struct {
	Out []byte
	Err string
	// Limit says Err reports a passed limit.
	Limit bool
}

// renderService is the name of the children that render.
const renderService = "render"

func init() {
	if isChild(renderService) {
		// The re-exec hook: this process is a render child started by
		// sandbox, not medic. It must take over before main (or
		// testing.Main) runs, so it exits here.
		os.Exit(childMain(serve))
	}
}

// isChild reports whether this process was started as a child of service.
func isChild(service string) bool {
	return len(os.Args) > 2 && os.Args[1] == childArg && os.Args[2] == service && os.Getenv(childEnv) == childToken
}

// ServeChild makes this process a child of the service named name, when
// it was started as one, serving each request with serve, and exits; it
// returns at once otherwise. A package that runs untrusted work in a
// child calls it from its init, so that the child has every package it
// needs initialized and takes over before main runs. The child has the
// render children's limits and environment: a memory watchdog (plus an
// address-space rlimit), no PATH, no TMPDIR, and no network through
// http.DefaultTransport.
func ServeChild(name string, serve func(req []byte) ([]byte, error)) {
	if !isChild(name) {
		return
	}
	os.Exit(childMain(func(req request) response {
		out, err := serve(req.Payload)
		if err == nil && int64(len(out)) > req.Limits.MaxOutputBytes {
			err = limitError("answer", "max_output_bytes", req.Limits.MaxOutputBytes)
		}
		if err != nil {
			return response{Err: err.Error(), Limit: errors.Is(err, ErrLimit)}
		}
		return response{Out: out}
	}))
}

// RunChild sends req to a child of the service name (see ServeChild)
// under l: the child is killed past l.Timeout, l.MaxMemoryBytes or
// l.MaxOutputBytes of answer, and the error then wraps ErrLimit and names
// the limit. An error the service returned comes back as an error with
// its text. what names the work in errors.
func (l Limits) RunChild(ctx context.Context, what, name string, req []byte) ([]byte, error) {
	if name == renderService || name == "" {
		return nil, fmt.Errorf("%s: %q is not a service name", what, name)
	}
	return l.run(ctx, what, request{Op: name, Payload: req})
}

// run sends req to a child and returns its output.
func (l Limits) run(ctx context.Context, what string, req request) ([]byte, error) {
	req.Limits = l
	service := renderService
	if req.Op != opKustomize && req.Op != opHelm {
		service = req.Op
	}
	p := poolFor(service, l.MaxMemoryBytes)
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	w, err := p.get()
	if err != nil {
		return nil, fmt.Errorf("%s: start render process: %w", what, err)
	}
	w.out.n = l.MaxOutputBytes + 1<<20 // the gob framing around Out
	done := make(chan error, 1)
	var resp response
	go func() {
		err := w.enc.Encode(&req)
		if err == nil {
			err = w.dec.Decode(&resp)
		}
		done <- err
	}()
	timer := time.NewTimer(l.Timeout)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		w.kill()
		<-done
		return nil, limitError(what, "timeout", l.Timeout)
	case <-ctx.Done():
		w.kill()
		<-done
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if err != nil {
		w.kill()
		return nil, w.failure(what, l)
	}
	p.put(w)
	if resp.Err != "" {
		if resp.Limit {
			return nil, fmt.Errorf("%s: %w", what, errors.Join(errors.New(resp.Err), ErrLimit))
		}
		return nil, fmt.Errorf("%s: %s", what, resp.Err)
	}
	return resp.Out, nil
}

// pool holds the idle children of one service started with one memory
// limit.
type pool struct {
	service string
	memory  int64
	slots   chan struct{}
	mu      sync.Mutex
	idle    []*worker
}

var pools sync.Map // poolKey -> *pool

type poolKey struct {
	service string
	memory  int64
}

func poolFor(service string, memory int64) *pool {
	k := poolKey{service, memory}
	if p, ok := pools.Load(k); ok {
		return p.(*pool)
	}
	p, _ := pools.LoadOrStore(k, &pool{service: service, memory: memory, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))})
	return p.(*pool)
}

func (p *pool) get() (*worker, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		w := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if w.idle.Stop() && !w.exited() {
			p.mu.Unlock()
			return w, nil
		}
	}
	p.mu.Unlock()
	return startWorker(p.service, p.memory)
}

func (p *pool) put(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.idle = time.AfterFunc(childIdle, func() {
		p.mu.Lock()
		for i, x := range p.idle {
			if x == w {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		w.close()
	})
	p.idle = append(p.idle, w)
}

// worker is one child process.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *capReader
	enc    *gob.Encoder
	dec    *gob.Decoder
	stderr *tail
	done   chan struct{} // closed when the process has exited
	idle   *time.Timer
}

func startWorker(service string, memory int64) (*worker, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, childArg, service)
	cmd.Env = []string{
		childEnv + "=" + childToken,
		fmt.Sprintf("%s=%d", childMemEnv, memory),
		"PATH=",
		"TMPDIR=" + childNowhere,
		"HOME=" + childNowhere,
		// A fatal error (out of memory) prints its reason, not every goroutine.
		"GOTRACEBACK=none",
	}
	cmd.Dir = "/"
	setChildAttrs(cmd)
	w := &worker{cmd: cmd, stderr: &tail{max: 4 << 10}, done: make(chan struct{})}
	cmd.Stderr = w.stderr
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	w.out = &capReader{r: stdout, n: 1 << 10}
	w.enc = gob.NewEncoder(w.stdin)
	w.dec = gob.NewDecoder(w.out)
	ready := make(chan error, 1)
	go func() {
		var hello response
		ready <- w.dec.Decode(&hello)
	}()
	select {
	case err = <-ready:
	case <-time.After(childStart):
		err = errors.New("no answer")
	}
	if err != nil {
		w.kill()
		<-ready
		return nil, fmt.Errorf("render process did not start: %w: %s", err, strings.TrimSpace(w.stderr.String()))
	}
	return w, nil
}

func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// kill stops the child and waits for it.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.done
}

// close ends an idle child: it exits when its stdin closes.
func (w *worker) close() {
	_ = w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		w.kill()
	}
}

// failure explains why a killed or dead child gave no answer.
func (w *worker) failure(what string, l Limits) error {
	if w.out.n < 0 {
		return limitError(what, "max_output_bytes", l.MaxOutputBytes)
	}
	msg := w.stderr.String()
	if w.cmd.ProcessState != nil && w.cmd.ProcessState.ExitCode() == exitMemory || strings.Contains(msg, "out of memory") {
		return limitError(what, "max_memory_bytes", l.MaxMemoryBytes)
	}
	state := "killed"
	if w.cmd.ProcessState != nil {
		state = w.cmd.ProcessState.String()
	}
	return fmt.Errorf("%s: render process failed (%s): %s", what, state, strings.TrimSpace(msg))
}

// capReader reads from r until n bytes have been read, then fails: the
// parent never buffers more than the output limit of a child's answer.
type capReader struct {
	r io.Reader
	n int64
}

var errOutputCap = errors.New("render output limit")

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.n = -1
		return 0, errOutputCap
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n == 0 {
		c.n = 0
	}
	return n, err
}

// tail keeps the first and the last max/2 bytes written to it (a fatal
// error's reason comes first, the stack last).
type tail struct {
	mu   sync.Mutex
	max  int
	head []byte
	buf  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := min(t.max/2-len(t.head), len(p)); n > 0 {
		t.head = append(t.head, p[:n]...)
		p = p[n:]
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max/2 {
		t.buf = bytes.Clone(t.buf[len(t.buf)-t.max/2:])
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return string(t.head)
	}
	return string(t.head) + " … " + string(t.buf)
}
