package detect

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// These tests run inside package detect so that they can check the size of
// the per-signal state; they collect anomalies with a closure rather than
// detectorstest.Sink, which imports detect.

const scoreStep15s = int64(15 * time.Second)

// scoreRun feeds values (one every 15s from t0) to a fresh score detector
// on one signal and returns what it raised.
func scoreRun(t *testing.T, cfg ScoreConfig, values []float64) ([]Anomaly, *ScoreDetector, *Signal) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	d := NewScoreDetector(cfg).(*ScoreDetector)
	sig := &Signal{ID: 3, Name: "container.memory.working_set",
		Workload: &Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}}
	if !d.Wants(sig) {
		t.Fatalf("score detector does not want %s", sig.Name)
	}
	var got []Anomaly
	emit := func(s *Signal, a Anomaly) {
		if s != sig {
			t.Errorf("emitted for signal %v, want %v", s, sig)
		}
		got = append(got, a)
	}
	for i, v := range values {
		d.Observe(sig, Point{T: scoreT(i), V: v}, emit)
	}
	return got, d, sig
}

func scoreT(i int) int64 { return 1_700_000_000e9 + int64(i)*scoreStep15s }

func scoreIndex(at time.Time) int {
	return int((at.UnixNano() - 1_700_000_000e9) / scoreStep15s)
}

func noise(seed uint64, n int, mean, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	for i := range v {
		v[i] = mean + sd*r.NormFloat64()
	}
	return v
}

func TestScoreStateSize(t *testing.T) {
	// Per-signal state must stay within 80 bytes plus the 360 of the
	// hour-of-week memory.
	if n := unsafe.Sizeof(scoreState{}); n > 112 {
		t.Fatalf("scoreState is %d bytes, want <= 112", n)
	} else {
		t.Logf("scoreState: %d bytes per signal", n)
	}
}

func TestScoreDefaultConfigValid(t *testing.T) {
	if err := DefaultScoreConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestScoreConfigValidateJoinsProblems(t *testing.T) {
	cfg := DefaultScoreConfig()
	cfg.Probation = 0
	cfg.Threshold = 2
	cfg.FastHalfLife = math.NaN()
	cfg.Exclude = append(cfg.Exclude, "[")
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"probation", "threshold", "fast_halflife", `"["`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) < 4 {
		t.Errorf("want all problems joined, got %v", err)
	}
}

// spikeConfig raises on the first point: for tests of what the score sees
// in one point (the default waits for ConfirmPoints).
func spikeConfig() ScoreConfig {
	c := DefaultScoreConfig()
	c.ConfirmPoints = 1
	return c
}

func TestScoreLoneSpikeIsNotRaisedByDefault(t *testing.T) {
	v := noise(1, 3000, 500e6, 4e6)
	v[2000] += 10 * 4e6 // one point, gone on the next
	if got, _, _ := scoreRun(t, DefaultScoreConfig(), v); len(got) != 0 {
		t.Fatalf("a lone spike raised %+v; the default waits for %d points", got, DefaultScoreConfig().ConfirmPoints)
	}
	// Three points of it are a problem.
	v[2001] += 10 * 4e6
	v[2002] += 10 * 4e6
	got, _, _ := scoreRun(t, DefaultScoreConfig(), v)
	if len(got) != 1 || scoreIndex(got[0].At) != 2002 || scoreIndex(got[0].Onset) != 2000 {
		t.Fatalf("a three-point excursion: %+v, want one anomaly at point 2002 with onset 2000", got)
	}
}

func TestScoreSpikeCaughtAtOnce(t *testing.T) {
	v := noise(1, 3000, 500e6, 4e6) // a working set of ~500MB
	v[2000] += 10 * 4e6
	got, _, _ := scoreRun(t, spikeConfig(), v)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want 1: %+v", len(got), got)
	}
	a := got[0]
	if i := scoreIndex(a.At); i < 2000 || i > 2001 {
		t.Errorf("raised at point %d, want 2000 or 2001", i)
	}
	if a.Kind != KindScore || a.Detector != "score" || a.Signal != "container.memory.working_set" {
		t.Errorf("kind/detector/signal = %s/%s/%s", a.Kind, a.Detector, a.Signal)
	}
	if a.Score < DefaultScoreConfig().Threshold || a.Score > 1 {
		t.Errorf("score %v outside [threshold, 1]", a.Score)
	}
	if a.Observed != v[2000] || math.Abs(a.Baseline-500e6) > 5e6 {
		t.Errorf("observed %v baseline %v, want %v and ~500e6", a.Observed, a.Baseline, v[2000])
	}
	if a.Onset.After(a.At) || a.Onset.IsZero() {
		t.Errorf("onset %v not before at %v", a.Onset, a.At)
	}
	if a.Workload.Name != "checkout" || a.Workload.Container != "app" {
		t.Errorf("workload %+v", a.Workload)
	}
	if !strings.Contains(a.Summary, "above its expected") || !strings.Contains(a.Summary, "M (anomaly score") {
		t.Errorf("summary %q", a.Summary)
	}
}

