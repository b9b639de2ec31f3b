//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is a server under test: how to start it and how to read the data
// points it accepted.
type target struct {
	Name     string
	Argv     []string
	Env      []string
	GRPCAddr string // OTLP/gRPC endpoint the load is sent to
	// MetricsURL serves the server's own Prometheus metrics; Accepted selects
	// the accepted-points counter in it and Source names it in the report.
	MetricsURL string
	Accepted   counterQuery
	Source     string
	// Gauges are extra samples reported after the run, e.g. medic_series_active.
	Gauges map[string]counterQuery
}

// load is a load generator run against a target's GRPCAddr.
type load struct {
	Name string
	// Argv returns the command line that sends to endpoint for d.
	Argv func(endpoint string, d time.Duration) []string
	// LoadgenJSON marks medic-loadgen --json output, whose acknowledged point
	// count is the fallback when the server's counter cannot be read.
	LoadgenJSON bool
}

// timing is the shape of one measurement.
type timing struct {
	Warmup, Window time.Duration
	Ready          time.Duration // bound on the server becoming ready
	Stop           time.Duration // bound on a graceful stop before SIGKILL
}

// result is one measurement: the server's accepted points and CPU time over
// the window after the warm-up.
type result struct {
	Server        string             `json:"server"`
	Load          string             `json:"load"`
	Points        float64            `json:"points"`
	CPUSeconds    float64            `json:"cpu_seconds"`
	WindowSeconds float64            `json:"window_seconds"`
	LoadCPU       float64            `json:"load_cpu_seconds"`
	Source        string             `json:"source"`
	Gauges        map[string]float64 `json:"gauges,omitempty"`
	Err           string             `json:"error,omitempty"`
}

// PointsPerCPUSecond is the figure the benchmark compares.
func (r result) PointsPerCPUSecond() float64 {
	if r.CPUSeconds <= 0 {
		return 0
	}
	return r.Points / r.CPUSeconds
}

// proc is a child process with its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc starts argv in its own process group (so a terminal's ^C reaches
// only the bench, which then stops it) with output to logPath; stdout, when
// non-nil, takes the standard output instead.
func startProc(name string, argv, env []string, dir, logPath string, stdout *bytes.Buffer) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	started := make(chan error)
	// The kernel sends Pdeathsig when the thread that forked the child ends,
	// not the process (golang/go#27505), so start and wait on one locked
	// thread that lives as long as the child.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer f.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then kills the process group.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// wait waits up to d for the process to exit by itself, then stops it.
func (p *proc) wait(d time.Duration, grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.stop(grace)
		return fmt.Errorf("%s did not finish within %s", p.name, d)
	}
}

// logTail returns the last lines of the process's log, for error messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

