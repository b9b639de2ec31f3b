package detect

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ---------------------------------------------------------------------------
// A recording sink and the reference walker: both turn a request into the
// same lines of text, one from Decoder calls, one from proto.Unmarshal'ed
// structs.

type recorder struct{ lines []string }

func (r *recorder) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) Resource(a Attrs) { r.add("resource %s", renderAttrs(a)) }
func (r *recorder) Scope(name, version string, a Attrs) {
	r.add("scope %q %q %s", name, version, renderAttrs(a))
}
func (r *recorder) Metric(m *Metric) {
	r.add("metric %q %q %s temp=%d mono=%v", m.Name, m.Unit, m.Type, m.Temporality, m.Monotonic)
}
func (r *recorder) Number(p *NumberPoint) {
	r.add("number %s %d %d %s int=%v novalue=%v", renderAttrs(p.Attrs), p.StartNano, p.TimeNano, fbits(p.Value), p.IsInt, p.NoValue)
}
func (r *recorder) Histogram(p *HistogramPoint) { r.histogram(renderAttrs(p.Attrs), p) }
func (r *recorder) histogram(attrs string, p *HistogramPoint) {
	r.add("histogram %s %d %d count=%d sum=%s/%v min=%s/%v max=%s/%v bounds=%s counts=%v novalue=%v",
		attrs, p.StartNano, p.TimeNano, p.Count, fbits(p.Sum), p.HasSum, fbits(p.Min), p.HasMin,
		fbits(p.Max), p.HasMax, fslice(p.Bounds), p.Counts, p.NoValue)
}
func (r *recorder) ExpHistogram(p *ExpHistogramPoint) { r.expHistogram(renderAttrs(p.Attrs), p) }
func (r *recorder) expHistogram(attrs string, p *ExpHistogramPoint) {
	r.add("exphistogram %s %d %d count=%d sum=%s/%v min=%s/%v max=%s/%v scale=%d zero=%d/%s pos=%d%v neg=%d%v novalue=%v",
		attrs, p.StartNano, p.TimeNano, p.Count, fbits(p.Sum), p.HasSum, fbits(p.Min), p.HasMin,
		fbits(p.Max), p.HasMax, p.Scale, p.ZeroCount, fbits(p.ZeroThreshold),
		p.Positive.Offset, p.Positive.Counts, p.Negative.Offset, p.Negative.Counts, p.NoValue)
}
func (r *recorder) Summary(p *SummaryPoint) { r.summary(renderAttrs(p.Attrs), p) }
func (r *recorder) summary(attrs string, p *SummaryPoint) {
	var q []string
	for _, x := range p.Quantiles {
		q = append(q, fbits(x.Q)+":"+fbits(x.V))
	}
	r.add("summary %s %d %d count=%d sum=%s q=%v novalue=%v", attrs, p.StartNano, p.TimeNano, p.Count, fbits(p.Sum), q, p.NoValue)
}
func (r *recorder) Span(s *Span) {
	r.add("span %q kind=%d %d %d status=%d %q %s", s.Name, s.Kind, s.StartNano, s.EndNano, s.Status, s.StatusMessage, renderAttrs(s.Attrs))
}
func (r *recorder) Log(l *LogRecord) {
	r.add("log %d %d sev=%d %q body=%s %s event=%q", l.TimeNano, l.ObservedTimeNano, l.Severity, l.SeverityText, renderValue(l.Body), renderAttrs(l.Attrs), l.EventName)
}

func fbits(f float64) string { return strconv.FormatUint(math.Float64bits(f), 16) }

