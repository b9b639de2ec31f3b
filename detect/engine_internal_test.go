package detect

import (
	"context"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// TestStaleWorkloadsAreForgotten checks that interned workloads, names and
// signal slots do not outlive their series: pod churn must not grow memory.
func TestStaleWorkloadsAreForgotten(t *testing.T) {
	cfg := DefaultEngineConfig()
	cfg.StaleAfter = time.Minute
	e, err := NewEngine(cfg, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	send := func(deploy string, sec int) {
		req := &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
				{Key: AttrNamespace, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "shop"}}},
				{Key: AttrDeployment, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: deploy}}},
			}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
				DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: uint64(t0.Add(time.Duration(sec) * time.Second).UnixNano()), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1}}},
			}}}}}},
		}}}
		b, _ := proto.Marshal(req)
		if _, err := e.IngestMetrics(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		send("gone-"+string(rune('a'+i)), 0)
	}
	for sec := 10; sec <= 600; sec += 10 {
		send("live", sec)
	}
	e.Flush(t0.Add(601 * time.Second))
	workloads, signals := 0, 0
	for _, s := range e.shards {
		s.mu.Lock()
		workloads += len(s.workloads)
		signals += s.sigs.live
		s.mu.Unlock()
	}
	if e.ActiveSeries() != 1 || signals != 1 || workloads != 1 {
		t.Fatalf("after churn: %d series, %d signals, %d workloads interned; want 1 each", e.ActiveSeries(), signals, workloads)
	}
}
