package otlpreceiver

import (
	"context"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

func dialGRPC(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func grpcOnly() Config {
	cfg := testConfig()
	cfg.HTTP.Endpoint = ""
	return cfg
}

func TestGRPCExport(t *testing.T) {
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, grpcOnly(), ing)
	conn := dialGRPC(t, r.GRPCAddr())
	ctx := t.Context()

	for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor(gzip.Name)}} {
		mresp, err := colmetricspb.NewMetricsServiceClient(conn).Export(ctx, metricsRequest("k8s.container.restarts"), opts...)
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		if mresp.GetPartialSuccess() != nil {
			t.Errorf("full success with partial_success %v", mresp.GetPartialSuccess())
		}
		if _, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, tracesRequest("GET /cart"), opts...); err != nil {
			t.Fatalf("traces: %v", err)
		}
		if _, err := collogspb.NewLogsServiceClient(conn).Export(ctx, logsRequest("OOMKilling"), opts...); err != nil {
			t.Fatalf("logs: %v", err)
		}
	}
	if got := strings.Join(ing.metricNames(), ","); got != "k8s.container.restarts,k8s.container.restarts" {
		t.Errorf("metrics %q", got)
	}
	if got := strings.Join(ing.spanNames(), ","); got != "GET /cart,GET /cart" {
		t.Errorf("spans %q", got)
	}
	if got := strings.Join(ing.logBodies(), ","); got != "OOMKilling,OOMKilling" {
		t.Errorf("logs %q", got)
	}
	for _, sig := range []string{"metrics", "traces", "logs"} {
		if got := metricValue(t, reg, `medic_otlp_requests_total{transport="grpc",signal="`+sig+`",outcome="ok"}`); got != "2" {
			t.Errorf("%s ok requests %s", sig, got)
		}
		if got := metricValue(t, reg, `medic_otlp_received_total{signal="`+sig+`"}`); got != "2" {
			t.Errorf("%s received %s", sig, got)
		}
	}
}

func TestGRPCPartialSuccess(t *testing.T) {
	ing := &recordingIngester{RejectedValue: 1, MessageValue: "1 data point without a workload"}
	r, reg := startTestReceiver(t, grpcOnly(), ing)
	conn := dialGRPC(t, r.GRPCAddr())

	mresp, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), metricsRequest("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := mresp.GetPartialSuccess(); ps.GetRejectedDataPoints() != 1 || ps.GetErrorMessage() != ing.MessageValue {
		t.Errorf("metrics partial success %v", ps)
	}
	tresp, err := coltracepb.NewTraceServiceClient(conn).Export(t.Context(), tracesRequest("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := tresp.GetPartialSuccess(); ps.GetRejectedSpans() != 1 {
		t.Errorf("traces partial success %v", ps)
	}
	lresp, err := collogspb.NewLogsServiceClient(conn).Export(t.Context(), logsRequest("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := lresp.GetPartialSuccess(); ps.GetRejectedLogRecords() != 1 {
		t.Errorf("logs partial success %v", ps)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="partial"}`); got != "1" {
		t.Errorf("partial %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_received_total{signal="metrics"}`); got != "1" {
		t.Errorf("received %s", got)
	}
}

// rawClientCodec lets a test send bytes that are not a valid message.
type rawClientCodec struct{}

func (rawClientCodec) Name() string { return "proto" }
func (rawClientCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawClientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func TestGRPCInvalidArgument(t *testing.T) {
	r, reg := startTestReceiver(t, grpcOnly(), &recordingIngester{})
	conn := dialGRPC(t, r.GRPCAddr())
	body := []byte{0xff, 0xff, 0xff, 0xff}
	var out []byte
	err := conn.Invoke(t.Context(), "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", &body, &out,
		grpc.ForceCodecV2(rawClientCodec{}))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("status %v, want InvalidArgument", st)
	}
	if !strings.Contains(st.Message(), "invalid OTLP metrics request") {
		t.Errorf("message %q", st.Message())
	}
	if d := st.Details(); len(d) != 1 {
		t.Errorf("details %v", d)
	} else if _, ok := d[0].(*errdetails.BadRequest); !ok {
		t.Errorf("detail %T, want BadRequest", d[0])
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="malformed"}`); got != "1" {
		t.Errorf("malformed %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_requests_total{transport="grpc",signal="metrics",outcome="error"}`); got != "1" {
		t.Errorf("error requests %s", got)
	}
}

