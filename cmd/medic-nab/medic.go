package main

import (
	"math"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/fixtures/nab"
)

// medicDetector is the "medic" detector: medic's streaming anomaly score as
// a per-row score (detect.Stream with the shipped defaults,
// detect.DefaultScoreConfig), fresh per file. NAB hands it the file's
// probation length, which replaces the score's own probation, and the
// file's min and max, which set a floor under the scale of residuals.
func medicDetector(rows []nab.Row, probation int, lo, hi float64) ([]float64, error) {
	s := detect.NewStream(detect.DefaultScoreConfig(), probation, lo, hi)
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = clamp01(s.Push(r.T, r.V))
	}
	return out, nil
}

// medicRaises runs medic's production detector (detect.ScoreDetector with
// the default config, fresh per file) over a series and scores 1 the rows
// where it raised an anomaly, 0 the others. It takes nothing from the
// file: no probation length, no range.
func medicRaises(rows []nab.Row, _ int, _, _ float64) ([]float64, error) {
	d := detect.NewScoreDetector(detect.DefaultScoreConfig())
	sig := &detect.Signal{Name: "series"}
	out := make([]float64, len(rows))
	for i, r := range rows {
		d.Observe(sig, detect.Point{T: r.T.UnixNano(), V: r.V}, func(*detect.Signal, detect.Anomaly) { out[i] = 1 })
	}
	return out, nil
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Min(1, math.Max(0, x))
}
