package detect

// This file holds the OTLP protobuf decoder: it walks the bytes of an export
// request with protowire and reports what it finds to a MetricsSink,
// TracesSink or LogsSink, without building message trees.
//
// A body that does not decode must not be half-applied, so no sink call is
// made before the whole body has been checked:
//
//   - Traces and logs are walked twice. The first walk validates the body
//     against a table of the OTLP schema (wire types, lengths, nesting of
//     AnyValues, every attribute list and value) and calls nothing; the
//     second, by code written per message, calls the sink.
//   - Metrics, the hot path, are read once by a pass that checks exactly
//     what the validator checks and records what it finds in the Decoder's
//     scratch slices, which are then replayed to the sink. When that pass
//     meets anything unexpected it gives up and the validator decides.
//
// Protobuf merges the occurrences of a singular message field (and of the
// same member of a oneof). No ordinary encoder writes such bodies, so when
// validation sees one the body is rewritten once into the decoder's scratch
// space with the occurrences merged (which allocates) and that copy is read
// instead; the common path reads the body in place and does not allocate.

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// MaxValueDepth is how deeply AnyValue arrays and key/value lists may nest in
// a request; deeper bodies are rejected as malformed, which bounds the stack
// used by everything that walks a Value.
const MaxValueDepth = 32

// Decoder decodes OTLP export requests (protobuf) into sink calls.
//
// A Decoder keeps its scratch space (the recorded points of a metrics
// request, bucket counts, bounds, quantiles) between requests, so a
// long-lived Decoder decodes metrics without allocating once it has seen a
// request of the usual size; scratch that a request used less than a quarter
// of is released. The zero value is ready to use. A Decoder is not safe for
// concurrent use: give each goroutine its own.
//
// Calls happen in document order: Resource once per ResourceMetrics /
// ResourceSpans / ResourceLogs (with empty Attrs when the resource is absent),
// then Scope once per scope entry (empty name, version and Attrs when the
// scope is absent), then the items of that scope. Metrics are reported as
// Metric followed by one call per data point (Number for gauge and sum
// points). A Metric whose data is absent has Type MetricNone and no points.
//
// Everything handed to the sink (strings, Attrs, Values, slices and the
// pointed-to structs) aliases the request body or the Decoder's scratch space:
// strings are made with unsafe.String and are only valid during the call and
// while the body is neither modified nor reused. A sink that keeps anything
// must copy it.
//
// A body that does not decode returns an error wrapping ErrMalformed that
// names where the problem is, and then no sink method was called.
type Decoder struct {
	// The recorded metrics request (see recordMetrics); point slices are
	// spans of counts, bounds, bucks and quant.
	ev     []uint8
	res    []Attrs
	scopes []scopeEvent
	mets   []Metric
	nums   []NumberPoint
	hists  []HistogramPoint
	histSp []histSpans
	exps   []ExpHistogramPoint
	expSp  []expSpans
	summs  []SummaryPoint
	summSp []span
	counts []uint64
	bounds []float64
	bucks  []uint64
	quant  []Quantile

	span Span
	log  LogRecord
	norm []byte // the merged copy of a body that needed merging
}

// Metrics decodes an ExportMetricsServiceRequest.
func (d *Decoder) Metrics(b []byte, s MetricsSink) error {
	if !d.recordMetrics(b) {
		var v validator
		if e := v.message(b, &metricsRequestDesc, 0); e != nil {
			return e
		}
		if !v.merge {
			return errInconsistent
		}
		d.norm = appendMerged(d.norm[:0], b, &metricsRequestDesc)
		if !d.recordMetrics(d.norm) {
			return errInconsistent
		}
	}
	d.replayMetrics(s)
	return nil
}

// Traces decodes an ExportTraceServiceRequest.
func (d *Decoder) Traces(b []byte, s TracesSink) error {
	b, err := d.prepare(b, &tracesRequestDesc)
	if err != nil {
		return err
	}
	if !d.walkTraces(b, s) {
		return errInconsistent
	}
	return nil
}

// Logs decodes an ExportLogsServiceRequest. A record's body is parsed with
// ParseValue.
func (d *Decoder) Logs(b []byte, s LogsSink) error {
	b, err := d.prepare(b, &logsRequestDesc)
	if err != nil {
		return err
	}
	if !d.walkLogs(b, s) {
		return errInconsistent
	}
	return nil
}

// prepare validates b as a message of type m and returns the bytes to walk:
// b itself, or a copy with repeated singular messages merged.
func (d *Decoder) prepare(b []byte, m *msgDesc) ([]byte, error) {
	var v validator
	if e := v.message(b, m, 0); e != nil {
		return nil, e
	}
	if v.merge {
		d.norm = appendMerged(d.norm[:0], b, m)
		return d.norm, nil
	}
	return b, nil
}

// errInconsistent reports a body that validated but then failed to walk: a
// bug in this file, never expected (the fuzz tests look for it).
var errInconsistent = fmt.Errorf("otlp decoder: validated body did not walk: %w", ErrMalformed)

// ---------------------------------------------------------------------------
// Errors

// decodeError is a malformed body: where (the field path, innermost segment
// first) and what.
type decodeError struct {
	path   []string
	reason string
	// strict marks rules that are stricter than protobuf's own parser (a
	// known field with the wrong wire type, which protobuf keeps as an
	// unknown field; AnyValue nesting beyond MaxValueDepth).
	strict bool
}

func (e *decodeError) Error() string {
	var sb strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		sb.WriteString(e.path[i])
		if i > 0 {
			sb.WriteByte('.')
		}
	}
	if sb.Len() > 0 {
		sb.WriteString(": ")
	}
	sb.WriteString(e.reason)
	sb.WriteString(": ")
	sb.WriteString(ErrMalformed.Error())
	return sb.String()
}

func (e *decodeError) Unwrap() error { return ErrMalformed }

// errStricter reports whether err is a rejection that protobuf's own parser
// would not make (see decodeError.strict).
func errStricter(err error) bool {
	var e *decodeError
	return errors.As(err, &e) && e.strict
}

// ---------------------------------------------------------------------------
// Schema

// fieldKind says how a field is encoded, which is all validation needs.
type fieldKind uint8

const (
	fieldUnknown  fieldKind = iota // not in the schema: skipped
	fieldVarint                    // int32, int64, uint32, uint64, sint32, bool, enum
	fieldFixed64                   // fixed64, double
	fieldFixed32                   // fixed32
	fieldBytes                     // string, bytes (singular or repeated)
	fieldMessage                   // singular embedded message
	fieldMessages                  // repeated embedded message
	fieldVarints                   // repeated varint, packed or not
	fieldFixed64s                  // repeated fixed64 / double, packed or not
)

type fieldDesc struct {
	name  string
	kind  fieldKind
	oneof bool // member of the message's (only) oneof
	msg   *msgDesc
}

type msgDesc struct {
	fields    []fieldDesc // by field number
	container bool        // ArrayValue / KeyValueList: counts towards MaxValueDepth
	fast      [128]uint8  // by one-byte tag: what validation may do without looking further
}

// Validation fast paths, by one-byte tag (msgDesc.fast). Each applies only
// when the value's own length prefix is one byte too; otherwise, and for
// every other tag, the general code runs.
const (
	actSlow         uint8 = iota
	actFixed64            // a fixed64 field
	actFixed64Oneof       // a fixed64 member of the message's oneof
	actFixed32            // a fixed32 field
	actVarint             // a varint field
	actBytes              // a string or bytes field
	actPacked64           // a packed repeated fixed64 field
	actKeyValues          // repeated KeyValue
	actMessages           // another repeated message
)

func (m *msgDesc) field(num protowire.Number) *fieldDesc {
	if num < 0 || int(num) >= len(m.fields) || m.fields[num].kind == fieldUnknown {
		return nil
	}
	return &m.fields[num]
}

type fd struct {
	num   protowire.Number
	name  string
	kind  fieldKind
	msg   *msgDesc
	oneof bool
}

