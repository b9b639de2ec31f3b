package detect_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/medic-bot/medic/detect"
)

// TestWideSeriesAreBounded: series whose labels pass max_series_label_bytes
// are dropped and counted, so a wide-series load (30 attributes of 1 KiB
// each) cannot multiply medic's memory, while ordinary series are kept.
func TestWideSeriesAreBounded(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	e, _, _, reg := newEngine(t, cfg)
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	wide := strings.Repeat("v", 1024)
	const n = 1500
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var rejected int64
	for batch := 0; batch < n/100; batch++ {
		var pts []*metricspb.NumberDataPoint
		for i := 0; i < 100; i++ {
			attrs := []*commonpb.KeyValue{str("series", fmt.Sprint(batch*100+i))}
			for a := 0; a < 30; a++ {
				attrs = append(attrs, str(fmt.Sprintf("attr%02d", a), wide))
			}
			pts = append(pts, dp(10, 1, attrs...))
		}
		r := ingest(t, e, metricsReq(res, gauge("g", pts...)))
		rejected += r.Rejected
		if r.Rejected > 0 && !strings.Contains(r.Message, "max_series_label_bytes") {
			t.Fatalf("rejection does not name the limit: %q", r.Message)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if rejected != n || e.ActiveSeries() != 0 {
		t.Fatalf("rejected %d of %d wide series, %d active", rejected, n, e.ActiveSeries())
	}
	// Kept, these series would hold 1500 × 30 KiB = 44 MiB of labels.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew %d MiB for dropped wide series", grew>>20)
	}
	if !strings.Contains(scrape(t, reg), fmt.Sprintf(`medic_series_dropped_total{reason="label_bytes"} %d`, n)) {
		t.Errorf("wide series not counted:\n%s", scrape(t, reg))
	}
	// An ordinary series with one long value still fits.
	r := ingest(t, e, metricsReq(res, gauge("g", dp(10, 1, str("url", wide)))))
	if r.Accepted != 1 || e.ActiveSeries() != 1 {
		t.Fatalf("ordinary series refused: %+v", r)
	}
}

func TestMaxSeriesLabelBytesValidated(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	cfg.MaxSeriesLabelBytes = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "max_series_label_bytes") {
		t.Fatalf("Validate = %v", err)
	}
}

// TestLabelBudgetIsShared: max_label_bytes bounds the labels of all series
// together, so many series just under max_series_label_bytes cannot add
// up past it; evicting series gives their bytes back.
func TestLabelBudgetIsShared(t *testing.T) {
	cfg := detect.DefaultEngineConfig()
	cfg.MaxLabelBytes = 16 << 10
	cfg.StaleAfter = time.Minute
	e, _, _, reg := newEngine(t, cfg)
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	value := strings.Repeat("v", 1000) // each series: about 1 KiB of labels
	var pts []*metricspb.NumberDataPoint
	for i := 0; i < 40; i++ {
		pts = append(pts, dp(10, 1, str("series", fmt.Sprint(i)), str("v", value)))
	}
	r := ingest(t, e, metricsReq(res, gauge("g", pts...)))
	kept := e.ActiveSeries()
	if kept < 10 || kept > 16 || r.Rejected != 40-kept || !strings.Contains(r.Message, "max_label_bytes") {
		t.Fatalf("kept %d of 40 series under a 16 KiB budget; result %+v", kept, r)
	}
	if !strings.Contains(scrape(t, reg), fmt.Sprintf(`medic_series_dropped_total{reason="label_budget"} %d`, 40-kept)) {
		t.Errorf("budget drops not counted:\n%s", scrape(t, reg))
	}
	// The kept series go stale while another one lives on; their bytes
	// come back and new series fit again.
	for s := 20; s <= 200; s += 10 {
		ingest(t, e, metricsReq(res, gauge("live", dp(s, 1))))
	}
	if e.ActiveSeries() != 1 {
		t.Fatalf("active series = %d after eviction, want 1", e.ActiveSeries())
	}
	r = ingest(t, e, metricsReq(res, gauge("g2", pts[:10]...)))
	if r.Accepted != 10 {
		t.Fatalf("after eviction: %+v, want 10 new series accepted", r)
	}
	cfg.MaxLabelBytes = 100
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "max_label_bytes") {
		t.Fatalf("Validate = %v", err)
	}
}

// TestHistogramBucketsBounded: a histogram point with more buckets than any
// real histogram has is refused before its series keeps them.
func TestHistogramBucketsBounded(t *testing.T) {
	e, _, _, _ := newEngine(t, detect.DefaultEngineConfig())
	res := podResource("checkout-7d9f8b6c5d-x2x9p")
	n := 5000
	bounds := make([]float64, n)
	for i := range bounds {
		bounds[i] = float64(i)
	}
	counts := make([]uint64, n+1)
	hp := &metricspb.HistogramDataPoint{StartTimeUnixNano: ts(0), TimeUnixNano: ts(10), Count: 0, BucketCounts: counts, ExplicitBounds: bounds}
	r := ingest(t, e, metricsReq(res, histogram("h", "s", hp)))
	if r.Rejected != 1 || !strings.Contains(r.Message, "1024 buckets") || e.ActiveSeries() != 0 {
		t.Fatalf("huge histogram: %+v, %d series", r, e.ActiveSeries())
	}
	hp.BucketCounts, hp.ExplicitBounds = counts[:11], bounds[:10]
	if r := ingest(t, e, metricsReq(res, histogram("h", "s", hp))); r.Accepted != 1 {
		t.Fatalf("ordinary histogram: %+v", r)
	}
}
