package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor for --compression gzip
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Config is one load run.
type Config struct {
	Endpoint    string        // host:port of an OTLP/gRPC receiver
	Workload    Workload      // series space, mix and batch size
	Streams     int           // concurrent senders, each with its own connection
	Duration    time.Duration // stop starting requests after this long (0: no limit)
	Points      int64         // stop once this many points were sent (0: no limit)
	Rate        float64       // points per second over all streams (0: as fast as possible)
	Compression string        // "" or "gzip"
	Timeout     time.Duration // per request
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is empty"))
	}
	if err := c.Workload.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Streams < 1 {
		errs = append(errs, errors.New("streams must be at least 1"))
	}
	if c.Duration <= 0 && c.Points <= 0 {
		errs = append(errs, errors.New("set a duration or a number of points"))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("rate must not be negative"))
	}
	if c.Compression != "" && c.Compression != "gzip" {
		errs = append(errs, fmt.Errorf("compression %q is not one of none, gzip", c.Compression))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Stats is what a run did. Points counts only data points of requests the
// server answered with OK, minus those it reported as rejected.
type Stats struct {
	Series          int              `json:"series"`
	Points          int64            `json:"points"`
	Requests        int64            `json:"requests"`
	Errors          int64            `json:"errors"`
	ErrorsByCode    map[string]int64 `json:"errors_by_code,omitempty"`
	Rejected        int64            `json:"rejected"`
	Seconds         float64          `json:"seconds"`
	PointsPerSecond float64          `json:"points_per_second"`
	CPUSeconds      float64          `json:"cpu_seconds"`
	LastError       string           `json:"last_error,omitempty"`
}

// rawCodec sends pre-encoded request bytes as they are and decodes responses
// with the protobuf runtime. It is named "proto" so the content type on the
// wire is the standard application/grpc+proto.
type rawCodec struct{}

type rawMessage []byte

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(rawMessage)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data.Materialize(), m)
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

// counters are shared by the senders.
type counters struct {
	points, requests, errs, rejected atomic.Int64
	claimed                          atomic.Int64

	mu        sync.Mutex
	byCode    map[string]int64
	lastError string
}

func (c *counters) fail(err error) {
	c.errs.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byCode[status.Code(err).String()]++
	c.lastError = err.Error()
}

// run sends the workload until the duration or point budget is spent or ctx
// is cancelled. Requests in flight when it stops are waited for (bounded by
// cfg.Timeout), so the figures match what the server acknowledged.
func run(ctx context.Context, cfg Config) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	reqs := cfg.Workload.encode()
	owned := make([][]*request, cfg.Streams)
	for i, r := range reqs {
		owned[i%cfg.Streams] = append(owned[i%cfg.Streams], r)
	}
	// With fewer requests than streams, the idle streams resend copies: each
	// stream must own its buffers because stamping rewrites them.
	for i := range owned {
		if len(owned[i]) == 0 {
			src := reqs[i%len(reqs)]
			owned[i] = []*request{{buf: append([]byte(nil), src.buf...), patches: src.patches, points: src.points}}
		}
	}

	conns := make([]*grpc.ClientConn, cfg.Streams)
	defer func() {
		for _, cc := range conns {
			if cc != nil {
				_ = cc.Close()
			}
		}
	}()
	for i := range conns {
		// A write buffer of several requests lets the HTTP/2 writer flush a
		// whole request in one syscall: a fifth less generator CPU on loopback.
		cc, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithWriteBufferSize(512<<10))
		if err != nil {
			return Stats{}, fmt.Errorf("connect %s: %w", cfg.Endpoint, err)
		}
		conns[i] = cc
	}

	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	c := &counters{byCode: map[string]int64{}}
	cpu0 := cpuSeconds()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { send(ctx, cfg, conns[i], owned[i], c) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	s := Stats{
		Series:       cfg.Workload.Series(),
		Points:       c.points.Load(),
		Requests:     c.requests.Load(),
		Errors:       c.errs.Load(),
		ErrorsByCode: c.byCode,
		Rejected:     c.rejected.Load(),
		Seconds:      elapsed.Seconds(),
		CPUSeconds:   cpuSeconds() - cpu0,
		LastError:    c.lastError,
	}
	if s.Seconds > 0 {
		s.PointsPerSecond = float64(s.Points) / s.Seconds
	}
	return s, nil
}

// send is one stream: it cycles through its own requests, stamping each with
// the current time and the next round of values before sending it.
func send(ctx context.Context, cfg Config, cc *grpc.ClientConn, reqs []*request, c *counters) {
	opts := []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}
	if cfg.Compression != "" {
		opts = append(opts, grpc.UseCompressor(cfg.Compression))
	}
	var next time.Time // pacing for --rate
	for i := 0; ctx.Err() == nil; i++ {
		req := reqs[i%len(reqs)]
		if cfg.Points > 0 && c.claimed.Add(int64(req.points))-int64(req.points) >= cfg.Points {
			return
		}
		if cfg.Rate > 0 {
			if next.IsZero() {
				next = time.Now()
			}
			next = next.Add(time.Duration(float64(req.points) / (cfg.Rate / float64(cfg.Streams)) * float64(time.Second)))
			if !sleep(ctx, time.Until(next)) {
				return
			}
		}
		req.stamp(uint64(time.Now().UnixNano()))
		// The request runs on its own context so that the end of the run does
		// not cancel it half-way: every request sent is acknowledged or failed.
		rctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		var resp collectormetrics.ExportMetricsServiceResponse
		err := cc.Invoke(rctx, collectormetrics.MetricsService_Export_FullMethodName, rawMessage(req.buf), &resp, opts...)
		cancel()
		c.requests.Add(1)
		if err != nil {
			c.fail(err)
			// Back off a little: the server is overloaded or gone.
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		rejected := resp.GetPartialSuccess().GetRejectedDataPoints()
		c.rejected.Add(rejected)
		c.points.Add(int64(req.points) - rejected)
	}
}

// sleep waits for d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// codesSorted lists the error codes of s in a stable order for printing.
func codesSorted(s Stats) []string {
	out := make([]string, 0, len(s.ErrorsByCode))
	for k := range s.ErrorsByCode {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
