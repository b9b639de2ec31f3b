package detect

import (
	"testing"
	"time"
)

// BenchmarkStream measures Push, the per-row score, on one series: the
// points/s figure is per core. The state it keeps per series is
// StreamStateBytes.
func BenchmarkStream(b *testing.B) {
	v := noise(31, 4096, 100, 3)
	for i := 0; i < 4096; i += 97 {
		v[i] += 40 // excursions now and then, so the hysteresis runs too
	}
	ts := make([]time.Time, 4096)
	for i := range ts {
		ts[i] = streamT(i)
	}
	s := NewStream(DefaultScoreConfig(), 750, 0, 250)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Time moves on across laps of the 4096 rows.
		s.Push(ts[i&4095].Add(time.Duration(i>>12)*4096*5*time.Minute), v[i&4095])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(StreamStateBytes), "state_bytes")
}
