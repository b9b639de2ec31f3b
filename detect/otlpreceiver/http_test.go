package otlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medic-bot/medic/detect"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func metricsRequest(names ...string) *colmetricspb.ExportMetricsServiceRequest {
	var ms []*metricspb.Metric
	for _, n := range names {
		ms = append(ms, &metricspb.Metric{Name: n, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: 1, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1.5}}},
		}}})
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource:     &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "checkout"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: ms}},
	}}}
}

func tracesRequest(names ...string) *coltracepb.ExportTraceServiceRequest {
	var spans []*tracepb.Span
	for i, n := range names {
		spans = append(spans, &tracepb.Span{Name: n, TraceId: bytes.Repeat([]byte{1}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

func logsRequest(bodies ...string) *collogspb.ExportLogsServiceRequest {
	var recs []*logspb.LogRecord
	for _, b := range bodies {
		recs = append(recs, &logspb.LogRecord{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: b}}})
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}}
}

func mustProto(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// post sends body with Content-Type application/x-protobuf unless headers
// say otherwise; chunked hides the length (no Content-Length).
func post(t testing.TB, url string, headers map[string]string, body []byte, chunked bool) response {
	t.Helper()
	resp, err := tryPost(url, headers, body, chunked)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// tryPost is post for goroutines other than the test's: it reports
// failures instead of ending the test.
func tryPost(url string, headers map[string]string, body []byte, chunked bool) (response, error) {
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, err := http.NewRequest(http.MethodPost, url, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", contentTypeProto)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("read response: %w", err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}, nil
}

// goPost runs tryPost on its own goroutine; a failed request arrives as a
// response with code 0 and the error text as body.
func goPost(url string, headers map[string]string, body []byte, chunked bool) <-chan response {
	ch := make(chan response, 1)
	go func() {
		resp, err := tryPost(url, headers, body, chunked)
		if err != nil {
			resp = response{body: []byte(err.Error())}
		}
		ch <- resp
	}()
	return ch
}

// status decodes an error response body in the encoding it declares.
func (r response) status(t testing.TB) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	switch ct := r.header.Get("Content-Type"); ct {
	case contentTypeProto:
		err = proto.Unmarshal(r.body, st)
	case contentTypeJSON:
		err = protojson.Unmarshal(r.body, st)
	default:
		t.Fatalf("error response Content-Type %q, body %q", ct, r.body)
	}
	if err != nil {
		t.Fatalf("decode Status: %v (body %q)", err, r.body)
	}
	if st.GetMessage() == "" {
		t.Fatalf("Status without a message: %v", st)
	}
	return st
}

func TestHTTPExportProtobuf(t *testing.T) {
	tests := []struct {
		name string
		path string
		body proto.Message
		gzip bool
		want func(*recordingIngester) []string
		wnt  []string
	}{
		{"metrics", "/v1/metrics", metricsRequest("k8s.container.restarts", "container.memory.working_set"), false,
			(*recordingIngester).metricNames, []string{"k8s.container.restarts", "container.memory.working_set"}},
		{"metrics gzip", "/v1/metrics", metricsRequest("k8s.container.memory_limit"), true,
			(*recordingIngester).metricNames, []string{"k8s.container.memory_limit"}},
		{"traces", "/v1/traces", tracesRequest("GET /cart"), false,
			(*recordingIngester).spanNames, []string{"GET /cart"}},
		{"traces gzip", "/v1/traces", tracesRequest("GET /cart", "SELECT"), true,
			(*recordingIngester).spanNames, []string{"GET /cart", "SELECT"}},
		{"logs", "/v1/logs", logsRequest("OOMKilling"), false,
			(*recordingIngester).logBodies, []string{"OOMKilling"}},
		{"logs gzip", "/v1/logs", logsRequest("BackOff"), true,
			(*recordingIngester).logBodies, []string{"BackOff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &recordingIngester{}
			r, _ := newTestReceiver(t, testConfig(), ing)
			srv := httptest.NewServer(r.HTTPHandler())
			defer srv.Close()
			body := mustProto(t, tt.body)
			h := map[string]string{}
			if tt.gzip {
				body = gzipBytes(t, body)
				h["Content-Encoding"] = "gzip"
			}
			for _, chunked := range []bool{false, true} {
				resp := post(t, srv.URL+tt.path, h, body, chunked)
				if resp.code != http.StatusOK {
					t.Fatalf("status %d, body %q", resp.code, resp.body)
				}
				if ct := resp.header.Get("Content-Type"); ct != contentTypeProto {
					t.Errorf("Content-Type %q", ct)
				}
				if len(resp.body) != 0 {
					t.Errorf("full success should have an empty response message, got %x", resp.body)
				}
			}
			got := tt.want(ing)
			want := append(append([]string(nil), tt.wnt...), tt.wnt...)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("ingested %q, want %q", got, want)
			}
		})
	}
}

// A hand-written OTLP/JSON request, in the form of the OTLP spec's examples
// (lowerCamelCase keys, integer enums, hex ids, 64-bit integers as strings).
const jsonMetrics = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k8s.namespace.name","value":{"stringValue":"shop"}}]},
 "scopeMetrics":[{"scope":{"name":"kubeletstats"},"metrics":[{"name":"container.memory.working_set","unit":"By",
 "gauge":{"dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"734003200"}]}}]}]}]}`

const jsonTraces = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
 "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"POST /pay",
 "kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000","status":{"code":2}}]}]}]}`

const jsonLogs = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":17,
 "body":{"stringValue":"Back-off restarting failed container"},"attributes":[{"key":"k8s.event.reason","value":{"stringValue":"BackOff"}}]}]}]}]}`

func TestHTTPExportJSON(t *testing.T) {
	ing := &recordingIngester{}
	r, _ := newTestReceiver(t, testConfig(), ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	for _, tc := range []struct {
		path, body string
		gzip       bool
	}{
		{"/v1/metrics", jsonMetrics, false},
		{"/v1/traces", jsonTraces, true},
		{"/v1/logs", jsonLogs, false},
	} {
		body := []byte(tc.body)
		h := map[string]string{"Content-Type": "application/json; charset=utf-8"}
		if tc.gzip {
			body = gzipBytes(t, body)
			h["Content-Encoding"] = "gzip"
		}
		resp := post(t, srv.URL+tc.path, h, body, false)
		if resp.code != http.StatusOK {
			t.Fatalf("%s: status %d, body %q", tc.path, resp.code, resp.body)
		}
		if ct := resp.header.Get("Content-Type"); ct != contentTypeJSON {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
		if got := strings.TrimSpace(string(resp.body)); got != "{}" {
			t.Errorf("%s: response %q, want {}", tc.path, got)
		}
	}
	if got := ing.metricNames(); len(got) != 1 || got[0] != "container.memory.working_set" {
		t.Errorf("metrics %q", got)
	}
	if got := ing.spanNames(); len(got) != 1 || got[0] != "POST /pay" {
		t.Errorf("spans %q", got)
	}
	if got := ing.logBodies(); len(got) != 1 || got[0] != "Back-off restarting failed container" {
		t.Errorf("logs %q", got)
	}
	ing.mu.Lock()
	sp := ing.traces[0].ResourceSpans[0].ScopeSpans[0].Spans[0]
	ing.mu.Unlock()
	if got := sp.GetTraceId(); len(got) != 16 || got[0] != 0x5b || got[15] != 0x0c {
		t.Errorf("trace id %x: hex ids must be decoded as hex", got)
	}
}

func TestHTTPBadRequest(t *testing.T) {
	ing := &recordingIngester{}
	r, reg := newTestReceiver(t, testConfig(), ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		wantCT  string
		wantMsg string
	}{
		{"protobuf garbage", nil, []byte{0xff, 0xff, 0xff, 0xff}, contentTypeProto, "invalid OTLP metrics request"},
		{"truncated protobuf", nil, mustProto(t, metricsRequest("a.b"))[:7], contentTypeProto, "invalid OTLP metrics request"},
		{"json syntax", map[string]string{"Content-Type": contentTypeJSON}, []byte(`{"resourceMetrics":[`), contentTypeJSON, "invalid OTLP/JSON metrics request"},
		{"json wrong type", map[string]string{"Content-Type": contentTypeJSON}, []byte(`{"resourceMetrics":"no"}`), contentTypeJSON, "invalid OTLP/JSON metrics request"},
		{"protobuf sent as json", map[string]string{"Content-Type": contentTypeJSON}, []byte("\x0a\xff\xfe\x80"), contentTypeJSON, "invalid OTLP/JSON metrics request"},
		{"bad gzip", map[string]string{"Content-Encoding": "gzip"}, []byte("not gzip at all"), contentTypeProto, "invalid gzip body"},
		{"truncated gzip", map[string]string{"Content-Encoding": "gzip"}, gzipBytes(t, mustProto(t, metricsRequest("a.b")))[:20], contentTypeProto, "invalid gzip body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, srv.URL+"/v1/metrics", tt.headers, tt.body, false)
			if resp.code != http.StatusBadRequest {
				t.Fatalf("status %d, body %q", resp.code, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != tt.wantCT {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantCT)
			}
			st := resp.status(t)
			if !strings.Contains(st.GetMessage(), tt.wantMsg) {
				t.Errorf("message %q does not contain %q", st.GetMessage(), tt.wantMsg)
			}
			if st.GetCode() != 3 { // INVALID_ARGUMENT
				t.Errorf("code %d", st.GetCode())
			}
			if len(st.GetDetails()) != 1 || !st.GetDetails()[0].MessageIs(&errdetails.BadRequest{}) {
				t.Errorf("details %v, want one BadRequest", st.GetDetails())
			}
		})
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="malformed"}`); got != "7" {
		t.Errorf("malformed count %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_requests_total{transport="http",signal="metrics",outcome="error"}`); got != "7" {
		t.Errorf("error requests %s", got)
	}
}

func TestHTTPTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodyBytes = 64 << 10
	ing := &recordingIngester{}
	r, reg := newTestReceiver(t, cfg, ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()

	big := mustProto(t, metricsRequest(strings.Repeat("x", 70<<10)))
	// A gzip bomb: 16 MiB of zeros is about 16 KiB compressed, under the
	// limit on the wire and far over it once decompressed.
	bomb := gzipBytes(t, make([]byte, 16<<20))
	if len(bomb) >= int(cfg.HTTP.MaxRequestBodyBytes) {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	// Over the limit on the wire even though small once decompressed is
	// impossible with real gzip; instead send incompressible data gzipped.
	noise := make([]byte, 80<<10)
	for i := range noise {
		noise[i] = byte(i*7919 + i>>8*31)
	}
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		chunked bool
	}{
		{"content-length over limit", nil, big, false},
		{"chunked over limit", nil, big, true},
		{"json over limit", map[string]string{"Content-Type": contentTypeJSON}, bytes.Repeat([]byte(" "), 65<<10+1), false},
		{"gzip bomb", map[string]string{"Content-Encoding": "gzip"}, bomb, false},
		{"gzip bomb chunked", map[string]string{"Content-Encoding": "gzip"}, bomb, true},
		{"gzip body over limit on the wire", map[string]string{"Content-Encoding": "gzip"}, gzipBytes(t, noise), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, srv.URL+"/v1/metrics", tt.headers, tt.body, tt.chunked)
			if resp.code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, body %q", resp.code, resp.body)
			}
			if st := resp.status(t); !strings.Contains(st.GetMessage(), "limit") {
				t.Errorf("message %q", st.GetMessage())
			}
		})
	}
	if n := len(ing.metricNames()); n != 0 {
		t.Errorf("ingested %d metrics from oversized bodies", n)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="too_large"}`); got != "6" {
		t.Errorf("too_large count %s", got)
	}
	// A body exactly at the limit is fine.
	exact := mustProto(t, metricsRequest("a"))
	pad := cfg.HTTP.MaxRequestBodyBytes - int64(len(exact))
	// Field 99, length-delimited, is unknown to the ingester and skipped.
	filler := protoUnknownField(int(pad))
	body := append(exact, filler...)
	if int64(len(body)) != cfg.HTTP.MaxRequestBodyBytes {
		t.Fatalf("built %d bytes", len(body))
	}
	for _, chunked := range []bool{false, true} {
		if resp := post(t, srv.URL+"/v1/metrics", nil, body, chunked); resp.code != http.StatusOK {
			t.Fatalf("body at the limit (chunked=%v): status %d %q", chunked, resp.code, resp.body)
		}
		if resp := post(t, srv.URL+"/v1/metrics", map[string]string{"Content-Encoding": "gzip"}, gzipBytes(t, body), chunked); resp.code != http.StatusOK {
			t.Fatalf("gzip body at the limit (chunked=%v): status %d %q", chunked, resp.code, resp.body)
		}
	}
	if n, b := r.queue.depth(); n != 0 || b != 0 {
		t.Errorf("queue not empty afterwards: %d requests, %d bytes", n, b)
	}
}

// protoUnknownField encodes field 99 (bytes) so that the whole encoding is
// exactly n bytes long (n >= 4).
func protoUnknownField(n int) []byte {
	// tag 99<<3|2 = 794 takes 2 bytes of varint; the length takes 1-3 bytes.
	for lenBytes := 1; lenBytes <= 3; lenBytes++ {
		payload := n - 2 - lenBytes
		if payload < 0 {
			continue
		}
		var l []byte
		for v := payload; ; {
			if v < 0x80 {
				l = append(l, byte(v))
				break
			}
			l = append(l, byte(v)|0x80)
			v >>= 7
		}
		if len(l) == lenBytes {
			out := append([]byte{0x9a, 0x06}, l...)
			return append(out, make([]byte, payload)...)
		}
	}
	panic("cannot pad")
}

func TestHTTPUnsupported(t *testing.T) {
	r, reg := newTestReceiver(t, testConfig(), &recordingIngester{})
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	body := mustProto(t, metricsRequest("a"))

	for _, ct := range []string{"text/plain", "application/grpc", "", "application/x-protobuf; =broken"} {
		resp := post(t, srv.URL+"/v1/metrics", map[string]string{"Content-Type": ct}, body, false)
		if resp.code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: status %d", ct, resp.code)
		}
		if !strings.Contains(string(resp.body), "application/x-protobuf") {
			t.Errorf("Content-Type %q: body %q should name the supported types", ct, resp.body)
		}
	}
	for _, ce := range []string{"br", "deflate", "zstd", "gzip, gzip"} {
		resp := post(t, srv.URL+"/v1/metrics", map[string]string{"Content-Encoding": ce}, body, false)
		if resp.code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Encoding %q: status %d", ce, resp.code)
			continue
		}
		if st := resp.status(t); !strings.Contains(st.GetMessage(), "Content-Encoding") {
			t.Errorf("Content-Encoding %q: message %q", ce, st.GetMessage())
		}
	}
	for _, ce := range []string{"identity", "GZIP"} {
		b := body
		if ce == "GZIP" {
			b = gzipBytes(t, body)
		}
		if resp := post(t, srv.URL+"/v1/metrics", map[string]string{"Content-Encoding": ce}, b, false); resp.code != http.StatusOK {
			t.Errorf("Content-Encoding %q: status %d %q", ce, resp.code, resp.body)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, srv.URL+"/v1/traces", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("%s: status %d, Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	resp, err := http.Post(srv.URL+"/v1/profiles", contentTypeProto, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: status %d", resp.StatusCode)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="unsupported"}`); got != "8" {
		t.Errorf("unsupported metrics requests %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="traces",reason="unsupported"}`); got != "3" {
		t.Errorf("unsupported traces requests %s", got)
	}
}

