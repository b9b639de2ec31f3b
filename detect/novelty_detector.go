package detect

import (
	"errors"
	"fmt"
	"math"
	"path"
	"time"
)

// NoveltyConfig configures the novelty detector: the novelty model (see
// novelty.go) run on every wanted signal, raising KindScore anomalies. It
// is an alternative to the score detector and is not registered in the
// engine by default.
type NoveltyConfig struct {
	// Probation is how many points a signal must have before it may raise.
	// The model learns its scales, likelihood and shapes from them, and the
	// range it has seen during probation is what a new extreme is measured
	// against: a series with a daily rhythm needs a probation of at least
	// one day of points, or the first pass through its day raises.
	Probation int `yaml:"probation"`
	// RestPoints is how many points a signal stays silent after it raised:
	// one incident raises once. The engine's cooldown applies on top.
	RestPoints int `yaml:"rest_points"`
	// SmoothSeason interpolates the two-hour-of-week profile between the
	// centres of its slots. The stepped profile of the NAB recipe (false,
	// NewNoveltyStream) jumps at every slot boundary: a series with a
	// strong daily rhythm sampled every minute raises about twice a day
	// once the profile has seen a week, and white noise sampled every 15
	// seconds raises on "drifts" at slot boundaries. Smoothing removes
	// both and costs NAB Standard 1.5 to 3 points (see TestNoveltyNAB).
	SmoothSeason bool `yaml:"smooth_season"`
	// Include lists signal name patterns (path.Match syntax) to watch;
	// empty means every signal.
	Include []string `yaml:"include"`
	// Exclude lists signal name patterns never watched.
	Exclude []string `yaml:"exclude"`
}

// DefaultNoveltyConfig returns the NAB recipe with a smooth seasonal
// profile (a stepped one raises twice a day on daily rhythms sampled every
// minute), a rest of 150 points as on NAB's long files, a probation of a
// day at one point every 15 seconds, so that the range a new extreme is
// measured against has seen a whole day, and the score detector's
// exclusions: configuration-like gauges whose rare steps are not
// anomalies.
func DefaultNoveltyConfig() NoveltyConfig {
	return NoveltyConfig{
		Probation:    5760,
		RestPoints:   150,
		SmoothSeason: true,
		Exclude:      append([]string(nil), DefaultScoreConfig().Exclude...),
	}
}

