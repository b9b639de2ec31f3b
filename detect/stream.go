package detect

import (
	"math"
	"time"
	"unsafe"
)

// Stream scores one series row by row: CSV series (`medic detect --csv`) and
// benchmarks such as the Numenta Anomaly Benchmark, which charge every
// flagged row. It runs the score detector's model (the same update, the
// same per-stream calibration) and turns the detector's hysteresis into a
// per-row score:
//
//   - A row scores what the model scores, 0.7 of it for a lone surprising
//     row: the greater of 0.7 times the model's score and an exponential
//     average of the model's scores that weighs each row 0.3 (a run of
//     surprising rows keeps its full score). This is ConfirmPoints in
//     per-row form.
//   - Outside an excursion that is the row's score.
//   - An excursion starts when the score reaches 0.4 Warn and ends after
//     ClearPoints rows in a row below Warn/10.
//   - Inside an excursion a row scores 0 unless its score beats the
//     excursion's highest so far by half: one excursion is reported
//     once, on its first row, and again only as it grows clearly worse.
//   - With the series' range known, σ is at least streamFloor of it, but
//     never more than 10 long-run σ of the series: a series that sits on
//     a few values has no usable σ of its own, yet one wild outlier
//     elsewhere in the file must not mute the rest of it.
//
// So any threshold flags an excursion on the first row that reaches it and
// stays quiet for the rest of it, as the detector raises once per
// excursion; a global threshold chosen on a labelled corpus ranks
// excursions by how surprising they grew. The levels are below the
// detector's (Warn, Warn/2): the detector raises on "one in a million"
// (Threshold 0.6) and waits for ConfirmPoints, while a per-row score must
// leave the choice of threshold to its reader (NAB's sweep settles near
// 0.24 to 0.27, about one in 500 rows).
//
// A Stream is not safe for concurrent use. Its state is the detector's
// per-signal record plus 12 bytes (see StreamStateBytes).
type Stream struct {
	p  scoreParams
	st scoreState
	ex streamExcursion
}

// streamExcursion is what a Stream adds to the detector's state.
type streamExcursion struct {
	peak   float32 // the highest score reported in the current excursion
	smooth float32 // the model's scores, averaged with a half-life of one row
	below  uint8   // rows in a row below the clear level
	in     bool    // inside an excursion
}

// StreamStateBytes is the size of what a Stream keeps about its series, its
// parameters (shared by every series of a detector) excluded: 124 bytes,
// 32 of them the week-long memory.
const StreamStateBytes = int(unsafe.Sizeof(scoreState{}) + unsafe.Sizeof(streamExcursion{}))

// Excursion levels and growth, relative to ScoreConfig.Warn.
const (
	streamOnset = 0.4  // an excursion starts at Warn·streamOnset
	streamClear = 0.25 // and clears below Warn·streamClear
	streamGrow  = 1.5  // a row inside one is reported when it beats the peak by this factor
	streamLone  = 0.7  // the share of its score a lone surprising row keeps
	streamKeep  = 0.3  // the weight of a row in the average of the model's scores
	// streamFloor is the least σ of a residual as a share of the series'
	// range, when the range is known: a series that sits on a few values
	// (a CPU gauge with 0.01 resolution) has no usable σ of its own, and a
	// move of a hundredth of its range is not news.
	streamFloor = 0.07
)

// NewStream returns a fresh stream for one series. probation, when
// positive, replaces cfg.Probation: the rows the model learns from before
// it scores (they score 0). min and max are the series' range when known
// (NaN, or max <= min, when not); the range sets a floor under the scale
// of residuals. cfg should be valid (see ScoreConfig.Validate);
// out-of-range values are clamped as NewScorer does.
func NewStream(cfg ScoreConfig, probation int, min, max float64) *Stream {
	if probation > 0 {
		cfg.Probation = probation
	}
	s := &Stream{p: newScoreParams(cfg)}
	if r := max - min; r > 0 && !math.IsInf(r, 0) {
		s.p.floor = streamFloor * r
	}
	return s
}

// Push feeds the row at t (rows in increasing time order) and returns its
// anomaly score in [0,1]. Probationary rows, NaN and infinite values score
// 0. The score of a row depends on that row and the rows before it only.
func (s *Stream) Push(t time.Time, v float64) float64 {
	return s.push(t.UnixNano(), v)
}

func (s *Stream) push(t int64, v float64) float64 {
	sc := s.p.update(&s.st, t, v).score
	e := &s.ex
	e.smooth += streamKeep * (float32(sc) - e.smooth)
	if e.smooth < 1e-6 {
		e.smooth = 0 // not a trail of 1e-45s in the output once a score has died away
	}
	sc = max(float64(e.smooth), streamLone*sc)
	if !e.in {
		if sc >= streamOnset*s.p.warn {
			e.in, e.peak, e.below = true, float32(sc), 0
		}
		return sc
	}
	if sc < streamClear*s.p.warn {
		e.below++
		if e.below >= s.p.clear {
			e.in, e.peak, e.below = false, 0, 0
		}
	} else {
		e.below = 0
	}
	if sc > streamGrow*float64(e.peak) {
		e.peak = float32(sc)
		return sc
	}
	return 0
}
