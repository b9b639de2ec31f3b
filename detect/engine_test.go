package detect_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/selfmetrics"
	"github.com/medic-bot/medic/fixtures/sim"
)

// sink collects anomalies.
type sink struct {
	mu sync.Mutex
	as []detect.Anomaly
}

func (s *sink) ConsumeAnomalies(_ context.Context, as []detect.Anomaly) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.as = append(s.as, as...)
	return nil
}

func (s *sink) all() []detect.Anomaly {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]detect.Anomaly(nil), s.as...)
}

// recorder is a detector that records what the engine hands it.
type recorder struct {
	mu      *sync.Mutex
	points  map[string][]detect.Point // signal name + labels -> points
	events  []detect.Event
	windows []detect.Window
	forgot  int
}

func newRecorder() *recorder {
	return &recorder{mu: &sync.Mutex{}, points: map[string][]detect.Point{}}
}

func (r *recorder) Name() string               { return "recorder" }
func (r *recorder) Wants(*detect.Signal) bool  { return true }
func (r *recorder) Advance(int64, detect.Emit) {}
func (r *recorder) Forget(*detect.Signal)      { r.mu.Lock(); r.forgot++; r.mu.Unlock() }
func (r *recorder) Observe(s *detect.Signal, p detect.Point, _ detect.Emit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := s.Workload.Key() + " " + s.Name + s.Labels.String()
	r.points[k] = append(r.points[k], p)
}
func (r *recorder) ObserveEvent(ev *detect.Event, _ detect.Emit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := *ev
	w := *ev.Workload
	e.Workload = &w
	r.events = append(r.events, e)
}
func (r *recorder) ObserveWindow(w *detect.Window, _ detect.Emit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *w
	c.Latency = nil
	r.windows = append(r.windows, c)
}

func (r *recorder) get(prefix string) []detect.Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []detect.Point
	for k, v := range r.points {
		if strings.HasPrefix(k, prefix) {
			out = append(out, v...)
		}
	}
	return out
}

func newEngine(t testing.TB, cfg detect.EngineConfig) (*detect.Engine, *sink, *recorder, *selfmetrics.Registry) {
	t.Helper()
	s := &sink{}
	reg := selfmetrics.NewRegistry()
	e, err := detect.NewEngine(cfg, s, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	e.AddDetector(func() detect.Detector { return rec })
	return e, s, rec, reg
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intv(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(sec int) uint64 { return uint64(t0.Add(time.Duration(sec) * time.Second).UnixNano()) }

func podResource(pod string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("k8s.namespace.name", "shop"), str("k8s.pod.name", pod), str("k8s.container.name", "app"), str("k8s.deployment.name", "checkout")}}
}

func metricsReq(res *resourcepb.Resource, ms ...*metricspb.Metric) []byte {
	b, err := proto.Marshal(&colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: res, ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: ms}}}}})
	if err != nil {
		panic(err)
	}
	return b
}

func gauge(name string, pts ...*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: pts}}}
}

func counter(name string, pts ...*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true,
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, DataPoints: pts}}}
}

func dp(sec int, v float64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{TimeUnixNano: ts(sec), Attributes: attrs, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
}

func dpStart(start, sec int, v float64) *metricspb.NumberDataPoint {
	p := dp(sec, v)
	p.StartTimeUnixNano = ts(start)
	return p
}

func ingest(t testing.TB, e *detect.Engine, b []byte) detect.IngestResult {
	t.Helper()
	r, err := e.IngestMetrics(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSeriesIdentityIgnoresAttributeOrder(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("g", dp(0, 1, str("a", "1"), str("b", "2")))))
	ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("g", dp(10, 2, str("b", "2"), str("a", "1")))))
	if n := e.ActiveSeries(); n != 1 {
		t.Fatalf("active series = %d, want 1 (attribute order must not matter)", n)
	}
	pts := rec.get("shop/Deployment/checkout g{")
	if len(pts) != 2 || pts[1].V != 2 {
		t.Fatalf("points = %v, want two points on one signal", pts)
	}
	// A different pod is a different series of the same workload.
	ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-q8w4n"), gauge("g", dp(20, 3, str("a", "1"), str("b", "2")))))
	if n := e.ActiveSeries(); n != 2 {
		t.Fatalf("active series = %d, want 2", n)
	}
	if got := rec.get(`shop/Deployment/checkout g{a="1", b="2", k8s.pod.name="checkout-7d9f8b6c5d-q8w4n"}`); len(got) != 1 {
		t.Fatalf("second pod's signal has %d points, want 1 (labels carry the pod)", len(got))
	}
}

