package detect

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"time"
)

// The score model, per stream:
//
//  1. Level and scale at two horizons. A fast EWMA level with an EW mean
//     absolute deviation gives the residual z of each point (spikes, steps).
//     A slow EWMA level gives the drift, fast minus slow, with its own EW
//     scale (ramps, leaks, shifts the fast level already follows). Once
//     learned, a scale takes in a residual only up to a few σ, so an
//     excursion is not explained away by widening the scale, and a point
//     moves the fast level by at most 3σ (Huber), so one blip of a mostly
//     flat series does not make the ordinary points after it look wrong.
//     The fast scale never falls below half a long-memory one: a series that
//     moves only now and then keeps the size of its moves in mind.
//     The log of the fast scale over the long one, in units of its own EW
//     mean absolute value (at least 0.1), is a third z: a series whose
//     noise grew or died away (a disk that stopped writing, traffic gone
//     erratic) changed even where its level did not. The long scale it
//     compares with takes in a residual only up to 30 of its σ once
//     settled: a glitch of hundreds of σ must not make the ordinary noise
//     after it look as if it had died away for as long as the long
//     memory lasts (holding the excursion open, and the signal muted).
//  2. Surprise. The larger |z| of the two is turned into S = -log10 of its
//     two-sided Gaussian tail probability (a point with S = 6 would happen
//     once in a million points if the residuals were Gaussian), growing
//     linearly instead beyond |z| = 5, where real residuals are no longer
//     Gaussian.
//  3. Calibration (peaks over threshold, as SPOT does). Each stream learns
//     how often a run of S beyond s0 = 2 starts and the first two moments of
//     the excess at those starts; a generalized Pareto tail fitted to them
//     gives the stream's own probability of the current S. Priors are the
//     Gaussian values and the tail may only grow heavier than Gaussian.
//     Learning from the start of each run only (declustering) lets a
//     heavy-tailed stream teach its isolated outliers while a sustained
//     excursion, a ramp or a shift, counts once with its small first excess,
//     and so is not learned as normal while it grows. A young stream (its
//     first ten runs) learns in full; after that one wild run teaches only
//     a bounded amount.
//  4. Records. A point beyond the highest or the lowest value the stream
//     has ever shown, by more than 1% of the span between them, is at
//     least as unlikely as a record of a stream of its age (one in n points
//     for n points so far: the odds that the newest point of an
//     exchangeable series is its highest, or on the other side its
//     lowest), half a decade more for every tenth of the span and 1.5
//     decades for every σ it breaks the record by. The calibrated tail
//     learns how often surprises of a size come; it cannot tell that one
//     of them went where the stream has never been. (Counting both sides,
//     one in n/2, was measured too: records are where most of NAB's
//     windows are first caught, and on real series a new high or low is
//     an anomaly more often than the exchangeable odds say; one in n did
//     better in 58 of 60 jittered configurations, +0.9 Standard on
//     average.)
//  5. Week-long memory. Once a stream has been seen for a full week, its
//     week-long level (an EW level with a one-week half-life, plus the
//     mean offset of its first week) and the mean absolute deviation of
//     points from it give a second, slower expectation of each point.
//     While that expectation fits the stream (its deviation is below 1.5
//     times the fast one), a point's residual counts only as far as the
//     week-long expectation does not explain it either (in units of twice
//     its own σ): a rush the stream shows again and again is no news. It
//     fades in over the day after the first week, so a younger stream
//     scores exactly as without it. (An hour-of-week profile of 84 two-hour
//     slots in place of the single offset was measured: NAB 73.30 / 67.93
//     / 77.16 against 73.89 / 68.47 / 78.07 for one slot, at 360 more
//     bytes per stream; what helps is the week-long level, not the shape
//     of the week.)
//  6. Score = -log10(that probability) / 10, clamped to [0,1]: 0.6 means
//     "one in a million" for this stream.
//  7. Hysteresis: an excursion starts (Onset) when the score reaches Warn,
//     lasts while it stays at Warn/2 or more, raises one anomaly once it
//     has reached Threshold and lasted ConfirmPoints points, and ends only
//     after ClearPoints points in a row below Warn/2.
//
// Gaps in sampling count as that many missed points for the level and scale
// averages, so irregular series are handled in time, not in points. A
// stream that never moved (a constant, or zero until now) raises on its
// first move: nothing in its history says how large a move is normal.

