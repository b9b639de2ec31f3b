package otlpfile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/medic-bot/medic/detect"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A metrics request of gauges only is also a valid traces request (a
// gauge's bytes pass for a span name): metrics are tried first, so it is
// read as metrics. Spans and log records as the Collector writes them
// decode as nothing else before their own signal.
func TestProtoSignalDetection(t *testing.T) {
	gauge := mustMarshal(t, &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
		Name: "k8s.pod.phase", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: 1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 2}}}}},
	}}}}}}})
	var dec detect.Decoder
	var asSpans tally
	if err := dec.Traces(gauge, &asSpans); err != nil || asSpans.items == 0 {
		t.Fatalf("the gauge request was meant to pass for traces too: %v, %d items", err, asSpans.items)
	}
	m, tr, lg := sampleBodies(t)
	// A span with only the fields the Collector always sets, and a log record
	// with only an observed time.
	bare := mustMarshal(t, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
		TraceId: make([]byte, 16), SpanId: make([]byte, 8), Name: "x", StartTimeUnixNano: 5, EndTimeUnixNano: 6}}}}}}})
	observed := mustMarshal(t, &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{ObservedTimeUnixNano: 7}}}}}}})

	var in []byte
	for _, b := range [][]byte{gauge, m, tr, lg, bare, observed} {
		in = append(in, frame(b)...)
	}
	recs, _, err := readBytes(t, in, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []Signal{SignalMetrics, SignalMetrics, SignalTraces, SignalLogs, SignalTraces, SignalLogs}
	for i, rec := range recs {
		if rec.Signal != want[i] {
			t.Errorf("record %d read as %s, want %s", i+1, rec.Signal, want[i])
		}
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}

	// Configured, the signal is not guessed: a traces request in a metrics
	// recording is an error naming the message.
	cfg := DefaultConfig()
	cfg.Signal = SignalMetrics
	_, _, err = readBytes(t, append(frame(m), frame(tr)...), cfg)
	if !errors.Is(err, detect.ErrMalformed) || !strings.Contains(err.Error(), "message 2 at byte 964: decode metrics") {
		t.Fatalf("err = %v", err)
	}
	// And the gauge request, configured as traces, reads as traces.
	cfg.Signal = SignalTraces
	recs, _, err = readBytes(t, frame(gauge), cfg)
	if err != nil || len(recs) != 1 || recs[0].Signal != SignalTraces {
		t.Fatalf("%v %v", recs, err)
	}
}

func TestProtoFraming(t *testing.T) {
	m, tr, _ := sampleBodies(t)
	empty := mustMarshal(t, &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{}}})
	for _, c := range []struct {
		name  string
		in    []byte
		n     int
		empty int
		err   string
		is    error
	}{
		{name: "empty messages are skipped", in: append(append(frame(nil), frame(empty)...), frame(m)...), n: 1, empty: 2},
		{name: "cut in a prefix", in: append(frame(m), 0, 0), n: 1, err: "message 2 at byte 964: length prefix cut after 2 of 4 bytes", is: ErrTruncated},
		{name: "cut in a message", in: append(frame(m), frame(tr)[:100]...), n: 1, err: "message 2 at byte 964: message of 823 bytes cut after 96", is: ErrTruncated},
		{name: "garbage", in: frame([]byte{0xff, 0xff, 0xff}), err: "message 1 at byte 0: decodes as no OTLP export request: decode metrics", is: detect.ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs, r, err := readBytes(t, c.in, DefaultConfig())
			if len(recs) != c.n {
				t.Errorf("%d records, want %d", len(recs), c.n)
			}
			if c.err == "" {
				if err != nil || r.Stats().Empty != c.empty || r.Format() != FormatProto {
					t.Fatalf("%+v %s %v", r.Stats(), r.Format(), err)
				}
				return
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
}

// fakeIngester records which method got which body.
type fakeIngester struct{ calls []string }

func (f *fakeIngester) IngestMetrics(_ context.Context, b []byte) (detect.IngestResult, error) {
	f.calls = append(f.calls, "metrics")
	return detect.IngestResult{Accepted: int64(len(b))}, nil
}

func (f *fakeIngester) IngestTraces(_ context.Context, b []byte) (detect.IngestResult, error) {
	f.calls = append(f.calls, "traces")
	return detect.IngestResult{Accepted: int64(len(b))}, nil
}

func (f *fakeIngester) IngestLogs(_ context.Context, b []byte) (detect.IngestResult, error) {
	f.calls = append(f.calls, "logs")
	return detect.IngestResult{Accepted: int64(len(b))}, nil
}

func TestRecordIngest(t *testing.T) {
	var f fakeIngester
	for _, rec := range readSample(t, "collector.jsonl")[:3] {
		res, err := rec.Ingest(context.Background(), &f)
		if err != nil || res.Accepted != int64(len(rec.Body)) {
			t.Fatalf("%v %v", res, err)
		}
	}
	if strings.Join(f.calls, ",") != "metrics,traces,logs" {
		t.Fatalf("calls %v", f.calls)
	}
	if _, err := (Record{Signal: "profiles"}).Ingest(context.Background(), &f); err == nil {
		t.Fatal("unknown signal ingested")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{Format: "csv", Signal: "profiles", MaxRecordBytes: MaxRecordBytesCeiling + 1, MaxJSONDecodeBytes: 0}
	err := bad.Validate()
	for _, want := range []string{
		`format: must be json, proto or empty (detect), got "csv"`,
		`signal: must be metrics, traces, logs or empty (detect), got "profiles"`,
		"max_record_bytes: must be between 1 and 67108864, got 67108865",
		"max_json_decode_bytes: must be between 1 and 17179869184, got 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if _, err := NewReader(strings.NewReader(""), bad); err == nil || !strings.Contains(err.Error(), "configure recording reader") {
		t.Fatalf("NewReader: %v", err)
	}
	if _, err := NewReader(nil, DefaultConfig()); err == nil {
		t.Fatal("NewReader without a reader")
	}
	if _, err := OpenFiles([]string{"testdata/collector.pb"}, bad); err == nil || !strings.Contains(err.Error(), "max_record_bytes") {
		t.Fatalf("OpenFiles: %v", err)
	}
}

// Every record of the real Collector's samples is one detect's engine
// ingests without error, in both forms.
func TestSamplesIngestIntoEngine(t *testing.T) {
	for _, name := range []string{"collector.jsonl", "collector.pb"} {
		e, err := detect.NewEngine(detect.DefaultEngineConfig(), nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		accepted := map[Signal]int64{}
		for _, rec := range readSample(t, name) {
			res, err := rec.Ingest(context.Background(), e)
			if err != nil {
				t.Fatalf("%s record %d: %v", name, rec.Index, err)
			}
			accepted[rec.Signal] += res.Accepted
		}
		if accepted[SignalMetrics] == 0 || accepted[SignalTraces] == 0 || accepted[SignalLogs] == 0 {
			t.Errorf("%s: accepted %v", name, accepted)
		}
	}
}
