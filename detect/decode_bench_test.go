package detect

import (
	"fmt"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// benchPoints is the number of data points in benchMetricsRequest.
const benchPoints = 1000

// benchMetricsRequest is a realistic export from a Collector: 50 pods, each
// with the k8s resource attributes the k8sattributes processor adds, and per
// pod 20 points: memory and CPU gauges, a restart counter, a request counter
// and a latency histogram, with 2-3 point attributes.
func benchMetricsRequest(tb testing.TB) []byte {
	const t0, t1 = 1_700_000_000_000_000_000, 1_700_000_030_000_000_000
	var rms []*metricspb.ResourceMetrics
	for pod := 0; pod < 50; pod++ {
		deploy := fmt.Sprintf("svc-%d", pod%10)
		res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			kv("k8s.cluster.name", sv("prod-eu-1")),
			kv("k8s.namespace.name", sv("shop")),
			kv("k8s.deployment.name", sv(deploy)),
			kv("k8s.replicaset.name", sv(deploy+"-7d9f8c6b5")),
			kv("k8s.pod.name", sv(fmt.Sprintf("%s-7d9f8c6b5-%05d", deploy, pod))),
			kv("k8s.pod.uid", sv(fmt.Sprintf("1b7c1b6e-3c8a-4f0e-9d1a-%012d", pod))),
			kv("k8s.node.name", sv(fmt.Sprintf("ip-10-0-%d-17.eu-west-1.compute.internal", pod%4))),
			kv("k8s.container.name", sv("app")),
			kv("service.name", sv(deploy)),
		}}
		var gaugeMem, gaugeCPU, restarts, requests []*metricspb.NumberDataPoint
		var latency []*metricspb.HistogramDataPoint
		for i := 0; i < 4; i++ {
			gaugeMem = append(gaugeMem, &metricspb.NumberDataPoint{
				Attributes:   []*commonpb.KeyValue{kv("container.id", sv(fmt.Sprintf("c%d", i))), kv("state", sv("working_set"))},
				TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(300<<20 + i)},
			})
			gaugeCPU = append(gaugeCPU, &metricspb.NumberDataPoint{
				Attributes:   []*commonpb.KeyValue{kv("container.id", sv(fmt.Sprintf("c%d", i))), kv("cpu", iv(int64(i)))},
				TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 0.25 * float64(i)},
			})
			restarts = append(restarts, &metricspb.NumberDataPoint{
				Attributes:        []*commonpb.KeyValue{kv("container.id", sv(fmt.Sprintf("c%d", i))), kv("reason", sv("OOMKilled"))},
				StartTimeUnixNano: t0, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(i)},
			})
			requests = append(requests, &metricspb.NumberDataPoint{
				Attributes: []*commonpb.KeyValue{kv("http.request.method", sv("GET")), kv("http.route", sv(fmt.Sprintf("/api/v1/items/%d", i))),
					kv("http.response.status_code", iv(200+int64(i%2)*300))},
				StartTimeUnixNano: t0, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(1000 * i)},
			})
			latency = append(latency, &metricspb.HistogramDataPoint{
				Attributes: []*commonpb.KeyValue{kv("http.request.method", sv("GET")), kv("http.route", sv(fmt.Sprintf("/api/v1/items/%d", i))),
					kv("http.response.status_code", iv(200))},
				StartTimeUnixNano: t0, TimeUnixNano: t1, Count: 1000, Sum: ptr(42.5), Min: ptr(0.001), Max: ptr(2.5),
				ExplicitBounds: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10},
				BucketCounts:   []uint64{10, 20, 30, 100, 200, 300, 200, 100, 20, 10, 5, 3, 1, 1, 0},
			})
		}
		cumulative := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
		rms = append(rms, &metricspb.ResourceMetrics{
			Resource: res,
			ScopeMetrics: []*metricspb.ScopeMetrics{{
				Scope: &commonpb.InstrumentationScope{Name: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver", Version: "0.110.0"},
				Metrics: []*metricspb.Metric{
					{Name: "container.memory.working_set", Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: gaugeMem}}},
					{Name: "container.cpu.usage", Unit: "{cpu}", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: gaugeCPU}}},
					{Name: "k8s.container.restarts", Unit: "{restart}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
						AggregationTemporality: cumulative, IsMonotonic: true, DataPoints: restarts}}},
				},
			}, {
				Scope: &commonpb.InstrumentationScope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Version: "0.60.0"},
				Metrics: []*metricspb.Metric{
					{Name: "http.server.request.count", Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
						AggregationTemporality: cumulative, IsMonotonic: true, DataPoints: requests}}},
					{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
						AggregationTemporality: cumulative, DataPoints: latency}}},
				},
			}},
		})
	}
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: rms}
	return marshal(tb, req)
}

func BenchmarkDecodeMetrics(b *testing.B) {
	body := benchMetricsRequest(b)
	var d Decoder
	var sink nopSink
	if err := d.Metrics(body, sink); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := d.Metrics(body, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPoints, "ns/point")
}

// BenchmarkDecodeMetricsValidate measures the schema validator alone on the
// same request: the pass traces and logs go through first, and metrics only
// when the record pass gave up.
func BenchmarkDecodeMetricsValidate(b *testing.B) {
	body := benchMetricsRequest(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v validator
		if e := v.message(body, &metricsRequestDesc, 0); e != nil {
			b.Fatal(e)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPoints, "ns/point")
}
