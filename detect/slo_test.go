package detect_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/detectorstest"
)

// State per tracked (workload, route) with the default rules: 360 minute
// buckets + 72 hour buckets of 16 bytes (four float32 counts) = 6912 bytes,
// plus ~310 bytes of record (workload and objective strings, ring headers,
// rule flags) and ~60 of map entry: about 7.3 KB per key, whatever the
// traffic.

var sloT0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()

type sloFeed struct {
	t    *testing.T
	d    detect.Detector
	sink detectorstest.Sink
	wl   *detect.Workload
	now  int64 // end of the last window fed
}

func newSLOFeed(t *testing.T, cfg detect.SLOConfig) *sloFeed {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return &sloFeed{
		t:   t,
		d:   detect.NewSLODetector(cfg),
		wl:  &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app", Service: "checkout"},
		now: sloT0,
	}
}

// minutes feeds one-minute windows for the whole workload (and route, if
// given) with rpm requests a minute of which errRatio fail, and returns the
// anomalies raised meanwhile with the minute (from the start of this call)
// of each.
func (f *sloFeed) minutes(n int, rpm, errRatio float64, route string, lat func(h *detect.LatencyHist, n float64)) (raised []detect.Anomaly, at []float64) {
	f.t.Helper()
	start := f.now
	wd, ok := f.d.(detect.WindowDetector)
	if !ok {
		f.t.Fatal("SLO detector does not read windows")
	}
	for i := 0; i < n; i++ {
		w := &detect.Window{
			Workload: f.wl, Route: route, Source: "spans",
			Start: f.now, End: f.now + int64(time.Minute),
			Requests: rpm, Errors: rpm * errRatio,
		}
		if lat != nil {
			w.Latency = &detect.LatencyHist{}
			lat(w.Latency, rpm)
		}
		before := f.sink.Len()
		wd.ObserveWindow(w, f.sink.Emit)
		f.now = w.End
		f.d.Advance(f.now, f.sink.Emit)
		for _, a := range f.sink.Anomalies[before:] {
			raised = append(raised, a)
			at = append(at, float64(f.now-start)/float64(time.Minute))
		}
	}
	return raised, at
}