func (m *msgDesc) define(fields ...fd) {
	top := protowire.Number(0)
	for _, f := range fields {
		top = max(top, f.num)
	}
	m.fields = make([]fieldDesc, top+1)
	for _, f := range fields {
		m.fields[f.num] = fieldDesc{name: f.name, kind: f.kind, oneof: f.oneof, msg: f.msg}
		if f.num >= 16 {
			continue
		}
		tag := func(t protowire.Type) int { return int(f.num)<<3 | int(t) }
		switch {
		case f.kind == fieldFixed64 && f.oneof:
			m.fast[tag(protowire.Fixed64Type)] = actFixed64Oneof
		case f.oneof:
		case f.kind == fieldFixed64:
			m.fast[tag(protowire.Fixed64Type)] = actFixed64
		case f.kind == fieldFixed32:
			m.fast[tag(protowire.Fixed32Type)] = actFixed32
		case f.kind == fieldVarint:
			m.fast[tag(protowire.VarintType)] = actVarint
		case f.kind == fieldBytes:
			m.fast[tag(protowire.BytesType)] = actBytes
		case f.kind == fieldFixed64s:
			m.fast[tag(protowire.BytesType)] = actPacked64
		case f.kind == fieldMessages && f.msg == &keyValueDesc:
			m.fast[tag(protowire.BytesType)] = actKeyValues
		case f.kind == fieldMessages:
			m.fast[tag(protowire.BytesType)] = actMessages
		}
	}
}

// The OTLP messages, field numbers as in go.opentelemetry.io/proto/otlp
// v1.11.1 (opentelemetry-proto v1.9).
var (
	metricsRequestDesc, tracesRequestDesc, logsRequestDesc msgDesc

	anyValueDesc, arrayValueDesc, kvListDesc, keyValueDesc msgDesc
	resourceDesc, entityRefDesc, scopeDesc                 msgDesc

	resourceMetricsDesc, scopeMetricsDesc, metricDesc               msgDesc
	gaugeDesc, sumDesc, histogramDesc, expHistogramDesc             msgDesc
	summaryDesc, numberPointDesc, histogramPointDesc                msgDesc
	expHistogramPointDesc, bucketsDesc, summaryPointDesc, quantDesc msgDesc
	exemplarDesc                                                    msgDesc

	resourceSpansDesc, scopeSpansDesc, spanDesc, statusDesc, eventDesc, linkDesc msgDesc

	resourceLogsDesc, scopeLogsDesc, logRecordDesc msgDesc
)