func TestScoreLevelShiftCaughtThenLearned(t *testing.T) {
	v := noise(2, 8000, 100, 1)
	for i := 2000; i < len(v); i++ {
		v[i] += 5
	}
	cfg := DefaultScoreConfig()
	got, d, sig := scoreRun(t, cfg, v)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want exactly 1 for one shift: %+v", len(got), got)
	}
	if i := scoreIndex(got[0].At); i < 2000 || i > 2010 {
		t.Errorf("shift raised at point %d, want within 10 points of 2000", i)
	}
	// Learned: the new level is normal now, a fresh point scores low.
	st := d.states[sig.ID]
	if st.flags&scoreAlerting != 0 {
		t.Error("still in the excursion 6000 points after the shift")
	}
	if math.Abs(st.fast-105) > 1 {
		t.Errorf("fast level %v, want ~105", st.fast)
	}
}

func TestScoreSlowLeakEventuallyCaught(t *testing.T) {
	// A memory leak: 20kB per 15s (~115MB a day) under 2MB of noise and a
	// wobble, starting after a day of normal operation.
	r := rand.New(rand.NewPCG(3, 1))
	v := make([]float64, 8000)
	for i := range v {
		v[i] = 300e6 + 2e6*r.NormFloat64() + 1e6*math.Sin(float64(i)/50)
		if i >= 5760 {
			v[i] += 20e3 * float64(i-5760)
		}
	}
	got, _, _ := scoreRun(t, DefaultScoreConfig(), v)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want 1: %+v", len(got), got)
	}
	a := got[0]
	i := scoreIndex(a.At)
	if i < 5760 {
		t.Fatalf("raised at %d, before the leak started", i)
	}
	t.Logf("leak caught after %d points (%s): %s", i-5760, time.Duration(int64(i-5760)*scoreStep15s), a.Summary)
	if !strings.Contains(a.Summary, "drifted") {
		t.Errorf("summary %q does not describe a drift", a.Summary)
	}
	if a.Observed <= a.Baseline {
		t.Errorf("observed %v not above baseline %v", a.Observed, a.Baseline)
	}
}

func TestScoreQuietOnNormalSeries(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	sine := make([]float64, 10000)
	noisySine := make([]float64, 10000)
	for i := range sine {
		day := 2 * math.Pi * float64(i) / 1440 // one point a minute
		sine[i] = 1000 + 400*math.Sin(day)
		noisySine[i] = sine[i] + 20*r.NormFloat64()
	}
	for name, v := range map[string][]float64{
		"white noise": noise(5, 10000, 100, 5),
		"sine":        sine,
		"noisy sine":  noisySine,
	} {
		t.Run(name, func(t *testing.T) {
			got, _, _ := scoreRun(t, DefaultScoreConfig(), v)
			if len(got) > 1 {
				t.Errorf("%d anomalies on a normal series, want at most 1: %+v", len(got), got)
			}
		})
	}
}

func TestScoreSparseSeries(t *testing.T) {
	// An error ratio of sampled spans: zero, except one error among ~80
	// spans about once in 80 windows. The first blip a stream ever shows
	// may raise; after that the blips are its normal.
	r := rand.New(rand.NewPCG(13, 1))
	v := make([]float64, 10000)
	for i := range v {
		if r.Float64() < 0.0125 {
			v[i] = 1 / float64(70+r.IntN(20))
		}
	}
	got, d, sig := scoreRun(t, DefaultScoreConfig(), v)
	if len(got) > 1 {
		t.Fatalf("%d anomalies on a sparse series, want at most 1: %+v", len(got), got)
	}
	// A blip does not drag the level: the zeros after it are ordinary.
	if st := d.states[sig.ID]; math.Abs(st.fast) > 1e-3 {
		t.Errorf("fast level %v after blips, want ~0", st.fast)
	}
	// A real burst of errors still raises.
	for i := 0; i < 20; i++ {
		v = append(v, 0.3)
	}
	if got, _, _ = scoreRun(t, DefaultScoreConfig(), v); len(got) < 1 || got[len(got)-1].Observed != 0.3 {
		t.Fatalf("an error burst on a sparse series did not raise: %+v", got)
	}
}

