package detect

import (
	"math"
	"strconv"
)

// maxBuckets bounds the buckets of a histogram point, which a cumulative
// series keeps until its next point. Real histograms have tens (explicit
// bounds) to 160 (the SDKs' default exponential max_size) buckets.
const maxBuckets = 1024

// Histogram, exponential histogram and summary points: each gives a count
// rate, quantile signals, and (for request histograms) request windows.

func (m *metricsSink) Histogram(p *HistogramPoint) {
	w := (*worker)(m)
	if len(p.Counts) != 0 && len(p.Counts) != len(p.Bounds)+1 {
		w.reject(rejectShape, 1)
		return
	}
	if len(p.Counts) > maxBuckets {
		w.reject(rejectBuckets, 1)
		return
	}
	ser, t, ok := w.point(p.Attrs, p.TimeNano, p.NoValue, seriesHistogram)
	if !ok {
		return
	}
	d := ser.dist
	count := float64(p.Count)
	delta := w.metric.Temporality == TemporalityDelta
	var dCount float64
	var dt int64
	buckets := w.scratchF(len(p.Counts))
	switch {
	case delta:
		dCount = count
		for i, c := range p.Counts {
			buckets[i] = float64(c)
		}
		dt = intervalStart(t, int64(p.StartNano), ser.lastT)
	case !ser.hasPrev:
		// The first cumulative point only sets the baseline.
	case count < ser.prev || (p.StartNano != 0 && ser.start != 0 && int64(p.StartNano) != ser.start) || len(p.Counts) != len(d.prevCounts):
		// Reset: the point counts everything since its start.
		dCount = count
		for i, c := range p.Counts {
			buckets[i] = float64(c)
		}
		dt = intervalStart(t, int64(p.StartNano), 0)
	default:
		dCount = count - ser.prev
		for i, c := range p.Counts {
			buckets[i] = float64(c) - float64(d.prevCounts[i])
			if buckets[i] < 0 { // inconsistent buckets: no quantiles from this point
				buckets = buckets[:0]
				break
			}
		}
		dt = t - ser.lastT
	}
	if !delta {
		ser.prev, ser.start, ser.hasPrev = count, int64(p.StartNano), true
		d.prevCounts = append(d.prevCounts[:0], p.Counts...)
	}
	ser.lastT = t
	if dt <= 0 {
		return
	}
	w.sh.observe(ser.sig, Point{T: t, V: dCount / (float64(dt) / 1e9)})
	if dCount > 0 && d.p50 != noSignal && len(buckets) == len(p.Bounds)+1 && len(p.Bounds) > 0 {
		w.sh.observe(d.p50, Point{T: t, V: bucketQuantile(0.5, p.Bounds, buckets)})
		w.sh.observe(d.p99, Point{T: t, V: bucketQuantile(0.99, p.Bounds, buckets)})
	}
	if dCount > 0 {
		w.feedRequests(d, t, dCount, p.Bounds, buckets)
	}
}

// intervalStart returns t minus the start of the interval a delta covers.
func intervalStart(t, start, last int64) int64 {
	if start > 0 && start < t {
		return t - start
	}
	if last > 0 && last < t {
		return t - last
	}
	return 0
}

func (w *worker) scratchF(n int) []float64 {
	if cap(w.fbuf) < n {
		w.fbuf = make([]float64, n)
	}
	w.fbuf = w.fbuf[:n]
	clear(w.fbuf)
	return w.fbuf
}

// bucketQuantile estimates a quantile from explicit-bucket counts by linear
// interpolation within the bucket holding it, as Prometheus does. The
// first bucket's lower end is 0 (or its bound, if negative); a quantile in
// the overflow bucket is the highest bound.
func bucketQuantile(q float64, bounds, counts []float64) float64 {
	var total float64
	for _, c := range counts {
		total += c
	}
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	var acc float64
	for i, c := range counts {
		if acc+c >= rank && c > 0 {
			if i == len(bounds) {
				return bounds[len(bounds)-1]
			}
			hi := bounds[i]
			lo := math.Min(0, hi)
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (hi-lo)*(rank-acc)/c
		}
		acc += c
	}
	return bounds[len(bounds)-1]
}