func init() {
	kvs := func(num protowire.Number, name string) fd { return fd{num, name, fieldMessages, &keyValueDesc, false} }

	anyValueDesc.define(
		fd{1, "string_value", fieldBytes, nil, true},
		fd{2, "bool_value", fieldVarint, nil, true},
		fd{3, "int_value", fieldVarint, nil, true},
		fd{4, "double_value", fieldFixed64, nil, true},
		fd{5, "array_value", fieldMessage, &arrayValueDesc, true},
		fd{6, "kvlist_value", fieldMessage, &kvListDesc, true},
		fd{7, "bytes_value", fieldBytes, nil, true},
		fd{8, "string_value_strindex", fieldVarint, nil, true},
	)
	arrayValueDesc.define(fd{1, "values", fieldMessages, &anyValueDesc, false})
	arrayValueDesc.container = true
	kvListDesc.define(kvs(1, "values"))
	kvListDesc.container = true
	keyValueDesc.define(
		fd{1, "key", fieldBytes, nil, false},
		fd{2, "value", fieldMessage, &anyValueDesc, false},
		fd{3, "key_strindex", fieldVarint, nil, false},
	)
	entityRefDesc.define(
		fd{1, "schema_url", fieldBytes, nil, false},
		fd{2, "type", fieldBytes, nil, false},
		fd{3, "id_keys", fieldBytes, nil, false},
		fd{4, "description_keys", fieldBytes, nil, false},
	)
	resourceDesc.define(
		kvs(1, "attributes"),
		fd{2, "dropped_attributes_count", fieldVarint, nil, false},
		fd{3, "entity_refs", fieldMessages, &entityRefDesc, false},
	)
	scopeDesc.define(
		fd{1, "name", fieldBytes, nil, false},
		fd{2, "version", fieldBytes, nil, false},
		kvs(3, "attributes"),
		fd{4, "dropped_attributes_count", fieldVarint, nil, false},
	)

	// Metrics.
	metricsRequestDesc.define(fd{1, "resource_metrics", fieldMessages, &resourceMetricsDesc, false})
	resourceMetricsDesc.define(
		fd{1, "resource", fieldMessage, &resourceDesc, false},
		fd{2, "scope_metrics", fieldMessages, &scopeMetricsDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	scopeMetricsDesc.define(
		fd{1, "scope", fieldMessage, &scopeDesc, false},
		fd{2, "metrics", fieldMessages, &metricDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	metricDesc.define(
		fd{1, "name", fieldBytes, nil, false},
		fd{2, "description", fieldBytes, nil, false},
		fd{3, "unit", fieldBytes, nil, false},
		fd{5, "gauge", fieldMessage, &gaugeDesc, true},
		fd{7, "sum", fieldMessage, &sumDesc, true},
		fd{9, "histogram", fieldMessage, &histogramDesc, true},
		fd{10, "exponential_histogram", fieldMessage, &expHistogramDesc, true},
		fd{11, "summary", fieldMessage, &summaryDesc, true},
		kvs(12, "metadata"),
	)
	gaugeDesc.define(fd{1, "data_points", fieldMessages, &numberPointDesc, false})
	sumDesc.define(
		fd{1, "data_points", fieldMessages, &numberPointDesc, false},
		fd{2, "aggregation_temporality", fieldVarint, nil, false},
		fd{3, "is_monotonic", fieldVarint, nil, false},
	)
	histogramDesc.define(
		fd{1, "data_points", fieldMessages, &histogramPointDesc, false},
		fd{2, "aggregation_temporality", fieldVarint, nil, false},
	)
	expHistogramDesc.define(
		fd{1, "data_points", fieldMessages, &expHistogramPointDesc, false},
		fd{2, "aggregation_temporality", fieldVarint, nil, false},
	)
	summaryDesc.define(fd{1, "data_points", fieldMessages, &summaryPointDesc, false})
	numberPointDesc.define(
		kvs(7, "attributes"),
		fd{2, "start_time_unix_nano", fieldFixed64, nil, false},
		fd{3, "time_unix_nano", fieldFixed64, nil, false},
		fd{4, "as_double", fieldFixed64, nil, true},
		fd{6, "as_int", fieldFixed64, nil, true},
		fd{5, "exemplars", fieldMessages, &exemplarDesc, false},
		fd{8, "flags", fieldVarint, nil, false},
	)
	histogramPointDesc.define(
		kvs(9, "attributes"),
		fd{2, "start_time_unix_nano", fieldFixed64, nil, false},
		fd{3, "time_unix_nano", fieldFixed64, nil, false},
		fd{4, "count", fieldFixed64, nil, false},
		fd{5, "sum", fieldFixed64, nil, false},
		fd{6, "bucket_counts", fieldFixed64s, nil, false},
		fd{7, "explicit_bounds", fieldFixed64s, nil, false},
		fd{8, "exemplars", fieldMessages, &exemplarDesc, false},
		fd{10, "flags", fieldVarint, nil, false},
		fd{11, "min", fieldFixed64, nil, false},
		fd{12, "max", fieldFixed64, nil, false},
	)
	expHistogramPointDesc.define(
		kvs(1, "attributes"),
		fd{2, "start_time_unix_nano", fieldFixed64, nil, false},
		fd{3, "time_unix_nano", fieldFixed64, nil, false},
		fd{4, "count", fieldFixed64, nil, false},
		fd{5, "sum", fieldFixed64, nil, false},
		fd{6, "scale", fieldVarint, nil, false},
		fd{7, "zero_count", fieldFixed64, nil, false},
		fd{8, "positive", fieldMessage, &bucketsDesc, false},
		fd{9, "negative", fieldMessage, &bucketsDesc, false},
		fd{10, "flags", fieldVarint, nil, false},
		fd{11, "exemplars", fieldMessages, &exemplarDesc, false},
		fd{12, "min", fieldFixed64, nil, false},
		fd{13, "max", fieldFixed64, nil, false},
		fd{14, "zero_threshold", fieldFixed64, nil, false},
	)
	bucketsDesc.define(
		fd{1, "offset", fieldVarint, nil, false},
		fd{2, "bucket_counts", fieldVarints, nil, false},
	)
	summaryPointDesc.define(
		kvs(7, "attributes"),
		fd{2, "start_time_unix_nano", fieldFixed64, nil, false},
		fd{3, "time_unix_nano", fieldFixed64, nil, false},
		fd{4, "count", fieldFixed64, nil, false},
		fd{5, "sum", fieldFixed64, nil, false},
		fd{6, "quantile_values", fieldMessages, &quantDesc, false},
		fd{8, "flags", fieldVarint, nil, false},
	)
	quantDesc.define(
		fd{1, "quantile", fieldFixed64, nil, false},
		fd{2, "value", fieldFixed64, nil, false},
	)
	exemplarDesc.define(
		kvs(7, "filtered_attributes"),
		fd{2, "time_unix_nano", fieldFixed64, nil, false},
		fd{3, "as_double", fieldFixed64, nil, true},
		fd{6, "as_int", fieldFixed64, nil, true},
		fd{4, "span_id", fieldBytes, nil, false},
		fd{5, "trace_id", fieldBytes, nil, false},
	)

	// Traces.
	tracesRequestDesc.define(fd{1, "resource_spans", fieldMessages, &resourceSpansDesc, false})
	resourceSpansDesc.define(
		fd{1, "resource", fieldMessage, &resourceDesc, false},
		fd{2, "scope_spans", fieldMessages, &scopeSpansDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	scopeSpansDesc.define(
		fd{1, "scope", fieldMessage, &scopeDesc, false},
		fd{2, "spans", fieldMessages, &spanDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	spanDesc.define(
		fd{1, "trace_id", fieldBytes, nil, false},
		fd{2, "span_id", fieldBytes, nil, false},
		fd{3, "trace_state", fieldBytes, nil, false},
		fd{4, "parent_span_id", fieldBytes, nil, false},
		fd{5, "name", fieldBytes, nil, false},
		fd{6, "kind", fieldVarint, nil, false},
		fd{7, "start_time_unix_nano", fieldFixed64, nil, false},
		fd{8, "end_time_unix_nano", fieldFixed64, nil, false},
		kvs(9, "attributes"),
		fd{10, "dropped_attributes_count", fieldVarint, nil, false},
		fd{11, "events", fieldMessages, &eventDesc, false},
		fd{12, "dropped_events_count", fieldVarint, nil, false},
		fd{13, "links", fieldMessages, &linkDesc, false},
		fd{14, "dropped_links_count", fieldVarint, nil, false},
		fd{15, "status", fieldMessage, &statusDesc, false},
		fd{16, "flags", fieldFixed32, nil, false},
	)
	statusDesc.define(
		fd{2, "message", fieldBytes, nil, false},
		fd{3, "code", fieldVarint, nil, false},
	)
	eventDesc.define(
		fd{1, "time_unix_nano", fieldFixed64, nil, false},
		fd{2, "name", fieldBytes, nil, false},
		kvs(3, "attributes"),
		fd{4, "dropped_attributes_count", fieldVarint, nil, false},
	)
	linkDesc.define(
		fd{1, "trace_id", fieldBytes, nil, false},
		fd{2, "span_id", fieldBytes, nil, false},
		fd{3, "trace_state", fieldBytes, nil, false},
		kvs(4, "attributes"),
		fd{5, "dropped_attributes_count", fieldVarint, nil, false},
		fd{6, "flags", fieldFixed32, nil, false},
	)

	// Logs.
	logsRequestDesc.define(fd{1, "resource_logs", fieldMessages, &resourceLogsDesc, false})
	resourceLogsDesc.define(
		fd{1, "resource", fieldMessage, &resourceDesc, false},
		fd{2, "scope_logs", fieldMessages, &scopeLogsDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	scopeLogsDesc.define(
		fd{1, "scope", fieldMessage, &scopeDesc, false},
		fd{2, "log_records", fieldMessages, &logRecordDesc, false},
		fd{3, "schema_url", fieldBytes, nil, false},
	)
	logRecordDesc.define(
		fd{1, "time_unix_nano", fieldFixed64, nil, false},
		fd{2, "severity_number", fieldVarint, nil, false},
		fd{3, "severity_text", fieldBytes, nil, false},
		fd{5, "body", fieldMessage, &anyValueDesc, false},
		kvs(6, "attributes"),
		fd{7, "dropped_attributes_count", fieldVarint, nil, false},
		fd{8, "flags", fieldFixed32, nil, false},
		fd{9, "trace_id", fieldBytes, nil, false},
		fd{10, "span_id", fieldBytes, nil, false},
		fd{11, "observed_time_unix_nano", fieldFixed64, nil, false},
		fd{12, "event_name", fieldBytes, nil, false},
	)
}

// ---------------------------------------------------------------------------
// Validation

// validator checks a body against the schema without calling anything.
type validator struct {
	// merge is set when a singular message field occurs more than once or a
	// oneof is set more than once: protobuf merges such occurrences, and the
	// body has to be rewritten before it can be walked in place.
	merge bool
}

// message validates b as a message of type m; depth counts the enclosing
// ArrayValue / KeyValueList messages. The error's path is relative to m.
//
// This loop runs over every byte of every request, so tags and lengths of
// one byte are decoded inline rather than through protowire.
func (v *validator) message(b []byte, m *msgDesc, depth int) *decodeError {
	msg := b
	var seen uint64 // singular message fields met so far, by number
	oneofSet := false
	for len(b) > 0 {
		if c := b[0]; c < 0x80 {
			switch m.fast[c] {
			case actFixed64:
				if len(b) >= 9 {
					b = b[9:]
					continue
				}
			case actFixed64Oneof:
				if len(b) >= 9 {
					if oneofSet {
						v.merge = true
					}
					oneofSet = true
					b = b[9:]
					continue
				}
			case actVarint:
				if len(b) >= 2 && b[1] < 0x80 {
					b = b[2:]
					continue
				}
			case actFixed32:
				if len(b) >= 5 {
					b = b[5:]
					continue
				}
			case actBytes:
				if len(b) >= 2 && b[1] < 0x80 && 2+int(b[1]) <= len(b) {
					b = b[2+int(b[1]):]
					continue
				}
			case actPacked64:
				if len(b) >= 2 && b[1] < 0x80 && 2+int(b[1]) <= len(b) && b[1]%8 == 0 {
					b = b[2+int(b[1]):]
					continue
				}
			case actKeyValues:
				if len(b) >= 2 && b[1] < 0x80 && 2+int(b[1]) <= len(b) && simpleKeyValue(b[2:2+int(b[1])]) {
					b = b[2+int(b[1]):]
					continue
				}
			case actMessages:
				if p, n := protowire.ConsumeBytes(b[1:]); n >= 0 {
					f := &m.fields[c>>3]
					if quickCheck(p, f.msg) {
						b = b[1+n:]
						continue
					}
					if e := v.message(p, f.msg, depth); e != nil {
						e.path = append(e.path, segment(msg, b, f, protowire.Number(c>>3)))
						return e
					}
					b = b[1+n:]
					continue
				}
			}
		}
		field := b
		var num protowire.Number
		var typ protowire.Type
		if c := b[0]; c >= 1<<3 && c < 0x80 {
			num, typ = protowire.Number(c>>3), protowire.Type(c&7)
			b = b[1:]
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(b)
			if n < 0 {
				return &decodeError{reason: "bad field tag: " + protowireReason(n)}
			}
			if num > protowire.MaxValidNumber {
				return &decodeError{reason: "bad field tag: field number " + strconv.Itoa(int(num)) + " out of range"}
			}
			b = b[n:]
		}
		var f *fieldDesc
		if int(num) < len(m.fields) {
			f = &m.fields[num]
		}
		if f == nil || f.kind == fieldUnknown {
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &decodeError{path: []string{"field " + strconv.Itoa(int(num))}, reason: wireReason(typ, b, n)}
			}
			b = b[n:]
			continue
		}
		if f.oneof {
			if oneofSet {
				v.merge = true
			}
			oneofSet = true
		}
		n := 0
		switch f.kind {
		case fieldMessages, fieldMessage, fieldBytes:
			if typ != protowire.BytesType {
				return wrongType(msg, field, f, num, typ, b)
			}
			var p []byte
			if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
				p, n = b[1:1+int(b[0])], 1+int(b[0])
			} else if p, n = protowire.ConsumeBytes(b); n < 0 {
				break
			}
			if f.kind == fieldBytes || f.msg == &keyValueDesc && simpleKeyValue(p) {
				break
			}
			if f.kind == fieldMessage && !f.oneof && num < 64 {
				if seen&(1<<uint(num)) != 0 {
					v.merge = true
				}
				seen |= 1 << uint(num)
			}
			d := depth
			if f.msg.container {
				if d++; d > MaxValueDepth {
					return fieldError(msg, field, f, num, "AnyValue arrays/kvlists nested deeper than "+strconv.Itoa(MaxValueDepth)+" levels", true)
				}
			}
			if e := v.message(p, f.msg, d); e != nil {
				e.path = append(e.path, segment(msg, field, f, num))
				return e
			}
		case fieldFixed64:
			if typ != protowire.Fixed64Type {
				return wrongType(msg, field, f, num, typ, b)
			}
			if n = 8; len(b) < 8 {
				n = -1
			}
		case fieldVarint:
			if typ != protowire.VarintType {
				return wrongType(msg, field, f, num, typ, b)
			}
			if len(b) > 0 && b[0] < 0x80 {
				n = 1
			} else {
				_, n = protowire.ConsumeVarint(b)
			}
		case fieldFixed32:
			if typ != protowire.Fixed32Type {
				return wrongType(msg, field, f, num, typ, b)
			}
			if n = 4; len(b) < 4 {
				n = -1
			}
		case fieldVarints:
			switch typ {
			case protowire.VarintType:
				_, n = protowire.ConsumeVarint(b)
			case protowire.BytesType:
				var p []byte
				if p, n = protowire.ConsumeBytes(b); n >= 0 {
					for len(p) > 0 {
						_, k := protowire.ConsumeVarint(p)
						if k < 0 {
							return fieldError(msg, field, f, num, "packed "+varintReason(k), false)
						}
						p = p[k:]
					}
				}
			default:
				return wrongType(msg, field, f, num, typ, b)
			}
		case fieldFixed64s:
			switch typ {
			case protowire.Fixed64Type:
				_, n = protowire.ConsumeFixed64(b)
			case protowire.BytesType:
				var p []byte
				if p, n = protowire.ConsumeBytes(b); n >= 0 && len(p)%8 != 0 {
					return fieldError(msg, field, f, num, "truncated fixed64", false)
				}
			default:
				return wrongType(msg, field, f, num, typ, b)
			}
		}
		if n < 0 {
			return fieldError(msg, field, f, num, wireReason(typ, b, n), false)
		}
		b = b[n:]
	}
	return nil
}

// quickCheck reports whether b is a valid message of type m using the fast
// paths alone: every field has a one-byte tag and (for length-delimited
// ones) a one-byte length, and needs no merging or nested validation other
// than simple KeyValues. Encoders write data points this way. A false result
// says nothing: the general validation decides then.
func quickCheck(b []byte, m *msgDesc) bool {
	oneof := false
	for len(b) > 0 {
		c := b[0]
		if c >= 0x80 {
			return false
		}
		// An if-chain, most frequent first: it predicts better than the
		// jump table a switch compiles to.
		a := m.fast[c]
		if a == actKeyValues || a == actBytes || a == actPacked64 {
			if len(b) < 2 || b[1] >= 0x80 || 2+int(b[1]) > len(b) {
				return false
			}
			v := b[2 : 2+int(b[1])]
			b = b[2+int(b[1]):]
			if a == actKeyValues && !simpleKeyValue(v) || a == actPacked64 && len(v)%8 != 0 {
				return false
			}
		} else if a == actFixed64 || a == actFixed64Oneof {
			if len(b) < 9 {
				return false
			}
			if a == actFixed64Oneof {
				if oneof {
					return false
				}
				oneof = true
			}
			b = b[9:]
		} else if a == actVarint {
			if len(b) < 2 || b[1] >= 0x80 {
				return false
			}
			b = b[2:]
		} else if a == actFixed32 {
			if len(b) < 5 {
				return false
			}
			b = b[5:]
		} else {
			return false
		}
	}
	return true
}

// simpleKeyValue reports whether b is a KeyValue of the shape encoders
// write: a key and a scalar AnyValue, each field once, in order. Such a
// KeyValue is valid and needs no merging; anything else goes through the
// general validation.
func simpleKeyValue(b []byte) bool {
	if len(b) >= 2 && b[0] == 1<<3|2 { // key
		l := int(b[1])
		if l >= 0x80 || 2+l > len(b) {
			return false
		}
		b = b[2+l:]
	}
	if len(b) == 0 {
		return true
	}
	if len(b) < 2 || b[0] != 2<<3|2 || int(b[1]) != len(b)-2 { // value, to the end
		return false
	}
	val := b[2:]
	if len(val) == 0 {
		return true
	}
	switch val[0] {
	case 1<<3 | 2, 7<<3 | 2: // string_value, bytes_value
		return len(val) >= 2 && int(val[1]) == len(val)-2
	case 2<<3 | 0, 3<<3 | 0: // bool_value, int_value
		_, n := protowire.ConsumeVarint(val[1:])
		return n >= 0 && 1+n == len(val)
	case 4<<3 | 1: // double_value
		return len(val) == 9
	}
	return false
}

// segment names the field whose tag starts at field, inside msg:
// "name" for singular fields, "name[i]" for repeated messages.
func segment(msg, field []byte, f *fieldDesc, num protowire.Number) string {
	if f.kind != fieldMessages {
		return f.name
	}
	i := 0
	prefix := msg[:len(msg)-len(field)]
	for len(prefix) > 0 {
		n2, t2, n := protowire.ConsumeTag(prefix)
		if n < 0 {
			break
		}
		prefix = prefix[n:]
		if n = protowire.ConsumeFieldValue(n2, t2, prefix); n < 0 {
			break
		}
		prefix = prefix[n:]
		if n2 == num {
			i++
		}
	}
	return f.name + "[" + strconv.Itoa(i) + "]"
}

func fieldError(msg, field []byte, f *fieldDesc, num protowire.Number, reason string, strict bool) *decodeError {
	return &decodeError{path: []string{segment(msg, field, f, num)}, reason: reason, strict: strict}
}

func wrongType(msg, field []byte, f *fieldDesc, num protowire.Number, typ protowire.Type, rest []byte) *decodeError {
	want := map[fieldKind]string{
		fieldVarint: "varint", fieldFixed64: "fixed64", fieldFixed32: "fixed32",
		fieldBytes: "length-delimited", fieldMessage: "length-delimited", fieldMessages: "length-delimited",
		fieldVarints: "varint or length-delimited", fieldFixed64s: "fixed64 or length-delimited",
	}[f.kind]
	// Protobuf keeps a known field with the wrong wire type as an unknown
	// field when the value itself parses; this decoder refuses it.
	strict := protowire.ConsumeFieldValue(num, typ, rest) >= 0
	return fieldError(msg, field, f, num, "wrong wire type "+wireName(typ)+", want "+want, strict)
}

func wireName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType:
		return "start-group"
	case protowire.EndGroupType:
		return "end-group"
	case protowire.Fixed32Type:
		return "fixed32"
	}
	return "reserved (" + strconv.Itoa(int(t)) + ")"
}

// varintReason explains a negative protowire result for a varint.
func varintReason(n int) string {
	if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
		return "truncated varint"
	}
	return "bad varint: " + protowireReason(n)
}

// protowireReason is protowire's text for a negative result, without its
// "proto:" prefix.
func protowireReason(n int) string {
	err := protowire.ParseError(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "truncated varint"
	}
	return strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
}

// wireReason explains why a value of wire type typ at the start of b did not
// parse (n is the negative protowire result).
func wireReason(typ protowire.Type, b []byte, n int) string {
	switch typ {
	case protowire.VarintType:
		return varintReason(n)
	case protowire.Fixed64Type:
		return "truncated fixed64"
	case protowire.Fixed32Type:
		return "truncated fixed32"
	case protowire.BytesType:
		l, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return "bad length: " + varintReason(k)
		}
		return "length " + strconv.FormatUint(l, 10) + " overruns the " + strconv.Itoa(len(b)-k) + " bytes left"
	case protowire.StartGroupType, protowire.EndGroupType:
		return "bad group: " + protowireReason(n)
	}
	return "wire type " + wireName(typ) + ": " + protowireReason(n)
}

// ---------------------------------------------------------------------------
// Merging

// appendMerged appends a copy of the valid message msg of type m in which
// every singular message field occurs at most once, holding the merge (the
// concatenation) of its occurrences, and every oneof holds only its final
// member, merged the way protobuf merges it. Everything else is copied as it
// is. Only bodies that need it take this path; it allocates.
func appendMerged(dst, msg []byte, m *msgDesc) []byte {
	merged := make([][]byte, len(m.fields))
	present := make([]bool, len(m.fields))
	oneofAt := -1
	var oneofNum protowire.Number
	var oneofMsg []byte
	for b := msg; len(b) > 0; {
		at := len(msg) - len(b)
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return dst
		}
		k := protowire.ConsumeFieldValue(num, typ, b[n:])
		if k < 0 {
			return dst
		}
		if f := m.field(num); f != nil {
			if f.kind == fieldMessage {
				p, _ := protowire.ConsumeBytes(b[n:])
				if !f.oneof {
					merged[num] = append(merged[num], p...)
					present[num] = true
				} else {
					if oneofNum != num {
						oneofMsg = oneofMsg[:0]
					}
					oneofMsg = append(oneofMsg, p...)
				}
			}
			if f.oneof {
				oneofNum, oneofAt = num, at
			}
		}
		b = b[n+k:]
	}
	emitted := make([]bool, len(m.fields))
	for b := msg; len(b) > 0; {
		at := len(msg) - len(b)
		num, typ, n := protowire.ConsumeTag(b)
		k := protowire.ConsumeFieldValue(num, typ, b[n:])
		raw, body := b[:n+k], b[n:n+k]
		b = b[n+k:]
		f := m.field(num)
		switch {
		case f == nil:
			dst = append(dst, raw...)
		case f.oneof:
			if at != oneofAt {
				continue
			}
			if f.kind == fieldMessage {
				dst = appendMergedField(dst, num, oneofMsg, f.msg)
			} else {
				dst = append(dst, raw...)
			}
		case f.kind == fieldMessage:
			if emitted[num] || !present[num] {
				continue
			}
			emitted[num] = true
			dst = appendMergedField(dst, num, merged[num], f.msg)
		case f.kind == fieldMessages:
			p, _ := protowire.ConsumeBytes(body)
			dst = appendMergedField(dst, num, p, f.msg)
		default:
			dst = append(dst, raw...)
		}
	}
	return dst
}

func appendMergedField(dst []byte, num protowire.Number, payload []byte, m *msgDesc) []byte {
	sub := appendMerged(nil, payload, m)
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, sub)
}

// ---------------------------------------------------------------------------
// Walking validated bodies

// wireField is one field read by next.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	x   uint64 // varint, fixed32 or fixed64 value
	b   []byte // length-delimited contents
}

// next reads the first field of b into f and returns its size, or -1.
func next(b []byte, f *wireField) int {
	n := 1
	if c := b[0]; c >= 1<<3 && c < 0x80 {
		f.num, f.typ = protowire.Number(c>>3), protowire.Type(c&7)
	} else {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 || num > protowire.MaxValidNumber {
			return -1
		}
		f.num, f.typ, n = num, typ, k
	}
	b = b[n:]
	switch f.typ {
	case protowire.BytesType:
		if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
			f.b = b[1 : 1+int(b[0])]
			return n + 1 + int(b[0])
		}
		if len(b) > 1 && b[1] < 0x80 {
			if l := int(b[0]&0x7f) | int(b[1])<<7; 2+l <= len(b) {
				f.b = b[2 : 2+l]
				return n + 2 + l
			}
		}
		v, k := protowire.ConsumeBytes(b)
		if k < 0 {
			return -1
		}
		f.b = v
		return n + k
	case protowire.Fixed64Type:
		if len(b) < 8 {
			return -1
		}
		f.x = binary.LittleEndian.Uint64(b)
		return n + 8
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			f.x = uint64(b[0])
			return n + 1
		}
		x, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return -1
		}
		f.x = x
		return n + k
	case protowire.Fixed32Type:
		if len(b) < 4 {
			return -1
		}
		f.x = uint64(binary.LittleEndian.Uint32(b))
		return n + 4
	}
	k := protowire.ConsumeFieldValue(f.num, f.typ, b)
	if k < 0 {
		return -1
	}
	return n + k
}