func TestHTTPPartialSuccess(t *testing.T) {
	ing := &recordingIngester{RejectedValue: 2, MessageValue: "2 data points have no workload attributes"}
	r, reg := newTestReceiver(t, testConfig(), ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()

	resp := post(t, srv.URL+"/v1/metrics", nil, mustProto(t, metricsRequest("a", "b", "c")), false)
	if resp.code != http.StatusOK {
		t.Fatalf("status %d %q", resp.code, resp.body)
	}
	var pr colmetricspb.ExportMetricsServiceResponse
	if err := proto.Unmarshal(resp.body, &pr); err != nil {
		t.Fatal(err)
	}
	if ps := pr.GetPartialSuccess(); ps.GetRejectedDataPoints() != 2 || ps.GetErrorMessage() != ing.MessageValue {
		t.Errorf("partial success %v", ps)
	}

	resp = post(t, srv.URL+"/v1/metrics", map[string]string{"Content-Type": contentTypeJSON}, []byte(jsonMetrics), false)
	if resp.code != http.StatusOK {
		t.Fatalf("status %d %q", resp.code, resp.body)
	}
	pr.Reset()
	if err := protojson.Unmarshal(resp.body, &pr); err != nil {
		t.Fatalf("%v: %q", err, resp.body)
	}
	if !strings.Contains(string(resp.body), `"rejectedDataPoints"`) {
		t.Errorf("JSON response keys must be lowerCamelCase: %s", resp.body)
	}
	// One point sent, two "rejected" by the fake: the receiver passes the
	// Ingester's numbers through.
	if ps := pr.GetPartialSuccess(); ps.GetRejectedDataPoints() != 2 || ps.GetErrorMessage() == "" {
		t.Errorf("partial success %v", ps)
	}

	for _, tc := range []struct {
		path string
		body []byte
		get  func([]byte) (int64, string)
	}{
		{"/v1/traces", mustProto(t, tracesRequest("a", "b", "c")), func(b []byte) (int64, string) {
			var r coltracepb.ExportTraceServiceResponse
			_ = proto.Unmarshal(b, &r)
			return r.GetPartialSuccess().GetRejectedSpans(), r.GetPartialSuccess().GetErrorMessage()
		}},
		{"/v1/logs", mustProto(t, logsRequest("a", "b", "c")), func(b []byte) (int64, string) {
			var r collogspb.ExportLogsServiceResponse
			_ = proto.Unmarshal(b, &r)
			return r.GetPartialSuccess().GetRejectedLogRecords(), r.GetPartialSuccess().GetErrorMessage()
		}},
	} {
		resp := post(t, srv.URL+tc.path, nil, tc.body, false)
		if n, msg := tc.get(resp.body); resp.code != http.StatusOK || n != 2 || msg != ing.MessageValue {
			t.Errorf("%s: status %d, rejected %d, message %q", tc.path, resp.code, n, msg)
		}
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="partial"}`); got != "4" {
		t.Errorf("partial rejections %s", got)
	}
	// 3 points - 2 rejected, then 1 point - 2 rejected (clamped to 0).
	if got := metricValue(t, reg, `medic_otlp_received_total{signal="metrics"}`); got != "1" {
		t.Errorf("received %s", got)
	}
	if got := metricValue(t, reg, `medic_otlp_requests_total{transport="http",signal="metrics",outcome="ok"}`); got != "2" {
		t.Errorf("ok requests %s", got)
	}
}

func TestHTTPPartialSuccessDefaultMessage(t *testing.T) {
	ing := &recordingIngester{RejectedValue: 1}
	r, _ := newTestReceiver(t, testConfig(), ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	resp := post(t, srv.URL+"/v1/traces", nil, mustProto(t, tracesRequest("a", "b")), false)
	var tr coltracepb.ExportTraceServiceResponse
	if err := proto.Unmarshal(resp.body, &tr); err != nil {
		t.Fatal(err)
	}
	if got := tr.GetPartialSuccess().GetErrorMessage(); got != "1 spans rejected" {
		t.Errorf("message %q", got)
	}
}

func TestHTTPIngestError(t *testing.T) {
	ing := &recordingIngester{ErrValue: errors.New("engine stopped")}
	r, reg := newTestReceiver(t, testConfig(), ing)
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	resp := post(t, srv.URL+"/v1/logs", nil, mustProto(t, logsRequest("x")), false)
	if resp.code != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", resp.code, resp.header.Get("Retry-After"))
	}
	if st := resp.status(t); !strings.Contains(st.GetMessage(), "engine stopped") {
		t.Errorf("message %q", st.GetMessage())
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="logs",reason="internal"}`); got != "1" {
		t.Errorf("internal %s", got)
	}
}

