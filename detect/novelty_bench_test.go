package detect_test

import (
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/detectorstest"
)

// noveltyBenchSeries is 4096 noisy points with an excursion now and then,
// so that alerts, rests and new shapes happen too.
func noveltyBenchSeries() []float64 {
	v := noveltyNoise(31, 4096, 100, 3)
	for i := 0; i < len(v); i += 97 {
		v[i] += 40
	}
	return v
}

// BenchmarkNoveltyStream measures NoveltyStream.Push on one series: the
// points/s figure is per core; state_bytes is what the model keeps per
// series.
func BenchmarkNoveltyStream(b *testing.B) {
	v := noveltyBenchSeries()
	ts := make([]time.Time, len(v))
	for i := range ts {
		ts[i] = noveltyT0.Add(time.Duration(i) * 5 * time.Minute)
	}
	s := detect.NewNoveltyStream(750, 0, 250)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Time moves on across laps of the 4096 rows.
		s.Push(ts[i&4095].Add(time.Duration(i>>12)*4096*5*time.Minute), v[i&4095])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(detect.NoveltyStateBytes), "state_bytes")
}

// BenchmarkNoveltyDetector measures Observe over 1024 signals in turn, as
// the engine calls it (default config: running range, smooth season).
func BenchmarkNoveltyDetector(b *testing.B) {
	const signals = 1024
	v := noveltyBenchSeries()
	d := detect.NewNoveltyDetector(detect.DefaultNoveltyConfig())
	sigs := make([]*detect.Signal, signals)
	for i := range sigs {
		sigs[i] = detectorstest.Signal(uint32(i), nil, "x", nil)
	}
	emit := func(*detect.Signal, detect.Anomaly) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i / signals // the point each signal is at
		d.Observe(sigs[i%signals], detect.Point{T: noveltyT0.Add(time.Duration(k) * 15 * time.Second).UnixNano(), V: v[(k+i%signals)&4095]}, emit)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(detect.NoveltyStateBytes), "state_bytes")
}
