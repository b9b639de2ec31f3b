package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// sink is an OTLP metrics service that decodes every request with the
// generated protobuf types and records what it saw.
type sink struct {
	collectormetrics.UnimplementedMetricsServiceServer

	mu       sync.Mutex
	points   int64
	requests int64
	kinds    map[string]int64  // data points per metric kind
	last     map[string]uint64 // series -> last time_unix_nano
	cumul    map[string]float64
	problems []string
	reject   int64 // rejected_data_points to report per request
}

func (s *sink) Export(_ context.Context, req *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	for _, rm := range req.GetResourceMetrics() {
		res := attrString(rm.GetResource().GetAttributes())
		for _, key := range []string{"k8s.namespace.name", "k8s.deployment.name", "k8s.pod.name", "k8s.container.name", "service.name"} {
			if !strings.Contains(res, key+"=") {
				s.problems = append(s.problems, "resource without "+key+": "+res)
			}
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				var kind string
				var pts []dp
				switch d := m.GetData().(type) {
				case *metricspb.Metric_Gauge:
					kind = "gauge"
					for _, p := range d.Gauge.GetDataPoints() {
						pts = append(pts, dp{p.GetAttributes(), p.GetTimeUnixNano(), p.GetAsDouble(), 0})
					}
				case *metricspb.Metric_Sum:
					kind = "sum"
					if !d.Sum.GetIsMonotonic() || d.Sum.GetAggregationTemporality() != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
						s.problems = append(s.problems, "sum not cumulative monotonic: "+m.GetName())
					}
					for _, p := range d.Sum.GetDataPoints() {
						pts = append(pts, dp{p.GetAttributes(), p.GetTimeUnixNano(), p.GetAsDouble(), p.GetStartTimeUnixNano()})
					}
				case *metricspb.Metric_Histogram:
					kind = "histogram"
					for _, p := range d.Histogram.GetDataPoints() {
						var n uint64
						for _, c := range p.GetBucketCounts() {
							n += c
						}
						if n != p.GetCount() || len(p.GetBucketCounts()) != len(p.GetExplicitBounds())+1 {
							s.problems = append(s.problems, "inconsistent histogram point: "+m.GetName())
						}
						pts = append(pts, dp{p.GetAttributes(), p.GetTimeUnixNano(), float64(p.GetCount()), p.GetStartTimeUnixNano()})
					}
				default:
					s.problems = append(s.problems, "unexpected metric type: "+m.GetName())
				}
				for _, p := range pts {
					s.points++
					s.kinds[kind]++
					id := res + "|" + m.GetName() + "|" + attrString(p.attrs)
					if prev, ok := s.last[id]; ok && p.time < prev {
						s.problems = append(s.problems, "time went backwards: "+id)
					}
					s.last[id] = p.time
					if kind != "gauge" {
						if p.start == 0 || p.start > p.time {
							s.problems = append(s.problems, "bad start time: "+id)
						}
						if prev, ok := s.cumul[id]; ok && p.value <= prev {
							s.problems = append(s.problems, "cumulative value did not grow: "+id)
						}
						s.cumul[id] = p.value
					}
				}
			}
		}
	}
	resp := &collectormetrics.ExportMetricsServiceResponse{}
	if s.reject > 0 {
		resp.PartialSuccess = &collectormetrics.ExportMetricsPartialSuccess{RejectedDataPoints: s.reject, ErrorMessage: "test"}
	}
	return resp, nil
}

type dp struct {
	attrs []*commonpb.KeyValue
	time  uint64
	value float64
	start uint64
}

func attrString(kvs []*commonpb.KeyValue) string {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(kv.GetKey() + "=" + kv.GetValue().GetStringValue() + ",")
	}
	return b.String()
}

