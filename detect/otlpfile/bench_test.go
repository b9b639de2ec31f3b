package otlpfile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// smallCluster is the recording the replay figure is about: 4 workloads of
// 3 pods for 2 hours, scraped every 15 s (kubeletstats-like container
// metrics and a request-duration histogram per route and status), with 20
// server spans per workload and interval and a Kubernetes event per
// workload every minute. Each interval is one metrics, one traces and one
// logs request, as a Collector with a shared file exporter writes them.
const (
	clusterDuration = 2 * time.Hour
	clusterInterval = 15 * time.Second
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func gauge(name, unit string, t uint64, v float64) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
		{TimeUnixNano: t, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}}}}}
}

func counter(name, unit string, start, t uint64, v float64) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true,
		DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: start, TimeUnixNano: t, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}}}}}
}

// clusterRecording returns the first d of the recording's requests, in
// file order.
func clusterRecording(d time.Duration) []proto.Message {
	r := rand.New(rand.NewPCG(12, 34))
	workloads := []string{"checkout", "cart", "catalog", "payments"}
	start := sampleStart
	var out []proto.Message
	cpu := map[string]float64{}
	for step := time.Duration(0); step < d; step += clusterInterval {
		now := start.Add(step)
		t := uint64(now.UnixNano())
		var rms []*metricspb.ResourceMetrics
		var rss []*tracepb.ResourceSpans
		var rls []*logspb.ResourceLogs
		for _, w := range workloads {
			var hist []*metricspb.HistogramDataPoint
			for p := range 3 {
				pod := fmt.Sprintf("%s-6d8f7c9b5-%c%c%c%c%c", w, 'a'+p, 'x', 'k', '2', 'q')
				cpu[pod] += 0.2 + r.Float64()*0.1
				rms = append(rms, &metricspb.ResourceMetrics{
					Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
						str("k8s.namespace.name", "shop"), str("k8s.deployment.name", w), str("k8s.pod.name", pod),
						str("k8s.container.name", "app"), str("k8s.node.name", "node-1")}},
					ScopeMetrics: []*metricspb.ScopeMetrics{{
						Scope: &commonpb.InstrumentationScope{Name: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver", Version: "0.161.0"},
						Metrics: []*metricspb.Metric{
							counter("container.cpu.time", "s", uint64(start.UnixNano()), t, cpu[pod]),
							gauge("container.cpu.usage", "{cpu}", t, 0.2+r.Float64()*0.1),
							gauge("container.memory.working_set", "By", t, 300e6+r.Float64()*10e6),
							gauge("container.memory.usage", "By", t, 320e6+r.Float64()*10e6),
							gauge("k8s.container.memory_limit", "By", t, 512e6),
							gauge("k8s.container.cpu_limit", "{cpu}", t, 1),
							gauge("k8s.container.memory_limit_utilization", "1", t, 0.6+r.Float64()*0.02),
							counter("k8s.container.restarts", "{restart}", uint64(start.UnixNano()), t, 0),
						},
					}},
				})
			}
			for _, route := range []string{"GET /" + w, "POST /" + w} {
				for _, code := range []int64{200, 500} {
					n := uint64(900 + r.IntN(200))
					if code == 500 {
						n /= 100
					}
					hist = append(hist, &metricspb.HistogramDataPoint{
						Attributes:        []*commonpb.KeyValue{str("http.route", route), intAttr("http.response.status_code", code)},
						StartTimeUnixNano: t - uint64(clusterInterval), TimeUnixNano: t, Count: n, Sum: proto.Float64(float64(n) * 0.05),
						ExplicitBounds: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10},
						BucketCounts:   []uint64{n / 20, n / 10, n / 5, n / 4, n / 10, n / 20, n / 20, n / 40, n / 40, 0, 0, 0, 0, 0, 0},
					})
				}
			}
			rms = append(rms, &metricspb.ResourceMetrics{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.namespace.name", "shop"), str("k8s.deployment.name", w), str("service.name", w)}},
				ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "http.server.request.duration", Unit: "s",
					Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, DataPoints: hist}}}}}},
			})
			var spans []*tracepb.Span
			for i := range 20 {
				st := now.Add(-time.Duration(r.IntN(15000)) * time.Millisecond)
				tid, sid := make([]byte, 16), make([]byte, 8)
				for j := range tid {
					tid[j] = byte(r.Uint32())
				}
				for j := range sid {
					sid[j] = byte(r.Uint32())
				}
				code := int64(200)
				if i == 0 {
					code = 500
				}
				spans = append(spans, &tracepb.Span{TraceId: tid, SpanId: sid, Name: "GET /" + w, Kind: tracepb.Span_SPAN_KIND_SERVER,
					StartTimeUnixNano: uint64(st.UnixNano()), EndTimeUnixNano: uint64(st.Add(time.Duration(20+r.IntN(80)) * time.Millisecond).UnixNano()),
					Attributes: []*commonpb.KeyValue{str("http.route", "GET /"+w), intAttr("http.response.status_code", code)}})
			}
			rss = append(rss, &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.namespace.name", "shop"), str("k8s.deployment.name", w), str("service.name", w)}},
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
			})
			if step%time.Minute == 0 {
				rls = append(rls, &logspb.ResourceLogs{
					Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.namespace.name", "shop")}},
					ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
						ObservedTimeUnixNano: t, SeverityText: "Normal",
						Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
							str("reason", "Pulled"), str("message", "Container image already present on machine"),
							str("involvedObject.name", w+"-6d8f7c9b5-axk2q")}}}},
					}}}},
				})
			}
		}
		out = append(out, &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: rms},
			&coltracepb.ExportTraceServiceRequest{ResourceSpans: rss})
		if len(rls) > 0 {
			out = append(out, &collogspb.ExportLogsServiceRequest{ResourceLogs: rls})
		}
	}
	return out
}