func TestCounterRateAndReset(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	ingest(t, e, metricsReq(res, counter("c", dpStart(0, 10, 100))))
	ingest(t, e, metricsReq(res, counter("c", dpStart(0, 20, 150)))) // +50 in 10s
	ingest(t, e, metricsReq(res, counter("c", dpStart(0, 30, 250)))) // +100 in 10s
	ingest(t, e, metricsReq(res, counter("c", dpStart(35, 40, 20)))) // restart at 35: 20 in 5s
	ingest(t, e, metricsReq(res, counter("c", dpStart(35, 50, 70)))) // +50 in 10s
	got := rec.get("shop/Deployment/checkout c:rate")
	want := []float64{5, 10, 4, 5}
	if len(got) != len(want) {
		t.Fatalf("rates = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i].V-want[i]) > 1e-9 {
			t.Fatalf("rate[%d] = %v, want %v (all: %v)", i, got[i].V, want[i], got)
		}
	}
	// A drop without a new start time is a reset too, never a negative rate.
	ingest(t, e, metricsReq(res, counter("c", dpStart(35, 60, 10))))
	for _, p := range rec.get("shop/Deployment/checkout c:rate") {
		if p.V < 0 {
			t.Fatalf("negative rate %v after a counter reset", p.V)
		}
	}
}

func TestBadPointsAreCountedNotUsed(t *testing.T) {
	e, _, rec, reg := newEngine(t, detect.DefaultEngineConfig())
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	r := ingest(t, e, metricsReq(res, gauge("g", dp(10, 1), dp(20, math.NaN()), dp(30, math.Inf(1)), dp(40, 4))))
	if r.Accepted != 2 || r.Rejected != 2 || !strings.Contains(r.Message, "NaN or Inf") {
		t.Fatalf("result = %+v, want 2 accepted, 2 rejected naming NaN/Inf", r)
	}
	// Out of order and duplicate timestamps are dropped and counted.
	ingest(t, e, metricsReq(res, gauge("g", dp(40, 5), dp(35, 6), dp(50, 7))))
	pts := rec.get("shop/Deployment/checkout g")
	var vs []float64
	for _, p := range pts {
		vs = append(vs, p.V)
	}
	if len(vs) != 3 || vs[0] != 1 || vs[1] != 4 || vs[2] != 7 {
		t.Fatalf("values seen by detectors = %v, want [1 4 7]", vs)
	}
	text := scrape(t, reg)
	for _, want := range []string{`medic_points_dropped_total{reason="out_of_order"} 2`, `medic_points_dropped_total{reason="non_finite"} 2`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	// A point without a timestamp is rejected with a reason.
	r = ingest(t, e, metricsReq(res, gauge("g", &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 3}})))
	if r.Rejected != 1 || !strings.Contains(r.Message, "time_unix_nano") {
		t.Fatalf("result = %+v, want a rejection naming time_unix_nano", r)
	}
}