func fslice(fs []float64) string {
	var s []string
	for _, f := range fs {
		s = append(s, fbits(f))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// renderAttrs renders a list as text; a list that does not parse shows the
// error (the decoder must never hand one over).
func renderAttrs(a Attrs) string {
	var parts []string
	err := a.Each(func(k string, v Value) bool {
		parts = append(parts, strconv.Quote(k)+"="+renderValue(v))
		return true
	})
	if err != nil {
		parts = append(parts, "ERROR "+err.Error())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func renderValue(v Value) string {
	switch v.Kind() {
	case KindString:
		return strconv.Quote(v.Str())
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindInt:
		return "i" + strconv.FormatInt(v.Int(), 10)
	case KindDouble:
		return "d" + fbits(v.Double())
	case KindBytes:
		return "b" + string(v.AppendText(nil))
	case KindArray:
		var parts []string
		err := v.Each(func(x Value) bool { parts = append(parts, renderValue(x)); return true })
		if err != nil {
			parts = append(parts, "ERROR "+err.Error())
		}
		return "[" + strings.Join(parts, ",") + "]"
	case KindMap:
		return renderAttrs(v.Map())
	}
	return "<empty>"
}

func refAttrs(kvs []*commonpb.KeyValue) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, strconv.Quote(kv.GetKey())+"="+refValue(kv.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func refValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return strconv.Quote(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return "i" + strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return "d" + fbits(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return "b" + base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, refValue(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		return refAttrs(x.KvlistValue.GetValues())
	}
	// Absent, empty, or string_value_strindex (profiles only; ignored).
	return "<empty>"
}

func refTemporality(t metricspb.AggregationTemporality) Temporality {
	if t >= 0 && t <= 2 {
		return Temporality(t)
	}
	return TemporalityUnspecified
}

func refScope(r *recorder, sc *commonpb.InstrumentationScope) {
	r.add("scope %q %q %s", sc.GetName(), sc.GetVersion(), refAttrs(sc.GetAttributes()))
}

func refMetrics(req *colmetricspb.ExportMetricsServiceRequest) []string {
	r := &recorder{}
	for _, rm := range req.GetResourceMetrics() {
		r.add("resource %s", refAttrs(rm.GetResource().GetAttributes()))
		for _, sm := range rm.GetScopeMetrics() {
			refScope(r, sm.GetScope())
			for _, m := range sm.GetMetrics() {
				refMetric(r, m)
			}
		}
	}
	return r.lines
}

func refMetric(r *recorder, m *metricspb.Metric) {
	mt := Metric{Name: m.GetName(), Unit: m.GetUnit()}
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		mt.Type = MetricGauge
	case *metricspb.Metric_Sum:
		mt.Type, mt.Temporality, mt.Monotonic = MetricSum, refTemporality(d.Sum.GetAggregationTemporality()), d.Sum.GetIsMonotonic()
	case *metricspb.Metric_Histogram:
		mt.Type, mt.Temporality = MetricHistogram, refTemporality(d.Histogram.GetAggregationTemporality())
	case *metricspb.Metric_ExponentialHistogram:
		mt.Type, mt.Temporality = MetricExpHistogram, refTemporality(d.ExponentialHistogram.GetAggregationTemporality())
	case *metricspb.Metric_Summary:
		mt.Type = MetricSummary
	}
	r.Metric(&mt)
	numbers := append(m.GetGauge().GetDataPoints(), m.GetSum().GetDataPoints()...)
	for _, p := range numbers {
		var v float64
		isInt := false
		switch x := p.GetValue().(type) {
		case *metricspb.NumberDataPoint_AsDouble:
			v = x.AsDouble
		case *metricspb.NumberDataPoint_AsInt:
			v, isInt = float64(x.AsInt), true
		}
		r.add("number %s %d %d %s int=%v novalue=%v", refAttrs(p.GetAttributes()), p.GetStartTimeUnixNano(), p.GetTimeUnixNano(), fbits(v), isInt, p.GetFlags()&1 != 0)
	}
	for _, p := range m.GetHistogram().GetDataPoints() {
		r.histogram(refAttrs(p.GetAttributes()), &HistogramPoint{
			StartNano: p.GetStartTimeUnixNano(), TimeNano: p.GetTimeUnixNano(), Count: p.GetCount(),
			Sum: p.GetSum(), HasSum: p.Sum != nil, Min: p.GetMin(), HasMin: p.Min != nil, Max: p.GetMax(), HasMax: p.Max != nil,
			Bounds: p.GetExplicitBounds(), Counts: p.GetBucketCounts(), NoValue: p.GetFlags()&1 != 0,
		})
	}
	for _, p := range m.GetExponentialHistogram().GetDataPoints() {
		r.expHistogram(refAttrs(p.GetAttributes()), &ExpHistogramPoint{
			StartNano: p.GetStartTimeUnixNano(), TimeNano: p.GetTimeUnixNano(), Count: p.GetCount(),
			Sum: p.GetSum(), HasSum: p.Sum != nil, Min: p.GetMin(), HasMin: p.Min != nil, Max: p.GetMax(), HasMax: p.Max != nil,
			Scale: p.GetScale(), ZeroCount: p.GetZeroCount(), ZeroThreshold: p.GetZeroThreshold(),
			Positive: Buckets{Offset: p.GetPositive().GetOffset(), Counts: p.GetPositive().GetBucketCounts()},
			Negative: Buckets{Offset: p.GetNegative().GetOffset(), Counts: p.GetNegative().GetBucketCounts()},
			NoValue:  p.GetFlags()&1 != 0,
		})
	}
	for _, p := range m.GetSummary().GetDataPoints() {
		var q []Quantile
		for _, x := range p.GetQuantileValues() {
			q = append(q, Quantile{x.GetQuantile(), x.GetValue()})
		}
		r.summary(refAttrs(p.GetAttributes()), &SummaryPoint{
			StartNano: p.GetStartTimeUnixNano(), TimeNano: p.GetTimeUnixNano(), Count: p.GetCount(), Sum: p.GetSum(),
			Quantiles: q, NoValue: p.GetFlags()&1 != 0,
		})
	}
}

func refTraces(req *coltracepb.ExportTraceServiceRequest) []string {
	r := &recorder{}
	for _, rs := range req.GetResourceSpans() {
		r.add("resource %s", refAttrs(rs.GetResource().GetAttributes()))
		for _, ss := range rs.GetScopeSpans() {
			refScope(r, ss.GetScope())
			for _, sp := range ss.GetSpans() {
				kind := SpanKind(0)
				if k := sp.GetKind(); k >= 0 && k <= 5 {
					kind = SpanKind(k)
				}
				code := StatusCode(0)
				if c := sp.GetStatus().GetCode(); c >= 0 && c <= 2 {
					code = StatusCode(c)
				}
				r.add("span %q kind=%d %d %d status=%d %q %s", sp.GetName(), kind, sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano(),
					code, sp.GetStatus().GetMessage(), refAttrs(sp.GetAttributes()))
			}
		}
	}
	return r.lines
}

func refLogs(req *collogspb.ExportLogsServiceRequest) []string {
	r := &recorder{}
	for _, rl := range req.GetResourceLogs() {
		r.add("resource %s", refAttrs(rl.GetResource().GetAttributes()))
		for _, sl := range rl.GetScopeLogs() {
			refScope(r, sl.GetScope())
			for _, l := range sl.GetLogRecords() {
				r.add("log %d %d sev=%d %q body=%s %s event=%q", l.GetTimeUnixNano(), l.GetObservedTimeUnixNano(), int32(l.GetSeverityNumber()),
					l.GetSeverityText(), refValue(l.GetBody()), refAttrs(l.GetAttributes()), l.GetEventName())
			}
		}
	}
	return r.lines
}

func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("line %d differs (got %d lines, want %d)\n got: %s\nwant: %s", i, len(got), len(want), g, w)
		}
	}
}

// ---------------------------------------------------------------------------
// Building requests.

func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func iv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
func dv(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func bv(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func yv(b []byte) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: b}}
}
func av(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}
func mv(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}
func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}
func ptr[T any](v T) *T { return &v }

func k8sResource(ns, deploy, pod string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		kv("k8s.namespace.name", sv(ns)),
		kv("k8s.deployment.name", sv(deploy)),
		kv("k8s.pod.name", sv(pod)),
		kv("k8s.container.name", sv("app")),
		kv("service.name", sv(deploy)),
	}}
}

// everyValue holds an attribute of every AnyValue kind, nested ones included.
var everyValue = []*commonpb.KeyValue{
	kv("s", sv("text")),
	kv("empty.string", sv("")),
	kv("b", bv(true)),
	kv("f", bv(false)),
	kv("i", iv(-42)),
	kv("big", iv(math.MaxInt64)),
	kv("d", dv(3.25)),
	kv("nan", dv(math.NaN())),
	kv("y", yv([]byte{0, 1, 2, 0xff})),
	kv("arr", av(sv("a"), iv(1), av(dv(1.5), bv(true)), mv(kv("in", sv("side"))), &commonpb.AnyValue{})),
	kv("map", mv(kv("k", sv("v")), kv("nested", mv(kv("deep", av(iv(7))))), kv("nil", nil))),
	kv("empty.array", av()),
	kv("empty.map", mv()),
	kv("nil.value", nil),
	kv("empty.value", &commonpb.AnyValue{}),
	kv("", sv("empty key")),
	kv("utf8", sv("héllo ✓")),
}