// str aliases b as a string.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// firstMessage returns the contents of the first occurrence of field num,
// a singular message field: in a validated (and if need be merged) body it
// occurs at most once.
func firstMessage(b []byte, num protowire.Number) ([]byte, bool) {
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		if f.num == num && f.typ == protowire.BytesType {
			return f.b, true
		}
	}
	return nil, false
}

// resourceAttrs returns the attributes of the resource held in field 1 of a
// ResourceMetrics / ResourceSpans / ResourceLogs.
func resourceAttrs(b []byte) Attrs {
	r, ok := firstMessage(b, 1)
	if !ok {
		return Attrs{}
	}
	return NewAttrs(r, 1)
}

// scope reads the InstrumentationScope held in field 1 of a scope entry.
func scope(b []byte) (name, version string, attrs Attrs, ok bool) {
	sc, found := firstMessage(b, 1)
	if !found {
		return "", "", Attrs{}, true
	}
	return scopeFields(sc)
}

// scopeFields reads a (valid) InstrumentationScope message.
func scopeFields(sc []byte) (name, version string, attrs Attrs, ok bool) {
	var f wireField
	attrs = NewAttrs(sc, 3)
	for len(sc) > 0 {
		n := next(sc, &f)
		if n < 0 {
			return "", "", Attrs{}, false
		}
		sc = sc[n:]
		switch f.num {
		case 1:
			name = str(f.b)
		case 2:
			version = str(f.b)
		}
	}
	return name, version, attrs, true
}

