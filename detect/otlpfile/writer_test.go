package otlpfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Writing the requests of the Collector's proto sample gives, line for line,
// the JSON that the Collector itself wrote for them: the same values in the
// same forms (hex ids, enums as numbers, 64-bit integers as strings). Lines
// without exemplars are byte for byte the same; in an exemplar pdata writes
// traceId before spanId, protojson the other way (its field order), which
// JSON does not care about.
func TestWriterMatchesCollector(t *testing.T) {
	want, err := os.ReadFile("testdata/collector.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	w := NewWriter(&got)
	for _, rec := range readSample(t, "collector.pb") {
		if err := w.Record(rec); err != nil {
			t.Fatal(err)
		}
	}
	gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	if len(gl) != len(wl) {
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if strings.Contains(wl[i], `"exemplars"`) {
			var g, w any
			if err := json.Unmarshal([]byte(gl[i]), &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(wl[i]), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
			continue
		}
		if gl[i] != wl[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
		}
	}
}

// What the Writer writes reads back as the same requests, and the caller's
// message is left as it was (ids stay bytes).
func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var sent []proto.Message
	for _, rec := range readSample(t, "collector.pb") {
		m := unmarshal(t, rec)
		before := proto.Clone(m)
		if err := w.Request(m); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(m, before) {
			t.Fatal("the writer changed the caller's message")
		}
		sent = append(sent, m)
	}
	recs, _, err := readBytes(t, buf.Bytes(), DefaultConfig())
	if err != nil || len(recs) != len(sent) {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for i, rec := range recs {
		if !proto.Equal(unmarshal(t, rec), sent[i]) {
			t.Errorf("record %d differs after a round trip", i+1)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriterErrors(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw)
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{}}}
	err := w.Metrics(req)
	if err == nil || !strings.Contains(err.Error(), "write metrics: disk full") {
		t.Fatalf("err = %v", err)
	}
	if again := w.Metrics(req); again != err || fw.n != 1 {
		t.Fatalf("a failed writer wrote again: %v, %d writes", again, fw.n)
	}
	if err := NewWriter(&bytes.Buffer{}).Traces(nil); err == nil {
		t.Fatal("nil request written")
	}
	odd := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: []byte{1, 2, 3}}}}}}}}
	if err := NewWriter(&bytes.Buffer{}).Traces(odd); err == nil || !strings.Contains(err.Error(), "write traces: a trace id of 3 bytes (OTLP wants 16)") {
		t.Fatalf("odd id: %v", err)
	}
	if err := NewWriter(&bytes.Buffer{}).Record(Record{Signal: "profiles"}); err == nil {
		t.Fatal("unknown signal written")
	}
	if err := NewWriter(&bytes.Buffer{}).Request(&metricspb.Metric{}); err == nil || !strings.Contains(err.Error(), "*v1.Metric is not an OTLP export request") {
		t.Fatalf("not a request: %v", err)
	}
}
