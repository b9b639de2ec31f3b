package detect

import (
	"hash/maphash"
	"math"
	"time"
)

// evidenceLen is how many recent points each signal keeps for the evidence
// chart of an anomaly. It is the largest part of a series' memory (88 of
// the ~290 bytes a series costs), so it is kept short; detectors that want
// a longer picture (SLO windows) draw their own.
const evidenceLen = 12

// evidence is a ring of the last evidenceLen points of a signal, stored
// compactly: values as float32 and times as seconds since the previous point
// (saturating at ~18h), anchored at the newest point's time.
type evidence struct {
	last int64 // Unix nanos of the newest point
	vals [evidenceLen]float32
	gaps [evidenceLen]uint16 // seconds from the previous point to this one
	pos  uint8               // index of the next write
	n    uint8               // points held
}

func (r *evidence) add(p Point) {
	gap := uint16(0)
	if r.n > 0 {
		d := (p.T - r.last) / int64(time.Second)
		gap = uint16(min(max(d, 0), math.MaxUint16))
	}
	r.vals[r.pos] = float32(p.V)
	r.gaps[r.pos] = gap
	r.last = p.T
	r.pos = (r.pos + 1) % evidenceLen
	if r.n < evidenceLen {
		r.n++
	}
}

// points returns the held points, oldest first. Times before the newest are
// reconstructed from the stored gaps at one-second resolution.
func (r *evidence) points() []EvidencePoint {
	out := make([]EvidencePoint, r.n)
	t := r.last
	i := int(r.pos)
	for k := int(r.n) - 1; k >= 0; k-- {
		i = (i - 1 + evidenceLen) % evidenceLen
		out[k] = EvidencePoint{T: time.Unix(0, t).UTC(), V: float64(r.vals[i])}
		t -= int64(r.gaps[i]) * int64(time.Second)
	}
	return out
}

// signalSlot is the engine's record of one signal: what detectors see
// (Signal) plus the evidence ring and which detectors want it.
type signalSlot struct {
	Signal
	ev evidence
}

// signalTab stores signal slots in fixed chunks so pointers stay valid as it
// grows, and recycles freed IDs.
type signalTab struct {
	chunks [][]signalSlot
	free   []uint32
	n      uint32 // slots ever handed out
	live   int
}

const signalChunk = 1024

func (t *signalTab) alloc() *signalSlot {
	var id uint32
	if k := len(t.free); k > 0 {
		id = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		id = t.n
		t.n++
		if int(id/signalChunk) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]signalSlot, signalChunk))
		}
	}
	s := t.get(id)
	*s = signalSlot{}
	s.ID = id
	s.live = true
	t.live++
	return s
}

func (t *signalTab) get(id uint32) *signalSlot { return &t.chunks[id/signalChunk][id%signalChunk] }

func (t *signalTab) release(s *signalSlot) {
	id := s.ID
	*s = signalSlot{}
	t.free = append(t.free, id)
	t.live--
}

// seriesKind says how an OTLP series' points become signals.
type seriesKind uint8

const (
	seriesGauge seriesKind = iota
	seriesCumulative
	seriesDelta
	seriesHistogram
	seriesExpHistogram
	seriesSummary
)

// series is one OTLP series: resource + scope + metric + point attributes.
type series struct {
	hash    uint64
	lastT   int64   // event time of the last accepted point
	start   int64   // start_time_unix_nano of the last point (cumulative resets)
	prev    float64 // last cumulative value (sums) or count (histograms)
	sig     uint32  // primary signal: the value or :rate
	kind    seriesKind
	hasPrev bool
	// labelSize is the bytes of the series' labels, counted in
	// Engine.labelSize while the series lives.
	labelSize uint32
	dist      *distState // histograms and summaries only
}

// distState holds what histogram-like series need beyond the count: the
// quantile signals and the previous cumulative buckets to take deltas of.
type distState struct {
	p50, p99   uint32
	prevZero   float64 // exponential histograms: previous zero_count
	prevCounts []uint64
	prevOffset int32 // exponential histograms: bucket offset and scale
	prevScale  int32
	// summaries: one signal per quantile, in the order first seen
	quantiles []quantileSig
	// request histograms: what the series' attributes say about its
	// requests (fixed for the series), and the windows it feeds
	feeds  bool
	failed bool
	route  string
	accs   [2]*redAcc // workload total, route
}

type quantileSig struct {
	q   float64
	sig uint32
}

// hasher computes order-independent hashes of attribute lists.
type hasher struct {
	seed maphash.Seed
	buf  []byte
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// attrs hashes a point's attributes independently of their order. It
// hashes each KeyValue's encoded bytes rather than its decoded text: this
// runs for every point, and a producer encodes the same attribute the same
// way every time. (A producer that sent one attribute once as the int 200
// and once as the string "200" would make two series with equal labels.)
func (h *hasher) attrs(a Attrs) uint64 {
	var sum uint64
	if a.field != 0 {
		_ = eachField(a.list, a.field, func(kv []byte) (bool, error) {
			sum += mix64(maphash.Bytes(h.seed, kv))
			return true, nil
		})
	}
	return mix64(sum)
}

// pair hashes one attribute by its key and canonical value text, so equal
// values hash equal however they were encoded.
func (h *hasher) pair(k string, v Value) uint64 {
	kh := maphash.String(h.seed, k)
	var vh uint64
	if v.kind == KindString {
		vh = maphash.Bytes(h.seed, v.raw)
	} else {
		h.buf = v.AppendText(h.buf[:0])
		vh = maphash.Bytes(h.seed, h.buf)
	}
	return mix64(kh ^ mix64(vh+0x9e3779b97f4a7c15))
}

func (h *hasher) str(s string) uint64 { return maphash.String(h.seed, s) }

func combine(a, b uint64) uint64 { return mix64(a*31 + b + 0x9e3779b97f4a7c15) }