func TestScoreConstantSeries(t *testing.T) {
	v := make([]float64, 2000)
	for i := range v {
		v[i] = 536870912 // a memory limit
	}
	s := NewScorer(DefaultScoreConfig())
	for i, x := range v {
		if sc := s.Update(scoreT(i), x); sc != 0 {
			t.Fatalf("point %d of a constant series scored %v", i, sc)
		}
	}
	got, _, _ := scoreRun(t, DefaultScoreConfig(), v)
	if len(got) != 0 {
		t.Fatalf("constant series raised %+v", got)
	}
	// A constant series that moves (and stays moved) is news.
	v = append(v, 2*536870912, 2*536870912, 2*536870912)
	got, _, _ = scoreRun(t, DefaultScoreConfig(), v)
	if len(got) != 1 {
		t.Fatalf("step of a constant series raised %d anomalies, want 1", len(got))
	}
}

func TestScoreIgnoresNonFinite(t *testing.T) {
	v := noise(6, 1000, 10, 1)
	s := NewScorer(DefaultScoreConfig())
	for i, x := range v {
		s.Update(scoreT(i), x)
	}
	before := s.st
	for i, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if sc := s.Update(scoreT(1000+i), x); sc != 0 {
			t.Errorf("non-finite %v scored %v", x, sc)
		}
	}
	if s.st != before {
		t.Errorf("non-finite values changed the state:\n%+v\n%+v", before, s.st)
	}
	if sc := s.Update(scoreT(1003), 10); math.IsNaN(sc) || sc > 0.3 {
		t.Errorf("normal point after NaNs scored %v", sc)
	}
	// A signal that starts with NaN starts at its first real value.
	s.Reset()
	s.Update(scoreT(0), math.NaN())
	if s.st.n != 0 {
		t.Error("NaN counted as a first point")
	}
}

func TestScoreForgetResets(t *testing.T) {
	v := noise(7, 1000, 100, 1)
	_, d, sig := scoreRun(t, DefaultScoreConfig(), v)
	if d.states[sig.ID].n == 0 {
		t.Fatal("no state kept")
	}
	d.Forget(sig)
	if d.states[sig.ID] != (scoreState{}) {
		t.Fatalf("state after Forget: %+v", d.states[sig.ID])
	}
	// The reused ID starts over: a very different series is in probation,
	// not an anomaly.
	var got []Anomaly
	emit := func(_ *Signal, a Anomaly) { got = append(got, a) }
	for i := 0; i < 50; i++ {
		d.Observe(sig, Point{T: scoreT(2000 + i), V: 1e9 + float64(i%3)}, emit)
	}
	if len(got) != 0 {
		t.Fatalf("reused ID raised %+v", got)
	}
	d.Forget(&Signal{ID: 1 << 20}) // never seen: no panic
}

func TestScoreIrregularSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	d := NewScoreDetector(spikeConfig())
	sig := &Signal{ID: 0, Name: "container.cpu.usage", Workload: &Workload{Name: "api"}}
	var got []Anomaly
	emit := func(_ *Signal, a Anomaly) { got = append(got, a) }
	ts := int64(1_700_000_000e9)
	for i := 0; i < 6000; i++ {
		// Jittered 10-20s intervals, and an hour without data twice.
		ts += int64(10e9 + r.Float64()*10e9)
		if i == 2000 || i == 4000 {
			ts += int64(time.Hour)
		}
		v := 0.5 + 0.02*r.NormFloat64()
		if i == 5000 {
			v += 0.3
		}
		d.Observe(sig, Point{T: ts, V: v}, emit)
	}
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want only the spike: %+v", len(got), got)
	}
	if got[0].Observed < 0.7 {
		t.Errorf("raised on %v, not on the spike", got[0].Observed)
	}
}

func TestScoreScorerIsTheDetectorModel(t *testing.T) {
	v := noise(9, 3000, 50, 2)
	v[2500] += 30
	got, _, _ := scoreRun(t, spikeConfig(), v)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies: %+v", len(got), got)
	}
	s := NewScorer(DefaultScoreConfig())
	for i, x := range v {
		sc := s.Update(scoreT(i), x)
		if sc < 0 || sc > 1 || math.IsNaN(sc) {
			t.Fatalf("score %v out of [0,1]", sc)
		}
		if i == scoreIndex(got[0].At) && sc != got[0].Score {
			t.Errorf("Scorer says %v where the detector raised %v", sc, got[0].Score)
		}
		if i < DefaultScoreConfig().Probation && sc != 0 {
			t.Errorf("score %v during probation", sc)
		}
	}
}

