package detect

import (
	"strings"
	"sync"
	"time"
)

// shard owns the series, signals, request windows and detector instances of
// the workloads that hash to it. Everything in it is guarded by mu.
type shard struct {
	e  *Engine
	mu sync.Mutex

	// res holds the series of each resource in a table of its own:
	// consecutive points of a request mostly belong to one resource, so
	// their lookups stay in a few cache lines instead of one random miss
	// in a shard-wide table each.
	res       map[uint64]*resTable
	sigs      signalTab
	workloads map[string]*Workload // interned by key+container+service
	wlRefs    map[*Workload]int    // signals and windows using each workload
	names     map[string]string    // interned signal names, at most maxNames

	detectors []Detector
	windowDs  []WindowDetector
	eventDs   []EventDetector

	red     map[redKey]*redAcc
	routes  map[*Workload]int // routes tracked per workload (for MaxRoutes)
	nextWin int64             // earliest end of an open window; 0 when none

	suppress map[suppressKey]int64 // last time the problem was seen

	watermark int64 // max event time seen (Unix nanos)
	lastSweep int64
	sweepPos  []uint64 // resource hashes left to check in the current sweep

	pending []Anomaly // raised under the lock, delivered after unlock
	emitFn  Emit      // s.emit, bound once (a method value allocates)
}

func newShard(e *Engine) *shard {
	s := &shard{
		e:         e,
		res:       map[uint64]*resTable{},
		workloads: map[string]*Workload{},
		wlRefs:    map[*Workload]int{},
		names:     map[string]string{},
		red:       map[redKey]*redAcc{},
		routes:    map[*Workload]int{},
		suppress:  map[suppressKey]int64{},
	}
	s.emitFn = s.emit
	for _, d := range []Detector{
		NewScoreDetector(e.cfg.Score),
		NewSLODetector(e.cfg.SLO),
		NewSaturationDetector(e.cfg.Saturation),
		NewEventRules(e.cfg.Events),
	} {
		s.addDetector(d)
	}
	return s
}

// maxDetectors is how many detectors a shard can run (signalSlot.want bits).
const maxDetectors = 8

func (s *shard) addDetector(d Detector) {
	if len(s.detectors) == maxDetectors {
		panic("detect: more than 8 detectors")
	}
	s.detectors = append(s.detectors, d)
	if w, ok := d.(WindowDetector); ok {
		s.windowDs = append(s.windowDs, w)
	}
	if ev, ok := d.(EventDetector); ok {
		s.eventDs = append(s.eventDs, ev)
	}
}

// workload interns w (whose strings may alias a request body).
func (s *shard) workload(w Workload, key string) *Workload {
	if p := s.workloads[key]; p != nil {
		return p
	}
	c := &Workload{
		Namespace: strings.Clone(w.Namespace),
		Kind:      strings.Clone(w.Kind),
		Name:      strings.Clone(w.Name),
		Container: strings.Clone(w.Container),
		Service:   strings.Clone(w.Service),
	}
	s.workloads[strings.Clone(key)] = c
	return c
}

// maxNames bounds the interned signal names of a shard. Past it (a flood of
// distinct metric names) names are still copied per signal, which the series
// limit bounds, but no longer kept in the table.
const maxNames = 1 << 16

// name interns a signal name.
func (s *shard) name(n string) string {
	if v, ok := s.names[n]; ok {
		return v
	}
	v := strings.Clone(n)
	if len(s.names) < maxNames {
		s.names[v] = v
	}
	return v
}

// release drops a reference to an interned workload.
func (s *shard) release(w *Workload) {
	if n := s.wlRefs[w] - 1; n > 0 {
		s.wlRefs[w] = n
		return
	}
	delete(s.wlRefs, w)
}

// dropUnusedWorkloads forgets interned workloads that no signal or window
// uses any more (all their series went stale, or only events named them).
func (s *shard) dropUnusedWorkloads() {
	for k, w := range s.workloads {
		if s.wlRefs[w] == 0 {
			delete(s.workloads, k)
		}
	}
}

// newSignal allocates a signal and asks each detector whether it wants it.
func (s *shard) newSignal(w *Workload, name string, labels Labels) uint32 {
	slot := s.sigs.alloc()
	s.wlRefs[w]++
	slot.Workload = w
	slot.Name = name
	slot.Labels = labels
	for i, d := range s.detectors {
		if d.Wants(&slot.Signal) {
			slot.want |= 1 << i
		}
	}
	return slot.ID
}

// observe records p on signal id and runs the detectors that want it.
func (s *shard) observe(id uint32, p Point) {
	slot := s.sigs.get(id)
	slot.ev.add(p)
	if slot.want == 0 {
		return
	}
	for i, d := range s.detectors {
		if slot.want&(1<<i) != 0 {
			d.Observe(&slot.Signal, p, s.emitFn)
		}
	}
}