// ScoreConfig configures the generic streaming anomaly score that runs on
// every signal (the `score` detector) and on CSV series (`medic detect
// --csv`). Horizons are half-lives counted in points at the stream's usual
// sampling interval.
type ScoreConfig struct {
	// Probation is how many points a stream must have before it is scored
	// at all; until then Update returns 0 and nothing is raised.
	Probation int `yaml:"probation"`
	// Threshold is the score at which an anomaly is raised, in (0,1]: the
	// score is -log10 of the stream's estimated probability of the current
	// point, divided by 10 (0.6 is one in a million points).
	Threshold float64 `yaml:"threshold"`
	// Warn is the lower score that marks the onset of an excursion (the
	// anomaly's Onset). An excursion ends, and the stream may raise again,
	// after ClearPoints points in a row score below Warn/2.
	Warn float64 `yaml:"warn"`
	// ClearPoints is how many consecutive points below Warn/2 end an
	// excursion.
	ClearPoints int `yaml:"clear_points"`
	// ConfirmPoints is how many consecutive points must score at least
	// Warn/2, the first at least Warn and one of them at least Threshold,
	// before an anomaly is raised. A lone
	// outlier that is gone on the next point healed itself and is nothing
	// to remediate; 1 raises on the first point that reaches Threshold.
	ConfirmPoints int `yaml:"confirm_points"`
	// FastHalfLife is the half-life of the fast level, the one each point
	// is compared to. Its deviation scale uses 4 times it.
	FastHalfLife float64 `yaml:"fast_halflife"`
	// SlowHalfLife is the half-life of the slow level. The gap between the
	// fast and the slow level catches drifts and ramps that the fast level
	// follows. Its deviation scale uses 4 times it.
	SlowHalfLife float64 `yaml:"slow_halflife"`
	// CalibrationHalfLife is the memory of the per-stream tail calibration.
	CalibrationHalfLife float64 `yaml:"calibration_halflife"`
	// Include lists signal name patterns (path.Match syntax) to score;
	// empty means every signal.
	Include []string `yaml:"include"`
	// Exclude lists signal name patterns never scored: configuration-like
	// gauges (limits, requests, restart counters, states) that other
	// detectors read and whose rare steps are not anomalies.
	Exclude []string `yaml:"exclude"`
}

// DefaultScoreConfig returns the settings medic ships with: quiet on noisy
// but normal series, a large spike is caught on the point that carries it.
func DefaultScoreConfig() ScoreConfig {
	return ScoreConfig{
		Probation:           120,
		Threshold:           0.6,
		Warn:                0.4,
		ClearPoints:         20,
		ConfirmPoints:       3,
		FastHalfLife:        48,
		SlowHalfLife:        2000,
		CalibrationHalfLife: 5000,
		Exclude: []string{
			"k8s.container.cpu_limit", "k8s.container.cpu_request",
			"k8s.container.memory_limit", "k8s.container.memory_request",
			"k8s.container.ephemeralstorage_*", "k8s.container.storage_*",
			"k8s.container.restarts", "k8s.container.ready",
			"k8s.container.status.*", "k8s.pod.phase", "k8s.pod.status_reason",
			"*.uptime", "*.uptime:rate",
		},
	}
}