func (m *metricsSink) ExpHistogram(p *ExpHistogramPoint) {
	w := (*worker)(m)
	if p.Scale < -10 || p.Scale > 20 {
		w.reject(rejectShape, 1)
		return
	}
	if len(p.Positive.Counts) > maxBuckets {
		w.reject(rejectBuckets, 1)
		return
	}
	ser, t, ok := w.point(p.Attrs, p.TimeNano, p.NoValue, seriesExpHistogram)
	if !ok {
		return
	}
	d := ser.dist
	count := float64(p.Count)
	delta := w.metric.Temporality == TemporalityDelta
	var dCount, dZero float64
	var dt int64
	pos := w.scratchF(len(p.Positive.Counts))
	sameLayout := d.prevScale == p.Scale && d.prevOffset == p.Positive.Offset && len(d.prevCounts) == len(p.Positive.Counts)
	switch {
	case delta:
		dCount, dZero = count, float64(p.ZeroCount)
		for i, c := range p.Positive.Counts {
			pos[i] = float64(c)
		}
		dt = intervalStart(t, int64(p.StartNano), ser.lastT)
	case !ser.hasPrev:
	case count < ser.prev || (p.StartNano != 0 && ser.start != 0 && int64(p.StartNano) != ser.start):
		dCount, dZero = count, float64(p.ZeroCount)
		for i, c := range p.Positive.Counts {
			pos[i] = float64(c)
		}
		dt = intervalStart(t, int64(p.StartNano), 0)
	default:
		dCount = count - ser.prev
		dt = t - ser.lastT
		if sameLayout {
			dZero = float64(p.ZeroCount) - d.prevZero
			for i, c := range p.Positive.Counts {
				pos[i] = float64(c) - float64(d.prevCounts[i])
			}
		} else {
			pos = pos[:0] // layout changed: a rate but no quantiles this time
		}
	}
	if !delta {
		ser.prev, ser.start, ser.hasPrev = count, int64(p.StartNano), true
		d.prevCounts = append(d.prevCounts[:0], p.Positive.Counts...)
		d.prevScale, d.prevOffset, d.prevZero = p.Scale, p.Positive.Offset, float64(p.ZeroCount)
	}
	ser.lastT = t
	if dt <= 0 {
		return
	}
	w.sh.observe(ser.sig, Point{T: t, V: dCount / (float64(dt) / 1e9)})
	if len(pos) == 0 && dZero <= 0 {
		return
	}
	// Express the positive buckets as explicit bounds: bucket index i covers
	// (base^i, base^(i+1)], base = 2^(2^-scale).
	base := math.Exp2(math.Exp2(-float64(p.Scale)))
	bounds := w.scratchB(len(pos) + 1)
	counts := w.scratchC(len(pos) + 2)
	bounds[0] = math.Max(p.ZeroThreshold, 0)
	counts[0] = dZero
	for i := range pos {
		bounds[i+1] = math.Pow(base, float64(int(p.Positive.Offset)+i+1))
		counts[i+1] = pos[i]
	}
	counts[len(pos)+1] = 0
	var total float64
	for _, c := range counts {
		total += c
	}
	if total > 0 {
		if d.p50 != noSignal {
			w.sh.observe(d.p50, Point{T: t, V: bucketQuantile(0.5, bounds, counts)})
			w.sh.observe(d.p99, Point{T: t, V: bucketQuantile(0.99, bounds, counts)})
		}
		w.feedRequests(d, t, dCount, bounds, counts)
	}
}

func (w *worker) scratchB(n int) []float64 {
	if cap(w.bbuf) < n {
		w.bbuf = make([]float64, n)
	}
	w.bbuf = w.bbuf[:n]
	return w.bbuf
}

func (w *worker) scratchC(n int) []float64 {
	if cap(w.cbuf) < n {
		w.cbuf = make([]float64, n)
	}
	w.cbuf = w.cbuf[:n]
	return w.cbuf
}

func (m *metricsSink) Summary(p *SummaryPoint) {
	w := (*worker)(m)
	ser, t, ok := w.point(p.Attrs, p.TimeNano, p.NoValue, seriesSummary)
	if !ok {
		return
	}
	if r, ok := ser.rate(t, int64(p.StartNano), float64(p.Count)); ok {
		w.sh.observe(ser.sig, Point{T: t, V: r})
	}
	d := ser.dist
	for _, q := range p.Quantiles {
		if math.IsNaN(q.V) || math.IsInf(q.V, 0) || !(q.Q >= 0 && q.Q <= 1) {
			continue
		}
		id := noSignal
		for _, qs := range d.quantiles {
			if qs.q == q.Q {
				id = qs.sig
				break
			}
		}
		if id == noSignal {
			if len(d.quantiles) >= 8 { // bounded: at most 8 quantile signals per summary
				continue
			}
			name := w.sh.name(w.mName + ":p" + strconv.FormatFloat(q.Q*100, 'f', -1, 64))
			id = w.sh.newSignal(w.wl, name, w.sh.sigs.get(ser.sig).Labels)
			d.quantiles = append(d.quantiles, quantileSig{q: q.Q, sig: id})
		}
		w.sh.observe(id, Point{T: t, V: q.V})
	}
	ser.lastT = t
}