// blockedReceiver starts an HTTP test server whose ingester blocks every
// call until release is called.
func blockedReceiver(t *testing.T, cfg Config) (r *Receiver, ing *recordingIngester, url string) {
	t.Helper()
	ing = &recordingIngester{Block: make(chan struct{}), Entered: make(chan struct{}, 16)}
	r, _ = newTestReceiver(t, cfg, ing)
	srv := httptest.NewServer(r.HTTPHandler())
	t.Cleanup(srv.Close)
	t.Cleanup(ing.release) // first, so that a failed test does not hang
	return r, ing, srv.URL
}

func TestHTTPQueueFull(t *testing.T) {
	cfg := testConfig()
	cfg.Queue.Size = 2
	cfg.Queue.Workers = 1
	cfg.RetryAfter = 1500 * time.Millisecond
	r, ing, url := blockedReceiver(t, cfg)
	body := mustProto(t, metricsRequest("a"))

	first := goPost(url+"/v1/metrics", nil, body, false)
	<-ing.Entered // the first request holds the only worker
	second := goPost(url+"/v1/metrics", nil, body, false)
	waitFor(t, func() bool { n, _ := r.queue.depth(); return n == 2 }) // the second waits for it

	resp := post(t, url+"/v1/metrics", nil, body, false)
	if resp.code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.code)
	}
	if ra := resp.header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (1.5s rounded up)", ra)
	}
	resp.status(t)

	ing.release()
	for _, ch := range []<-chan response{first, second} {
		if resp := <-ch; resp.code != http.StatusOK {
			t.Errorf("queued request: status %d %q", resp.code, resp.body)
		}
	}
	// Drained: requests are admitted again.
	if resp := post(t, url+"/v1/metrics", nil, body, false); resp.code != http.StatusOK {
		t.Errorf("after drain: status %d", resp.code)
	}
	if n, b := r.queue.depth(); n != 0 || b != 0 {
		t.Errorf("queue %d requests, %d bytes after drain", n, b)
	}
}

