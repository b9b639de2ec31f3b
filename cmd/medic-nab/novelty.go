package main

import (
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/fixtures/nab"
)

func init() {
	detectors["novelty"] = struct {
		doc string
		new func(seed uint64) nab.Detector
	}{
		"medic's novelty detector (detect.DefaultNoveltyConfig, NAB's probation, rest probation/5)",
		func(uint64) nab.Detector { return noveltyDetector },
	}
}

// noveltyDetector is the "novelty" detector: the model of
// detect.NoveltyDetector with its shipped defaults (smooth seasonal
// profile), fresh per file. NAB hands it the file's probation, which
// replaces the default's, a rest of a fifth of it (150 rows on the long
// files, the default's), and the file's min and max, which scale its
// floors and shape radius (production series use the range seen so far).
func noveltyDetector(rows []nab.Row, probation int, lo, hi float64) ([]float64, error) {
	cfg := detect.DefaultNoveltyConfig()
	cfg.Probation = probation
	cfg.RestPoints = max(1, probation/5)
	s := cfg.NewStream(lo, hi)
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = s.Push(r.T, r.V)
	}
	return out, nil
}
