package detect

import (
	"math"
	"slices"
	"testing"
	"time"
)

// streamRun feeds values, one every 5 minutes, to a fresh Stream with the
// default configuration and returns the row scores.
func streamRun(t *testing.T, values []float64, probation int) []float64 {
	t.Helper()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	s := NewStream(DefaultScoreConfig(), probation, lo, hi)
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = s.Push(streamT(i), v)
		if out[i] < 0 || out[i] > 1 || math.IsNaN(out[i]) {
			t.Fatalf("row %d scored %v, outside [0,1]", i, out[i])
		}
	}
	return out
}

func streamT(i int) time.Time {
	return time.Unix(1_700_000_000, 0).Add(time.Duration(i) * 5 * time.Minute)
}

// streamFlagged lists the rows scoring at least th.
func streamFlagged(scores []float64, th float64) []int {
	var rows []int
	for i, s := range scores {
		if s >= th {
			rows = append(rows, i)
		}
	}
	return rows
}

// streamThreshold is where the tests read a Stream's scores: the
// detector's Warn level (one in 10⁴ rows for this stream). NAB's sweep
// settles a little lower, near 0.3.
var streamThreshold = DefaultScoreConfig().Warn

func TestStreamStateSize(t *testing.T) {
	if StreamStateBytes > 124 {
		t.Fatalf("a Stream keeps %d bytes per series, want <= 124", StreamStateBytes)
	}
	t.Logf("Stream: %d bytes of state per series", StreamStateBytes)
}

func TestStreamProbationScoresZero(t *testing.T) {
	v := noise(20, 1000, 10, 1)
	v[100] = 1000 // wild, but the stream is still learning
	for i, s := range streamRun(t, v, 400)[:400] {
		if s != 0 {
			t.Fatalf("probationary row %d scored %v", i, s)
		}
	}
}

func TestStreamCausal(t *testing.T) {
	// The score of row i depends on rows 0..i only: change everything after
	// a cut and the scores up to it stay the same.
	base := noise(21, 3000, 50, 3)
	base[1500] += 40
	want := streamRun(t, base, 450)
	for _, cut := range []int{449, 1200, 1499, 1500, 2500} {
		v := append([]float64(nil), base...)
		r := noise(uint64(100+cut), len(v), 500, 100)
		for i := cut + 1; i < len(v); i++ {
			v[i] = r[i]
		}
		// The same range, so that only the rows differ.
		v[len(v)-1] = math.Max(v[len(v)-1], 0)
		s := NewStream(DefaultScoreConfig(), 450, 0, 1000)
		w := NewStream(DefaultScoreConfig(), 450, 0, 1000)
		for i := 0; i <= cut; i++ {
			if a, b := s.Push(streamT(i), base[i]), w.Push(streamT(i), v[i]); a != b {
				t.Fatalf("cut %d: row %d scored %v and %v", cut, i, a, b)
			}
		}
		for i := cut + 1; i < len(v); i++ {
			w.Push(streamT(i), v[i])
		}
	}
	if got := streamRun(t, base, 450); !slices.Equal(got, want) {
		t.Fatal("two runs of the same series differ")
	}
}

func TestStreamFreshPerSeries(t *testing.T) {
	// A stream that has seen one series does not carry it into the next:
	// every NewStream starts from nothing.
	a := noise(22, 2000, 1e6, 1e4)
	b := noise(23, 2000, 3, 0.1)
	b[1500] += 2
	want := streamRun(t, b, 300)
	s := NewStream(DefaultScoreConfig(), 300, 0, 0)
	for i, v := range a {
		s.Push(streamT(i), v)
	}
	got := streamRun(t, b, 300)
	if !slices.Equal(got, want) {
		t.Fatal("a fresh stream scored differently after another stream ran")
	}
}

func TestStreamSpikeFlaggedOnce(t *testing.T) {
	v := noise(24, 4000, 100, 2)
	for i := 3000; i < 3005; i++ {
		v[i] += 30 // a burst of five rows
	}
	scores := streamRun(t, v, 600)
	got := streamFlagged(scores, DefaultScoreConfig().Threshold)
	if len(got) == 0 || got[0] != 3000 {
		t.Fatalf("rows at the threshold %v, want the burst's first row 3000", got)
	}
	if len(got) > 2 {
		t.Errorf("rows at the threshold %v: an excursion is reported once (twice if it grows)", got)
	}
	if n := len(streamFlagged(scores[3001:3100], streamThreshold)); n > 1 {
		t.Errorf("%d rows of the burst's excursion after its first at warn, want at most 1", n)
	}
}