// eachMessage calls fn with the contents of every occurrence of field num.
func eachMessage(b []byte, num protowire.Number, fn func([]byte) bool) bool {
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		if f.num == num && f.typ == protowire.BytesType && !fn(f.b) {
			return false
		}
	}
	return true
}

// walkResources walks the resource entries of a request: it reports each
// resource, then each scope entry (field 2) to scopeFn which reports the scope
// and walks its items.
func walkResources(b []byte, resource func(Attrs), scopeFn func(name, version string, attrs Attrs), items func([]byte) bool) bool {
	return eachMessage(b, 1, func(rb []byte) bool {
		resource(resourceAttrs(rb))
		return eachMessage(rb, 2, func(sb []byte) bool {
			name, version, attrs, ok := scope(sb)
			if !ok {
				return false
			}
			scopeFn(name, version, attrs)
			return eachMessage(sb, 2, items)
		})
	})
}

func (d *Decoder) walkTraces(b []byte, s TracesSink) bool {
	return walkResources(b, s.Resource, s.Scope, func(sp []byte) bool { return d.walkSpan(sp, s) })
}

func (d *Decoder) walkSpan(b []byte, s TracesSink) bool {
	sp := &d.span
	*sp = Span{Attrs: NewAttrs(b, 9)}
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 5:
			sp.Name = str(f.b)
		case 6:
			sp.Kind = SpanKindUnspecified
			if k := int32(f.x); k >= 0 && k <= int32(SpanKindConsumer) {
				sp.Kind = SpanKind(k)
			}
		case 7:
			sp.StartNano = f.x
		case 8:
			sp.EndNano = f.x
		case 15:
			sp.Status, sp.StatusMessage = StatusUnset, ""
			var g wireField
			for st := f.b; len(st) > 0; {
				k := next(st, &g)
				if k < 0 {
					return false
				}
				st = st[k:]
				switch g.num {
				case 2:
					sp.StatusMessage = str(g.b)
				case 3:
					sp.Status = StatusUnset
					if c := int32(g.x); c >= 0 && c <= int32(StatusError) {
						sp.Status = StatusCode(c)
					}
				}
			}
		}
	}
	s.Span(sp)
	return true
}

func (d *Decoder) walkLogs(b []byte, s LogsSink) bool {
	return walkResources(b, s.Resource, s.Scope, func(lb []byte) bool { return d.walkLog(lb, s) })
}

func (d *Decoder) walkLog(b []byte, s LogsSink) bool {
	r := &d.log
	*r = LogRecord{Attrs: NewAttrs(b, 6)}
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 1:
			r.TimeNano = f.x
		case 11:
			r.ObservedTimeNano = f.x
		case 2:
			r.Severity = int32(f.x)
		case 3:
			r.SeverityText = str(f.b)
		case 5:
			v, err := ParseValue(f.b)
			if err != nil {
				return false
			}
			r.Body = v
		case 12:
			r.EventName = str(f.b)
		}
	}
	s.Log(r)
	return true
}

// ---------------------------------------------------------------------------
// Metrics: one pass that validates and records, then a replay to the sink
//
// Metrics are the hot path, so they are not validated and then walked: one
// pass over the body checks it exactly as strictly as the validator does and
// records what it finds into the Decoder's scratch slices; only when the
// whole body passed are the records replayed to the sink. The pass gives up
// (returns false) on anything it does not expect, malformed or only unusual
// (a singular message given twice): then the validator decides, with an error
// naming the place or with a merged copy of the body to record again.
//
// The pass handles the messages that carry what the sink receives; the
// others (attributes, exemplars, entity refs) it hands to the validator.

// The kinds of recorded metrics events.
const (
	evResource uint8 = iota
	evScope
	evMetric
	evNumber
	evHistogram
	evExpHistogram
	evSummary
)

type scopeEvent struct {
	name, version string
	attrs         Attrs
}

// span is a range of one of the Decoder's scratch slices.
type span struct{ lo, hi int }

type histSpans struct{ counts, bounds span }

type expSpans struct{ pos, neg span }