func TestHTTPQueueBytesFull(t *testing.T) {
	cfg := testConfig()
	cfg.GRPC.Endpoint = ""
	cfg.HTTP.MaxRequestBodyBytes = 100 << 10
	cfg.Queue.MaxBytes = 100 << 10
	cfg.Queue.Workers = 1
	r, ing, url := blockedReceiver(t, cfg)
	big := append(mustProto(t, metricsRequest("a")), protoUnknownField(70<<10)...)

	first := goPost(url+"/v1/metrics", nil, big, false)
	<-ing.Entered
	if _, b := r.queue.depth(); b != int64(len(big)) {
		t.Errorf("queue bytes %d, want the body's %d", b, len(big))
	}
	// Known length that does not fit: refused before reading.
	if resp := post(t, url+"/v1/metrics", nil, big, false); resp.code != http.StatusTooManyRequests {
		t.Errorf("second big body: status %d", resp.code)
	}
	// Unknown length: refused when the buffer can no longer grow.
	if resp := post(t, url+"/v1/metrics", nil, big, true); resp.code != http.StatusTooManyRequests {
		t.Errorf("second big chunked body: status %d", resp.code)
	}
	ing.release()
	if resp := <-first; resp.code != http.StatusOK {
		t.Errorf("first: status %d", resp.code)
	}
	if resp := post(t, url+"/v1/metrics", nil, big, true); resp.code != http.StatusOK {
		t.Errorf("after drain: status %d", resp.code)
	}
}