func scrape(t testing.TB, reg *selfmetrics.Registry) string {
	t.Helper()
	var sb strings.Builder
	if err := reg.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestSeriesLimitDropsOnlyNewSeries(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	cfg.MaxSeries = 3
	e, _, rec, reg := newEngine(t, cfg)
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	var pts []*metricspb.NumberDataPoint
	for i := 0; i < 10; i++ {
		pts = append(pts, dp(10, float64(i), intv("i", int64(i))))
	}
	r := ingest(t, e, metricsReq(res, gauge("g", pts...)))
	if e.ActiveSeries() != 3 || r.Accepted != 3 || r.Rejected != 7 || !strings.Contains(r.Message, "series limit") {
		t.Fatalf("active %d, result %+v: want 3 series, 7 rejected naming the series limit", e.ActiveSeries(), r)
	}
	// Existing series keep working past the limit.
	r = ingest(t, e, metricsReq(res, gauge("g", dp(20, 42, intv("i", 0)))))
	if r.Accepted != 1 || r.Rejected != 0 {
		t.Fatalf("existing series rejected at the limit: %+v", r)
	}
	if got := rec.get(`shop/Deployment/checkout g{i="0"`); len(got) != 2 || got[1].V != 42 {
		t.Fatalf("existing series points = %v", got)
	}
	if !strings.Contains(scrape(t, reg), `medic_series_dropped_total{reason="limit"} 7`) {
		t.Fatalf("dropped series not counted:\n%s", scrape(t, reg))
	}
}

func TestStaleSeriesAreEvicted(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	cfg.StaleAfter = time.Minute
	e, _, rec, _ := newEngine(t, cfg)
	ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("old", dp(0, 1))))
	for s := 10; s <= 400; s += 10 {
		ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("live", dp(s, 1))))
	}
	if n := e.ActiveSeries(); n != 1 {
		t.Fatalf("active series = %d, want 1 after the stale one was evicted", n)
	}
	if rec.forgot == 0 {
		t.Fatal("detectors were not told to forget the evicted signal")
	}
}

func histogram(name, unit string, pts ...*metricspb.HistogramDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, DataPoints: pts}}}
}

func TestHistogramQuantilesRatesAndErrorRatio(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	e, _, rec, _ := newEngine(t, cfg)
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "cart"), str("k8s.namespace.name", "shop"), str("k8s.deployment.name", "cart")}}
	bounds := []float64{0.1, 0.2, 0.5, 1}
	hp := func(sec int, status int64, counts ...uint64) *metricspb.HistogramDataPoint {
		var n uint64
		for _, c := range counts {
			n += c
		}
		return &metricspb.HistogramDataPoint{StartTimeUnixNano: ts(0), TimeUnixNano: ts(sec), Count: n, BucketCounts: counts, ExplicitBounds: bounds,
			Attributes: []*commonpb.KeyValue{str("http.route", "/cart"), intv("http.response.status_code", status)}}
	}
	// A histogram that is not about requests gives quantile and rate signals
	// per series: baseline at 60s, then +100 observations in (0.1, 0.2].
	plain := func(sec int, counts ...uint64) *metricspb.HistogramDataPoint {
		p := hp(sec, 0, counts...)
		p.Attributes = []*commonpb.KeyValue{str("queue", "orders")}
		return p
	}
	ingest(t, e, metricsReq(res, histogram("queue.wait", "s", plain(60, 10, 0, 0, 0, 0))))
	ingest(t, e, metricsReq(res, histogram("queue.wait", "s", plain(120, 10, 100, 0, 0, 0))))
	p50 := rec.get(`shop/Deployment/cart queue.wait:p50{queue="orders"}`)
	if len(p50) != 1 || math.Abs(p50[0].V-0.15) > 1e-9 {
		t.Fatalf("queue.wait:p50 = %v, want [0.15] (middle of the (0.1,0.2] bucket)", p50)
	}
	rate := rec.get(`shop/Deployment/cart queue.wait:rate{queue="orders"}`)
	if len(rate) != 1 || math.Abs(rate[0].V-100.0/60) > 1e-9 {
		t.Fatalf("queue.wait:rate = %v, want [100/60]", rate)
	}
	// A request histogram feeds the request windows instead: +100 requests
	// with status 200 in (0.1, 0.2], +100 with status 500 in (0.5, 1].
	ingest(t, e, metricsReq(res, histogram("http.server.request.duration", "s", hp(60, 200, 10, 0, 0, 0, 0), hp(60, 500, 0, 0, 0, 0, 0))))
	ingest(t, e, metricsReq(res, histogram("http.server.request.duration", "s", hp(120, 200, 10, 100, 0, 0, 0), hp(120, 500, 0, 0, 0, 100, 0))))
	if got := rec.get(`shop/Deployment/cart http.server.request.duration:p50`); len(got) != 0 {
		t.Fatalf("per-series quantiles of a request histogram reached detectors: %v", got)
	}
	// Request windows close when event time passes them.
	e.Flush(t0.Add(10 * time.Minute))
	var total *detect.Window
	for i, w := range rec.windows {
		if w.Route == "" && w.Requests > 0 {
			total = &rec.windows[i]
		}
	}
	if total == nil || total.Requests != 200 || total.Errors != 100 || total.Source != "http.server.request.duration" {
		t.Fatalf("workload window = %+v, want 200 requests, 100 errors from the histogram", total)
	}
	ratio := rec.get(`shop/Deployment/cart requests:error_ratio{source="http.server.request.duration"}`)
	if len(ratio) == 0 || ratio[0].V != 0.5 {
		t.Fatalf("requests:error_ratio = %v, want 0.5 first", ratio)
	}
}