func metricsFixture() *colmetricspb.ExportMetricsServiceRequest {
	attrs := func(route string) []*commonpb.KeyValue {
		return []*commonpb.KeyValue{kv("http.route", sv(route)), kv("http.response.status_code", iv(200))}
	}
	const t0, t1 = 1_700_000_000_000_000_000, 1_700_000_010_000_000_000
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{
		{
			Resource: &resourcepb.Resource{Attributes: append(k8sResource("shop", "checkout", "checkout-7d9f").Attributes, everyValue...)},
			ScopeMetrics: []*metricspb.ScopeMetrics{{
				Scope: &commonpb.InstrumentationScope{Name: "kubeletstats", Version: "0.110.0", Attributes: []*commonpb.KeyValue{kv("scope.attr", iv(1))}},
				Metrics: []*metricspb.Metric{
					{Name: "container.memory.working_set", Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
						{Attributes: attrs("/a"), StartTimeUnixNano: t0, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 512 << 20}},
						{Attributes: everyValue, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: -0.5}},
						{TimeUnixNano: t1, Flags: 1}, // no recorded value
						{TimeUnixNano: t1, Flags: 3, Value: &metricspb.NumberDataPoint_AsInt{AsInt: -7}},
						{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: math.Inf(1)}},
					}}}},
					{Name: "k8s.container.restarts", Unit: "{restart}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
						AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true,
						DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: t0, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 3}}},
					}}},
					{Name: "queue.delta", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
						AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
						DataPoints:             []*metricspb.NumberDataPoint{{Attributes: attrs("/q"), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1.25}}},
					}}},
					{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
						AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
						DataPoints: []*metricspb.HistogramDataPoint{
							{Attributes: attrs("/pay"), StartTimeUnixNano: t0, TimeUnixNano: t1, Count: 10, Sum: ptr(2.5), Min: ptr(0.01), Max: ptr(1.2),
								ExplicitBounds: []float64{0.1, 0.5, 1}, BucketCounts: []uint64{4, 3, 2, 1},
								Exemplars: []*metricspb.Exemplar{{TimeUnixNano: t1, Value: &metricspb.Exemplar_AsDouble{AsDouble: 1.2},
									TraceId: make([]byte, 16), SpanId: make([]byte, 8), FilteredAttributes: attrs("/x")}}},
							{Attributes: attrs("/none"), Count: 0, Flags: 1},
							{Count: 5, BucketCounts: []uint64{5}},
						},
					}}},
					{Name: "latency.exp", Unit: "ms", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
						AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
						DataPoints: []*metricspb.ExponentialHistogramDataPoint{
							{Attributes: attrs("/e"), StartTimeUnixNano: t0, TimeUnixNano: t1, Count: 12, Sum: ptr(-3.5), Min: ptr(-9.0), Max: ptr(4.0),
								Scale: -3, ZeroCount: 2, ZeroThreshold: 1e-9,
								Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: -2, BucketCounts: []uint64{1, 0, 3, 300}},
								Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 5, BucketCounts: []uint64{2, 4}}},
							{Scale: 20, Flags: 1},
							{Count: 1, Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{}},
						},
					}}},
					{Name: "rpc.duration.summary", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{
						{Attributes: attrs("/s"), StartTimeUnixNano: t0, TimeUnixNano: t1, Count: 100, Sum: 42,
							QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 0.2}, {Quantile: 0.99, Value: 1.7}, {}}},
						{Flags: 1},
					}}}},
					{Name: "no.data", Unit: "1", Description: "a metric whose oneof is absent"},
					{Name: "empty.gauge", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{}}},
					{Name: "with.metadata", Metadata: everyValue[:3], Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{}}}}},
				},
			}},
		},
		{ // no resource, a scope entry without scope
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
				{Name: "cpu", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 0.3}}}}}},
			}}, {}},
		},
		{Resource: &resourcepb.Resource{}}, // empty resource, no scopes
		{Resource: k8sResource("shop", "cart", "cart-1"), SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
			ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "only.name"}}}},
	}}
}

func tracesFixture() *coltracepb.ExportTraceServiceRequest {
	id16, id8 := []byte("0123456789abcdef"), []byte("01234567")
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{
			Resource: k8sResource("shop", "checkout", "checkout-7d9f"),
			ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "otelhttp", Version: "0.60.0"},
				Spans: []*tracepb.Span{
					{TraceId: id16, SpanId: id8, Name: "GET /pay", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: 1, EndTimeUnixNano: 5,
						Attributes: []*commonpb.KeyValue{kv("http.response.status_code", iv(503)), kv("http.route", sv("/pay"))},
						Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream timeout"},
						Events:     []*tracepb.Span_Event{{Name: "exception", Attributes: everyValue[:4]}},
						Links:      []*tracepb.Span_Link{{TraceId: id16, SpanId: id8, Attributes: everyValue[4:6]}}},
					{Name: "SELECT", Kind: tracepb.Span_SPAN_KIND_CLIENT, Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}, Attributes: everyValue},
					{Name: "internal"},
					{Name: "odd enums", Kind: tracepb.Span_SpanKind(77), Status: &tracepb.Status{Code: tracepb.Status_StatusCode(258)}},
					{Name: "empty status", Status: &tracepb.Status{}, Flags: 0x301},
				},
			}},
		},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "orphan", Kind: tracepb.Span_SPAN_KIND_CONSUMER}}}}},
		{},
	}}
}

// k8sEvent is a log body as the Collector's k8sobjects receiver writes it
// for a watched Event.
func k8sEvent(reason, kind, name string) *commonpb.AnyValue {
	return mv(
		kv("type", sv("ADDED")),
		kv("object", mv(
			kv("apiVersion", sv("v1")),
			kv("kind", sv("Event")),
			kv("reason", sv(reason)),
			kv("type", sv("Warning")),
			kv("count", iv(3)),
			kv("message", sv("Back-off restarting failed container app")),
			kv("involvedObject", mv(kv("kind", sv(kind)), kv("name", sv(name)), kv("namespace", sv("shop")), kv("fieldPath", sv("spec.containers{app}")))),
			kv("metadata", mv(kv("name", sv(name+".17a")), kv("namespace", sv("shop")), kv("labels", mv()))),
			kv("source", mv(kv("component", sv("kubelet")), kv("host", sv("node-1")))),
		)),
	)
}

