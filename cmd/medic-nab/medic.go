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

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Min(1, math.Max(0, x))
}