// Validate reports every problem with the configuration at once.
func (c NoveltyConfig) Validate() error {
	var errs []error
	if c.Probation < 2 || c.Probation > maxNoveltyPoints {
		errs = append(errs, fmt.Errorf("probation must be in [2,%d], got %d", maxNoveltyPoints, c.Probation))
	}
	if c.RestPoints < 1 || c.RestPoints > maxNoveltyPoints {
		errs = append(errs, fmt.Errorf("rest_points must be in [1,%d], got %d", maxNoveltyPoints, c.RestPoints))
	}
	for _, p := range append(append([]string(nil), c.Include...), c.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("signal pattern %q: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// maxNoveltyPoints bounds Probation and RestPoints: a week of points at one
// a second is more than any series needs.
const maxNoveltyPoints = 604800

// NoveltyDetector raises a KindScore anomaly on the point where a signal
// leaves the range it has ever shown, moves in a shape it never has, or
// shows a run of surprise unlikely for it (see novelty.go), once per
// incident: after raising, a signal rests for RestPoints points. Its state
// is one fixed-size record (NoveltyStateBytes) per signal ID.
type NoveltyDetector struct {
	p       noveltyParams
	include []string
	exclude []string
	states  []noveltyState // indexed by Signal.ID
}

// NewStream returns a NoveltyStream running the model with c's Probation,
// RestPoints and SmoothSeason: the model the detector runs, on one series
// outside the engine. lo and hi are as for NewNoveltyStream.
func (c NoveltyConfig) NewStream(lo, hi float64) *NoveltyStream {
	return &NoveltyStream{p: c.params(lo, hi)}
}

// params is c as the model's parameters, out-of-range values clamped.
func (c NoveltyConfig) params(lo, hi float64) noveltyParams {
	probation := min(max(c.Probation, 2), maxNoveltyPoints)
	rest := min(max(c.RestPoints, 1), maxNoveltyPoints)
	p := newNoveltyParams(probation, rest, lo, hi)
	p.smoothSeason = c.SmoothSeason
	return p
}

// NewNoveltyDetector builds the novelty detector from a (validated) config;
// out-of-range values are clamped.
func NewNoveltyDetector(cfg NoveltyConfig) Detector {
	return &NoveltyDetector{
		p:       cfg.params(math.NaN(), math.NaN()),
		include: append([]string(nil), cfg.Include...),
		exclude: append([]string(nil), cfg.Exclude...),
	}
}

// Name is "novelty".
func (d *NoveltyDetector) Name() string { return "novelty" }

// Wants reports whether sig's name is included and not excluded.
func (d *NoveltyDetector) Wants(sig *Signal) bool {
	if len(d.include) > 0 && !matchSignalName(d.include, sig.Name) {
		return false
	}
	return !matchSignalName(d.exclude, sig.Name)
}

// Observe feeds p to the model of sig and raises an anomaly when it alerts.
func (d *NoveltyDetector) Observe(sig *Signal, p Point, emit Emit) {
	id := int(sig.ID)
	if id >= len(d.states) {
		// Amortized, without doubling a large table.
		n := max(len(d.states)+len(d.states)/4, id+1, 64)
		grown := make([]noveltyState, n)
		copy(grown, d.states)
		d.states = grown
	}
	st := &d.states[id]
	r := d.p.update(st, p.T, p.V)
	if !r.raise {
		return
	}
	onset := st.onset
	if onset == 0 || onset > p.T {
		onset = p.T
	}
	a := Anomaly{
		Signal:   sig.Name,
		Kind:     KindScore,
		Detector: d.Name(),
		Onset:    time.Unix(0, onset).UTC(),
		At:       time.Unix(0, p.T).UTC(),
		Score:    r.score,
		Observed: p.V,
		Baseline: r.baseline,
		Summary:  noveltySummary(sig.Name, p.V, r),
	}
	if sig.Workload != nil {
		a.Workload = *sig.Workload
	}
	emit(sig, a)
}

// noveltySummary says in one sentence why the point raised.
func noveltySummary(name string, v float64, r noveltyStep) string {
	dir := "above"
	if r.z < 0 {
		dir = "below"
	}
	switch r.kind {
	case noveltyValue:
		return fmt.Sprintf("%s at %s, outside the range %s to %s it has shown so far (anomaly score %.2f)",
			name, fmtValue(v), fmtValue(r.lo), fmtValue(r.hi), r.score)
	case noveltyShape:
		return fmt.Sprintf("%s at %s moved in a way it has not before, from its expected %s (anomaly score %.2f)",
			name, fmtValue(v), fmtValue(r.baseline), r.score)
	}
	if r.drift {
		return fmt.Sprintf("%s drifted to %s from its usual level of %s, %.1f times its normal drift (anomaly score %.2f)",
			name, fmtValue(r.level), fmtValue(r.baseline), math.Abs(r.z), r.score)
	}
	return fmt.Sprintf("%s at %s, %.1fσ %s its expected %s, an unusual run for this series (anomaly score %.2f)",
		name, fmtValue(v), math.Abs(r.z), dir, fmtValue(r.baseline), r.score)
}

// Forget drops the state of sig, whose ID will be reused.
func (d *NoveltyDetector) Forget(sig *Signal) {
	if int(sig.ID) < len(d.states) {
		d.states[sig.ID] = noveltyState{}
	}
}

// Advance does nothing: the model lives on points alone.
func (d *NoveltyDetector) Advance(int64, Emit) {}