func (d *Decoder) resetMetrics() {
	d.ev, d.res, d.scopes, d.mets = reuse(d.ev), reuse(d.res), reuse(d.scopes), reuse(d.mets)
	d.nums, d.hists, d.histSp = reuse(d.nums), reuse(d.hists), reuse(d.histSp)
	d.exps, d.expSp, d.summs, d.summSp = reuse(d.exps), reuse(d.expSp), reuse(d.summs), reuse(d.summSp)
	d.counts, d.bounds, d.bucks, d.quant = reuse(d.counts), reuse(d.bounds), reuse(d.bucks), reuse(d.quant)
}

// reuse empties a scratch slice for the next request. A large one that the
// last request (its length) used less than a quarter of is dropped, so that
// one huge request does not pin its memory for the Decoder's lifetime.
func reuse[T any](s []T) []T {
	if cap(s) > 1<<12 && cap(s) > 4*len(s) {
		return nil
	}
	return s[:0]
}

// replayMetrics makes the sink calls recorded by recordMetrics. Slices are
// handed over with their capacity capped so that a sink appending to one
// cannot overwrite its neighbour.
func (d *Decoder) replayMetrics(s MetricsSink) {
	var ri, si, mi, ni, hi, ei, qi int
	for _, ev := range d.ev {
		switch ev {
		case evResource:
			s.Resource(d.res[ri])
			ri++
		case evScope:
			sc := &d.scopes[si]
			s.Scope(sc.name, sc.version, sc.attrs)
			si++
		case evMetric:
			s.Metric(&d.mets[mi])
			mi++
		case evNumber:
			s.Number(&d.nums[ni])
			ni++
		case evHistogram:
			p, sp := &d.hists[hi], d.histSp[hi]
			p.Counts = d.counts[sp.counts.lo:sp.counts.hi:sp.counts.hi]
			p.Bounds = d.bounds[sp.bounds.lo:sp.bounds.hi:sp.bounds.hi]
			s.Histogram(p)
			hi++
		case evExpHistogram:
			p, sp := &d.exps[ei], d.expSp[ei]
			p.Positive.Counts = d.bucks[sp.pos.lo:sp.pos.hi:sp.pos.hi]
			p.Negative.Counts = d.bucks[sp.neg.lo:sp.neg.hi:sp.neg.hi]
			s.ExpHistogram(p)
			ei++
		case evSummary:
			p, sp := &d.summs[qi], d.summSp[qi]
			p.Quantiles = d.quant[sp.lo:sp.hi:sp.hi]
			s.Summary(p)
			qi++
		}
	}
}

// validSub reports whether b is a valid message of type m that needs no
// merging: the record pass's check of the messages it does not walk itself.
func validSub(b []byte, m *msgDesc) bool {
	var v validator
	return v.message(b, m, 0) == nil && !v.merge
}

// validKeyValue is validSub for a KeyValue, with the fast path first.
func validKeyValue(b []byte) bool {
	return simpleKeyValue(b) || validSub(b, &keyValueDesc)
}

// recordMetrics validates and records an ExportMetricsServiceRequest.
func (d *Decoder) recordMetrics(b []byte) bool {
	d.resetMetrics()
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		if f.num == 1 && (f.typ != protowire.BytesType || !d.recordResourceMetrics(f.b)) {
			return false
		}
	}
	return true
}

func (d *Decoder) recordResourceMetrics(b []byte) bool {
	ri := len(d.res)
	d.res = append(d.res, Attrs{})
	d.ev = append(d.ev, evResource)
	seen := false
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 1: // resource
			if f.typ != protowire.BytesType || seen || !validSub(f.b, &resourceDesc) {
				return false
			}
			seen = true
			d.res[ri] = NewAttrs(f.b, 1)
		case 2: // scope_metrics
			if f.typ != protowire.BytesType || !d.recordScopeMetrics(f.b) {
				return false
			}
		case 3: // schema_url
			if f.typ != protowire.BytesType {
				return false
			}
		}
	}
	return true
}

func (d *Decoder) recordScopeMetrics(b []byte) bool {
	si := len(d.scopes)
	d.scopes = append(d.scopes, scopeEvent{})
	d.ev = append(d.ev, evScope)
	seen := false
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 1: // scope
			if f.typ != protowire.BytesType || seen || !validSub(f.b, &scopeDesc) {
				return false
			}
			seen = true
			name, version, attrs, ok := scopeFields(f.b)
			if !ok {
				return false
			}
			d.scopes[si] = scopeEvent{name, version, attrs}
		case 2: // metrics
			if f.typ != protowire.BytesType || !d.recordMetric(f.b) {
				return false
			}
		case 3: // schema_url
			if f.typ != protowire.BytesType {
				return false
			}
		}
	}
	return true
}

// metricTypes maps the Metric data oneof's field numbers to types.
var metricTypes = [...]MetricType{5: MetricGauge, 7: MetricSum, 9: MetricHistogram, 10: MetricExpHistogram, 11: MetricSummary}

func (d *Decoder) recordMetric(b []byte) bool {
	mi := len(d.mets)
	d.mets = append(d.mets, Metric{})
	d.ev = append(d.ev, evMetric)
	hasData := false
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 1, 2, 3: // name, description, unit
			if f.typ != protowire.BytesType {
				return false
			}
			if f.num == 1 {
				d.mets[mi].Name = str(f.b)
			} else if f.num == 3 {
				d.mets[mi].Unit = str(f.b)
			}
		case 5, 7, 9, 10, 11: // the data oneof
			if f.typ != protowire.BytesType || hasData {
				return false
			}
			hasData = true
			d.mets[mi].Type = metricTypes[f.num]
			if !d.recordData(mi, f.b) {
				return false
			}
		case 12: // metadata
			if f.typ != protowire.BytesType || !validKeyValue(f.b) {
				return false
			}
		}
	}
	return true
}

// recordData records a Gauge, Sum, Histogram, ExponentialHistogram or
// Summary message, the data of metric mi.
func (d *Decoder) recordData(mi int, b []byte) bool {
	t := d.mets[mi].Type
	var f wireField
	for len(b) > 0 {
		if pt, n := dataPointAt(b); n > 0 {
			f.num, f.typ, f.b = 1, protowire.BytesType, pt
			b = b[n:]
		} else {
			n := next(b, &f)
			if n < 0 {
				return false
			}
			b = b[n:]
		}
		switch {
		case f.num == 1: // data_points
			if f.typ != protowire.BytesType {
				return false
			}
			var ok bool
			switch t {
			case MetricGauge, MetricSum:
				ok = d.recordNumber(f.b)
			case MetricHistogram:
				ok = d.recordHistogram(f.b)
			case MetricExpHistogram:
				ok = d.recordExpHistogram(f.b)
			case MetricSummary:
				ok = d.recordSummary(f.b)
			}
			if !ok {
				return false
			}
		case f.num == 2 && (t == MetricSum || t == MetricHistogram || t == MetricExpHistogram): // aggregation_temporality
			if f.typ != protowire.VarintType {
				return false
			}
			d.mets[mi].Temporality = temporality(f.x)
		case f.num == 3 && t == MetricSum: // is_monotonic
			if f.typ != protowire.VarintType {
				return false
			}
			d.mets[mi].Monotonic = f.x != 0
		}
	}
	return true
}

// dataPointAt returns the contents and size of the data_points entry (field
// 1, length-delimited, with a length of one or two bytes) at the start of b;
// size 0 when b does not start with one.
func dataPointAt(b []byte) ([]byte, int) {
	if len(b) < 3 || b[0] != 1<<3|2 {
		return nil, 0
	}
	l, h := int(b[1]), 2
	if l >= 0x80 {
		if b[2] >= 0x80 {
			return nil, 0
		}
		l, h = l&0x7f|int(b[2])<<7, 3
	}
	if h+l > len(b) {
		return nil, 0
	}
	return b[h : h+l], h + l
}

// temporality converts an AggregationTemporality enum value (int32 as
// protobuf reads it); unknown values are reported as unspecified.
func temporality(x uint64) Temporality {
	if t := int32(x); t >= 0 && t <= int32(TemporalityCumulative) {
		return Temporality(t)
	}
	return TemporalityUnspecified
}

// zigzag32 decodes an sint32 the way protobuf does.
func zigzag32(x uint64) int32 { return int32(protowire.DecodeZigZag(x & math.MaxUint32)) }

const flagNoRecordedValue = 1