func TestSpansBecomeRequestWindows(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "cart"), str("k8s.namespace.name", "shop"), str("k8s.deployment.name", "cart")}}
	var spans []*tracepb.Span
	for i := 0; i < 120; i++ {
		end := t0.Add(time.Duration(i) * time.Second / 2)
		sp := &tracepb.Span{Name: "GET /cart", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(end.Add(-100 * time.Millisecond).UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
			Attributes: []*commonpb.KeyValue{str("http.route", "/cart")}}
		if i%4 == 0 {
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		}
		spans = append(spans, sp)
	}
	// A client span is not a request to this service.
	spans = append(spans, &tracepb.Span{Name: "redis GET", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: ts(1), EndTimeUnixNano: ts(2)})
	b, _ := proto.Marshal(&coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}})
	r, err := e.IngestTraces(context.Background(), b)
	if err != nil || r.Accepted != 121 {
		t.Fatalf("ingest traces: %+v, %v", r, err)
	}
	e.Flush(t0.Add(5 * time.Minute))
	var got *detect.Window
	for i, w := range rec.windows {
		if w.Route == "/cart" && w.Requests > 0 {
			got = &rec.windows[i]
		}
	}
	if got == nil || got.Requests != 120 || got.Errors != 30 || got.Source != "spans" {
		t.Fatalf("route window = %+v, want 120 requests, 30 errors from spans", got)
	}
	p99 := rec.get(`shop/Deployment/cart requests:p99{route="/cart"`)
	if len(p99) == 0 || p99[0].V < 0.095 || p99[0].V > 0.11 {
		t.Fatalf("requests:p99 = %v, want ~0.1s", p99)
	}
}

func logsReq(res *resourcepb.Resource, recs ...*logspb.LogRecord) []byte {
	b, err := proto.Marshal(&collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{Resource: res, ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}})
	if err != nil {
		panic(err)
	}
	return b
}

func TestKubernetesEventsFromBothReceivers(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	// k8s_events receiver: the involved object is the resource, the reason an attribute.
	evRes := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.object.kind", "Pod"), str("k8s.object.name", "checkout-7d9f8b6c5d-x2x9p"), str("k8s.namespace.name", "shop")}}
	b := logsReq(evRes, &logspb.LogRecord{TimeUnixNano: ts(10), SeverityText: "Warning",
		Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "Back-off restarting failed container app"}},
		Attributes: []*commonpb.KeyValue{str("k8s.event.reason", "BackOff"), intv("k8s.event.count", 3)}})
	if _, err := e.IngestLogs(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	// k8sobjects receiver: Event and Pod objects in the body (the simulator's form).
	sc, _ := sim.Lookup("memory-leak")
	sawLogs := false
	_ = sc.Run(1, 30*time.Second, func(b sim.Batch) error {
		if b.Logs != nil && !sawLogs {
			sawLogs = true
			raw, _ := proto.Marshal(b.Logs)
			if _, err := e.IngestLogs(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if !sawLogs {
		t.Fatal("the memory-leak scenario produced no logs")
	}
	reasons := map[string]string{}
	for _, ev := range rec.events {
		reasons[ev.Reason] = ev.Workload.Key()
	}
	for _, want := range []string{"BackOff", "OOMKilled"} {
		if reasons[want] != "shop/Deployment/checkout" {
			t.Errorf("event %s: workload %q, want shop/Deployment/checkout (events: %+v)", want, reasons[want], rec.events)
		}
	}
	if rec.events[0].Count != 3 || !strings.Contains(rec.events[0].Message, "Back-off") {
		t.Errorf("first event = %+v, want count 3 and the message", rec.events[0])
	}
}

func TestErrorLogsBecomeARate(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "cart"), str("k8s.namespace.name", "shop"), str("k8s.deployment.name", "cart")}}
	var recs []*logspb.LogRecord
	for i := 0; i < 30; i++ {
		sev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
		if i%3 == 0 {
			sev = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
		}
		recs = append(recs, &logspb.LogRecord{TimeUnixNano: ts(i), SeverityNumber: sev})
	}
	recs = append(recs, &logspb.LogRecord{TimeUnixNano: ts(31), SeverityText: "FATAL"})
	if _, err := e.IngestLogs(context.Background(), logsReq(res, recs...)); err != nil {
		t.Fatal(err)
	}
	e.Flush(t0.Add(3 * time.Minute))
	got := rec.get("shop/Deployment/cart logs.error:rate")
	if len(got) == 0 || math.Abs(got[0].V-11.0/60) > 1e-9 {
		t.Fatalf("logs.error:rate = %v, want 11 errors per minute first", got)
	}
}

func TestMalformedBodyAppliesNothing(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	good := metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("g", dp(10, 1)))
	bad := append(append([]byte{}, good...), good[:len(good)-3]...) // a valid request followed by a truncated one
	_, err := e.IngestMetrics(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("err = %v, want a malformed-protobuf error", err)
	}
	if n := e.ActiveSeries(); n != 0 || len(rec.get("")) != 0 {
		t.Fatalf("a body that did not decode created %d series", n)
	}
}