// encodeCluster writes the first d of the recording in both forms.
func encodeCluster(tb testing.TB, d time.Duration) (jsonl, pb []byte) {
	var js, bin bytes.Buffer
	w := NewWriter(&js)
	for _, m := range clusterRecording(d) {
		if err := w.Request(m); err != nil {
			tb.Fatal(err)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		bin.Write(frame(b))
	}
	return js.Bytes(), bin.Bytes()
}

// The benchmark's recording (its first 2 minutes: tests stay quick) reads
// as what it was made of, in both forms.
func TestClusterRecording(t *testing.T) {
	const d = 2 * time.Minute
	js, pb := encodeCluster(t, d)
	for name, b := range map[string][]byte{"json": js, "proto": pb} {
		r, _ := NewReader(bytes.NewReader(b), DefaultConfig())
		s, err := Summarize(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		intervals := int(d / clusterInterval)
		if s.Stats.Metrics != intervals || s.Stats.Traces != intervals || s.Stats.Logs != int(d/time.Minute) {
			t.Errorf("%s: %+v", name, s.Stats)
		}
		// From a span that started up to 15 s before the first scrape to one
		// that ended up to 100 ms after the last.
		first, last := sampleStart, sampleStart.Add(d-clusterInterval)
		if s.Range.Start.Before(first.Add(-clusterInterval)) || s.Range.Start.After(first) ||
			s.Range.End.Before(last) || s.Range.End.After(last.Add(100*time.Millisecond)) {
			t.Errorf("%s: range %s", name, s.Range)
		}
	}
}

// BenchmarkReadRecording reads the 2 h, 4-workload recording: every record
// converted (JSON), validated and ranged. x-realtime is how many times
// faster than real time the reading alone goes: the replay budget is 500x.
func BenchmarkReadRecording(b *testing.B) {
	js, pb := encodeCluster(b, clusterDuration)
	for _, c := range []struct {
		name string
		data []byte
	}{{"json", js}, {"proto", pb}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var records int
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(c.data), DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				records = 0
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					records++
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(records), "records/op")
			b.ReportMetric(float64(clusterDuration)/float64(perOp), "x-realtime")
		})
	}
}