// nextPointField reads the field at the start of a data point into f. The
// fields every point has (fixed64 values, attributes with a one-byte length)
// are read inline; next does the rest.
func nextPointField(b []byte, f *wireField) int {
	if c := b[0]; c >= 1<<3 && c < 0x80 {
		if c&7 == 1 && len(b) >= 9 {
			f.num, f.typ, f.x = protowire.Number(c>>3), protowire.Fixed64Type, binary.LittleEndian.Uint64(b[1:])
			return 9
		}
		if c&7 == 2 && len(b) >= 2 && b[1] < 0x80 && 2+int(b[1]) <= len(b) {
			f.num, f.typ, f.b = protowire.Number(c>>3), protowire.BytesType, b[2:2+int(b[1])]
			return 2 + int(b[1])
		}
	}
	return next(b, f)
}

func (d *Decoder) recordNumber(b []byte) bool {
	d.nums = append(d.nums, NumberPoint{Attrs: NewAttrs(b, 7)})
	d.ev = append(d.ev, evNumber)
	p := &d.nums[len(d.nums)-1]
	oneof := false
	var f wireField
	for len(b) > 0 {
		// nextPointField, inlined by hand: this loop is the hottest.
		if c := b[0]; c >= 1<<3 && c < 0x80 && c&7 == 1 && len(b) >= 9 {
			f.num, f.typ, f.x = protowire.Number(c>>3), protowire.Fixed64Type, binary.LittleEndian.Uint64(b[1:])
			b = b[9:]
		} else if c >= 1<<3 && c < 0x80 && c&7 == 2 && len(b) >= 2 && b[1] < 0x80 && 2+int(b[1]) <= len(b) {
			f.num, f.typ, f.b = protowire.Number(c>>3), protowire.BytesType, b[2:2+int(b[1])]
			b = b[2+int(b[1]):]
		} else {
			n := next(b, &f)
			if n < 0 {
				return false
			}
			b = b[n:]
		}
		switch f.num {
		case 7: // attributes
			if f.typ != protowire.BytesType || !validKeyValue(f.b) {
				return false
			}
		case 2, 3, 4, 6:
			if f.typ != protowire.Fixed64Type {
				return false
			}
			switch f.num {
			case 2:
				p.StartNano = f.x
			case 3:
				p.TimeNano = f.x
			default: // the value oneof
				if oneof {
					return false
				}
				oneof = true
				if f.num == 4 {
					p.Value, p.IsInt = math.Float64frombits(f.x), false
				} else {
					p.Value, p.IsInt = float64(int64(f.x)), true
				}
			}
		case 5: // exemplars
			if f.typ != protowire.BytesType || !validSub(f.b, &exemplarDesc) {
				return false
			}
		case 8: // flags
			if f.typ != protowire.VarintType {
				return false
			}
			p.NoValue = f.x&flagNoRecordedValue != 0
		}
	}
	return true
}

// appendFixed64s appends one occurrence of a repeated fixed64 field, packed
// (length-delimited) or not; false if its wire type is neither or a packed
// payload is not a whole number of values.
func appendFixed64s(dst []uint64, f *wireField) ([]uint64, bool) {
	switch f.typ {
	case protowire.Fixed64Type:
		return append(dst, f.x), true
	case protowire.BytesType:
		if len(f.b)%8 != 0 {
			return dst, false
		}
		for p := f.b; len(p) >= 8; p = p[8:] {
			dst = append(dst, binary.LittleEndian.Uint64(p))
		}
		return dst, true
	}
	return dst, false
}

func appendDoubles(dst []float64, f *wireField) ([]float64, bool) {
	switch f.typ {
	case protowire.Fixed64Type:
		return append(dst, math.Float64frombits(f.x)), true
	case protowire.BytesType:
		if len(f.b)%8 != 0 {
			return dst, false
		}
		for p := f.b; len(p) >= 8; p = p[8:] {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(p)))
		}
		return dst, true
	}
	return dst, false
}

func (d *Decoder) recordHistogram(b []byte) bool {
	d.hists = append(d.hists, HistogramPoint{Attrs: NewAttrs(b, 9)})
	d.ev = append(d.ev, evHistogram)
	p := &d.hists[len(d.hists)-1]
	sp := histSpans{counts: span{len(d.counts), 0}, bounds: span{len(d.bounds), 0}}
	var f wireField
	ok := true
	for len(b) > 0 && ok {
		n := nextPointField(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 9: // attributes
			ok = f.typ == protowire.BytesType && validKeyValue(f.b)
		case 6: // bucket_counts
			d.counts, ok = appendFixed64s(d.counts, &f)
		case 7: // explicit_bounds
			d.bounds, ok = appendDoubles(d.bounds, &f)
		case 8: // exemplars
			ok = f.typ == protowire.BytesType && validSub(f.b, &exemplarDesc)
		case 10: // flags
			ok = f.typ == protowire.VarintType
			p.NoValue = f.x&flagNoRecordedValue != 0
		case 2, 3, 4, 5, 11, 12:
			ok = f.typ == protowire.Fixed64Type
			switch f.num {
			case 2:
				p.StartNano = f.x
			case 3:
				p.TimeNano = f.x
			case 4:
				p.Count = f.x
			case 5:
				p.Sum, p.HasSum = math.Float64frombits(f.x), true
			case 11:
				p.Min, p.HasMin = math.Float64frombits(f.x), true
			case 12:
				p.Max, p.HasMax = math.Float64frombits(f.x), true
			}
		}
	}
	sp.counts.hi, sp.bounds.hi = len(d.counts), len(d.bounds)
	d.histSp = append(d.histSp, sp)
	return ok
}

// recordBuckets records an ExponentialHistogramDataPoint.Buckets message:
// its offset into *offset and its counts appended to d.bucks.
func (d *Decoder) recordBuckets(b []byte, offset *int32) (span, bool) {
	sp := span{lo: len(d.bucks)}
	var f wireField
	for len(b) > 0 {
		n := next(b, &f)
		if n < 0 {
			return sp, false
		}
		b = b[n:]
		switch f.num {
		case 1: // offset
			if f.typ != protowire.VarintType {
				return sp, false
			}
			*offset = zigzag32(f.x)
		case 2: // bucket_counts
			switch f.typ {
			case protowire.VarintType:
				d.bucks = append(d.bucks, f.x)
			case protowire.BytesType:
				for p := f.b; len(p) > 0; {
					x, k := protowire.ConsumeVarint(p)
					if k < 0 {
						return sp, false
					}
					d.bucks = append(d.bucks, x)
					p = p[k:]
				}
			default:
				return sp, false
			}
		}
	}
	sp.hi = len(d.bucks)
	return sp, true
}

func (d *Decoder) recordExpHistogram(b []byte) bool {
	d.exps = append(d.exps, ExpHistogramPoint{Attrs: NewAttrs(b, 1)})
	d.ev = append(d.ev, evExpHistogram)
	p := &d.exps[len(d.exps)-1]
	var sp expSpans
	seenPos, seenNeg := false, false
	var f wireField
	ok := true
	for len(b) > 0 && ok {
		n := nextPointField(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 1: // attributes
			ok = f.typ == protowire.BytesType && validKeyValue(f.b)
		case 6: // scale
			ok = f.typ == protowire.VarintType
			p.Scale = zigzag32(f.x)
		case 10: // flags
			ok = f.typ == protowire.VarintType
			p.NoValue = f.x&flagNoRecordedValue != 0
		case 8: // positive
			ok = f.typ == protowire.BytesType && !seenPos
			seenPos = true
			if ok {
				sp.pos, ok = d.recordBuckets(f.b, &p.Positive.Offset)
			}
		case 9: // negative
			ok = f.typ == protowire.BytesType && !seenNeg
			seenNeg = true
			if ok {
				sp.neg, ok = d.recordBuckets(f.b, &p.Negative.Offset)
			}
		case 11: // exemplars
			ok = f.typ == protowire.BytesType && validSub(f.b, &exemplarDesc)
		case 2, 3, 4, 5, 7, 12, 13, 14:
			ok = f.typ == protowire.Fixed64Type
			switch f.num {
			case 2:
				p.StartNano = f.x
			case 3:
				p.TimeNano = f.x
			case 4:
				p.Count = f.x
			case 5:
				p.Sum, p.HasSum = math.Float64frombits(f.x), true
			case 7:
				p.ZeroCount = f.x
			case 12:
				p.Min, p.HasMin = math.Float64frombits(f.x), true
			case 13:
				p.Max, p.HasMax = math.Float64frombits(f.x), true
			case 14:
				p.ZeroThreshold = math.Float64frombits(f.x)
			}
		}
	}
	d.expSp = append(d.expSp, sp)
	return ok
}