func (s *shard) dropSignal(id uint32) {
	slot := s.sigs.get(id)
	if !slot.live {
		return
	}
	for i, d := range s.detectors {
		if slot.want&(1<<i) != 0 {
			d.Forget(&slot.Signal)
		}
	}
	s.release(slot.Workload)
	s.sigs.release(slot)
}

func (s *shard) dropSeries(rt *resTable, ser *series) {
	s.dropSignal(ser.sig)
	if d := ser.dist; d != nil {
		for _, id := range []uint32{d.p50, d.p99} {
			if id != noSignal {
				s.dropSignal(id)
			}
		}
		for _, q := range d.quantiles {
			s.dropSignal(q.sig)
		}
	}
	delete(rt.series, ser.hash)
	if len(rt.series) == 0 {
		delete(s.res, rt.hash)
	}
	s.e.series.Add(-1)
	s.e.labelSize.Add(-int64(ser.labelSize))
}

// resTable is the series of one resource (and scope: the key is the hash of
// both).
type resTable struct {
	hash   uint64
	series map[uint64]*series
	inst   *labelPair // the instance label its series share, if any
}

// noSignal marks an absent optional signal.
const noSignal = ^uint32(0)

type suppressKey struct {
	workload  *Workload
	container string
	signal    string
	kind      AnomalyKind
}

// emit is the Emit the shard's detectors call: it completes the anomaly from
// the signal and applies re-alert suppression.
func (s *shard) emit(sig *Signal, a Anomaly) {
	var w *Workload
	if sig != nil {
		w = sig.Workload
		if a.Signal == "" {
			a.Signal = sig.Name
		}
		if a.Labels == nil {
			a.Labels = sig.Labels.Map()
		}
		if a.Evidence == nil {
			a.Evidence = s.sigs.get(sig.ID).ev.points()
		}
	}
	if w != nil && a.Workload.IsZero() {
		a.Workload = *w
	}
	at := a.At.UnixNano()
	if a.At.IsZero() {
		at = s.watermark
		a.At = time.Unix(0, at).UTC()
	}
	if a.Onset.IsZero() {
		a.Onset = a.At
	}
	key := suppressKey{workload: s.workload(a.Workload, internKey(a.Workload)), container: a.Workload.Container, signal: s.name(a.Signal), kind: a.Kind}
	if last, ok := s.suppress[key]; ok && at-last < int64(s.e.cfg.Cooldown) {
		s.suppress[key] = max(last, at)
		s.e.m.suppressed.Inc()
		return
	}
	s.suppress[key] = at
	s.pending = append(s.pending, a)
}

// see moves the shard's event time forward.
func (s *shard) see(t int64) {
	if t > s.watermark {
		s.watermark = t
	}
}

// advance runs after a request's data for this shard: it closes due
// windows, lets detectors see time pass, and evicts a slice of stale series
// and expired suppressions.
func (s *shard) advance() {
	now := s.watermark
	if now == 0 {
		return
	}
	s.closeWindows(now - int64(s.e.cfg.Lateness))
	for _, d := range s.detectors {
		d.Advance(now, s.emitFn)
	}
	s.sweep(now)
}

// sweepBatch bounds the work one advance spends looking for stale series.
const sweepBatch = 512

func (s *shard) sweep(now int64) {
	stale := int64(s.e.cfg.StaleAfter)
	if len(s.sweepPos) == 0 {
		// Start a new pass at most once per tenth of stale_after.
		if now-s.lastSweep < stale/10 {
			return
		}
		s.lastSweep = now
		for h := range s.res {
			s.sweepPos = append(s.sweepPos, h)
		}
		for k, t := range s.suppress {
			if now-t >= int64(s.e.cfg.Cooldown) {
				delete(s.suppress, k)
			}
		}
	}
	for seen := 0; seen < sweepBatch && len(s.sweepPos) > 0; {
		h := s.sweepPos[len(s.sweepPos)-1]
		s.sweepPos = s.sweepPos[:len(s.sweepPos)-1]
		rt := s.res[h]
		if rt == nil {
			continue
		}
		seen += len(rt.series)
		for _, ser := range rt.series {
			if now-ser.lastT > stale {
				s.dropSeries(rt, ser)
				s.e.m.seriesEvicted.Inc()
			}
		}
	}
	if len(s.sweepPos) == 0 {
		s.sweepPos = nil
		s.dropUnusedWorkloads() // the pass is over: what it evicted no longer holds them
	}
}

// takePending returns and clears the anomalies raised under the lock.
func (s *shard) takePending() []Anomaly {
	if len(s.pending) == 0 {
		return nil
	}
	p := s.pending
	s.pending = nil
	return p
}
