package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLatIndexMatchesLog2(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(sec float64) {
		want := 0
		if sec >= latMin {
			want = min(int(math.Log2(sec/latMin)*latPerOct)+1, latBuckets-1)
		}
		if got := latIndex(sec); got != want {
			// Exactly on a bucket edge the two may round differently;
			// anything else is a bug.
			edge := math.Abs(math.Log2(sec/latMin)*latPerOct-math.Round(math.Log2(sec/latMin)*latPerOct)) < 1e-9
			if !edge {
				t.Fatalf("latIndex(%g) = %d, want %d", sec, got, want)
			}
		}
	}
	for i := 0; i < 200000; i++ {
		check(math.Exp(r.Float64()*30 - 16)) // 1e-7 s .. 1e6 s
	}
	for _, s := range []float64{0, -1, math.NaN(), latMin, 1, 3600} {
		check(s)
	}
	if got := latIndex(math.Inf(1)); got != latBuckets-1 {
		t.Fatalf("latIndex(+Inf) = %d, want the last bucket", got)
	}
}

func TestLatencyHistQuantileAndCountAbove(t *testing.T) {
	var h LatencyHist
	for i := 1; i <= 1000; i++ {
		h.Add(float64(i)/1000, 1) // 1ms .. 1s, uniform
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got := h.Quantile(q)
		if got < q*0.99 || got > q*1.1 {
			t.Errorf("p%v = %v, want within ~9%% above %v", q*100, got, q)
		}
	}
	if got := h.CountAbove(0.3); got < 680 || got > 720 {
		t.Errorf("CountAbove(0.3) = %v, want ~700", got)
	}
	var r LatencyHist
	r.AddRange(0.1, 0.25, 100)
	if r.Count() != 100 || r.Quantile(0.5) < 0.1 || r.Quantile(0.5) > 0.26 {
		t.Errorf("AddRange: count %v p50 %v", r.Count(), r.Quantile(0.5))
	}
}