func TestGRPCUnknownMethod(t *testing.T) {
	r, _ := startTestReceiver(t, grpcOnly(), &recordingIngester{})
	conn := dialGRPC(t, r.GRPCAddr())
	body := []byte{}
	var out []byte
	err := conn.Invoke(t.Context(), "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export", &body, &out,
		grpc.ForceCodecV2(rawClientCodec{}))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("got %v, want Unimplemented", err)
	}
}

func TestGRPCTooLarge(t *testing.T) {
	cfg := grpcOnly()
	cfg.GRPC.MaxRecvMsgSizeMiB = 1
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, cfg, ing)
	conn := dialGRPC(t, r.GRPCAddr())
	big := metricsRequest(strings.Repeat("m", 2<<20))
	for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor(gzip.Name)}} {
		_, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), big, opts...)
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("got %v, want ResourceExhausted", err)
		}
	}
	// grpc-go answers the client before the handler has finished: the
	// count and the release of the reservation follow shortly.
	waitFor(t, func() bool {
		return metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="too_large"}`) == "2"
	})
	waitFor(t, func() bool { n, b := r.queue.depth(); return n == 0 && b == 0 })
	// The reservation for the largest message is given back after reading.
	if _, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), metricsRequest("small")); err != nil {
		t.Fatal(err)
	}
}

func TestGRPCQueueFull(t *testing.T) {
	cfg := grpcOnly()
	cfg.Queue.Size = 1
	cfg.RetryAfter = 3 * time.Second
	ing := &recordingIngester{Block: make(chan struct{}), Entered: make(chan struct{}, 4)}
	r, reg := startTestReceiver(t, cfg, ing)
	t.Cleanup(ing.release)
	conn := dialGRPC(t, r.GRPCAddr())
	client := coltracepb.NewTraceServiceClient(conn)

	first := make(chan error, 1)
	go func() {
		_, err := client.Export(context.Background(), tracesRequest("first"))
		first <- err
	}()
	<-ing.Entered

	_, err := client.Export(t.Context(), tracesRequest("second"))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("status %v, want Unavailable", st)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 3*time.Second {
		t.Errorf("RetryInfo %v, want 3s", retry)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="traces",reason="queue_full"}`); got != "1" {
		t.Errorf("queue_full %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_queue_depth`); got != "1" {
		t.Errorf("queue depth %s", got)
	}

	ing.release()
	if err := <-first; err != nil {
		t.Fatalf("first: %v", err)
	}
	if _, err := client.Export(t.Context(), tracesRequest("third")); err != nil {
		t.Fatalf("after drain: %v", err)
	}
	if got := strings.Join(ing.spanNames(), ","); got != "first,third" {
		t.Errorf("spans %q", got)
	}
	if got := metricValue(t, reg, `medic_otlp_queue_depth`); got != "0" {
		t.Errorf("queue depth %s after drain", got)
	}
}

func TestGRPCByteReservation(t *testing.T) {
	// A gRPC request reserves queue bytes only once its message is in, and
	// then exactly its size: a small message fits in a queue with less
	// than the largest message size free, a message bigger than what is
	// free is refused.
	cfg := grpcOnly()
	cfg.GRPC.MaxRecvMsgSizeMiB = 1
	cfg.HTTP.MaxRequestBodyBytes = 1 << 20
	cfg.Queue.MaxBytes = 3 << 19
	ing := &recordingIngester{}
	r, _ := startTestReceiver(t, cfg, ing)
	conn := dialGRPC(t, r.GRPCAddr())
	client := collogspb.NewLogsServiceClient(conn)

	// Leave 1 KiB free.
	filler, err := r.queue.admit(cfg.Queue.MaxBytes - 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Export(t.Context(), logsRequest("small")); err != nil {
		t.Errorf("small message with 1 KiB free: %v", err)
	}
	_, err = client.Export(t.Context(), logsRequest(strings.Repeat("x", 4096)))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("4 KiB message with 1 KiB free: %v, want Unavailable", err)
	}
	filler.release()
	if _, err := client.Export(t.Context(), logsRequest(strings.Repeat("y", 4096))); err != nil {
		t.Errorf("after release: %v", err)
	}
	if n, b := r.queue.depth(); n != 0 || b != 0 {
		t.Errorf("queue %d requests, %d bytes at the end", n, b)
	}
	if got := strings.Join(ing.logBodies(), ","); got != "small,"+strings.Repeat("y", 4096) {
		t.Errorf("logs %.40q", got)
	}
}