func TestSLODefaultConfigValid(t *testing.T) {
	if err := detect.DefaultSLOConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSLOValidateJoinsProblems(t *testing.T) {
	cfg := detect.DefaultSLOConfig()
	cfg.Rules = append(cfg.Rules,
		detect.BurnRule{Name: "bad", Burn: -1, Long: time.Minute, Short: time.Hour},
		detect.BurnRule{Name: "odd", Burn: 2, Long: 7*time.Hour + time.Minute, Short: 90 * time.Second},
	)
	cfg.Objectives = []detect.SLOObjective{
		{Availability: 0.99},
		{Service: "x", Availability: 1.5},
		{Workload: "shop-checkout", LatencyThreshold: time.Second},
	}
	cfg.MinRequests = -1
	cfg.MinBad = math.NaN()
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"burn must be positive", "short < long", "severity must be page or ticket", "not a whole number of hours", "not a whole number of minutes",
		"objectives[0]: service or workload is required", "objectives[1]: availability",
		"not namespace/Kind/name", "latency_target", "min_requests", "min_bad",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	cfg = detect.DefaultSLOConfig()
	cfg.Default = detect.SLOObjective{Disabled: true}
	if err := cfg.Validate(); err != nil {
		t.Errorf("disabled default rejected: %v", err)
	}
}

func TestSLOSteadyLowErrorRateNeverAlerts(t *testing.T) {
	f := newSLOFeed(t, detect.DefaultSLOConfig())
	// 0.05% errors (half the budget of 99.9%) for four days.
	if got, _ := f.minutes(4*24*60, 1000, 0.0005, "", nil); len(got) != 0 {
		t.Fatalf("steady 0.05%% errors raised %d anomalies: %s", len(got), got[0].Summary)
	}
}

func TestSLOErrorJumpFiresFastRule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		errRatio float64
		// The 1h window reaches a 14.4x burn (1.44% errors) after
		// 14.4 × 0.1% / errRatio of an hour.
		minMinute, maxMinute float64
	}{
		{"20% errors", 0.20, 4, 6},
		{"2% errors", 0.02, 42, 45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSLOFeed(t, detect.DefaultSLOConfig())
			// Three days of history, so that the 3d window is full and
			// the ticket rule is no quicker than the page (with less
			// history it sees a shorter window and may fire first).
			if got, _ := f.minutes(3*24*60, 1000, 0.0005, "", nil); len(got) != 0 {
				t.Fatalf("raised before the jump: %v", got[0].Summary)
			}
			jump := f.now
			got, at := f.minutes(3*60, 1000, tc.errRatio, "", nil)
			if len(got) != 1 {
				t.Fatalf("got %d anomalies in 3h, want 1 (the slower rules must stay quiet while the fast one fires)", len(got))
			}
			a := got[0]
			if at[0] < tc.minMinute || at[0] > tc.maxMinute {
				t.Errorf("fired after %.0f minutes, want %.0f-%.0f", at[0], tc.minMinute, tc.maxMinute)
			}
			if a.Kind != detect.KindSLOBurn || a.Detector != "slo" || a.Signal != "requests:error_ratio" {
				t.Errorf("kind/detector/signal %s/%s/%s", a.Kind, a.Detector, a.Signal)
			}
			if a.Workload.Key() != "shop/Deployment/checkout" {
				t.Errorf("workload %v", a.Workload)
			}
			if math.Abs(a.Baseline-0.001) > 1e-12 || a.Observed < 0.0144 || a.Observed > tc.errRatio {
				t.Errorf("observed %v baseline %v", a.Observed, a.Baseline)
			}
			if a.Score < 0.5 || a.Score > 1 {
				t.Errorf("score %v", a.Score)
			}
			if a.Onset.UnixNano() != jump {
				t.Errorf("onset %v, want the jump at %v", a.Onset, time.Unix(0, jump).UTC())
			}
			// Evidence: the error ratio of each minute of the long window.
			if ev := a.Evidence; len(ev) != 60 || ev[59].V != tc.errRatio || ev[0].V != 0.0005 {
				t.Errorf("evidence: %d points, %v ... %v", len(ev), ev[0], ev[len(ev)-1])
			}
			for _, want := range []string{"error budget burning at ", "x over 1h and ", "x over 5m", "SLO 99.9% availability", "page-1h"} {
				if !strings.Contains(a.Summary, want) {
					t.Errorf("summary %q lacks %q", a.Summary, want)
				}
			}
			t.Log(a.Summary)
		})
	}
}

func TestSLOSustainedBurnFiresSlowerRules(t *testing.T) {
	t.Run("0.7% fires page-6h", func(t *testing.T) {
		// 7x: the 6h window reaches 6x after 6/7 of 6h (~5.1h).
		f := newSLOFeed(t, detect.DefaultSLOConfig())
		f.minutes(3*24*60, 1000, 0.0005, "", nil)
		got, at := f.minutes(24*60, 1000, 0.007, "", nil)
		if len(got) != 1 || !strings.Contains(got[0].Summary, "page-6h") {
			t.Fatalf("want one page-6h anomaly, got %d: %v", len(got), got)
		}
		if at[0] < 4.5*60 || at[0] > 5.5*60 {
			t.Errorf("fired after %.1fh, want ~5.1h", at[0]/60)
		}
	})
	t.Run("0.5% fires ticket-3d", func(t *testing.T) {
		// 5x stays under both page rules; the 3d window, which held
		// 0.05% errors, reaches 1x (0.1%) after 8h: (64h×0.05% +
		// 8h×0.5%) / 72h = 0.1%.
		f := newSLOFeed(t, detect.DefaultSLOConfig())
		f.minutes(3*24*60, 1000, 0.0005, "", nil)
		got, at := f.minutes(2*24*60, 1000, 0.005, "", nil)
		if len(got) != 1 || !strings.Contains(got[0].Summary, "ticket-3d") {
			t.Fatalf("want one ticket-3d anomaly, got %d: %v", len(got), got)
		}
		if at[0] < 7.5*60 || at[0] > 8.5*60 {
			t.Errorf("fired after %.1fh, want ~8h", at[0]/60)
		}
	})
}

