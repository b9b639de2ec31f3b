package detect

import (
	"context"
	"strconv"
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
	testChurn(t, cfg, 20)
}

// TestRefusedSeriesLeaveNothing: points refused at the series limit
// leave no resource table or interned workload behind, so a flood of new
// resources past max_series does not grow memory either.
func TestRefusedSeriesLeaveNothing(t *testing.T) {
	cfg := DefaultEngineConfig()
	cfg.StaleAfter = time.Minute
	cfg.MaxSeries = 1
	testChurn(t, cfg, 200)
}

// testChurn sends a point of the workload "live" and one of each of n
// other workloads at t0, then "live" every 10 s for 10 min, and checks that
// only live's series, signal, workload and resource table remain.
func testChurn(t *testing.T, cfg EngineConfig, n int) {
	t.Helper()
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
	send("live", 0)
	for i := 0; i < n; i++ {
		send("gone-"+strconv.Itoa(i), 0)
	}
	for sec := 10; sec <= 600; sec += 10 {
		send("live", sec)
	}
	e.Flush(t0.Add(601 * time.Second))
	workloads, signals, tables := 0, 0, 0
	for _, s := range e.shards {
		s.mu.Lock()
		workloads += len(s.workloads)
		signals += s.sigs.live
		tables += len(s.res)
		s.mu.Unlock()
	}
	if e.ActiveSeries() != 1 || signals != 1 || workloads != 1 || tables != 1 {
		t.Fatalf("after churn: %d series, %d signals, %d workloads, %d resource tables; want 1 each", e.ActiveSeries(), signals, workloads, tables)
	}
}
