package detect

import (
	"math"
)

// Latency buckets are logarithmic: bucket i holds durations in
// [latMin*latGrowth^(i-1), latMin*latGrowth^i), bucket 0 everything below
// latMin, the last one everything above. With 8 buckets per doubling from 1µs
// a quantile is off by at most ~4.4% and 200 buckets reach past 30 minutes.
const (
	latMin     = 1e-6
	latPerOct  = 8
	latBuckets = 200
)

var latGrowth = math.Pow(2, 1.0/latPerOct)

// LatencyHist counts request durations (seconds) in fixed logarithmic
// buckets, so histograms from spans and from OTLP histograms with any bounds
// merge and answer quantile and threshold questions alike. The zero value is
// empty and ready to use; it allocates its buckets on the first Add.
type LatencyHist struct {
	counts []float64
	total  float64
}

// latSub holds, for k = 1..latPerOct-1, the mantissa bits of 2^(k/latPerOct):
// where within an octave each of its buckets starts.
var latSub = func() [latPerOct - 1]uint64 {
	var t [latPerOct - 1]uint64
	for k := range t {
		t[k] = math.Float64bits(math.Exp2(float64(k+1)/latPerOct)) & (1<<52 - 1)
	}
	return t
}()

// latIndex is int(log2(sec/latMin)*latPerOct)+1, clamped, read off the
// float's exponent and mantissa instead of calling math.Log2: it runs for
// every bucket of every request-histogram point.
func latIndex(sec float64) int {
	if !(sec >= latMin) { // also NaN
		return 0
	}
	bits := math.Float64bits(sec / latMin)
	exp := int(bits>>52&0x7ff) - 1023
	mant := bits & (1<<52 - 1)
	sub := 0
	for sub < len(latSub) && mant >= latSub[sub] {
		sub++
	}
	i := exp*latPerOct + sub + 1
	if i >= latBuckets {
		return latBuckets - 1
	}
	return i
}

// latUpper is the upper bound of bucket i.
func latUpper(i int) float64 {
	if i >= latBuckets-1 {
		return math.Inf(1)
	}
	return latMin * math.Pow(latGrowth, float64(i))
}

// Add counts n requests of duration sec.
func (h *LatencyHist) Add(sec, n float64) {
	if n <= 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return
	}
	if h.counts == nil {
		h.counts = make([]float64, latBuckets)
	}
	h.counts[latIndex(sec)] += n
	h.total += n
}

// AddRange counts n requests known only to lie in (lo, hi], as an explicit
// bucket of an OTLP histogram says. They are spread evenly over the log
// buckets the range covers; an unbounded range counts at its finite end.
func (h *LatencyHist) AddRange(lo, hi, n float64) {
	if sp, ok := rangeSpan(lo, hi, n); ok {
		h.addSpans([]latSpan{sp}, n)
	}
}

// latSpan is n requests spread evenly over buckets a..b (per each).
type latSpan struct {
	a, b int
	per  float64
}

// rangeSpan works out where AddRange puts n requests in (lo, hi].
func rangeSpan(lo, hi, n float64) (latSpan, bool) {
	var a, b int
	switch {
	case n <= 0 || math.IsNaN(n) || math.IsInf(n, 0):
		return latSpan{}, false
	case math.IsInf(hi, 1) || math.IsNaN(hi):
		a = latIndex(lo * 1.0001)
		b = a
	case math.IsInf(lo, -1) || lo <= 0 || math.IsNaN(lo):
		a = latIndex(hi)
		b = a
	default:
		a, b = latIndex(lo*1.0001), latIndex(hi)
		if b <= a {
			a = b
		}
	}
	return latSpan{a: a, b: b, per: n / float64(b-a+1)}, true
}

// addSpans adds spans worked out once (for the several windows one
// histogram point feeds); total is the requests they hold together.
func (h *LatencyHist) addSpans(spans []latSpan, total float64) {
	if len(spans) == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]float64, latBuckets)
	}
	for _, sp := range spans {
		cs := h.counts[sp.a : sp.b+1]
		for i := range cs {
			cs[i] += sp.per
		}
	}
	h.total += total
}

// Merge adds o's counts into h.
func (h *LatencyHist) Merge(o *LatencyHist) {
	if o == nil || o.total == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]float64, latBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// Reset empties h, keeping its buckets.
func (h *LatencyHist) Reset() {
	clear(h.counts)
	h.total = 0
}

// Count is the number of requests counted.
func (h *LatencyHist) Count() float64 { return h.total }

// Quantile estimates the q-quantile (0<q<1) in seconds: the upper bound of
// the bucket that holds it, so estimates err on the slow side. NaN when empty.
func (h *LatencyHist) Quantile(q float64) float64 {
	if h.total == 0 {
		return math.NaN()
	}
	rank := q * h.total
	var acc float64
	for i, c := range h.counts {
		acc += c
		if acc >= rank && c > 0 {
			if i == latBuckets-1 {
				return latUpper(i - 1)
			}
			return latUpper(i)
		}
	}
	return latUpper(latBuckets - 2)
}

// CountAbove estimates how many requests took longer than sec, interpolating
// within the bucket that holds sec (log-linearly).
func (h *LatencyHist) CountAbove(sec float64) float64 {
	if h.total == 0 {
		return 0
	}
	i := latIndex(sec)
	var above float64
	for j := i + 1; j < len(h.counts); j++ {
		above += h.counts[j]
	}
	if c := h.counts[i]; c > 0 && i > 0 && i < latBuckets-1 {
		lo, hi := latUpper(i-1), latUpper(i)
		frac := math.Log(hi/sec) / math.Log(hi/lo)
		above += c * math.Max(0, math.Min(1, frac))
	}
	return above
}

// Window is one closed event-time window of request data (rate, errors,
// duration) for a workload and route, built from server spans or from
// HTTP/RPC server duration histograms. Window detectors (SLO burn rates)
// read it; the engine also turns it into requests:* signals.
type Window struct {
	Workload *Workload
	// Route is the http.route / rpc method / span name; "" for the
	// whole workload (every route summed).
	Route string
	// Source is "spans" or the histogram metric's name.
	Source     string
	Start, End int64 // Unix nanos, [Start, End)
	Requests   float64
	Errors     float64
	Latency    *LatencyHist // seconds; may be empty when the source had no durations
}

// WindowDetector is implemented by detectors that read request windows.
// Like Observe, it is called with the shard's lock held.
type WindowDetector interface {
	ObserveWindow(w *Window, emit Emit)
}
