package otlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/selfmetrics"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// decodingIngester runs detect's Decoder into sinks that only count, as
// the real pipeline would, minus the engine.
type decodingIngester struct{}

type countingSink struct{ n int64 }

func (*countingSink) Resource(detect.Attrs)                    {}
func (*countingSink) Scope(string, string, detect.Attrs)       {}
func (*countingSink) Metric(*detect.Metric)                    {}
func (s *countingSink) Number(*detect.NumberPoint)             { s.n++ }
func (s *countingSink) Histogram(*detect.HistogramPoint)       { s.n++ }
func (s *countingSink) ExpHistogram(*detect.ExpHistogramPoint) { s.n++ }
func (s *countingSink) Summary(*detect.SummaryPoint)           { s.n++ }
func (s *countingSink) Span(*detect.Span)                      { s.n++ }
func (s *countingSink) Log(*detect.LogRecord)                  { s.n++ }

func (decodingIngester) IngestMetrics(_ context.Context, b []byte) (detect.IngestResult, error) {
	var d detect.Decoder
	s := &countingSink{}
	err := d.Metrics(b, s)
	return detect.IngestResult{Accepted: s.n}, err
}

func (decodingIngester) IngestTraces(_ context.Context, b []byte) (detect.IngestResult, error) {
	var d detect.Decoder
	s := &countingSink{}
	err := d.Traces(b, s)
	return detect.IngestResult{Accepted: s.n}, err
}

func (decodingIngester) IngestLogs(_ context.Context, b []byte) (detect.IngestResult, error) {
	var d detect.Decoder
	s := &countingSink{}
	err := d.Logs(b, s)
	return detect.IngestResult{Accepted: s.n}, err
}

// fuzzHTTP posts body to path through the HTTP handler, as protobuf or JSON,
// gzipped or not, and checks the answer: 200 with the signal's response
// message, or 400 with a google.rpc.Status that has a message, both in the
// request's encoding.
func fuzzHTTP(f *testing.F, path string, resp func() proto.Message, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s, false, false)
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	f.Add([]byte{}, false, false)
	f.Add([]byte{}, true, false)
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10}, false, false)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asDouble":"NaN"}]}}]}]}]}`), true, false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), true, true)
	f.Add([]byte(`[]`), true, false)

	r, err := New(DefaultConfig(), decodingIngester{}, selfmetrics.NewRegistry(), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := r.HTTPHandler()
	f.Fuzz(func(t *testing.T, body []byte, asJSON, gz bool) {
		wire := body
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body)
			_ = zw.Close()
			wire = buf.Bytes()
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(wire))
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		ct := contentTypeProto
		if asJSON {
			ct = contentTypeJSON
		}
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Fatalf("status %d with Content-Type %q, want %q", rec.Code, got, ct)
		}
		unmarshal := proto.Unmarshal
		if asJSON {
			unmarshal = protojson.Unmarshal
		}
		switch rec.Code {
		case http.StatusOK:
			if err := unmarshal(rec.Body.Bytes(), resp()); err != nil {
				t.Fatalf("200 body does not decode: %v", err)
			}
		case http.StatusBadRequest:
			var st spb.Status
			if err := unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("400 body is not a Status: %v", err)
			}
			if st.GetMessage() == "" {
				t.Fatal("400 without a message")
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
		if n, b := r.queue.depth(); n != 0 || b != 0 {
			t.Fatalf("queue holds %d requests, %d bytes after the request", n, b)
		}
	})
}

func FuzzHTTPMetrics(f *testing.F) {
	pb, _ := proto.Marshal(metricsRequest("container.memory.working_set", "k8s.container.restarts"))
	fuzzHTTP(f, "/v1/metrics", func() proto.Message { return &colmetricspb.ExportMetricsServiceResponse{} },
		pb, []byte(jsonMetrics))
}

func FuzzHTTPTraces(f *testing.F) {
	pb, _ := proto.Marshal(tracesRequest("GET /cart", "SELECT"))
	fuzzHTTP(f, "/v1/traces", func() proto.Message { return &coltracepb.ExportTraceServiceResponse{} },
		pb, []byte(jsonTraces))
}

func FuzzHTTPLogs(f *testing.F) {
	pb, _ := proto.Marshal(logsRequest("OOMKilling", "BackOff"))
	fuzzHTTP(f, "/v1/logs", func() proto.Message { return &collogspb.ExportLogsServiceResponse{} },
		pb, []byte(jsonLogs))
}