func TestStreamLevelShiftFlagged(t *testing.T) {
	v := noise(25, 5000, 20, 1)
	for i := 3000; i < len(v); i++ {
		v[i] += 8
	}
	scores := streamRun(t, v, 750)
	got := streamFlagged(scores, DefaultScoreConfig().Threshold)
	if len(got) == 0 || got[0] < 3000 || got[0] > 3005 {
		t.Fatalf("rows at the threshold %v, want the shift within 5 rows of 3000", got)
	}
	if len(got) > 2 {
		t.Errorf("rows at the threshold %v, want the shift reported once or twice, then learned", got)
	}
	if n := len(streamFlagged(scores[3010:], streamThreshold)); n > 1 {
		t.Errorf("%d rows at warn after the shift, want it learned", n)
	}
}

func TestStreamQuietOnNoise(t *testing.T) {
	for name, v := range map[string][]float64{
		"gaussian":  noise(26, 8000, 40, 4),
		"flat":      noise(27, 8000, 7, 0),
		"quantized": quantized(noise(28, 8000, 0.5, 0.02), 0.01),
	} {
		t.Run(name, func(t *testing.T) {
			scores := streamRun(t, v, 750)
			// As TestScoreQuietOnNormalSeries: at most one raise.
			if got := streamFlagged(scores, DefaultScoreConfig().Threshold); len(got) > 1 {
				t.Errorf("rows %v of a normal series at the threshold, want at most 1", got)
			}
			// Warn is one in 10⁴ rows of this series: a few may reach it.
			if got := streamFlagged(scores, streamThreshold); len(got) > len(v)/2000 {
				t.Errorf("rows %v of a normal series at warn, want at most %d", got, len(v)/2000)
			}
		})
	}
}

func quantized(v []float64, q float64) []float64 {
	for i := range v {
		v[i] = math.Round(v[i]/q) * q
	}
	return v
}

func TestStreamIgnoresNonFinite(t *testing.T) {
	s := NewStream(DefaultScoreConfig(), 100, math.NaN(), math.NaN())
	for i, v := range noise(29, 500, 5, 1) {
		s.Push(streamT(i), v)
	}
	for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if sc := s.Push(streamT(500+i), v); sc != 0 {
			t.Errorf("%v scored %v", v, sc)
		}
	}
}

func TestStreamUsesTheDetectorModel(t *testing.T) {
	// A row scores what the Scorer (the detector's model) scores, at least
	// streamLone of it, or 0 inside an excursion already reported.
	v := noise(30, 3000, 50, 2)
	v[2500] += 30
	cfg := DefaultScoreConfig()
	cfg.Probation = 500
	sc := NewScorer(cfg)
	st := NewStream(DefaultScoreConfig(), 500, math.NaN(), math.NaN())
	for i, x := range v {
		want := sc.Update(streamT(i).UnixNano(), x)
		got := st.Push(streamT(i), x)
		if got != 0 && got < streamLone*want*(1-1e-6) {
			t.Fatalf("row %d: stream %v, scorer %v", i, got, want)
		}
		if i == 2500 && (got == 0 || want < DefaultScoreConfig().Threshold) {
			t.Fatalf("the spike: stream %v, scorer %v", got, want)
		}
	}
}

func TestStreamSpreadChangeFlagged(t *testing.T) {
	// The level stays; the noise grows fivefold, or dies away.
	for name, after := range map[string]float64{"grows": 5, "dies": 0} {
		t.Run(name, func(t *testing.T) {
			v := noise(32, 6000, 100, 1)
			r := noise(33, 6000, 0, 1)
			for i := 4000; i < len(v); i++ {
				v[i] = 100 + after*r[i]
			}
			scores := streamRun(t, v, 750)
			if got := streamFlagged(scores[:4000], DefaultScoreConfig().Threshold); len(got) > 0 {
				t.Errorf("rows %v at the threshold before the change", got)
			}
			got := streamFlagged(scores[4000:], streamThreshold)
			if len(got) == 0 || got[0] > 200 {
				t.Fatalf("rows after the change at warn %v, want one within 200 rows", got)
			}
			t.Logf("flagged %d rows after the change", got[0])
		})
	}
}