func TestSLOLowTrafficStaysQuiet(t *testing.T) {
	f := newSLOFeed(t, detect.DefaultSLOConfig())
	// An idle service: one request every 10 minutes, and one of them fails
	// (a 1/6 error ratio over the hour, 166x the budget): neither the page
	// rules (too few requests) nor the ticket rule (one failure is not a
	// burn rate) fire.
	for i := 0; i < 6*24*4; i++ {
		errs := 0.0
		if i == 100 {
			errs = 1
		}
		f.minutes(1, 1, errs, "", nil)
		f.minutes(9, 0, 0, "", nil)
	}
	if f.sink.Len() != 0 {
		t.Fatalf("idle service paged: %s", f.sink.Anomalies[0].Summary)
	}
}

func TestSLOLatencyObjective(t *testing.T) {
	cfg := detect.DefaultSLOConfig()
	cfg.Objectives = []detect.SLOObjective{{
		Service: "checkout", Availability: 0.999,
		LatencyThreshold: 300 * time.Millisecond, LatencyTarget: 0.99,
	}}
	f := newSLOFeed(t, cfg)
	fast := func(h *detect.LatencyHist, n float64) { h.Add(0.1, n) }
	if got, _ := f.minutes(24*60, 600, 0, "", fast); len(got) != 0 {
		t.Fatalf("fast requests raised %v", got[0].Summary)
	}
	// Half the requests take a second: 50x the 1% latency budget; the 1h
	// window reaches 14.4x after ~17 minutes.
	slow := func(h *detect.LatencyHist, n float64) { h.Add(0.1, n/2); h.Add(1, n/2) }
	got, at := f.minutes(60, 600, 0, "", slow)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want 1", len(got))
	}
	a := got[0]
	if a.Signal != "requests:latency" || a.Baseline < 0.0099 || a.Baseline > 0.0101 {
		t.Errorf("signal %s baseline %v", a.Signal, a.Baseline)
	}
	if at[0] < 15 || at[0] > 20 {
		t.Errorf("fired after %.0f minutes, want ~17", at[0])
	}
	if !strings.Contains(a.Summary, "latency budget") || !strings.Contains(a.Summary, "99% of requests within 300ms") {
		t.Errorf("summary %q", a.Summary)
	}
	t.Log(a.Summary)
}

func TestSLOObjectiveMatching(t *testing.T) {
	cfg := detect.DefaultSLOConfig()
	cfg.Objectives = []detect.SLOObjective{
		{Workload: "shop/Deployment/checkout", Route: "POST /pay", Availability: 0.99},
		{Service: "search", Disabled: true},
	}
	d := detect.NewSLODetector(cfg)
	wd := d.(detect.WindowDetector)
	var sink detectorstest.Sink
	checkout := &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Service: "checkout"}
	search := &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "search", Service: "search"}
	tracked := func() int { return d.(interface{ Tracked() int }).Tracked() }
	for i, w := range []struct {
		wl    *detect.Workload
		route string
		want  int
	}{
		{checkout, "", 1},          // default objective
		{checkout, "GET /cart", 1}, // no objective names the route
		{checkout, "POST /pay", 2}, // named route
		{search, "", 2},            // disabled by service
	} {
		wd.ObserveWindow(&detect.Window{Workload: w.wl, Route: w.route, Start: sloT0, End: sloT0 + 60e9, Requests: 10}, sink.Emit)
		if got := tracked(); got != w.want {
			t.Errorf("window %d (%s %q): tracking %d keys, want %d", i, w.wl.Key(), w.route, got, w.want)
		}
	}

	// The route objective fires on its own windows, with the route label.
	f := newSLOFeed(t, cfg)
	got, _ := f.minutes(30, 1000, 0.5, "POST /pay", nil)
	if len(got) != 1 || got[0].Labels["route"] != "POST /pay" || !strings.HasPrefix(got[0].Summary, "route POST /pay: ") {
		t.Fatalf("route objective: %+v", got)
	}
	if !strings.Contains(got[0].Summary, "SLO 99% availability") {
		t.Errorf("summary %q", got[0].Summary)
	}

	cfg.Default.Disabled = true
	d = detect.NewSLODetector(cfg)
	d.(detect.WindowDetector).ObserveWindow(&detect.Window{Workload: checkout, Start: sloT0, End: sloT0 + 60e9, Requests: 10}, sink.Emit)
	if n := d.(interface{ Tracked() int }).Tracked(); n != 0 {
		t.Errorf("disabled default still tracks %d keys", n)
	}
}

