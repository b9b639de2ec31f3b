// Command sender sends a fixed, deterministic set of OTLP export requests over
// OTLP/gRPC to a Collector on 127.0.0.1, to record samples with the
// Collector's file exporter (detect/otlpfile/testdata). Usage:
//
//	sender 127.0.0.1:PORT
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func ns(t time.Time) uint64 { return uint64(t.UnixNano()) }

func resource(pod string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("k8s.namespace.name", "shop"), str("k8s.deployment.name", "checkout"),
		str("k8s.pod.name", pod), str("k8s.container.name", "app"),
	}}
}

func id(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*17
	}
	return b
}

func metrics(i int) *colmetrics.ExportMetricsServiceRequest {
	t := start.Add(time.Duration(i) * 30 * time.Second)
	dp := func(v float64) *metricspb.NumberDataPoint {
		return &metricspb.NumberDataPoint{TimeUnixNano: ns(t), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
	}
	return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: resource("checkout-7d9f8b6c5d-x2x9p"),
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope: &commonpb.InstrumentationScope{Name: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver", Version: "0.161.0"},
			Metrics: []*metricspb.Metric{
				{Name: "container.memory.working_set", Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
					{TimeUnixNano: ns(t), Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(300<<20 + i*1<<20)}}}}}},
				{Name: "container.cpu.time", Unit: "s", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true,
					DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: ns(start.Add(-time.Hour)), TimeUnixNano: ns(t), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 12.5 + float64(i)*0.25}}}}}},
				{Name: "k8s.container.memory_limit_utilization", Unit: "1", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{dp(0.58 + float64(i)*0.01)}}}},
				{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					DataPoints: []*metricspb.HistogramDataPoint{{
						Attributes:        []*commonpb.KeyValue{str("http.route", "POST /checkout"), {Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}},
						StartTimeUnixNano: ns(start.Add(-time.Hour)), TimeUnixNano: ns(t),
						Count: uint64(100 + i*10), Sum: ptr(4.5 + float64(i)), Min: ptr(0.004), Max: ptr(0.9),
						ExplicitBounds: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
						BucketCounts:   []uint64{1, 4, 20, 40, 20, 10, uint64(4 + i*10), 1, 0},
						Exemplars: []*metricspb.Exemplar{{TimeUnixNano: ns(t), Value: &metricspb.Exemplar_AsDouble{AsDouble: 0.42},
							TraceId: id(16, byte(i)), SpanId: id(8, byte(i+100))}},
					}}}}},
				{Name: "rpc.latency", Unit: "s", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints: []*metricspb.ExponentialHistogramDataPoint{{StartTimeUnixNano: ns(t.Add(-30 * time.Second)), TimeUnixNano: ns(t),
						Count: 7, Sum: ptr(1.25), Scale: 3, ZeroCount: 1,
						Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: -2, BucketCounts: []uint64{1, 2, 3}}}}}}},
				{Name: "legacy.summary", Unit: "ms", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
					TimeUnixNano: ns(t), Count: 3, Sum: 30,
					QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 9}, {Quantile: 0.99, Value: 12}}}}}}},
			},
		}},
	}}}
}

func ptr(f float64) *float64 { return &f }

func traces(i int) *coltrace.ExportTraceServiceRequest {
	t := start.Add(time.Duration(i) * 30 * time.Second)
	var spans []*tracepb.Span
	for j := 0; j < 3; j++ {
		st := t.Add(time.Duration(j) * time.Second)
		sp := &tracepb.Span{
			TraceId: id(16, byte(10*i+j)), SpanId: id(8, byte(10*i+j+50)), ParentSpanId: id(8, byte(7)),
			Name: "POST /checkout", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: ns(st), EndTimeUnixNano: ns(st.Add(time.Duration(20+j*40) * time.Millisecond)),
			Attributes: []*commonpb.KeyValue{str("http.route", "POST /checkout"), {Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(200 + 300*(j/2))}}}},
			Events:     []*tracepb.Span_Event{{TimeUnixNano: ns(st.Add(time.Millisecond)), Name: "cache miss"}},
			Links:      []*tracepb.Span_Link{{TraceId: id(16, 99), SpanId: id(8, 98)}},
		}
		if j == 2 {
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream 503"}
		}
		spans = append(spans, sp)
	}
	return &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   resource("checkout-7d9f8b6c5d-q8w4n"),
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"}, Spans: spans}},
	}}}
}

func logs(i int) *collogs.ExportLogsServiceRequest {
	t := start.Add(time.Duration(i)*30*time.Second + 5*time.Second)
	body := &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
		str("reason", "BackOff"), str("message", "Back-off restarting failed container app"),
		{Key: "count", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(i + 1)}}},
		{Key: "tags", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}, {Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xde, 0xad}}}}}}}},
	}}}}
	return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("k8s.namespace.name", "shop")}},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8sobjectsreceiver"},
			LogRecords: []*logspb.LogRecord{
				{TimeUnixNano: ns(t), ObservedTimeUnixNano: ns(t.Add(time.Second)), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN, SeverityText: "Warning", Body: body,
					Attributes: []*commonpb.KeyValue{str("event.domain", "k8s"), str("k8s.event.reason", "BackOff")}},
				{ObservedTimeUnixNano: ns(t.Add(2 * time.Second)), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
					Body:    &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "payment failed: \"card declined\" \u00e9\u4e16"}},
					TraceId: id(16, byte(i+200)), SpanId: id(8, byte(i+30)), Flags: 1},
			}}},
	}}}
}

func main() {
	conn, err := grpc.NewClient(os.Args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx := context.Background()
	mc, tc, lc := colmetrics.NewMetricsServiceClient(conn), coltrace.NewTraceServiceClient(conn), collogs.NewLogsServiceClient(conn)
	for i := 0; i < 4; i++ {
		// One signal at a time, waiting for each to land, so every file holds
		// the same records in the same order.
		if _, err := mc.Export(ctx, metrics(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := tc.Export(ctx, traces(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := lc.Export(ctx, logs(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