func startSink(t *testing.T, s *sink) string {
	t.Helper()
	s.kinds = map[string]int64{}
	s.last = map[string]uint64{}
	s.cumul = map[string]float64{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectormetrics.RegisterMetricsServiceServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func testWorkload() Workload {
	// 7 resources x 5 metrics x 3 values = 105 series; a batch of 40 splits
	// resources and metrics across requests.
	return Workload{Resources: 7, Metrics: 5, AttrValues: 3, Gauges: 2, Sums: 2, Histograms: 1, Batch: 40, Start: uint64(time.Now().Add(-time.Minute).UnixNano())}
}

func TestRunCountsEveryPoint(t *testing.T) {
	s := &sink{}
	addr := startSink(t, s)
	w := testWorkload()
	st, err := run(context.Background(), Config{Endpoint: addr, Workload: w, Streams: 3, Points: 1000, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Errors != 0 {
		t.Fatalf("errors = %d (%s)", st.Errors, st.LastError)
	}
	if st.Points != s.points || st.Requests != s.requests {
		t.Errorf("loadgen says %d points in %d requests, server counted %d in %d", st.Points, st.Requests, s.points, s.requests)
	}
	// The budget is rounded up to whole requests: at most one extra request
	// per stream.
	if st.Points < 1000 || st.Points > 1000+3*int64(w.Batch) {
		t.Errorf("points = %d, want 1000 rounded up to whole requests", st.Points)
	}
	if got := len(s.last); got != w.Series() {
		t.Errorf("distinct series = %d, want %d", got, w.Series())
	}
	// 2:2:1 over 5 metrics: 2 gauges, 2 sums, 1 histogram per resource.
	if s.kinds["gauge"] == 0 || s.kinds["sum"] == 0 || s.kinds["histogram"] == 0 {
		t.Errorf("kinds = %v, want all three", s.kinds)
	}
	for _, p := range s.problems[:min(len(s.problems), 10)] {
		t.Error(p)
	}
}

func TestRunPartialSuccessIsNotCounted(t *testing.T) {
	s := &sink{reject: 5}
	addr := startSink(t, s)
	w := testWorkload()
	st, err := run(context.Background(), Config{Endpoint: addr, Workload: w, Streams: 1, Points: 200, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != 5*st.Requests || st.Points != s.points-st.Rejected {
		t.Errorf("points %d rejected %d requests %d; server saw %d", st.Points, st.Rejected, st.Requests, s.points)
	}
}

func TestRunStopsAfterDuration(t *testing.T) {
	s := &sink{}
	addr := startSink(t, s)
	st, err := run(context.Background(), Config{Endpoint: addr, Workload: testWorkload(), Streams: 2, Duration: 300 * time.Millisecond, Rate: 2000, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Paced at 2000 points/s for 0.3s: far fewer than unpaced, more than none.
	if st.Points == 0 || st.Points > 2000 {
		t.Errorf("points = %d, want paced to about 600", st.Points)
	}
}

func TestRunCountsErrorsWhenNoServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	st, err := run(context.Background(), Config{Endpoint: addr, Workload: testWorkload(), Streams: 1, Duration: 200 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Points != 0 || st.Errors == 0 || st.ErrorsByCode["Unavailable"] == 0 {
		t.Errorf("stats = %+v, want only Unavailable errors", st)
	}
}

func TestEncodeCoversSeriesSpaceOnce(t *testing.T) {
	w := testWorkload()
	reqs := w.encode()
	if len(reqs) != (w.Series()+w.Batch-1)/w.Batch {
		t.Fatalf("requests = %d", len(reqs))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		r.stamp(uint64(time.Now().UnixNano()))
		var m collectormetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(r.buf, &m); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rm := range m.GetResourceMetrics() {
			res := attrString(rm.GetResource().GetAttributes())
			for _, sm := range rm.GetScopeMetrics() {
				if sm.GetScope().GetName() != scopeName {
					t.Errorf("scope = %q", sm.GetScope().GetName())
				}
				for _, met := range sm.GetMetrics() {
					var attrs [][]*commonpb.KeyValue
					switch d := met.GetData().(type) {
					case *metricspb.Metric_Gauge:
						for _, p := range d.Gauge.GetDataPoints() {
							attrs = append(attrs, p.GetAttributes())
						}
					case *metricspb.Metric_Sum:
						for _, p := range d.Sum.GetDataPoints() {
							attrs = append(attrs, p.GetAttributes())
						}
					case *metricspb.Metric_Histogram:
						for _, p := range d.Histogram.GetDataPoints() {
							attrs = append(attrs, p.GetAttributes())
						}
					}
					for _, a := range attrs {
						id := res + met.GetName() + attrString(a)
						if seen[id] {
							t.Errorf("series %s encoded twice", id)
						}
						seen[id] = true
						n++
					}
				}
			}
		}
		if n != r.points {
			t.Errorf("request holds %d points, says %d", n, r.points)
		}
	}
	if len(seen) != w.Series() {
		t.Errorf("series = %d, want %d", len(seen), w.Series())
	}
}

func TestKindsFollowMix(t *testing.T) {
	w := Workload{Metrics: 10, Gauges: 5, Sums: 3, Histograms: 2}
	var n [3]int
	for _, k := range w.kinds() {
		n[k]++
	}
	if n != [3]int{5, 3, 2} {
		t.Errorf("kinds = %v, want [5 3 2]", n)
	}
	w = Workload{Metrics: 4, Histograms: 1}
	for _, k := range w.kinds() {
		if k != kindHistogram {
			t.Errorf("kind = %v, want histogram only", k)
		}
	}
}

func TestMainFlags(t *testing.T) {
	s := &sink{}
	addr := startSink(t, s)
	var out, errb bytes.Buffer
	code := mainErr([]string{"--endpoint", addr, "--resources", "4", "--metrics", "3", "--attr-values", "2", "--batch", "10", "--points", "100", "--mix", "gauge=1,histogram=1", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var st Stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if st.Series != 24 || st.Points < 100 || st.Errors != 0 {
		t.Errorf("stats = %+v", st)
	}
	for _, bad := range [][]string{
		{"--mix", "gauge=1,counter=2", "--points", "1"},
		{"--batch", "0", "--points", "1"},
		{}, // neither duration nor points
		{"--points", "1", "extra"},
	} {
		errb.Reset()
		if code := mainErr(bad, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
}
