package otlpreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/selfmetrics"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// recordingIngester decodes every body with proto.Unmarshal into the
// generated request types and keeps them. Accepted defaults to the number of
// items in the request; RejectedValue/MessageValue/ErrValue override the
// result. If Block is set, each call signals Entered and then waits for
// Block to be closed (or its context to end, unless IgnoreCtx).
type recordingIngester struct {
	RejectedValue int64
	MessageValue  string
	ErrValue      error
	Block         chan struct{}
	Entered       chan struct{}
	IgnoreCtx     bool
	releaseOnce   sync.Once

	mu      sync.Mutex
	metrics []*colmetricspb.ExportMetricsServiceRequest
	traces  []*coltracepb.ExportTraceServiceRequest
	logs    []*collogspb.ExportLogsServiceRequest
}

// release unblocks every call, now and later.
func (f *recordingIngester) release() { f.releaseOnce.Do(func() { close(f.Block) }) }

func (f *recordingIngester) wait(ctx context.Context) error {
	if f.Entered != nil {
		f.Entered <- struct{}{}
	}
	if f.Block == nil {
		return nil
	}
	if f.IgnoreCtx {
		<-f.Block
		return nil
	}
	select {
	case <-f.Block:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *recordingIngester) result(items int64) (detect.IngestResult, error) {
	if f.ErrValue != nil {
		return detect.IngestResult{}, f.ErrValue
	}
	return detect.IngestResult{Accepted: items - f.RejectedValue, Rejected: f.RejectedValue, Message: f.MessageValue}, nil
}

func (f *recordingIngester) IngestMetrics(ctx context.Context, body []byte) (detect.IngestResult, error) {
	if err := f.wait(ctx); err != nil {
		return detect.IngestResult{}, err
	}
	req := &colmetricspb.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(body, req); err != nil {
		return detect.IngestResult{}, fmt.Errorf("%w: %v", detect.ErrMalformed, err)
	}
	f.mu.Lock()
	f.metrics = append(f.metrics, req)
	f.mu.Unlock()
	return f.result(countPoints(req))
}

func (f *recordingIngester) IngestTraces(ctx context.Context, body []byte) (detect.IngestResult, error) {
	if err := f.wait(ctx); err != nil {
		return detect.IngestResult{}, err
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(body, req); err != nil {
		return detect.IngestResult{}, fmt.Errorf("%w: %v", detect.ErrMalformed, err)
	}
	f.mu.Lock()
	f.traces = append(f.traces, req)
	f.mu.Unlock()
	return f.result(int64(len(spanNames(req))))
}

func (f *recordingIngester) IngestLogs(ctx context.Context, body []byte) (detect.IngestResult, error) {
	if err := f.wait(ctx); err != nil {
		return detect.IngestResult{}, err
	}
	req := &collogspb.ExportLogsServiceRequest{}
	if err := proto.Unmarshal(body, req); err != nil {
		return detect.IngestResult{}, fmt.Errorf("%w: %v", detect.ErrMalformed, err)
	}
	f.mu.Lock()
	f.logs = append(f.logs, req)
	f.mu.Unlock()
	return f.result(int64(len(logBodies(req))))
}

func (f *recordingIngester) metricNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, req := range f.metrics {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					out = append(out, m.GetName())
				}
			}
		}
	}
	return out
}

func (f *recordingIngester) spanNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, req := range f.traces {
		out = append(out, spanNames(req)...)
	}
	return out
}

func (f *recordingIngester) logBodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, req := range f.logs {
		out = append(out, logBodies(req)...)
	}
	return out
}

func countPoints(req *colmetricspb.ExportMetricsServiceRequest) int64 {
	var n int64
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				n += int64(len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
					len(m.GetHistogram().GetDataPoints()) + len(m.GetExponentialHistogram().GetDataPoints()) +
					len(m.GetSummary().GetDataPoints()))
			}
		}
	}
	return n
}

func spanNames(req *coltracepb.ExportTraceServiceRequest) []string {
	var out []string
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, s.GetName())
			}
		}
	}
	return out
}

func logBodies(req *collogspb.ExportLogsServiceRequest) []string {
	var out []string
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, l := range sl.GetLogRecords() {
				out = append(out, l.GetBody().GetStringValue())
			}
		}
	}
	return out
}

// testConfig is DefaultConfig on loopback ephemeral ports.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.GRPC.Endpoint = "127.0.0.1:0"
	cfg.HTTP.Endpoint = "127.0.0.1:0"
	return cfg
}

// logBuffer collects a receiver's log output; it is printed if the test fails.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("receiver log:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// newTestReceiver builds a receiver (not started) and its registry; it is
// shut down when the test ends.
func newTestReceiver(t testing.TB, cfg Config, ing detect.Ingester) (*Receiver, *selfmetrics.Registry) {
	t.Helper()
	reg := selfmetrics.NewRegistry()
	logger, _ := testLogger(t)
	r, err := New(cfg, ing, reg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		// A test that shut down with a deadline sees that result again.
		if err := r.Shutdown(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return r, reg
}

// startTestReceiver is newTestReceiver plus Start.
func startTestReceiver(t testing.TB, cfg Config, ing detect.Ingester) (*Receiver, *selfmetrics.Registry) {
	t.Helper()
	r, reg := newTestReceiver(t, cfg, ing)
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r, reg
}

// metricValue reads one series from the registry's text output, e.g.
// `medic_otlp_requests_total{transport="http",signal="metrics",outcome="ok"}`.
func metricValue(t testing.TB, reg *selfmetrics.Registry, series string) string {
	t.Helper()
	var sb strings.Builder
	if err := reg.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(sb.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v
		}
	}
	t.Fatalf("series %s not found in:\n%s", series, sb.String())
	return ""
}

func selfmetricsRegistry() *selfmetrics.Registry { return selfmetrics.NewRegistry() }