// TestScenarios plays the simulator's scenarios through the engine with its
// default detectors: the sick workload must be found, nothing else raised.
func TestScenarios(t *testing.T) {
	for _, sc := range sim.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			s := &sink{}
			e, err := detect.NewEngine(detect.DefaultEngineConfig(), s, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = sc.Run(7, 30*time.Second, func(b sim.Batch) error {
				if b.Metrics != nil {
					raw, _ := proto.Marshal(b.Metrics)
					if _, err := e.IngestMetrics(context.Background(), raw); err != nil {
						return err
					}
				}
				if b.Traces != nil {
					raw, _ := proto.Marshal(b.Traces)
					if _, err := e.IngestTraces(context.Background(), raw); err != nil {
						return err
					}
				}
				if b.Logs != nil {
					raw, _ := proto.Marshal(b.Logs)
					if _, err := e.IngestLogs(context.Background(), raw); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.Flush(sim.Start.Add(sc.Duration + time.Hour))
			as := s.all()
			fault := sim.Start.Add(sc.FaultAt)
			for _, want := range sc.Expect {
				found := false
				for _, a := range as {
					if a.Workload.Key() == sc.Workload && string(a.Kind) == want.Kind && strings.HasPrefix(a.Signal, want.Signal) && !a.At.Before(fault) {
						found = true
						if len(a.Evidence) == 0 && a.Kind != detect.KindEvent {
							t.Errorf("%s anomaly on %s has no evidence points", a.Kind, a.Signal)
						}
					}
				}
				if !found {
					t.Errorf("no %s anomaly on %s* for %s after the fault", want.Kind, want.Signal, sc.Workload)
				}
			}
			for _, a := range as {
				if sc.Workload == "" || a.Workload.Key() != sc.Workload || a.At.Before(fault) {
					t.Errorf("false alarm: %s %s %s at +%s: %s", a.Workload, a.Kind, a.Signal, a.At.Sub(sim.Start), a.Summary)
				}
			}
			t.Logf("%d anomalies", len(as))
			for _, a := range as {
				t.Logf("  +%s %s %s %s: %s", a.At.Sub(sim.Start), a.Workload, a.Kind, a.Signal, a.Summary)
			}
		})
	}
}

func TestHugeAndEmptyInputsStayBounded(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	big := strings.Repeat("x", 64<<10)
	// A 64 kB attribute value: accepted, kept cut.
	r := ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge("g", dp(10, 1, str("blob", big)))))
	if r.Accepted != 1 || r.Rejected != 0 {
		t.Fatalf("64 kB attribute: %+v", r)
	}
	var labelBytes int
	for k := range rec.points {
		if strings.Contains(k, " g{") {
			labelBytes = len(k)
		}
	}
	if labelBytes == 0 || labelBytes > 2048 {
		t.Fatalf("a series with a 64 kB attribute keeps %d bytes of labels, want it cut to ~1 kB", labelBytes)
	}
	// A 64 kB metric name is refused with a reason.
	r = ingest(t, e, metricsReq(podResource("checkout-7d9f8b6c5d-x2x9p"), gauge(big, dp(10, 1))))
	if r.Rejected != 1 || !strings.Contains(r.Message, "metric name longer") {
		t.Fatalf("64 kB metric name: %+v", r)
	}
	// 64 kB resource strings are cut before they name a workload.
	huge := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.namespace.name", big), str("k8s.deployment.name", big)}}
	if r := ingest(t, e, metricsReq(huge, gauge("g", dp(10, 1)))); r.Accepted != 1 {
		t.Fatalf("huge resource: %+v", r)
	}
	for k := range rec.points {
		if strings.HasPrefix(k, "xxx") && len(k) > 4096 {
			t.Fatalf("workload key of %d bytes kept", len(k))
		}
	}
	// An empty resource, and no resource at all, still make series.
	before := e.ActiveSeries()
	ingest(t, e, metricsReq(&resourcepb.Resource{}, gauge("g", dp(10, 1))))
	ingest(t, e, metricsReq(nil, gauge("h", dp(10, 1))))
	if e.ActiveSeries() != before+2 {
		t.Fatalf("empty resources: %d series, want %d", e.ActiveSeries(), before+2)
	}
}