// Validate reports every problem with the configuration at once.
func (c ScoreConfig) Validate() error {
	var errs []error
	if c.Probation < 2 || c.Probation > maxProbation {
		errs = append(errs, fmt.Errorf("probation must be in [2,%d], got %d", maxProbation, c.Probation))
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) {
		errs = append(errs, fmt.Errorf("threshold must be in (0,1], got %v", c.Threshold))
	}
	if !(c.Warn > 0 && c.Warn <= c.Threshold) {
		errs = append(errs, fmt.Errorf("warn must be in (0,threshold], got %v", c.Warn))
	}
	if c.ClearPoints < 1 || c.ClearPoints > 255 {
		errs = append(errs, fmt.Errorf("clear_points must be in [1,255], got %d", c.ClearPoints))
	}
	if c.ConfirmPoints < 1 || c.ConfirmPoints > 255 {
		errs = append(errs, fmt.Errorf("confirm_points must be in [1,255], got %d", c.ConfirmPoints))
	}
	for _, h := range []struct {
		name string
		v    float64
		min  float64
	}{
		{"fast_halflife", c.FastHalfLife, 0.5},
		{"slow_halflife", c.SlowHalfLife, 2 * c.FastHalfLife},
		{"calibration_halflife", c.CalibrationHalfLife, 100},
	} {
		if !(h.v >= h.min) || math.IsInf(h.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be a finite number >= %g, got %v", h.name, h.min, h.v))
		}
	}
	for _, p := range append(append([]string(nil), c.Include...), c.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("signal pattern %q: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// maxProbation bounds Probation so that the point counter fits in 16 bits.
const maxProbation = 60000

// Fixed parts of the model (not worth a knob).
const (
	madToSigma   = 1.2533        // E|X| = σ·sqrt(2/π) for a Gaussian
	devClip      = 4.0           // residuals count at most this many σ into the fast scale
	driftClip    = 2.0           // drifts count at most this many σ into the drift scale
	surpriseS0   = 2.0           // the calibrated tail starts at S = 2 (p = 1%)
	surpriseMax  = 1e4           // S is capped to keep the tail's moments finite
	surpriseKnee = 5.0           // S is Gaussian up to this |z|, exponential beyond
	longFloor    = 0.5           // the fast scale is at least this share of the long one
	huber        = 3.0           // once settled, a point moves the fast level by at most this many σ
	youngRuns    = 10            // runs of exceedances before the tail stops learning in full
	youngExcess  = 1000.0        // the most one of those can teach (a scale still degenerate makes S absurd)
	gaussTailP   = 0.01          // P(S > s0) for Gaussian residuals
	gaussBeta    = 1 / math.Ln10 // mean excess of S over s0 for Gaussian residuals
	minTailP     = 1e-3          // a stream never learns that s0 is rarer than this
	priorPoints  = 2000          // weight of the Gaussian priors, in points
	tailDecades  = 10.0          // score 1 means a probability of 10^-tailDecades
	stepHalf     = 20.0          // half-life (points) of the sampling interval estimate
	// A record broken by more than recordMin of the span between the
	// stream's extremes is as unlikely as a record of the stream's age
	// (one in n points), and recordSpan decades more per span and
	// recordSigma decades per σ that it breaks the record by.
	spreadMin   = 0.1  // the least scale of the log spread ratio
	spreadClip  = 30.0 // once settled, the spread's long scale takes in a residual up to this many of its σ
	recordMin   = 0.01
	recordSpan  = 5.0
	recordSigma = 1.5
	// floorCap bounds a range floor (Stream's, from the series' min and
	// max) to this many long-run σ: one wild outlier elsewhere in a file
	// must not set the scale for every other point of it.
	floorCap = 10.0
)

// scoreParams is ScoreConfig turned into per-point constants.
type scoreParams struct {
	aFast, aFastDev, aSlow, aDriftDev float64 // per-point smoothing factors
	lFast, lFastDev, lSlow, lDriftDev float64 // -ln(1-a), to scale by gaps
	aCal, aStep                       float64
	probation                         uint16
	driftReady                        uint16 // points before the drift counts
	clear                             uint8
	confirm                           uint8
	threshold, warn                   float64
	floor                             float64 // the least σ of a point's residual (0: none)
}

func halfLifeAlpha(halfLife float64) float64 {
	if halfLife <= 0 {
		return 1
	}
	return -math.Expm1(-math.Ln2 / halfLife)
}

func newScoreParams(c ScoreConfig) scoreParams {
	p := scoreParams{
		aFast:     halfLifeAlpha(c.FastHalfLife),
		aFastDev:  halfLifeAlpha(4 * c.FastHalfLife),
		aSlow:     halfLifeAlpha(c.SlowHalfLife),
		aDriftDev: halfLifeAlpha(4 * c.SlowHalfLife),
		aCal:      halfLifeAlpha(c.CalibrationHalfLife),
		aStep:     halfLifeAlpha(stepHalf),
		probation: uint16(min(max(c.Probation, 2), maxProbation)),
		// The drift means little before the slow level has seen one
		// half-life: a young stream's level has nothing to drift from.
		driftReady: uint16(min(max(c.SlowHalfLife, float64(c.Probation)), maxProbation)),
		clear:      uint8(min(max(c.ClearPoints, 1), 255)),
		confirm:    uint8(min(max(c.ConfirmPoints, 1), 255)),
		threshold:  c.Threshold,
		warn:       c.Warn,
	}
	p.lFast = -math.Log1p(-p.aFast)
	p.lFastDev = -math.Log1p(-p.aFastDev)
	p.lSlow = -math.Log1p(-p.aSlow)
	p.lDriftDev = -math.Log1p(-p.aDriftDev)
	return p
}

// scoreState is everything the model keeps about one stream (112 bytes, 32
// of them the week-long memory).
// Levels and times are 64-bit (gauges like byte counts need the precision);
// the drift (a difference), scales and calibration are float32.
type scoreState struct {
	lastT int64   // event time of the last point (Unix nanos)
	onset int64   // when the current excursion began; 0 outside one
	fast  float64 // fast level

	drift    float32 // fast level minus slow level
	fastDev  float32 // EW mean absolute deviation of points from the fast level
	longDev  float32 // the same over the slow horizon: a floor for sparse series
	driftDev float32 // EW mean absolute drift
	step     float32 // EW mean sampling interval, seconds
	tailP    float32 // how often a run of S beyond surpriseS0 starts
	tailM1   float32 // mean excess of S over surpriseS0 at those starts
	tailM2   float32 // mean squared excess
	hi, lo   float32 // the highest and lowest values seen: the stream's records
	spread   float32 // EW mean absolute log of fastDev/spreadDev

	n     uint16 // points seen, saturating
	runs  uint16 // runs of exceedances learned from, saturating
	flags uint8  // scoreAlerting, scoreExceeding
	below uint8  // alerting: consecutive points below warn/2; otherwise: points of the excursion so far
	peak  uint8  // the highest score of the excursion so far, in 255ths (fits the padding)

	spreadDev float32 // longDev taking in residuals up to spreadClip σ: what the spread compares with (fits the padding)

	seas seasonal // the hour-of-week memory
}

// scoreState.flags bits.
const (
	scoreAlerting  = 1 << iota // raised, not yet cleared
	scoreExceeding             // the last point's surprise was beyond surpriseS0
	scorePeaked                // the current excursion reached Threshold, not yet confirmed
)

// scoreStep is what one update found out.
type scoreStep struct {
	score    float64
	baseline float64 // the level the point was judged against
	sigma    float64 // the scale of that comparison
	level    float64 // the fast level after the point
	z        float64 // the residual (or drift, or spread) in units of sigma
	drift    bool    // the drift, not the point itself, was the surprise
	spread   float64 // when the spread was the surprise: recent over usual
	raise    bool    // the stream just became anomalous
	peak     float64 // with raise: the highest score of the excursion
}

// scoreWarm returns a, or a larger factor while the stream is young so that the
// average starts as a plain mean of the points so far.
func scoreWarm(a float64, n uint16) float64 {
	if w := 1 / float64(n+1); w > a {
		return w
	}
	return a
}

// scoreGap scales a per-point factor a (with l = -ln(1-a)) to a gap of k usual
// intervals.
func scoreGap(a, l, k float64) float64 {
	if k > 0.8 && k < 1.25 {
		return a
	}
	return -math.Expm1(-l * k)
}

// scoreSurprise is -log10 of the two-sided Gaussian tail probability of z
// up to |z| = surpriseKnee, and grows linearly (an exponential tail) beyond:
// real residuals are rarely Gaussian that far out, and a quadratic S would
// make one heavy-tailed outlier look astronomically rare.
func scoreSurprise(z float64) float64 {
	a := math.Abs(z)
	if a <= surpriseKnee {
		return -math.Log10(math.Erfc(a / math.Sqrt2))
	}
	return kneeS + (a-surpriseKnee)*surpriseKnee/math.Ln10
}

// kneeS is scoreSurprise(surpriseKnee).
var kneeS = -math.Log10(math.Erfc(surpriseKnee / math.Sqrt2))

// gpdDecades is -log10 of the probability that an excess over the tail's
// start reaches x, under a generalized Pareto tail fitted by moments to
// the mean m1 and mean square m2 of past excesses. The shape is kept in
// [0, 0.45] (exponential to heavy), and the tail is never lighter than that
// of Gaussian residuals (x decades).
func gpdDecades(x, m1, m2 float64) float64 {
	v := m2 - m1*m1
	var d float64
	if r := m1 * m1 / v; v > 0 && r < 1 {
		xi, beta := 0.5*(1-r), 0.5*m1*(1+r)
		if xi > 0.45 { // keep the mean, cap the shape
			xi, beta = 0.45, m1*0.55
		}
		d = math.Log1p(xi*x/beta) / (xi * math.Ln10)
	} else {
		d = x / (m1 * math.Ln10) // exponential (or lighter): shape 0
	}
	return min(d, x)
}

// update feeds one point into st and scores it.
func (p *scoreParams) update(st *scoreState, t int64, v float64) scoreStep {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return scoreStep{}
	}
	if st.n == 0 {
		*st = scoreState{lastT: t, fast: v, n: 1, hi: float32(v), lo: float32(v)}
		st.seas.start(t, v)
		return scoreStep{baseline: v}
	}
	n := st.n
	settled := n >= p.probation/2     // scales have seen enough to clip
	seasW, seasV := st.seas.expect(t) // weight 0 until a week has been seen

	// Sampling interval: how many usual steps this point is after the last.
	k := 1.0
	if dt := float64(t-st.lastT) / 1e9; dt > 0 {
		if st.step > 0 {
			k = min(max(dt/float64(st.step), 0.05), 1e4)
			st.step += float32(scoreWarm(p.aStep, n) * (min(dt, 4*float64(st.step)) - float64(st.step)))
		} else {
			st.step = float32(dt)
		}
	}
	defer st.seas.learn(t, v, t-st.lastT)
	st.lastT = t

	// Fast horizon: the point against the level so far.
	base := st.fast
	// The fast scale forgets within a few dozen points; a series that
	// moves only now and then (an error ratio of sampled spans) would
	// have none left when it moves. The long scale remembers.
	floor := p.floor
	if floor > 0 && st.longDev > 0 {
		floor = min(floor, floorCap*madToSigma*float64(st.longDev))
	}
	sigF := math.Max(scoreScale(math.Max(float64(st.fastDev), longFloor*float64(st.longDev)), base), floor)
	r := v - base
	zf := r / sigF
	hub, clip := math.Inf(1), math.Inf(1)
	if settled {
		hub, clip = huber*sigF, devClip*sigF
	}
	// Huber: one wild point (a blip of a mostly constant series) must not
	// drag the level, or every ordinary point after it looks wrong.
	st.fast += scoreGap(p.aFast, p.lFast, k) * max(-hub, min(r, hub))
	st.fastDev += float32(scoreGap(scoreWarm(p.aFastDev, n), p.lFastDev, k) * (min(math.Abs(r), clip) - float64(st.fastDev)))
	// The long scales (and the drift's and spread's) share one factor.
	aLong := scoreGap(scoreWarm(p.aDriftDev, n), p.lDriftDev, k)
	// Unclipped: a scale that starts degenerate (a series that sat still
	// while the model warmed up) must be able to learn the first moves,
	// and its long memory bounds what one excursion can teach it.
	st.longDev += float32(aLong * (math.Abs(r) - float64(st.longDev)))
	sr := math.Abs(r)
	if settled && st.spreadDev > 0 {
		sr = min(sr, spreadClip*madToSigma*float64(st.spreadDev))
	}
	st.spreadDev += float32(aLong * (sr - float64(st.spreadDev)))

	// Slow horizon, kept as its distance from the fast level. Once
	// settled it follows the fast level, not the points: the fast level
	// takes a glitch in only up to 3σ (Huber), while the points would
	// pull the slow level by the glitch's full size and leave a drift
	// that lasts as long as its memory.
	slow := base - float64(st.drift)
	if settled {
		slow += scoreGap(scoreWarm(p.aSlow, n), p.lSlow, k) * (st.fast - slow)
	} else {
		slow += scoreGap(scoreWarm(p.aSlow, n), p.lSlow, k) * (v - slow)
	}
	d := st.fast - slow
	sigD := math.Max(madToSigma*float64(st.driftDev), 0.1*sigF)
	zd := d / sigD
	st.drift = float32(d)
	if settled {
		clip = driftClip * sigD
	}
	st.driftDev += float32(aLong * (min(math.Abs(d), clip) - float64(st.driftDev)))

	step := scoreStep{baseline: base, sigma: sigF, level: st.fast, z: zf}
	if n >= p.driftReady && math.Abs(zd) > math.Abs(zf) {
		step.baseline, step.sigma, step.z, step.drift = slow, sigD, zd, true
	}
	// Spread: the fast scale against the long one.
	if st.fastDev > 0 && st.spreadDev > 0 {
		ratio := float64(st.fastDev) / float64(st.spreadDev)
		lr := math.Log(ratio)
		sv := math.Max(madToSigma*float64(st.spread), spreadMin)
		zs := lr / sv
		if settled {
			lr = max(-driftClip*sv, min(lr, driftClip*sv))
		}
		st.spread += float32(aLong * (math.Abs(lr) - float64(st.spread)))
		if n >= p.driftReady && math.Abs(zs) > math.Abs(step.z) {
			step.z, step.drift, step.spread = zs, false, ratio
		}
	}
	// Seasonal memory: a residual that the stream's hour-of-week profile
	// explains is no news, where that profile fits the stream at least
	// about as well as the fast level does.
	if seasW > 0 && st.seas.dev > 0 && !step.drift && step.spread == 0 && float64(st.seas.dev) < seasFit*float64(st.fastDev) {
		zs := (v - st.seas.level - seasV) / math.Max(seasSigma*madToSigma*float64(st.seas.dev), floor)
		if math.Abs(zs) < math.Abs(step.z) {
			step.z += seasW * (math.Copysign(math.Abs(zs), step.z) - step.z)
		}
	}
	z := step.z
	if st.n < math.MaxUint16 {
		st.n++
	}
	// How far the point breaks the stream's records, as a share of the
	// span between them.
	hi, lo := float64(st.hi), float64(st.lo)
	record, recordZ := 0.0, 0.0 // in spans and in σ
	if span := hi - lo; span > 0 {
		record = max(v-hi, lo-v) / span
		recordZ = max(v-hi, lo-v) / sigF
	}
	st.hi, st.lo = float32(max(hi, v)), float32(min(lo, v))
	if !settled {
		return step
	}
	if st.tailP == 0 {
		st.tailP, st.tailM1, st.tailM2 = gaussTailP, gaussBeta, 2*gaussBeta*gaussBeta
	}

	// Calibrated tail probability of this point's surprise, in decades.
	s := 0.0
	if math.Abs(z) > 2.5 { // S < 1.92 below: no need to compute it
		s = min(scoreSurprise(z), surpriseMax)
	}
	tailP := float64(st.tailP)
	decades := -math.Log10(tailP)
	if x := s - surpriseS0; x > 0 {
		decades += gpdDecades(x, float64(st.tailM1), float64(st.tailM2))
	} else {
		// Below the tail, ordinary points: from 0 up to where it starts.
		decades *= s / surpriseS0
	}
	if record > recordMin {
		decades = max(decades, math.Log10(float64(n))+recordSpan*record+recordSigma*recordZ)
	}
	scoring := n >= p.probation
	if scoring {
		step.score = min(1, decades/tailDecades)
	}

	// Learn the tail from the first point of each run of exceedances
	// (declustering, as peaks-over-threshold methods do): a heavy-tailed
	// stream teaches its tail with every isolated outlier, while a
	// sustained excursion counts once, with the small excess at its start,
	// and so is not learned as normal while it grows.
	a := math.Max(p.aCal, 1/(float64(n-p.probation/2)+priorPoints))
	if s > surpriseS0 {
		if st.flags&scoreExceeding == 0 {
			st.flags |= scoreExceeding
			st.tailP += float32(a * (1 - tailP))
			// Exceedances are rare: average over the last few dozen.
			// A young stream learns from its first runs as from a mean,
			// in full: with little history, what it has seen is normal.
			// An established one takes a single wild run in only partly.
			aT := max(min(a/math.Max(tailP, minTailP), 0.05), 1/(float64(st.runs)+2))
			m1 := float64(st.tailM1)
			ex := min(s-surpriseS0, youngExcess)
			if st.runs >= youngRuns {
				ex = min(s-surpriseS0, 20*m1)
			}
			if st.runs < math.MaxUint16 {
				st.runs++
			}
			st.tailM1 += float32(aT * (ex - m1))
			st.tailM2 += float32(aT * (ex*ex - float64(st.tailM2)))
		}
	} else {
		st.flags &^= scoreExceeding
		st.tailP = float32(math.Max(minTailP, tailP-a*tailP))
	}
	if !scoring {
		return step
	}

	// Excursion state: onset at warn, raise at threshold, re-arm after
	// ClearPoints points in a row below half the warn level.
	if st.flags&scoreAlerting != 0 {
		if step.score < p.warn/2 {
			st.below++
		} else {
			st.below = 0
		}
		if st.below >= p.clear {
			st.flags &^= scoreAlerting
			st.below, st.onset = 0, 0
		}
		return step
	}
	if step.score < p.warn && (st.onset == 0 || step.score < p.warn/2) {
		st.onset, st.below, st.peak = 0, 0, 0
		st.flags &^= scorePeaked
		return step
	}
	st.peak = max(st.peak, uint8(min(step.score, 1)*255))
	if st.onset == 0 {
		st.onset = t
	}
	if st.below < math.MaxUint8 {
		st.below++
	}
	if step.score >= p.threshold {
		st.flags |= scorePeaked
	}
	if st.flags&scorePeaked != 0 && st.below >= p.confirm {
		st.flags |= scoreAlerting
		st.flags &^= scorePeaked
		st.below = 0
		step.raise = true
		step.peak = max(step.score, float64(st.peak)/255)
		st.peak = 0
	}
	return step
}

// scoreScale turns a mean absolute deviation into a σ, with a floor so that a
// constant stream (zero deviation) never divides by zero: any change of a
// constant stream is then very surprising, as it should be.
func scoreScale(dev, level float64) float64 {
	return math.Max(madToSigma*dev, 1e-9*math.Abs(level)+1e-12)
}

// Scorer is the streaming anomaly score of one series, outside the engine
// (medic detect --csv). It is the same model the score detector runs per
// signal. A Scorer is not safe for concurrent use.
type Scorer struct {
	p  scoreParams
	st scoreState
}

// NewScorer returns a scorer for one series. cfg should be valid (see
// ScoreConfig.Validate); out-of-range values are clamped.
func NewScorer(cfg ScoreConfig) *Scorer {
	return &Scorer{p: newScoreParams(cfg)}
}

// Update feeds the point (tNano Unix nanoseconds, in increasing order) and
// returns its anomaly score in [0,1]: 0 during probation and for NaN or
// infinite values, which are otherwise ignored.
func (s *Scorer) Update(tNano int64, v float64) float64 {
	return s.p.update(&s.st, tNano, v).score
}

// Reset forgets everything learned.
func (s *Scorer) Reset() { s.st = scoreState{} }

// ScoreDetector raises KindScore anomalies when a signal's streaming anomaly
// score reaches the threshold: once per excursion, re-armed after the score
// has stayed below half the warn level for ClearPoints points. Its state is
// one fixed-size record (112 bytes) per signal ID.
type ScoreDetector struct {
	p       scoreParams
	include []string
	exclude []string
	states  []scoreState // indexed by Signal.ID
}

// NewScoreDetector builds the score detector from a (validated) config.
func NewScoreDetector(cfg ScoreConfig) Detector {
	return &ScoreDetector{
		p:       newScoreParams(cfg),
		include: append([]string(nil), cfg.Include...),
		exclude: append([]string(nil), cfg.Exclude...),
	}
}

// Name is "score".
func (d *ScoreDetector) Name() string { return "score" }

// Wants reports whether sig's name is included and not excluded.
func (d *ScoreDetector) Wants(sig *Signal) bool {
	if len(d.include) > 0 && !matchSignalName(d.include, sig.Name) {
		return false
	}
	return !matchSignalName(d.exclude, sig.Name)
}

func matchSignalName(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Observe scores p and raises an anomaly when an excursion reaches the
// threshold.
func (d *ScoreDetector) Observe(sig *Signal, p Point, emit Emit) {
	id := int(sig.ID)
	if id >= len(d.states) {
		n := max(len(d.states)+len(d.states)/4, id+1, 64) // amortized, without doubling a large table
		grown := make([]scoreState, n)
		copy(grown, d.states)
		d.states = grown
	}
	st := &d.states[id]
	r := d.p.update(st, p.T, p.V)
	if !r.raise {
		return
	}
	dir := "above"
	if r.z < 0 {
		dir = "below"
	}
	summary := fmt.Sprintf("%s at %s, %.1fσ %s its expected %s (anomaly score %.2f)",
		sig.Name, fmtValue(p.V), math.Abs(r.z), dir, fmtValue(r.baseline), r.peak)
	switch {
	case r.drift:
		summary = fmt.Sprintf("%s drifted to %s from its usual level of %s, %.1f times its normal drift (anomaly score %.2f)",
			sig.Name, fmtValue(r.level), fmtValue(r.baseline), math.Abs(r.z), r.peak)
	case r.spread > 0:
		summary = fmt.Sprintf("%s at %s varies %s times as much as it usually does around %s (anomaly score %.2f)",
			sig.Name, fmtValue(p.V), fmtValue(r.spread), fmtValue(r.level), r.peak)
	}
	a := Anomaly{
		Signal:   sig.Name,
		Kind:     KindScore,
		Detector: d.Name(),
		Onset:    time.Unix(0, st.onset).UTC(),
		At:       time.Unix(0, p.T).UTC(),
		Score:    r.peak,
		Observed: p.V,
		Baseline: r.baseline,
		Summary:  summary,
	}
	if sig.Workload != nil {
		a.Workload = *sig.Workload
	}
	emit(sig, a)
}

// Forget drops the state of sig, whose ID will be reused.
func (d *ScoreDetector) Forget(sig *Signal) {
	if int(sig.ID) < len(d.states) {
		d.states[sig.ID] = scoreState{}
	}
}

// Advance does nothing: the score lives on points alone.
func (d *ScoreDetector) Advance(int64, Emit) {}

// fmtValue prints a measurement of unknown unit with 3 significant digits
// and an SI prefix for large magnitudes: 0.25, 12.5, 539M.
func fmtValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a < 1e-3 || a >= 1e18:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a < 1e4:
		return strconv.FormatFloat(roundSignificant(v, 3), 'f', -1, 64)
	}
	const prefixes = "kMGTP"
	i := -1
	for a >= 999.5 && i < len(prefixes)-1 {
		a /= 1000
		v /= 1000
		i++
	}
	return strconv.FormatFloat(roundSignificant(v, 3), 'f', -1, 64) + prefixes[i:i+1]
}

func roundSignificant(v float64, digits int) float64 {
	if v == 0 {
		return 0
	}
	e := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*e) / e
}

