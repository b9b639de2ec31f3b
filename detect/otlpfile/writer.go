package otlpfile

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Writer writes a recording in the file exporter's json form: one OTLP/JSON
// export request per line, as the Collector's pdata JSON marshaler writes
// it (lowerCamelCase keys, enums as numbers, trace and span ids as
// lowercase hex, 64-bit integers as strings, no insignificant whitespace).
// Output is deterministic: the same request gives the same bytes.
//
// Each request is written with one Write call to the underlying writer, so
// wrap a file in a bufio.Writer (and flush it) when writing many. A Writer is
// not safe for concurrent use. After a failed write it returns the same error.
type Writer struct {
	w   io.Writer
	buf bytes.Buffer
	err error
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

var marshalJSON = protojson.MarshalOptions{UseEnumNumbers: true}

// Metrics writes one metrics export request.
func (w *Writer) Metrics(req *colmetricspb.ExportMetricsServiceRequest) error {
	if req == nil {
		return errors.New("write metrics: nil request")
	}
	return w.write(SignalMetrics, req, func(m proto.Message) []idField {
		return metricsIDs(m.(*colmetricspb.ExportMetricsServiceRequest))
	})
}

// Traces writes one traces export request.
func (w *Writer) Traces(req *coltracepb.ExportTraceServiceRequest) error {
	if req == nil {
		return errors.New("write traces: nil request")
	}
	return w.write(SignalTraces, req, func(m proto.Message) []idField {
		return tracesIDs(m.(*coltracepb.ExportTraceServiceRequest))
	})
}

// Logs writes one logs export request.
func (w *Writer) Logs(req *collogspb.ExportLogsServiceRequest) error {
	if req == nil {
		return errors.New("write logs: nil request")
	}
	return w.write(SignalLogs, req, func(m proto.Message) []idField {
		return logsIDs(m.(*collogspb.ExportLogsServiceRequest))
	})
}

// Request writes one export request: an *ExportMetricsServiceRequest,
// *ExportTraceServiceRequest or *ExportLogsServiceRequest.
func (w *Writer) Request(m proto.Message) error {
	switch m := m.(type) {
	case *colmetricspb.ExportMetricsServiceRequest:
		return w.Metrics(m)
	case *coltracepb.ExportTraceServiceRequest:
		return w.Traces(m)
	case *collogspb.ExportLogsServiceRequest:
		return w.Logs(m)
	}
	return fmt.Errorf("write request: %T is not an OTLP export request", m)
}

// Record writes a record read from any recording (a proto one, say).
func (w *Writer) Record(rec Record) error {
	m, err := rec.Request()
	if err != nil {
		return fmt.Errorf("write record %d: %w", rec.Index, err)
	}
	return w.Request(m)
}

// write marshals msg with its ids (idsOf lists them) in hex. protojson
// writes bytes as base64; an id's hex text (2n digits, a multiple of 4) is
// itself valid base64, so a copy of msg gets each id swapped for the bytes
// whose base64 is the id's hex text. The caller's message is never changed.
// An id of the wrong size is refused: OTLP/JSON readers (detect's, pdata's)
// refuse it, so writing it would make a recording that does not replay.
func (w *Writer) write(sig Signal, msg proto.Message, idsOf func(proto.Message) []idField) error {
	if w.err != nil {
		return w.err
	}
	ids := idsOf(msg)
	for _, id := range ids {
		if n := len(*id.b); n != 0 && n != id.size {
			return fmt.Errorf("write %s: a %s of %d bytes (OTLP wants %d)", sig, id.name, n, id.size)
		}
	}
	if slices.ContainsFunc(ids, func(id idField) bool { return len(*id.b) > 0 }) {
		msg = proto.Clone(msg)
		for _, id := range idsOf(msg) {
			if len(*id.b) == 0 {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(hex.EncodeToString(*id.b))
			if err != nil {
				return fmt.Errorf("write %s: encode %s: %w", sig, id.name, err)
			}
			*id.b = b
		}
	}
	out, err := marshalJSON.Marshal(msg)
	if err != nil {
		return fmt.Errorf("write %s: %w", sig, err)
	}
	// protojson varies its whitespace on purpose; compacting makes the
	// output stable.
	w.buf.Reset()
	if err := json.Compact(&w.buf, out); err != nil {
		return fmt.Errorf("write %s: %w", sig, err)
	}
	w.buf.WriteByte('\n')
	if _, err := w.w.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write %s: %w", sig, err)
		return w.err
	}
	return nil
}

// idField is one id of a request: where it is, the size OTLP gives it and
// its name for errors.
type idField struct {
	b    *[]byte
	size int
	name string
}

func traceID(b *[]byte) idField { return idField{b, 16, "trace id"} }
func spanID(b *[]byte) idField  { return idField{b, 8, "span id"} }

// The id fields of each request, which OTLP/JSON writes as hex.

func metricsIDs(req *colmetricspb.ExportMetricsServiceRequest) []idField {
	var ids []idField
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, p := range m.GetGauge().GetDataPoints() {
					ids = appendExemplarIDs(ids, p.GetExemplars())
				}
				for _, p := range m.GetSum().GetDataPoints() {
					ids = appendExemplarIDs(ids, p.GetExemplars())
				}
				for _, p := range m.GetHistogram().GetDataPoints() {
					ids = appendExemplarIDs(ids, p.GetExemplars())
				}
				for _, p := range m.GetExponentialHistogram().GetDataPoints() {
					ids = appendExemplarIDs(ids, p.GetExemplars())
				}
			}
		}
	}
	return ids
}

func appendExemplarIDs(ids []idField, ex []*metricspb.Exemplar) []idField {
	for _, e := range ex {
		if e != nil {
			ids = append(ids, traceID(&e.TraceId), spanID(&e.SpanId))
		}
	}
	return ids
}

func tracesIDs(req *coltracepb.ExportTraceServiceRequest) []idField {
	var ids []idField
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp == nil {
					continue
				}
				ids = append(ids, traceID(&sp.TraceId), spanID(&sp.SpanId), spanID(&sp.ParentSpanId))
				for _, l := range sp.GetLinks() {
					if l != nil {
						ids = append(ids, traceID(&l.TraceId), spanID(&l.SpanId))
					}
				}
			}
		}
	}
	return ids
}

func logsIDs(req *collogspb.ExportLogsServiceRequest) []idField {
	var ids []idField
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				if r != nil {
					ids = append(ids, traceID(&r.TraceId), spanID(&r.SpanId))
				}
			}
		}
	}
	return ids
}
