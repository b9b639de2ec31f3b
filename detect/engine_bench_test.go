package detect_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/medic-bot/medic/detect"
)

// loadRequests encodes one round of points for nSeries series, 1000 points
// per request: pods of a few deployments, ten metrics per pod, and a point
// attribute, as kubeletstats-like data looks.
func loadRequests(nSeries, round int) [][]byte {
	const perReq = 1000
	const metricsPerPod = 10
	var out [][]byte
	t := uint64(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round) * 10 * time.Second).UnixNano())
	for first := 0; first < nSeries; first += perReq {
		req := &colmetrics.ExportMetricsServiceRequest{}
		var rm *metricspb.ResourceMetrics
		lastPod := -1
		for s := first; s < first+perReq && s < nSeries; s++ {
			pod := s / metricsPerPod
			if pod != lastPod {
				lastPod = pod
				rm = &metricspb.ResourceMetrics{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					str("k8s.namespace.name", fmt.Sprintf("ns-%d", pod%50)),
					str("k8s.deployment.name", fmt.Sprintf("app-%d", pod%500)),
					str("k8s.pod.name", fmt.Sprintf("app-%d-7d9f8b6c5d-%05d", pod%500, pod)),
					str("k8s.container.name", "app"),
					str("service.name", fmt.Sprintf("app-%d", pod%500)),
				}}, ScopeMetrics: []*metricspb.ScopeMetrics{{}}}
				req.ResourceMetrics = append(req.ResourceMetrics, rm)
			}
			m := s % metricsPerPod
			v := float64(round%7) + float64(s%13)
			rm.ScopeMetrics[0].Metrics = append(rm.ScopeMetrics[0].Metrics, &metricspb.Metric{
				Name: fmt.Sprintf("app.metric.%d", m),
				Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
					TimeUnixNano: t, Attributes: []*commonpb.KeyValue{str("state", "used")},
					Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v},
				}}}},
			})
		}
		b, err := proto.Marshal(req)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// BenchmarkSeriesMemory reports the heap bytes medic holds per active
// series with the default detectors running on every one.
func BenchmarkSeriesMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				reqs := loadRequests(n, 0)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				e, err := detect.NewEngine(detect.DefaultEngineConfig(), nil, nil, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range reqs {
					if _, err := e.IngestMetrics(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				// A second round so every series has state past its first point.
				for _, r := range loadRequests(n, 1) {
					if _, err := e.IngestMetrics(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				reqs = nil
				runtime.GC()
				runtime.ReadMemStats(&after)
				if got := e.ActiveSeries(); got != int64(n) {
					b.Fatalf("active series = %d, want %d", got, n)
				}
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/series")
				runtime.KeepAlive(e)
			}
		})
	}
}

// BenchmarkIngest measures decode + series lookup + signal derivation +
// detection per data point on established series.
func BenchmarkIngest(b *testing.B) {
	const n = 20_000
	e, err := detect.NewEngine(detect.DefaultEngineConfig(), nil, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	round := 0
	reqs := loadRequests(n, round)
	for _, r := range reqs {
		if _, err := e.IngestMetrics(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	next := len(reqs)
	points := 0
	for i := 0; i < b.N; i++ {
		if next == len(reqs) {
			b.StopTimer()
			round++
			reqs = loadRequests(n, round)
			next = 0
			runtime.GC()
			b.StartTimer()
		}
		r, err := e.IngestMetrics(context.Background(), reqs[next])
		if err != nil {
			b.Fatal(err)
		}
		points += int(r.Accepted)
		next++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}