// Week-long memory (see the model notes, 5.). The code keeps the shape of
// an hour-of-week profile with seasSlots slots, interpolated between slot
// centres, each learned as the mean of its first visit and then at
// seasRate per visit, taking in a point only up to seasClip deviations so
// that an anomaly does not teach the next week to expect it; with one slot
// (measured better than 84, see the notes) it is the stream's mean offset
// from its week-long level. Nothing of it is used before a full week has
// been seen, and it fades in over the day after.
const (
	seasSlots  = 1
	seasPeriod = int64(7 * 24 * time.Hour)
	seasSlot   = float64(seasPeriod) / seasSlots
	seasFade   = float64(24 * time.Hour) // the fade-in after the first week
	seasLevelH = float64(seasPeriod)     // half-life of the level the profile is relative to
	seasRate   = 0.1                     // a slot's learning rate per visit
	seasClip   = 3.0                     // a point teaches its slot at most this many deviations
	seasDevH   = 0.05                    // the deviation's learning rate per slot of time
	seasFit    = 1.5                     // the profile is used while its deviation is below this many fast ones
	seasSigma  = 2.0                     // σ of a seasonal residual in units of madToSigma·deviation
)

// seasonal is the week-long memory of one stream (32 bytes).
type seasonal struct {
	t0    int64   // time of the stream's first point
	level float64 // EW level, half-life seasLevelH in time
	prof  [seasSlots]float32
	dev   float32 // EW mean absolute deviation from level plus profile
	pts   uint16  // points in the current visit of a slot
	slot  uint8   // the slot of the last point
}

