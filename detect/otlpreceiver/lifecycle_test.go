package otlpreceiver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestShutdownWithoutStart(t *testing.T) {
	r, _ := newTestReceiver(t, testConfig(), &recordingIngester{})
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
	if r.GRPCAddr() != "" || r.HTTPAddr() != "" {
		t.Errorf("addresses %q %q after a refused Start", r.GRPCAddr(), r.HTTPAddr())
	}
}

func TestStartShutdown(t *testing.T) {
	r, _ := startTestReceiver(t, testConfig(), &recordingIngester{})
	if err := r.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	g, h := r.GRPCAddr(), r.HTTPAddr()
	if !strings.HasPrefix(g, "127.0.0.1:") || !strings.HasPrefix(h, "127.0.0.1:") || g == h {
		t.Fatalf("addresses %q %q", g, h)
	}
	resp := post(t, "http://"+h+"/v1/metrics", nil, mustProto(t, metricsRequest("a")), false)
	if resp.code != http.StatusOK {
		t.Fatalf("status %d", resp.code)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for _, addr := range []string{g, h} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Shutdown", addr)
		}
	}
}

func TestHTTP2Cleartext(t *testing.T) {
	ing := &recordingIngester{}
	r, _ := startTestReceiver(t, testConfig(), ing)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.HTTPAddr()+"/v1/traces", strings.NewReader(string(mustProto(t, tracesRequest("h2c")))))
	req.Header.Set("Content-Type", contentTypeProto)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("status %d over %s", resp.StatusCode, resp.Proto)
	}
	if got := ing.spanNames(); len(got) != 1 || got[0] != "h2c" {
		t.Errorf("spans %q", got)
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestStartPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	t.Run("http taken", func(t *testing.T) {
		cfg := testConfig()
		cfg.GRPC.Endpoint = freeAddr(t)
		cfg.HTTP.Endpoint = taken.Addr().String()
		r, _ := newTestReceiver(t, cfg, &recordingIngester{})
		err := r.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "listen otlp http") {
			t.Fatalf("Start: %v, want a listen error", err)
		}
		if r.GRPCAddr() != "" || r.HTTPAddr() != "" {
			t.Errorf("addresses %q %q after a failed Start", r.GRPCAddr(), r.HTTPAddr())
		}
		// The gRPC listener bound before the failure was closed.
		ln, err := net.Listen("tcp", cfg.GRPC.Endpoint)
		if err != nil {
			t.Fatalf("gRPC port still held after a failed Start: %v", err)
		}
		ln.Close()
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after a failed Start: %v", err)
		}
	})
	t.Run("grpc taken", func(t *testing.T) {
		cfg := testConfig()
		cfg.GRPC.Endpoint = taken.Addr().String()
		cfg.HTTP.Endpoint = freeAddr(t)
		r, _ := newTestReceiver(t, cfg, &recordingIngester{})
		if err := r.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen otlp grpc") {
			t.Fatalf("Start: %v, want a listen error", err)
		}
		ln, err := net.Listen("tcp", cfg.HTTP.Endpoint)
		if err != nil {
			t.Fatalf("HTTP port held after a failed Start: %v", err)
		}
		ln.Close()
	})
}

func TestDisabledTransports(t *testing.T) {
	cfg := testConfig()
	cfg.GRPC.Endpoint = ""
	r, _ := startTestReceiver(t, cfg, &recordingIngester{})
	if r.GRPCAddr() != "" || r.HTTPAddr() == "" {
		t.Errorf("addresses %q %q", r.GRPCAddr(), r.HTTPAddr())
	}
	cfg = testConfig()
	cfg.GRPC.Endpoint, cfg.HTTP.Endpoint = "", ""
	r, _ = startTestReceiver(t, cfg, &recordingIngester{})
	if r.GRPCAddr() != "" || r.HTTPAddr() != "" {
		t.Errorf("addresses %q %q", r.GRPCAddr(), r.HTTPAddr())
	}
}

func TestShutdownDeadline(t *testing.T) {
	// An Ingester that ignores its context keeps a request in flight past
	// the deadline: Shutdown returns the context's error instead of waiting.
	ing := &recordingIngester{Block: make(chan struct{}), Entered: make(chan struct{}, 1), IgnoreCtx: true}
	r, _ := startTestReceiver(t, testConfig(), ing)
	t.Cleanup(ing.release)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.HTTPAddr()+"/v1/logs", strings.NewReader(string(mustProto(t, logsRequest("x")))))
		req.Header.Set("Content-Type", contentTypeProto)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-ing.Entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := r.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	<-done // the connection was closed under the client
	if err := r.Shutdown(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Shutdown: %v, want the first one's result", err)
	}
}

func TestShutdownCancelsWaitingIngest(t *testing.T) {
	// An Ingester that honours its context is cut off when the deadline
	// passes, and the queue empties.
	ing := &recordingIngester{Block: make(chan struct{}), Entered: make(chan struct{}, 1)}
	r, _ := startTestReceiver(t, testConfig(), ing)
	t.Cleanup(ing.release)
	goPost("http://"+r.HTTPAddr()+"/v1/logs", nil, mustProto(t, logsRequest("x")), false)
	<-ing.Entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	waitFor(t, func() bool { n, _ := r.queue.depth(); return n == 0 })
}

func TestGRPCShutdownDrains(t *testing.T) {
	ing := &recordingIngester{Block: make(chan struct{}), Entered: make(chan struct{}, 4)}
	r, reg := startTestReceiver(t, grpcOnly(), ing)
	t.Cleanup(ing.release)
	conn := dialGRPC(t, r.GRPCAddr())
	client := coltracepb.NewTraceServiceClient(conn)

	first := make(chan error, 1)
	go func() {
		_, err := client.Export(context.Background(), tracesRequest("in flight"))
		first <- err
	}()
	<-ing.Entered
	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(context.Background()) }()
	waitFor(t, func() bool { r.queue.mu.Lock(); defer r.queue.mu.Unlock(); return r.queue.closing })

	// A new call during shutdown is refused as retryable, by the receiver
	// or by grpc-go's GOAWAY.
	_, err := client.Export(t.Context(), tracesRequest("late"))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("call during shutdown: %v, want Unavailable", err)
	}
	ing.release()
	if err := <-first; err != nil {
		t.Errorf("in-flight call: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if got := ing.spanNames(); len(got) != 1 || got[0] != "in flight" {
		t.Errorf("spans %q", got)
	}
	_ = reg
}