func (d *Decoder) recordSummary(b []byte) bool {
	d.summs = append(d.summs, SummaryPoint{Attrs: NewAttrs(b, 7)})
	d.ev = append(d.ev, evSummary)
	p := &d.summs[len(d.summs)-1]
	sp := span{lo: len(d.quant)}
	var f wireField
	ok := true
	for len(b) > 0 && ok {
		n := nextPointField(b, &f)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch f.num {
		case 7: // attributes
			ok = f.typ == protowire.BytesType && validKeyValue(f.b)
		case 6: // quantile_values
			ok = f.typ == protowire.BytesType
			var q Quantile
			var g wireField
			for qb := f.b; len(qb) > 0 && ok; {
				k := next(qb, &g)
				if k < 0 {
					return false
				}
				qb = qb[k:]
				switch g.num {
				case 1:
					ok = g.typ == protowire.Fixed64Type
					q.Q = math.Float64frombits(g.x)
				case 2:
					ok = g.typ == protowire.Fixed64Type
					q.V = math.Float64frombits(g.x)
				}
			}
			d.quant = append(d.quant, q)
		case 8: // flags
			ok = f.typ == protowire.VarintType
			p.NoValue = f.x&flagNoRecordedValue != 0
		case 2, 3, 4, 5:
			ok = f.typ == protowire.Fixed64Type
			switch f.num {
			case 2:
				p.StartNano = f.x
			case 3:
				p.TimeNano = f.x
			case 4:
				p.Count = f.x
			case 5:
				p.Sum = math.Float64frombits(f.x)
			}
		}
	}
	sp.hi = len(d.quant)
	d.summSp = append(d.summSp, sp)
	return ok
}

// ---------------------------------------------------------------------------
// OTLP/JSON

var jsonOptions = protojson.UnmarshalOptions{DiscardUnknown: true}

// MetricsJSONToProto converts an OTLP/JSON ExportMetricsServiceRequest to its
// protobuf encoding. Unknown fields are ignored, as the OTLP specification
// asks of receivers; trace and span ids of exemplars are read as hex, as
// OTLP/JSON encodes them. The result is known to decode with a Decoder.
// Errors wrap ErrMalformed.
func MetricsJSONToProto(b []byte) ([]byte, error) {
	var req colmetricspb.ExportMetricsServiceRequest
	if err := jsonOptions.Unmarshal(b, &req); err != nil {
		return nil, jsonError("metrics", err)
	}
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if err := fixExemplarIDs(m); err != nil {
					return nil, jsonError("metrics", err)
				}
			}
		}
	}
	return marshalChecked("metrics", &req, &metricsRequestDesc)
}

// TracesJSONToProto converts an OTLP/JSON ExportTraceServiceRequest to its
// protobuf encoding; see MetricsJSONToProto. Span, parent span and link ids
// are read as hex.
func TracesJSONToProto(b []byte) ([]byte, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := jsonOptions.Unmarshal(b, &req); err != nil {
		return nil, jsonError("traces", err)
	}
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				err := errors.Join(
					hexID(&sp.TraceId, 16, "trace_id"),
					hexID(&sp.SpanId, 8, "span_id"),
					hexID(&sp.ParentSpanId, 8, "parent_span_id"))
				for _, l := range sp.GetLinks() {
					err = errors.Join(err, hexID(&l.TraceId, 16, "link trace_id"), hexID(&l.SpanId, 8, "link span_id"))
				}
				if err != nil {
					return nil, jsonError("traces", err)
				}
			}
		}
	}
	return marshalChecked("traces", &req, &tracesRequestDesc)
}

// LogsJSONToProto converts an OTLP/JSON ExportLogsServiceRequest to its
// protobuf encoding; see MetricsJSONToProto. Trace and span ids are read as
// hex.
func LogsJSONToProto(b []byte) ([]byte, error) {
	var req collogspb.ExportLogsServiceRequest
	if err := jsonOptions.Unmarshal(b, &req); err != nil {
		return nil, jsonError("logs", err)
	}
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				if err := errors.Join(hexID(&r.TraceId, 16, "trace_id"), hexID(&r.SpanId, 8, "span_id")); err != nil {
					return nil, jsonError("logs", err)
				}
			}
		}
	}
	return marshalChecked("logs", &req, &logsRequestDesc)
}

func jsonError(what string, err error) error {
	return fmt.Errorf("decode OTLP/JSON %s: %w: %w", what, err, ErrMalformed)
}

// marshalChecked encodes msg and validates the result as the Decoder would,
// so that a body the JSON functions return always decodes.
func marshalChecked(what string, msg proto.Message, m *msgDesc) ([]byte, error) {
	out, err := proto.Marshal(msg)
	if err != nil {
		return nil, jsonError(what, err)
	}
	var v validator
	if e := v.message(out, m, 0); e != nil {
		return nil, fmt.Errorf("decode OTLP/JSON %s: %w", what, e)
	}
	return out, nil
}

func fixExemplarIDs(m *metricspb.Metric) error {
	var ex []*metricspb.Exemplar
	for _, p := range m.GetGauge().GetDataPoints() {
		ex = append(ex, p.GetExemplars()...)
	}
	for _, p := range m.GetSum().GetDataPoints() {
		ex = append(ex, p.GetExemplars()...)
	}
	for _, p := range m.GetHistogram().GetDataPoints() {
		ex = append(ex, p.GetExemplars()...)
	}
	for _, p := range m.GetExponentialHistogram().GetDataPoints() {
		ex = append(ex, p.GetExemplars()...)
	}
	var err error
	for _, e := range ex {
		err = errors.Join(err, hexID(&e.TraceId, 16, "exemplar trace_id"), hexID(&e.SpanId, 8, "exemplar span_id"))
	}
	return err
}

// hexID repairs an id that OTLP/JSON wrote as hex and protojson read as
// base64. size is the id's length in bytes (16 for trace ids, 8 for span
// ids). The hex text of 2*size digits was base64-decoded into size*3/2 bytes;
// encoding those again gives the text back exactly (the length is a multiple
// of 4, so no padding or spare bits are involved), which is then read as hex.
// An empty id stays empty; an id already of the right size (a sender that
// used base64) is kept; any other length is an error.
func hexID(id *[]byte, size int, what string) error {
	switch len(*id) {
	case 0, size:
		return nil
	case size * 3 / 2:
		text := base64.StdEncoding.EncodeToString(*id)
		out := make([]byte, size)
		if _, err := hex.Decode(out, []byte(text)); err != nil {
			return fmt.Errorf("%s %q is not hex", what, text)
		}
		*id = out
		return nil
	}
	return fmt.Errorf("%s is not %d hex digits", what, 2*size)
}

// Costs of OTLP/JSON conversion, measured on the worst shapes (a request
// of empty spans, of empty data points, of long strings, of bucket
// counts): what the conversion allocates for each JSON object (one message
// struct), for each array element (a slice slot and its growth), and for
// each byte of the body (strings are copied into the structs and again into
// the protobuf).
const (
	jsonCostPerObject  = 384
	jsonCostPerElement = 96
	jsonCostPerByte    = 3
)

// JSONDecodeCost bounds the bytes that converting the OTLP/JSON body b to
// protobuf (MetricsJSONToProto and the others) allocates, from a scan that
// allocates nothing: JSON is small next to the structs it becomes (an empty
// span, "{},", is 3 bytes of JSON and a few hundred bytes of struct), so a
// caller budgets by this figure, not by len(b), before converting. The scan
// does not validate b; for malformed JSON the figure is still an upper bound
// of what the conversion allocates before it fails.
func JSONDecodeCost(b []byte) int64 {
	var objects, elements int64
	// inArray[d] says whether the container at depth d is an array; past
	// the bitset every container is taken for an array (its commas then
	// count as elements: more, never less).
	var inArray [4]uint64
	depth := 0
	isArray := func(d int) bool { return d >= 256 || inArray[d/64]&(1<<(d%64)) != 0 }
	setArray := func(d int, v bool) {
		if d >= 256 {
			return
		}
		if v {
			inArray[d/64] |= 1 << (d % 64)
		} else {
			inArray[d/64] &^= 1 << (d % 64)
		}
	}
	// afterOpen: the last token was '[', so the next value is the array's
	// first element.
	afterOpen := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if c == '{' {
				objects++
			}
			depth++
			setArray(depth, c == '[')
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			if isArray(depth) {
				elements++
			}
		}
		if afterOpen && c != ']' {
			elements++
		}
		afterOpen = c == '['
	}
	return objects*jsonCostPerObject + elements*jsonCostPerElement + int64(len(b))*jsonCostPerByte
}
