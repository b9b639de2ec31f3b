package detect_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

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