func TestExponentialHistogramAndSummary(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	// Scale 0: bucket i of the positive range holds (2^i, 2^(i+1)]. Delta
	// temporality: 100 observations in (2,4] and 100 in (8,16].
	exp := &metricspb.Metric{Name: "job.duration", Unit: "s", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
		DataPoints: []*metricspb.ExponentialHistogramDataPoint{{StartTimeUnixNano: ts(0), TimeUnixNano: ts(50), Count: 200, Scale: 0,
			Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{100, 0, 100}}}},
	}}}
	ingest(t, e, metricsReq(res, exp))
	p50 := rec.get("shop/Deployment/checkout job.duration:p50")
	p99 := rec.get("shop/Deployment/checkout job.duration:p99")
	rate := rec.get("shop/Deployment/checkout job.duration:rate")
	if len(p50) != 1 || p50[0].V < 2 || p50[0].V > 4 || len(p99) != 1 || p99[0].V < 8 || p99[0].V > 16 || len(rate) != 1 || rate[0].V != 4 {
		t.Fatalf("exponential histogram: p50 %v (want in (2,4]), p99 %v (want in (8,16]), rate %v (want 4/s)", p50, p99, rate)
	}
	// A summary gives its rate and one signal per quantile.
	sum := func(sec int, count uint64, q50, q99 float64) *metricspb.Metric {
		return &metricspb.Metric{Name: "rpc.latency", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
			StartTimeUnixNano: ts(0), TimeUnixNano: ts(sec), Count: count,
			QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: q50}, {Quantile: 0.99, Value: q99}}}}}}}
	}
	ingest(t, e, metricsReq(res, sum(10, 100, 0.1, 0.9)))
	ingest(t, e, metricsReq(res, sum(20, 300, 0.2, 1.5)))
	if got := rec.get("shop/Deployment/checkout rpc.latency:p99{"); len(got) != 2 || got[1].V != 1.5 {
		t.Fatalf("summary p99 = %v", got)
	}
	if got := rec.get("shop/Deployment/checkout rpc.latency:rate{"); len(got) != 1 || got[0].V != 20 {
		t.Fatalf("summary rate = %v, want [20]", got)
	}
}

// raiser raises an anomaly on every point of one signal.
type raiser struct{ name string }

func (r raiser) Name() string                { return "raiser" }
func (r raiser) Wants(s *detect.Signal) bool { return s.Name == r.name }
func (r raiser) Forget(*detect.Signal)       {}
func (r raiser) Advance(int64, detect.Emit)  {}
func (r raiser) Observe(s *detect.Signal, p detect.Point, emit detect.Emit) {
	emit(s, detect.Anomaly{Kind: detect.KindScore, Detector: "raiser", At: time.Unix(0, p.T), Observed: p.V})
}