func logsFixture() *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("k8s.cluster.name", sv("prod"))}},
			ScopeLogs: []*logspb.ScopeLogs{{
				Scope: &commonpb.InstrumentationScope{Name: "k8sobjectsreceiver"},
				LogRecords: []*logspb.LogRecord{
					{TimeUnixNano: 10, ObservedTimeUnixNano: 11, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN, SeverityText: "Warning",
						Body: k8sEvent("BackOff", "Pod", "checkout-7d9f"), Attributes: []*commonpb.KeyValue{kv("event.domain", sv("k8s")), kv("event.name", sv("checkout-7d9f.17a"))},
						EventName: "k8s.event", TraceId: make([]byte, 16), SpanId: make([]byte, 8), Flags: 1},
					{SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, Body: sv("OOMKilling: memory cgroup out of memory")},
					{Body: &commonpb.AnyValue{}},
					{},
					{Body: av(everyValue[0].Value, everyValue[9].Value), Attributes: everyValue, SeverityNumber: logspb.SeverityNumber(-3)},
				},
			}},
		},
		{ScopeLogs: []*logspb.ScopeLogs{{}}},
	}}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---------------------------------------------------------------------------
// Differential tests.

// checkMetrics decodes b with d and compares with the reference walker over
// proto.Unmarshal; it returns the decoded lines.
func checkMetrics(t *testing.T, d *Decoder, b []byte) []string {
	t.Helper()
	checkRecordAgreesWithValidator(t, b)
	rec := &recorder{}
	if err := d.Metrics(b, rec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var req colmetricspb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	diffLines(t, rec.lines, refMetrics(&req))
	return rec.lines
}

func checkTraces(t *testing.T, d *Decoder, b []byte) []string {
	t.Helper()
	rec := &recorder{}
	if err := d.Traces(b, rec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	diffLines(t, rec.lines, refTraces(&req))
	return rec.lines
}

func checkLogs(t *testing.T, d *Decoder, b []byte) []string {
	t.Helper()
	rec := &recorder{}
	if err := d.Logs(b, rec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	diffLines(t, rec.lines, refLogs(&req))
	return rec.lines
}

func TestDecodeMetricsMatchesReference(t *testing.T) {
	var d Decoder
	b := marshal(t, metricsFixture())
	lines := checkMetrics(t, &d, b)
	// A reused decoder gives the same answer.
	diffLines(t, checkMetrics(t, &d, b), lines)

	// Spot checks, so that the decoder and the reference cannot agree on
	// something wrong.
	want := []string{
		`metric "container.memory.working_set" "By" gauge temp=0 mono=false`,
		`number {"http.route"="/a","http.response.status_code"=i200} 1700000000000000000 1700000010000000000 ` + fbits(512<<20) + ` int=true novalue=false`,
		`number {} 0 1700000010000000000 0 int=false novalue=true`,
		`number {} 0 1700000010000000000 ` + fbits(-7) + ` int=true novalue=true`,
		`metric "k8s.container.restarts" "{restart}" sum temp=2 mono=true`,
		`metric "queue.delta" "" sum temp=1 mono=false`,
		`count=10 sum=` + fbits(2.5) + `/true min=` + fbits(0.01) + `/true max=` + fbits(1.2) + `/true bounds=[` + fbits(0.1) + ` ` + fbits(0.5) + ` ` + fbits(1) + `] counts=[4 3 2 1]`,
		`count=0 sum=0/false min=0/false max=0/false bounds=[] counts=[] novalue=true`,
		`scale=-3 zero=2/` + fbits(1e-9) + ` pos=-2[1 0 3 300] neg=5[2 4] novalue=false`,
		`q=[` + fbits(0.5) + `:` + fbits(0.2) + ` ` + fbits(0.99) + `:` + fbits(1.7) + ` 0:0] novalue=false`,
		`metric "no.data" "1" none temp=0 mono=false`,
		`"arr"=["a",i1,[d` + fbits(1.5) + `,true],{"in"="side"},<empty>]`,
		`"map"={"k"="v","nested"={"deep"=[i7]},"nil"=<empty>}`,
		`"y"=bAAEC/w==`,
		`scope "" "" {}`,
		`resource {}`,
	}
	all := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
	// The metric without data has no points: the next line is a metric.
	for i, l := range lines {
		if strings.HasPrefix(l, `metric "no.data"`) && !strings.HasPrefix(lines[i+1], "metric ") {
			t.Errorf("points after a metric without data: %s", lines[i+1])
		}
	}
}

func TestDecodeTracesMatchesReference(t *testing.T) {
	var d Decoder
	lines := checkTraces(t, &d, marshal(t, tracesFixture()))
	all := strings.Join(lines, "\n")
	for _, w := range []string{
		`span "GET /pay" kind=2 1 5 status=2 "upstream timeout" {"http.response.status_code"=i503,"http.route"="/pay"}`,
		`span "SELECT" kind=3 0 0 status=1 ""`,
		`span "odd enums" kind=0 0 0 status=0 ""`,
		`span "orphan" kind=5`,
	} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
}

func TestDecodeLogsMatchesReference(t *testing.T) {
	var d Decoder
	b := marshal(t, logsFixture())
	lines := checkLogs(t, &d, b)
	all := strings.Join(lines, "\n")
	for _, w := range []string{
		`log 10 11 sev=13 "Warning" body={"type"="ADDED","object"={"apiVersion"="v1","kind"="Event","reason"="BackOff"`,
		`event="k8s.event"`,
		`log 0 0 sev=17 "" body="OOMKilling: memory cgroup out of memory"`,
		`log 0 0 sev=0 "" body=<empty> {} event=""`,
		`sev=-3`,
	} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
	// A sink can navigate the body as medic's event rules do.
	var reason string
	sink := logFunc(func(r *LogRecord) {
		if reason == "" {
			reason = r.Body.Get("object").Get("reason").Str()
		}
	})
	if err := d.Logs(b, sink); err != nil {
		t.Fatal(err)
	}
	if reason != "BackOff" {
		t.Errorf("reason = %q", reason)
	}
}

type logFunc func(*LogRecord)

func (logFunc) Resource(Attrs)              {}
func (logFunc) Scope(string, string, Attrs) {}
func (f logFunc) Log(r *LogRecord)          { f(r) }

// ---------------------------------------------------------------------------
// Hand-made encodings.

// fld encodes a length-delimited field; vfld a varint field; xfld a fixed64.
func fld(num protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, cat(parts...))
}
func vfld(num protowire.Number, x uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), x)
}
func xfld(num protowire.Number, x uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), x)
}
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
func strfld(num protowire.Number, s string) []byte { return fld(num, []byte(s)) }