func (s *seasonal) start(t int64, v float64) {
	*s = seasonal{t0: t, level: v, slot: math.MaxUint8}
}

// seasPos is the position of t in the week, in slots.
func seasPos(t int64) float64 {
	m := t % seasPeriod
	if m < 0 {
		m += seasPeriod
	}
	return float64(m) / seasSlot
}

// expect returns the weight of the profile at t (0 before a full week has
// been seen, 1 a day later) and the profile's value there.
func (s *seasonal) expect(t int64) (float64, float64) {
	w := (float64(t-s.t0) - float64(seasPeriod)) / seasFade
	if !(w > 0) {
		return 0, 0
	}
	return min(w, 1), s.at(t)
}

// at interpolates the profile between the centres of the slots around t.
func (s *seasonal) at(t int64) float64 {
	x := seasPos(t) - 0.5
	j := math.Floor(x)
	f := x - j
	i := int(j)
	if i < 0 {
		i += seasSlots
	}
	i2 := i + 1
	if i2 >= seasSlots {
		i2 = 0
	}
	return float64(s.prof[i])*(1-f) + float64(s.prof[i2])*f
}

// learn takes the point v, dt nanoseconds after the last, into the level,
// the deviation and the profile.
func (s *seasonal) learn(t int64, v float64, dt int64) {
	if dt <= 0 {
		return
	}
	age := t - s.t0
	fdt := float64(dt)
	e := v - s.level
	s.level += max(-math.Expm1(-math.Ln2*fdt/seasLevelH), fdt/float64(age)) * e
	slot := uint8(min(seasPos(t), seasSlots-1))
	if slot != s.slot {
		s.slot, s.pts = slot, 0
	}
	if s.pts < math.MaxUint16 {
		s.pts++
	}
	p := &s.prof[slot]
	visits := age / seasPeriod
	if visits == 0 { // the first visit: its mean
		*p += float32((e - float64(*p)) / float64(s.pts))
		return
	}
	// The deviation from what last week taught (a plain mean over the
	// first slots of this one).
	a := min(max(seasDevH*fdt/seasSlot, fdt/float64(age-seasPeriod+dt)), 1)
	s.dev += float32(a * (math.Abs(e-s.at(t)) - float64(s.dev)))
	d := e - float64(*p)
	if s.dev > 0 {
		c := seasClip * float64(s.dev)
		d = max(-c, min(d, c))
	}
	*p += float32(max(seasRate, 1/float64(visits+1)) * min(fdt/seasSlot, 1) * d)
}
