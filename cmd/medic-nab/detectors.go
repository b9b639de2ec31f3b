package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"

	"github.com/medic-bot/medic/fixtures/nab"
)

// detectors are the detectors -detector can name. raises, when set, is the
// detector as it raises in production, for the infra suite's second table.
var detectors = map[string]struct {
	doc    string
	new    func(seed uint64) nab.Detector
	raises nab.Detector
}{
	"medic": {"medic's streaming anomaly score (detect.Scorer, default config)", func(uint64) nab.Detector { return medicDetector }, medicRaises},
	"null":  {"a constant 0.5: never alerts under the sweep, scores 0", func(uint64) nab.Detector { return nullDetector }, nil},
	"random": {"uniform random scores, seeded by -seed and the file's values (NAB's baseline)", func(seed uint64) nab.Detector {
		return randomDetector(seed)
	}, nil},
}

func detectorNames() []string {
	var out []string
	for k := range detectors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nullDetector(rows []nab.Row, _ int, _, _ float64) ([]float64, error) {
	s := make([]float64, len(rows))
	for i := range s {
		s[i] = 0.5
	}
	return s, nil
}

// randomDetector scores every row with a uniform random number. The
// generator is seeded by seed and a hash of the file's first row, so a run
// is reproducible whatever order the files run in, and causal.
func randomDetector(seed uint64) nab.Detector {
	return func(rows []nab.Row, _ int, _, _ float64) ([]float64, error) {
		h := fnv.New64a()
		if len(rows) > 0 {
			fmt.Fprint(h, rows[0].T.UnixNano(), rows[0].V)
		}
		r := rand.New(rand.NewPCG(seed, h.Sum64()))
		s := make([]float64, len(rows))
		for i := range s {
			s[i] = r.Float64()
		}
		return s, nil
	}
}