// anyStr and kvb build AnyValue and KeyValue bytes.
func anyStr(s string) []byte            { return strfld(1, s) }
func kvb(key string, val []byte) []byte { return cat(strfld(1, key), fld(2, val)) }

// wrapMetric puts encoded Metric bytes into a request.
func wrapMetric(metrics ...[]byte) []byte {
	var sm []byte
	for _, m := range metrics {
		sm = append(sm, fld(2, m)...)
	}
	return fld(1, fld(2, sm))
}

// pointWithAttr is a request with one gauge point holding one encoded
// KeyValue.
func pointWithAttr(kvBytes []byte) []byte { return wrapMetric(fld(5, fld(1, fld(7, kvBytes)))) }

func TestDecodeUnpackedAndMixedRepeated(t *testing.T) {
	point := cat(
		fld(9, kvb("k", anyStr("v"))),
		xfld(4, 6),
		// bucket_counts: one unpacked, one packed chunk of two, one unpacked.
		xfld(6, 1),
		fld(6, protowire.AppendFixed64(protowire.AppendFixed64(nil, 2), 3)),
		xfld(6, 0),
		// explicit_bounds: packed then unpacked.
		fld(7, protowire.AppendFixed64(nil, math.Float64bits(0.5))),
		xfld(7, math.Float64bits(1)),
		xfld(7, math.Float64bits(2)),
	)
	hist := cat(strfld(1, "h"), fld(9, fld(1, point), vfld(2, 2)))
	exp := cat(strfld(1, "e"), fld(10, fld(1,
		fld(8, vfld(1, protowire.EncodeZigZag(-4)), vfld(2, 7), fld(2, protowire.AppendVarint(protowire.AppendVarint(nil, 8), 900)), vfld(2, 9)),
		fld(9, fld(2), vfld(2, 1)), // an empty packed chunk, then one unpacked
	)))
	var d Decoder
	lines := checkMetrics(t, &d, wrapMetric(hist, exp))
	all := strings.Join(lines, "\n")
	for _, w := range []string{"counts=[1 2 3 0]", "bounds=[" + fbits(0.5) + " " + fbits(1) + " " + fbits(2) + "]", "pos=-4[7 8 900 9] neg=0[1]"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
}

func TestDecodeFieldOrderAndUnknownFields(t *testing.T) {
	// Scope metrics before the resource, the metric name after its data,
	// data point fields in reverse order, unknown fields of every wire type
	// (groups included) everywhere.
	unknown := cat(vfld(99, 1), xfld(98, 2), strfld(97, "x"),
		protowire.AppendFixed32(protowire.AppendTag(nil, 96, protowire.Fixed32Type), 3),
		protowire.AppendTag(protowire.AppendTag(vfld(1, 5), 95, protowire.StartGroupType), 95, protowire.EndGroupType))
	unknown = append(protowire.AppendTag(nil, 95, protowire.StartGroupType), unknown...)
	unknown = protowire.AppendTag(unknown, 95, protowire.EndGroupType)
	point := cat(vfld(8, 0), unknown, xfld(6, uint64(1<<63)), xfld(3, 9), fld(7, kvb("a", cat(anyStr("b"), unknown)), unknown))
	metric := cat(unknown, fld(7, vfld(3, 1), fld(1, point), unknown, vfld(2, 1)), strfld(3, "u"), strfld(1, "late.name"))
	rm := cat(unknown, fld(2, unknown, fld(2, metric), fld(1, strfld(2, "v1"), strfld(1, "sc"))), fld(1, fld(1, kvb("r", anyStr("x"))), unknown), strfld(3, "schema"))
	body := cat(unknown, fld(1, rm), unknown)
	var d Decoder
	lines := checkMetrics(t, &d, body)
	want := []string{
		`resource {"r"="x"}`,
		`scope "sc" "v1" {}`,
		`metric "late.name" "u" sum temp=1 mono=true`,
		`number {"a"="b"} 0 9 ` + fbits(float64(math.MinInt64)) + ` int=true novalue=false`,
	}
	diffLines(t, lines, want)
}

func TestDecodeMergesRepeatedMessages(t *testing.T) {
	// Protobuf merges repeated occurrences of a singular message field; the
	// decoder must report what proto.Unmarshal sees.
	numPoint := func(v uint64) []byte { return fld(1, xfld(6, v)) }
	cases := map[string][]byte{
		"resource twice":  fld(1, fld(1, fld(1, kvb("a", anyStr("1")))), fld(2), fld(1, fld(1, kvb("b", anyStr("2"))))),
		"scope twice":     fld(1, fld(2, fld(1, strfld(1, "n1"), strfld(2, "v1")), fld(1, strfld(1, "n2"), fld(3, kvb("x", anyStr("y")))))),
		"sum twice":       wrapMetric(cat(strfld(1, "m"), fld(7, vfld(2, 2), numPoint(1)), fld(7, numPoint(2), vfld(3, 1)))),
		"gauge sum gauge": wrapMetric(cat(fld(5, numPoint(1)), fld(7, numPoint(2)), fld(5, numPoint(3)))),
		"sum gauge":       wrapMetric(cat(fld(7, vfld(2, 1), numPoint(1)), fld(5, numPoint(3)))),
		"value twice": pointWithAttr(cat(strfld(1, "arrays"),
			fld(2, fld(5, fld(1, anyStr("a")))), fld(2, fld(5, fld(1, anyStr("b")), fld(1, anyStr("c")))))),
		"array array in one AnyValue": pointWithAttr(cat(strfld(1, "k"),
			fld(2, fld(5, fld(1, anyStr("a"))), fld(5, fld(1, anyStr("b")), fld(1, vfld(3, 2)))))),
		"array string array": pointWithAttr(cat(strfld(1, "k"),
			fld(2, fld(5, fld(1, anyStr("a"))), anyStr("s"), fld(5, fld(1, anyStr("b")))))),
		"string then strindex":   pointWithAttr(cat(strfld(1, "k"), fld(2, anyStr("s"), vfld(8, 3)))),
		"value then empty value": pointWithAttr(cat(strfld(1, "k"), fld(2, anyStr("s")), fld(2))),
		"kvlist twice": pointWithAttr(cat(strfld(1, "k"),
			fld(2, fld(6, fld(1, kvb("x", anyStr("1")))), fld(6, fld(1, kvb("y", anyStr("2"))))))),
		"as_int then as_double": wrapMetric(fld(5, fld(1, xfld(6, 5), xfld(4, math.Float64bits(2.5))))),
		"positive twice":        wrapMetric(fld(10, fld(1, fld(8, vfld(1, 2), vfld(2, 1)), fld(8, vfld(2, 5)), fld(9, vfld(2, 7))))),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			checkMetrics(t, &d, body)
		})
	}

	t.Run("status twice", func(t *testing.T) {
		span := cat(strfld(5, "s"), fld(15, vfld(3, 2)), fld(15, strfld(2, "why")))
		var d Decoder
		lines := checkTraces(t, &d, fld(1, fld(2, fld(2, span))))
		if !strings.Contains(lines[2], `status=2 "why"`) {
			t.Errorf("status not merged: %s", lines[2])
		}
	})
	t.Run("log body twice", func(t *testing.T) {
		rec := cat(fld(5, fld(6, fld(1, kvb("a", anyStr("1"))))), fld(5, fld(6, fld(1, kvb("b", anyStr("2"))))))
		var d Decoder
		lines := checkLogs(t, &d, fld(1, fld(2, fld(2, rec))))
		if !strings.Contains(lines[2], `body={"a"="1","b"="2"}`) {
			t.Errorf("body not merged: %s", lines[2])
		}
	})
}