func TestScoreWants(t *testing.T) {
	d := NewScoreDetector(DefaultScoreConfig())
	for name, want := range map[string]bool{
		"container.memory.working_set":  true,
		"container.cpu.time:rate":       true,
		"requests:p99":                  true,
		"k8s.container.memory_limit":    false,
		"k8s.container.restarts":        false,
		"k8s.container.status.reason":   false,
		"container.uptime:rate":         false,
		"k8s.container.cpu_limit":       false,
		"k8s.container.storage_request": false,
	} {
		if got := d.Wants(&Signal{Name: name}); got != want {
			t.Errorf("Wants(%s) = %v, want %v", name, got, want)
		}
	}
	cfg := DefaultScoreConfig()
	cfg.Include = []string{"requests:*"}
	d = NewScoreDetector(cfg)
	if d.Wants(&Signal{Name: "container.cpu.usage"}) || !d.Wants(&Signal{Name: "requests:error_ratio"}) {
		t.Error("include list not applied")
	}
}

func TestScoreObserveDoesNotAllocate(t *testing.T) {
	d := NewScoreDetector(DefaultScoreConfig())
	sig := &Signal{ID: 7, Name: "x"}
	emit := func(*Signal, Anomaly) {}
	v := noise(10, 1000, 1, 0.1)
	i := 0
	d.Observe(sig, Point{T: scoreT(0), V: 1}, emit) // grows the state slice
	allocs := testing.AllocsPerRun(900, func() {
		i++
		d.Observe(sig, Point{T: scoreT(i), V: v[i]}, emit)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per point, want 0", allocs)
	}
}

func BenchmarkScorer(b *testing.B) {
	v := noise(11, 4096, 100, 3)
	s := NewScorer(DefaultScoreConfig())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Update(int64(i)*15e9, v[i&4095])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/point")
}

func BenchmarkScoreDetector(b *testing.B) {
	// 100k signals observed round robin, as a shard sees them.
	const nsig = 100_000
	d := NewScoreDetector(DefaultScoreConfig())
	sigs := make([]Signal, nsig)
	for i := range sigs {
		sigs[i] = Signal{ID: uint32(i), Name: "container.cpu.usage"}
	}
	v := noise(12, 4096, 100, 3)
	emit := func(*Signal, Anomaly) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Observe(&sigs[i%nsig], Point{T: int64(i/nsig+1) * 15e9, V: v[i&4095]}, emit)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/point")
}

func TestScoreSpreadCollapseRaised(t *testing.T) {
	// A disk that wrote in bursts stops writing: the level barely moves,
	// the spread dies away.
	v := noise(34, 6000, 100, 10)
	for i := 4000; i < len(v); i++ {
		v[i] = 100
	}
	got, _, _ := scoreRun(t, DefaultScoreConfig(), v)
	if len(got) != 1 {
		t.Fatalf("got %d anomalies, want 1: %+v", len(got), got)
	}
	a := got[0]
	if i := scoreIndex(a.At); i < 4000 || i > 4300 {
		t.Errorf("raised at point %d, want within 300 points of 4000", i)
	}
	if !strings.Contains(a.Summary, "times as much as it usually does") {
		t.Errorf("summary %q does not describe the spread", a.Summary)
	}
	t.Logf("%s", a.Summary)
}

// A glitch of hundreds of σ (a counter reset read as a rate, a scrape gone
// wrong) is raised, and must not leave the signal muted: the long scale it
// inflates would make the ordinary noise after it look as if it had died
// away, and the slow level it pulled would leave a drift, each holding the
// excursion open for thousands of points. (The long scale does remember the
// glitch as a size this series can move by: the burst after it must be
// large against that too.)
func TestScoreGlitchDoesNotMuteTheSignal(t *testing.T) {
	for _, glitch := range []float64{500, 5000} {
		v := noise(41, 6000, 100, 1)
		for i := 2000; i < 2003; i++ {
			v[i] += glitch
		}
		for i := 3500; i < 3503; i++ {
			v[i] += 100 // a real burst, 1500 points (6 hours) later
		}
		got, d, sig := scoreRun(t, DefaultScoreConfig(), v)
		if len(got) != 2 || got[0].Observed < 500 || got[1].Observed < 190 || got[1].Observed > 210 {
			t.Errorf("glitch of %vσ: raised %d anomalies, want the glitch and the burst after it: %+v", glitch, len(got), got)
		}
		if st := d.states[sig.ID]; st.flags&scoreAlerting != 0 {
			t.Errorf("glitch of %vσ: still alerting 2500 points after the burst", glitch)
		}
	}
}