func TestHTTPShuttingDown(t *testing.T) {
	r, ing, url := blockedReceiver(t, testConfig())
	body := mustProto(t, tracesRequest("a"))

	first := goPost(url+"/v1/traces", nil, body, false)
	<-ing.Entered

	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(context.Background()) }()
	waitFor(t, func() bool { r.queue.mu.Lock(); defer r.queue.mu.Unlock(); return r.queue.closing })

	resp := post(t, url+"/v1/traces", nil, body, false)
	if resp.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d during shutdown, want 503", resp.code)
	}
	if resp.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if st := resp.status(t); !strings.Contains(st.GetMessage(), "shutting down") {
		t.Errorf("message %q", st.GetMessage())
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the in-flight request finished", err)
	default:
	}
	ing.release()
	if resp := <-first; resp.code != http.StatusOK {
		t.Errorf("in-flight request: status %d", resp.code)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if got := ing.spanNames(); len(got) != 1 {
		t.Errorf("ingested %q", got)
	}
}

func TestHTTPNoBodyInLogs(t *testing.T) {
	ing := &recordingIngester{}
	reg := selfmetricsRegistry()
	logger, logs := testLogger(t)
	r, err := New(testConfig(), ing, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	srv := httptest.NewServer(r.HTTPHandler())
	defer srv.Close()
	const secret = "sk-do-not-log-me"
	post(t, srv.URL+"/v1/logs", nil, mustProto(t, logsRequest(secret)), false)
	post(t, srv.URL+"/v1/logs", nil, append([]byte{0xff}, secret...), false)
	post(t, srv.URL+"/v1/logs", map[string]string{"Content-Type": contentTypeJSON}, []byte(`{"resourceLogs":"`+secret+`"}`), false)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log contains body contents:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("per-request logging at info:\n%s", logs.String())
	}
}

func TestClientMessage(t *testing.T) {
	if got := clientMessage("bad \xff byte"); got != "bad \uFFFD byte" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("é", maxMessage)
	got := clientMessage(long)
	if len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("long message cut to %d bytes: %q...", len(got), got[:16])
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

var _ detect.Ingester = (*recordingIngester)(nil)