func TestRepeatsAreSuppressedUntilQuiet(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	cfg.Cooldown = 5 * time.Minute
	s := &sink{}
	e, err := detect.NewEngine(cfg, s, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.AddDetector(func() detect.Detector { return raiser{"boom"} })
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	// A point every minute for 10 minutes: one problem, one anomaly.
	for m := 0; m < 10; m++ {
		ingest(t, e, metricsReq(res, gauge("boom", dp(60*m, float64(m)))))
	}
	if got := len(s.all()); got != 1 {
		t.Fatalf("%d anomalies for one continuing problem, want 1", got)
	}
	a := s.all()[0]
	if a.Workload.Key() != "shop/Deployment/checkout" || a.Signal != "boom" || len(a.Evidence) == 0 || a.Labels["k8s.pod.name"] == "" {
		t.Fatalf("anomaly not completed from its signal: %+v", a)
	}
	// Quiet for longer than the cooldown: the next one is news.
	ingest(t, e, metricsReq(res, gauge("boom", dp(60*9+6*60+1, 1))))
	if got := len(s.all()); got != 2 {
		t.Fatalf("%d anomalies after a quiet cooldown, want 2", got)
	}
}

// TestClusterRestartWithLastTerminatedReason plays what the k8s_cluster
// receiver sends around an OOM kill: the restart count goes up and the
// resource gains k8s.container.status.last_terminated_reason. The series
// must go on (not restart as a new one) and the OOM kill must be raised.
func TestClusterRestartWithLastTerminatedReason(t *testing.T) {
	s := &sink{}
	e, err := detect.NewEngine(detect.DefaultEngineConfig(), s, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := func(reason string) *resourcepb.Resource {
		r := podResource("checkout-7d9f8b6c5d-x2x9p")
		if reason != "" {
			r.Attributes = append(r.Attributes, str("k8s.container.status.last_terminated_reason", reason))
		}
		return r
	}
	restarts := func(sec int, n int64) *metricspb.Metric {
		return gauge("k8s.container.restarts", &metricspb.NumberDataPoint{TimeUnixNano: ts(sec), Value: &metricspb.NumberDataPoint_AsInt{AsInt: n}})
	}
	ingest(t, e, metricsReq(res(""), restarts(0, 0)))
	ingest(t, e, metricsReq(res(""), restarts(30, 0)))
	ingest(t, e, metricsReq(res("OOMKilled"), restarts(60, 1)))
	ingest(t, e, metricsReq(res("OOMKilled"), restarts(90, 1)))
	if n := e.ActiveSeries(); n != 1 {
		t.Fatalf("%d series: the volatile attribute split the restart series", n)
	}
	var signals []string
	for _, a := range s.all() {
		signals = append(signals, a.Signal)
	}
	joined := strings.Join(signals, ",")
	if !strings.Contains(joined, "k8s.event:oom_killed") || !strings.Contains(joined, "k8s.container.restarts") {
		t.Fatalf("anomalies %v, want the OOM kill and the restart", signals)
	}
}

func TestDeletedObjectsAreNotEvents(t *testing.T) {
	e, _, rec, _ := newEngine(t, detect.DefaultEngineConfig())
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	sv := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	m := func(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
	}
	obj := m(kv("kind", sv("Event")), kv("reason", sv("BackOff")), kv("message", sv("Back-off restarting failed container")),
		kv("involvedObject", m(kv("kind", sv("Pod")), kv("name", sv("checkout-7d9f8b6c5d-x2x9p")), kv("namespace", sv("shop")))))
	for _, typ := range []string{"DELETED", "ADDED"} {
		b := logsReq(&resourcepb.Resource{}, &logspb.LogRecord{TimeUnixNano: ts(10), Body: m(kv("type", sv(typ)), kv("object", obj))})
		if _, err := e.IngestLogs(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.events) != 1 {
		t.Fatalf("%d events from one DELETED and one ADDED watch record, want 1", len(rec.events))
	}
}