// reencode rewrites the valid message b of type m into another encoding of
// the same message, as protobuf defines sameness: fields shuffled (keeping
// the order among occurrences of one field), singular messages split into
// two occurrences that protobuf merges back, packed fields split into
// chunks or unpacked. A singular message is split once in split times
// (never when split is 0).
func reencode(b []byte, m *msgDesc, r *rand.Rand, split int) []byte {
	type field struct {
		num protowire.Number
		enc []byte
	}
	var fields []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		k := protowire.ConsumeFieldValue(num, typ, b[n:])
		raw, val := b[:n+k], b[n:n+k]
		b = b[n+k:]
		f := m.field(num)
		add := func(enc []byte) { fields = append(fields, field{num, enc}) }
		switch {
		case f == nil || typ != protowire.BytesType:
			add(raw)
		case f.kind == fieldMessage || f.kind == fieldMessages:
			p, _ := protowire.ConsumeBytes(val)
			p = reencode(p, f.msg, r, split)
			if f.kind == fieldMessage && split > 0 && r.IntN(split) == 0 {
				cut := fieldBoundary(p, r)
				add(fld(num, p[:cut]))
				add(fld(num, p[cut:]))
			} else {
				add(fld(num, p))
			}
		case f.kind == fieldFixed64s && r.IntN(2) == 0:
			p, _ := protowire.ConsumeBytes(val)
			cut := 8 * r.IntN(len(p)/8+1)
			add(fld(num, p[:cut]))
			for q := p[cut:]; len(q) > 0; q = q[8:] {
				add(xfld(num, binary.LittleEndian.Uint64(q)))
			}
		case f.kind == fieldVarints && r.IntN(2) == 0:
			p, _ := protowire.ConsumeBytes(val)
			for len(p) > 0 {
				x, n := protowire.ConsumeVarint(p)
				add(vfld(num, x))
				p = p[n:]
			}
		default:
			add(raw)
		}
	}
	order := map[protowire.Number]int{}
	for _, f := range fields {
		order[f.num] = r.Int()
	}
	sort.SliceStable(fields, func(i, j int) bool { return order[fields[i].num] < order[fields[j].num] })
	var out []byte
	for _, f := range fields {
		out = append(out, f.enc...)
	}
	return out
}

// fieldBoundary picks an offset in message b that falls between fields.
func fieldBoundary(b []byte, r *rand.Rand) int {
	cuts := []int{0}
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		off += n + protowire.ConsumeFieldValue(num, typ, b[off+n:])
		cuts = append(cuts, off)
	}
	return cuts[r.IntN(len(cuts))]
}

func TestDecodeEquivalentEncodings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var d Decoder
	metrics, traces, logs := marshal(t, metricsFixture()), marshal(t, tracesFixture()), marshal(t, logsFixture())
	wantM, wantT, wantL := checkMetrics(t, &d, metrics), checkTraces(t, &d, traces), checkLogs(t, &d, logs)
	for i := 0; i < 300; i++ {
		split := []int{0, 3, 50}[i%3] // in place, merged a lot, merged a little
		diffLines(t, checkMetrics(t, &d, reencode(metrics, &metricsRequestDesc, r, split)), wantM)
		diffLines(t, checkTraces(t, &d, reencode(traces, &tracesRequestDesc, r, split)), wantT)
		diffLines(t, checkLogs(t, &d, reencode(logs, &logsRequestDesc, r, split)), wantL)
	}
}

// ---------------------------------------------------------------------------
// Malformed bodies.