func (p *proc) cpuSeconds() (float64, error) {
	t, err := procCPUTicks(p.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return float64(t) / clockTicks(), nil
}

// freeAddrs returns n distinct loopback addresses with ports nobody listens
// on now; all are held open until the last is picked so none repeats.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// measure starts t, runs l against it for the warm-up plus the window, and
// returns the server's accepted points and CPU time over the window. Every
// process it starts is stopped before it returns.
func measure(ctx context.Context, t target, l load, tm timing, workDir string) (res result, err error) {
	res = result{Server: t.Name, Load: l.Name, Source: t.Source}
	logBase := filepath.Join(workDir, sanitize(t.Name+"-"+l.Name))
	srv, err := startProc(t.Name, t.Argv, t.Env, workDir, logBase+".server.log", nil)
	if err != nil {
		return res, err
	}
	defer srv.stop(tm.Stop)
	if err := waitReady(ctx, srv, t, tm.Ready); err != nil {
		return res, err
	}

	cpuStart, err := srv.cpuSeconds()
	if err != nil {
		return res, err
	}
	// The load runs a little past the window so that the window is loaded
	// to its end.
	const tail = time.Second
	var out bytes.Buffer
	gen, err := startProc(l.Name, l.Argv(t.GRPCAddr, tm.Warmup+tm.Window+tail), nil, workDir, logBase+".load.log", &out)
	if err != nil {
		return res, err
	}
	defer gen.stop(tm.Stop)

	type sample struct {
		at       time.Time
		srvCPU   float64
		genCPU   float64
		accepted float64
		scrapeOK error
	}
	take := func() (sample, error) {
		var s sample
		var err error
		s.at = time.Now()
		if s.srvCPU, err = srv.cpuSeconds(); err != nil {
			return s, fmt.Errorf("%s: %w\n%s", t.Name, err, srv.logTail())
		}
		if s.genCPU, err = gen.cpuSeconds(); err != nil {
			if gen.exited() {
				err = fmt.Errorf("exit: %v", gen.err)
			}
			return s, fmt.Errorf("%s ended early: %w\n%s", l.Name, err, gen.logTail())
		}
		s.accepted, s.scrapeOK = scrape(ctx, t.MetricsURL, t.Accepted)
		return s, nil
	}
	if !sleepCtx(ctx, tm.Warmup) {
		return res, ctx.Err()
	}
	s0, err := take()
	if err != nil {
		return res, err
	}
	if !sleepCtx(ctx, tm.Window) {
		return res, ctx.Err()
	}
	s1, err := take()
	if err != nil {
		return res, err
	}
	genErr := gen.wait(tail+30*time.Second, tm.Stop)
	cpuEnd, err := srv.cpuSeconds()
	if err != nil {
		return res, fmt.Errorf("%s: %w\n%s", t.Name, err, srv.logTail())
	}
	if genErr != nil && !l.LoadgenJSON {
		return res, fmt.Errorf("%s: %w\n%s", l.Name, genErr, gen.logTail())
	}
	res.LoadCPU = s1.genCPU - s0.genCPU
	for name, q := range t.Gauges {
		if v, err := scrape(ctx, t.MetricsURL, q); err == nil {
			if res.Gauges == nil {
				res.Gauges = map[string]float64{}
			}
			res.Gauges[name] = v
		}
	}

	if s0.scrapeOK == nil && s1.scrapeOK == nil {
		res.Points = s1.accepted - s0.accepted
		res.CPUSeconds = s1.srvCPU - s0.srvCPU
		res.WindowSeconds = s1.at.Sub(s0.at).Seconds()
		return res, nil
	}
	// The server's counter could not be read: fall back on what
	// medic-loadgen says the server acknowledged over its whole run, against
	// the server's CPU time over the same run (warm-up included).
	scrapeErr := errors.Join(s0.scrapeOK, s1.scrapeOK)
	if !l.LoadgenJSON {
		return res, scrapeErr
	}
	var st struct {
		Points  float64 `json:"points"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return res, errors.Join(scrapeErr, fmt.Errorf("read %s output: %w", l.Name, err), genErr)
	}
	res.Points = st.Points
	res.CPUSeconds = cpuEnd - cpuStart
	res.WindowSeconds = st.Seconds
	res.Source = "points medic-loadgen saw acknowledged, whole run incl. warm-up (" + scrapeErr.Error() + ")"
	return res, nil
}

// waitReady waits until the server accepts TCP connections on its OTLP/gRPC
// address and serves its metrics, or fails when it exits or d passes.
func waitReady(ctx context.Context, p *proc, t target, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited during start-up: %v\n%s", t.Name, p.err, p.logTail())
		}
		c, err := net.DialTimeout("tcp", t.GRPCAddr, time.Second)
		if err == nil {
			c.Close()
			if _, err = scrape(ctx, t.MetricsURL, counterQuery{Names: []string{"__never__"}}); err == nil || strings.Contains(err.Error(), "no sample") {
				return nil
			}
		}
		last = err
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%s not ready within %s: %v\n%s", t.Name, d, last, p.logTail())
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// seconds formats d the way the load generators' --duration flags take it.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