func TestSLORearmsAfterRecovery(t *testing.T) {
	f := newSLOFeed(t, detect.DefaultSLOConfig())
	f.minutes(3*24*60, 1000, 0.0005, "", nil)
	first, _ := f.minutes(30, 1000, 0.3, "", nil)
	calm, _ := f.minutes(7*60, 1000, 0.0005, "", nil)
	second, _ := f.minutes(30, 1000, 0.3, "", nil)
	if len(first) != 1 || len(calm) != 0 {
		t.Fatalf("want one anomaly for the incident and none after, got %d and %d", len(first), len(calm))
	}
	// The page rule re-armed when the incident cleared and fires again.
	// (The 3d window still holds the first incident, so the ticket rule
	// now reports a minute earlier: an escalation, see TestSLOEscalates.)
	var pages int
	for _, a := range second {
		if strings.Contains(a.Summary, "page-1h") {
			pages++
		}
	}
	if pages != 1 || len(second) > 2 {
		t.Fatalf("second incident: %d page-1h anomalies of %d, want 1", pages, len(second))
	}
}

func TestSLOEscalates(t *testing.T) {
	// With one day of history the 3d window is effectively a 1d window and
	// the ticket rule sees a 20% error jump first; the page rule, burning
	// faster, still reports when it starts. A slower rule starting while a
	// faster one fires stays silent.
	f := newSLOFeed(t, detect.DefaultSLOConfig())
	f.minutes(24*60, 1000, 0.0005, "", nil)
	got, _ := f.minutes(3*60, 1000, 0.2, "", nil)
	if len(got) != 2 || !strings.Contains(got[0].Summary, "ticket-3d") || !strings.Contains(got[1].Summary, "page-1h") {
		t.Fatalf("want ticket-3d then page-1h, got %v", got)
	}
}

func TestSLOForgetsIdleKeys(t *testing.T) {
	f := newSLOFeed(t, detect.DefaultSLOConfig())
	f.minutes(10, 100, 0, "", nil)
	tracked := f.d.(interface{ Tracked() int })
	if tracked.Tracked() != 1 {
		t.Fatalf("tracking %d keys", tracked.Tracked())
	}
	f.d.Advance(f.now+int64(71*time.Hour), f.sink.Emit)
	if tracked.Tracked() != 1 {
		t.Fatal("key dropped before 3 days without windows")
	}
	f.d.Advance(f.now+int64(72*time.Hour+2*time.Minute), f.sink.Emit)
	if tracked.Tracked() != 0 {
		t.Fatal("key kept after 3 days without windows")
	}
}

func BenchmarkSLOObserveWindow(b *testing.B) {
	// 1000 workloads, one-minute windows, round robin.
	d := detect.NewSLODetector(detect.DefaultSLOConfig()).(detect.WindowDetector)
	wls := make([]*detect.Workload, 1000)
	for i := range wls {
		wls[i] = &detect.Workload{Namespace: "ns", Kind: "Deployment", Name: "w" + strconv.Itoa(i)}
	}
	emit := func(*detect.Signal, detect.Anomaly) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := sloT0 + int64(i/len(wls))*int64(time.Minute)
		d.ObserveWindow(&detect.Window{Workload: wls[i%len(wls)], Start: start, End: start + int64(time.Minute), Requests: 1000, Errors: 1}, emit)
	}
}