// A weekly rush (the same half hour of every week, 4σ) is news the first
// time; once the stream has a week of memory it is within what the
// week-long level and its deviation expect. A jump beyond anything the
// stream has shown is still flagged.
func TestStreamWeeklyPatternLearned(t *testing.T) {
	const week = 7 * 288 // rows of 5 minutes
	v := noise(41, 5*week, 100, 2)
	start := 1000 // the rush starts at row 1000 of each week
	for w := 0; w < 5; w++ {
		for i := w*week + start; i < w*week+start+6; i++ {
			v[i] += 8
		}
	}
	odd := 4*week + start + 700
	for i := odd; i < odd+6; i++ {
		v[i] += 60
	}
	// No range known: the jump would otherwise widen the floor under σ.
	st := NewStream(DefaultScoreConfig(), 750, math.NaN(), math.NaN())
	scores := make([]float64, len(v))
	for i, x := range v {
		scores[i] = st.Push(streamT(i), x)
	}
	peak := func(from int) float64 {
		m := 0.0
		for _, s := range scores[from : from+6] {
			m = math.Max(m, s)
		}
		return m
	}
	if p := peak(start); p < streamThreshold {
		t.Errorf("the first rush peaked at %.3f, want >= %.2f", p, streamThreshold)
	}
	mean := 0.0
	for w := 2; w < 5; w++ {
		mean += peak(w*week+start) / 3
	}
	// Without the memory these peak near 0.3.
	if mean >= 0.2 {
		t.Errorf("the rushes of weeks 3 to 5 peaked at %.3f on average, want < 0.2", mean)
	}
	t.Logf("first rush %.3f, weeks 3 to 5 %.3f on average, new jump %.3f", peak(start), mean, peak(odd))
	if p := peak(odd); p < streamThreshold {
		t.Errorf("a new jump at another hour peaked at %.3f, want >= %.2f", p, streamThreshold)
	}
}

// The week-long memory is not used before a stream has been seen for a
// week: a young stream scores the same whatever its profile learned.
func TestStreamSeasonalWaitsAWeek(t *testing.T) {
	v := noise(43, 7*288, 100, 2)
	v[1500] += 30
	a := NewStream(DefaultScoreConfig(), 200, math.NaN(), math.NaN())
	b := NewStream(DefaultScoreConfig(), 200, math.NaN(), math.NaN())
	for i, x := range v {
		sa := a.Push(streamT(i), x)
		b.st.seas.prof[i%seasSlots] = float32(i) // nonsense the model must not use yet
		b.st.seas.dev = 1
		if sb := b.Push(streamT(i), x); sa != sb {
			t.Fatalf("row %d: %v with a profile, %v without, in the first week", i, sb, sa)
		}
	}
}

// One wild outlier widens the series' range (NAB hands a detector the
// file's min and max, outliers to come included), and so the range floor
// under σ; the floor is capped at 10 long-run σ so that the rest of the
// series is still read at its own scale: a burst of 100σ before the outlier
// (the second of its size, so not a record) is flagged as it is in the same
// series without the outlier.
func TestStreamRangeFloorCappedByOutlier(t *testing.T) {
	v := noise(31, 4000, 100, 1)
	for _, at := range []int{300, 3000} { // the first while it learns: the second is no record
		for i := at; i < at+5; i++ {
			v[i] += 100
		}
	}
	clean := streamFlagged(streamRun(t, v, 750), streamThreshold)
	v[3500] += 5000 // the range is now 50 times the burst, 0.07 of it 3.5 times
	got := streamFlagged(streamRun(t, v, 750), streamThreshold)
	if !slices.Contains(clean, 3000) {
		t.Fatalf("rows at warn %v without the outlier, want the burst's first row 3000", clean)
	}
	if !slices.Contains(got, 3000) {
		t.Errorf("rows at warn %v with an outlier at row 3500, want the burst's first row 3000 still flagged", got)
	}
}

// A score that has died away is 0, not a trail of float32 remnants (1e-45)
// that make a CSV of scores unreadable.
func TestStreamScoresDieToZero(t *testing.T) {
	v := noise(33, 3000, 100, 1)
	v[2000] += 50
	for i, s := range streamRun(t, v, 750) {
		if s > 0 && s < 1e-6 {
			t.Fatalf("row %d scored %g", i, s)
		}
	}
}
