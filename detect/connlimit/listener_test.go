package connlimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testConfig(maxConns int) Config {
	c := DefaultConfig()
	c.MaxConns = maxConns
	return c
}

// serve runs a hardened http.Server on a loopback connlimit listener.
func serve(t *testing.T, cfg Config, h http.Handler) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := Listen(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	cl.Harden(srv)
	go func() { _ = srv.Serve(cl) }()
	t.Cleanup(func() { _ = srv.Close() })
	return cl, ln.Addr().String()
}

func dialIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	t.Cleanup(func() {
		for _, c := range out {
			c.Close()
		}
	})
	return out
}

// waitFor polls cond; the deadline only keeps a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func get(addr string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestIdleConnectionsMakeRoom(t *testing.T) {
	const max = 8
	cl, addr := serve(t, testConfig(max), http.HandlerFunc(ok))
	dialIdle(t, addr, 5*max)
	waitFor(t, "accepts", func() bool { return cl.Stats().Accepted == 5*max })
	if st := cl.Stats(); st.Open > max || st.Evicted < 4*max || st.Refused != 0 {
		t.Fatalf("stats %+v with %d idle connections and max %d", st, 5*max, max)
	}
	// A real request still gets through: it evicts an idle connection.
	if body, err := get(addr); err != nil || body != "ok" {
		t.Fatalf("GET at the cap: %q, %v", body, err)
	}
	if st := cl.Stats(); st.Open > max {
		t.Fatalf("%d open, max %d", st.Open, max)
	}
}

func TestBusyConnectionsRefuseNewOnes(t *testing.T) {
	const max = 4
	entered := make(chan struct{}, max)
	release := make(chan struct{})
	cl, addr := serve(t, testConfig(max), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		ok(w, r)
	}))
	errs := make(chan error, max)
	for range max {
		go func() { _, err := get(addr); errs <- err }()
	}
	for range max {
		<-entered
	}
	// Every connection is busy: a new one is closed at once, not queued.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 1)
	if _, err := c.Read(buf); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read on a refused connection: %v, want EOF or reset", err)
	}
	if st := cl.Stats(); st.Refused != 1 || st.Evicted != 0 || st.Open != max {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	for range max {
		if err := <-errs; err != nil {
			t.Errorf("busy request failed: %v", err)
		}
	}
	// Once they are done there is room again.
	if body, err := get(addr); err != nil || body != "ok" {
		t.Fatalf("GET after the busy ones: %q, %v", body, err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestClosedConnectionsFreeTheirPlace(t *testing.T) {
	cl, addr := serve(t, testConfig(2), http.HandlerFunc(ok))
	for range 10 {
		if body, err := get(addr); err != nil || body != "ok" {
			t.Fatalf("GET: %q, %v", body, err)
		}
	}
	waitFor(t, "connections to close", func() bool { return cl.Stats().Open == 0 })
	if st := cl.Stats(); st.Evicted != 0 || st.Refused != 0 || st.Accepted != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHardenSetsLimitsAndKeepsHook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(3)
	cl, err := Listen(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	srv := &http.Server{ConnState: func(net.Conn, http.ConnState) { called = true }}
	cl.Harden(srv)
	if srv.ReadHeaderTimeout != cfg.ReadHeaderTimeout || srv.ReadTimeout != cfg.ReadTimeout ||
		srv.WriteTimeout != cfg.WriteTimeout || srv.IdleTimeout != cfg.IdleTimeout || srv.MaxHeaderBytes != cfg.MaxHeaderBytes {
		t.Fatalf("server limits not set: %+v", srv)
	}
	srv.ConnState(nil, http.StateNew)
	if !called {
		t.Error("the server's own ConnState hook was dropped")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Config{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Second, MaxHeaderBytes: 10}.Validate()
	for _, want := range []string{"max_conns", "write_timeout", "idle_timeout", "read_header_timeout (1m0s) must not exceed read_timeout (1s)", "max_header_bytes: must be at least 4096, got 10"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if _, err := Listen(nil, Config{}); err == nil {
		t.Error("Listen accepted an invalid config")
	}
}