func TestDecodeMalformed(t *testing.T) {
	valid := marshal(t, &metricspb.ResourceMetrics{
		Resource:     k8sResource("shop", "a", "a-1"),
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "ok", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{}}}}}}}},
	})
	histPoint := marshal(t, &metricspb.HistogramDataPoint{Count: 1, BucketCounts: []uint64{1}})
	var okMetrics []byte
	for i := 0; i < 5; i++ {
		okMetrics = append(okMetrics, fld(2, strfld(1, "m"+strconv.Itoa(i)))...)
	}
	badHist := cat(strfld(1, "h"), fld(9, fld(1, histPoint), fld(1, histPoint), fld(1, histPoint),
		fld(1, xfld(4, 1), fld(6, make([]byte, 15)))))
	deep := anyStr("leaf")
	for i := 0; i < MaxValueDepth+1; i++ {
		deep = fld(5, fld(1, deep))
	}
	okDeep := anyStr("leaf")
	for i := 0; i < MaxValueDepth; i++ {
		okDeep = fld(5, fld(1, okDeep))
	}
	overflow := append(protowire.AppendTag(nil, 8, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)

	cases := []struct {
		name, want string
		body       []byte
		stricter   bool
	}{
		{"truncated fixed64 in packed bucket counts",
			"resource_metrics[2].scope_metrics[0].metrics[5].histogram.data_points[3].bucket_counts: truncated fixed64: malformed OTLP protobuf",
			cat(fld(1, valid), fld(1, valid), fld(1, fld(2, okMetrics, fld(2, badHist)))), false},
		{"truncated body", "resource_metrics[1]: length ", cat(fld(1, valid), fld(1, valid)[:len(valid)/2]), false},
		{"truncated tag", "resource_metrics[0].scope_metrics[0].metrics[0]: bad field tag: truncated varint",
			wrapMetric([]byte{0x80}), false},
		{"varint overflow", "resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].flags: bad varint: variable length integer overflow",
			wrapMetric(fld(5, fld(1, overflow))), false},
		{"wrong wire type for a known field", "resource_metrics[0].scope_metrics[0].metrics[0].name: wrong wire type varint, want length-delimited",
			wrapMetric(vfld(1, 3)), true},
		{"wrong wire type for a data point time", "metrics[0].sum.data_points[0].time_unix_nano: wrong wire type varint, want fixed64",
			wrapMetric(fld(7, fld(1, vfld(3, 3)))), true},
		{"wrong wire type for packed counts", "exponential_histogram.data_points[0].positive.bucket_counts: wrong wire type fixed64, want varint or length-delimited",
			wrapMetric(fld(10, fld(1, fld(8, xfld(2, 1))))), true},
		{"length overflow", "resource_metrics[0].scope_metrics[0]: length 1000 overruns the 3 bytes left",
			fld(1, protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.BytesType), 1000), []byte{1, 2, 3}), false},
		{"field number zero", "bad field tag: invalid field number", []byte{0x02, 0x00}, false},
		{"bad attribute value", "resource_metrics[0].resource.attributes[1].value.double_value: truncated fixed64",
			fld(1, fld(1, fld(1, kvb("a", anyStr("b"))), fld(1, strfld(1, "d"), fld(2, append(protowire.AppendTag(nil, 4, protowire.Fixed64Type), 1, 2))))), false},
		{"bad scope attribute", "resource_metrics[0].scope_metrics[0].scope.attributes[0].key: wrong wire type fixed64",
			fld(1, fld(2, fld(1, fld(3, xfld(1, 1))))), true},
		{"AnyValue nested too deep", "resource_metrics[0].resource.attributes[0].value" + strings.Repeat(".array_value.values[0]", MaxValueDepth) + ".array_value: AnyValue arrays/kvlists nested deeper than 32 levels",
			fld(1, fld(1, fld(1, kvb("deep", deep)))), true},
		{"packed varint truncated", "positive.bucket_counts: packed truncated varint",
			wrapMetric(fld(10, fld(1, fld(8, fld(2, []byte{0x80}))))), false},
		{"truncated unknown field", "metrics[0].field 99: truncated fixed64", wrapMetric(append(protowire.AppendTag(nil, 99, protowire.Fixed64Type), 1, 2)), false},
		{"stray end group", "metrics[0]", wrapMetric(protowire.AppendTag(nil, 9, protowire.EndGroupType)), false},
		{"reserved wire type", "metrics[0]", wrapMetric([]byte{0x0e, 0x01}), false},
		{"bad exemplar", "data_points[0].exemplars[0].trace_id: wrong wire type fixed64", wrapMetric(fld(5, fld(1, fld(5, xfld(5, 1))))), true},
		{"group for a known field", "metrics[0].gauge: wrong wire type start-group", wrapMetric(cat(protowire.AppendTag(nil, 5, protowire.StartGroupType), protowire.AppendTag(nil, 5, protowire.EndGroupType))), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkRecordAgreesWithValidator(t, tc.body)
			var d Decoder
			rec := &recorder{}
			err := d.Metrics(tc.body, rec)
			if err == nil {
				t.Fatalf("decoded: %q", rec.lines)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
			if len(rec.lines) != 0 {
				t.Errorf("sink called %d times: %q", len(rec.lines), rec.lines)
			}
			if got := errStricter(err); got != tc.stricter {
				t.Errorf("stricter = %v", got)
			}
			// Protobuf agrees that the body is malformed, unless the rule
			// is one of ours.
			var req colmetricspb.ExportMetricsServiceRequest
			if perr := proto.Unmarshal(tc.body, &req); (perr == nil) != tc.stricter {
				t.Errorf("proto.Unmarshal: %v", perr)
			}
		})
	}

	t.Run("32 levels are fine", func(t *testing.T) {
		var d Decoder
		checkMetrics(t, &d, fld(1, fld(1, fld(1, kvb("deep", okDeep)))))
	})
	t.Run("traces and logs", func(t *testing.T) {
		var d Decoder
		rec := &recorder{}
		body := cat(marshal(t, tracesFixture()), fld(1, fld(2, fld(2, strfld(5, "x"), fld(15, xfld(3, 1))))))
		err := d.Traces(body, rec)
		if err == nil || !strings.Contains(err.Error(), "resource_spans[3].scope_spans[0].spans[0].status.code: wrong wire type fixed64, want varint") || len(rec.lines) != 0 {
			t.Errorf("traces: %v, %d calls", err, len(rec.lines))
		}
		body = cat(marshal(t, logsFixture()), fld(1, fld(2, fld(2, fld(5, fld(6, fld(1, strfld(1, "k"), []byte{0x12, 0x05})))))))
		err = d.Logs(body, rec)
		if err == nil || !strings.Contains(err.Error(), "resource_logs[2].scope_logs[0].log_records[0].body.kvlist_value.values[0].value: length 5 overruns the 0 bytes left") || len(rec.lines) != 0 {
			t.Errorf("logs: %v, %d calls", err, len(rec.lines))
		}
	})
}

// ---------------------------------------------------------------------------
// Allocations.

type nopSink struct{}

func (nopSink) Resource(Attrs)                  {}
func (nopSink) Scope(string, string, Attrs)     {}
func (nopSink) Metric(*Metric)                  {}
func (nopSink) Number(*NumberPoint)             {}
func (nopSink) Histogram(*HistogramPoint)       {}
func (nopSink) ExpHistogram(*ExpHistogramPoint) {}
func (nopSink) Summary(*SummaryPoint)           {}
func (nopSink) Span(*Span)                      {}
func (nopSink) Log(*LogRecord)                  {}

func TestDecodeDoesNotAllocate(t *testing.T) {
	var d Decoder
	var sink nopSink
	for name, body := range map[string][]byte{
		"benchmark request": benchMetricsRequest(t),
		"every kind":        marshal(t, metricsFixture()),
	} {
		if err := d.Metrics(body, sink); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { _ = d.Metrics(body, sink) }); n != 0 {
			t.Errorf("metrics, %s: %v allocations per request", name, n)
		}
	}
	// Not a requirement for traces and logs, but true today.
	traces, logs := marshal(t, tracesFixture()), marshal(t, logsFixture())
	if n := testing.AllocsPerRun(20, func() { _ = d.Traces(traces, sink) }); n != 0 {
		t.Errorf("traces: %v allocations per request", n)
	}
	if n := testing.AllocsPerRun(20, func() { _ = d.Logs(logs, sink) }); n != 0 {
		t.Errorf("logs: %v allocations per request", n)
	}
}

// ---------------------------------------------------------------------------
// OTLP/JSON.

func TestJSONToProto(t *testing.T) {
	traceHex, spanHex := "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	traceID, _ := hex.DecodeString(traceHex)
	spanID, _ := hex.DecodeString(spanHex)

	t.Run("traces", func(t *testing.T) {
		body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
		  "futureField": {"x": 1},
		  "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"` + strings.ToUpper(traceHex) + `","spanId":"` + spanHex + `","parentSpanId":"",
		    "name":"GET /pay","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000500000000,
		    "status":{"code":"STATUS_CODE_ERROR","message":"boom"},
		    "links":[{"traceId":"` + traceHex + `","spanId":"` + spanHex + `"}]}]}]}]}`
		b, err := TracesJSONToProto([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
		if string(sp.TraceId) != string(traceID) || string(sp.SpanId) != string(spanID) || len(sp.ParentSpanId) != 0 {
			t.Errorf("ids: %x %x %x", sp.TraceId, sp.SpanId, sp.ParentSpanId)
		}
		if l := sp.Links[0]; string(l.TraceId) != string(traceID) || string(l.SpanId) != string(spanID) {
			t.Errorf("link ids: %x %x", l.TraceId, l.SpanId)
		}
		var d Decoder
		lines := checkTraces(t, &d, b)
		if want := `span "GET /pay" kind=2 1700000000000000000 1700000000500000000 status=2 "boom" {}`; lines[2] != want {
			t.Errorf("got %s", lines[2])
		}
	})
	t.Run("logs", func(t *testing.T) {
		body := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"5","severityNumber":17,"traceId":"` + traceHex + `","spanId":"` + spanHex + `",
		  "eventName":"k8s.event","body":{"kvlistValue":{"values":[{"key":"reason","value":{"stringValue":"OOMKilling"}}]}}}]}]}]}`
		b, err := LogsJSONToProto([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var req collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		r := req.ResourceLogs[0].ScopeLogs[0].LogRecords[0]
		if string(r.TraceId) != string(traceID) || string(r.SpanId) != string(spanID) {
			t.Errorf("ids: %x %x", r.TraceId, r.SpanId)
		}
		var d Decoder
		checkLogs(t, &d, b)
	})
	t.Run("metrics", func(t *testing.T) {
		body := `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[
		  {"count":"3","sum":1.5,"bucketCounts":["1","2"],"explicitBounds":[1],"exemplars":[{"asDouble":1,"traceId":"` + traceHex + `","spanId":"` + spanHex + `"}]}]}},
		  {"name":"g","gauge":{"dataPoints":[{"asInt":"-4","exemplars":[{"asInt":"1","spanId":"` + spanHex + `"}]}]}}]}]}]}`
		b, err := MetricsJSONToProto([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var req colmetricspb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		ms := req.ResourceMetrics[0].ScopeMetrics[0].Metrics
		if e := ms[0].GetHistogram().DataPoints[0].Exemplars[0]; string(e.TraceId) != string(traceID) || string(e.SpanId) != string(spanID) {
			t.Errorf("exemplar ids: %x %x", e.TraceId, e.SpanId)
		}
		if e := ms[1].GetGauge().DataPoints[0].Exemplars[0]; string(e.SpanId) != string(spanID) {
			t.Errorf("gauge exemplar id: %x", e.SpanId)
		}
		var d Decoder
		checkMetrics(t, &d, b)
	})
	t.Run("errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			fn   func([]byte) ([]byte, error)
			body string
			want string
		}{
			"not json":      {MetricsJSONToProto, `{"resourceMetrics":[`, "decode OTLP/JSON metrics: proto:"},
			"wrong type":    {MetricsJSONToProto, `{"resourceMetrics":{}}`, "decode OTLP/JSON metrics: proto:"},
			"bad hex":       {TracesJSONToProto, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + strings.Repeat("g", 32) + `"}]}]}]}`, `trace_id "gggg`},
			"short id":      {TracesJSONToProto, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"abcd"}]}]}]}`, "span_id is not 16 hex digits"},
			"bad log id":    {LogsJSONToProto, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abc"}]}]}]}`, "decode OTLP/JSON logs"},
			"not base64":    {LogsJSONToProto, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"!!"}]}]}]}`, "decode OTLP/JSON logs: proto:"},
			"too deep":      {LogsJSONToProto, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + strings.Repeat(`{"arrayValue":{"values":[`, 40) + strings.Repeat(`]}}`, 40) + `}]}]}]}`, "nested deeper than 32"},
			"exemplar span": {MetricsJSONToProto, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","sum":{"dataPoints":[{"exemplars":[{"spanId":"abcdefabcdefabcd00"}]}]}}]}]}]}`, "exemplar span_id"},
		} {
			_, err := c.fn([]byte(c.body))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", name, err, c.want)
			}
		}
	})
}
