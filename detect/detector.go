package detect

// Point is one observation of a signal, at an event time in Unix nanoseconds.
type Point struct {
	T int64
	V float64
}

// Signal is one derived time series of a workload, as detectors see it: a
// gauge's value, a counter's rate, a histogram's p99 or error ratio, a span
// route's request rate. The engine owns it; detectors may keep the pointer
// until Forget is called for it.
type Signal struct {
	// ID is dense within one engine shard and reused after Forget, so a
	// detector can keep per-signal state in a slice indexed by it.
	ID uint32
	// Engine bookkeeping, kept here where it fills alignment padding:
	// which detectors want the signal (bit i: detector i), and whether
	// the slot is in use.
	want uint8
	live bool

	Workload *Workload
	// Name is the metric name, with a suffix for derived signals
	// (":rate", ":p50", ":p99", ":error_ratio", ...); see signals.go.
	Name   string
	Labels Labels
}

// Event is a Kubernetes event or state change concerning a workload, from
// k8s_events / k8sobjects log records or from k8s_cluster state metrics.
type Event struct {
	Workload *Workload
	TimeNano int64
	// Reason is the Kubernetes reason: OOMKilling, OOMKilled, BackOff,
	// CrashLoopBackOff, Unhealthy, Killing, FailedScheduling, ...
	Reason  string
	Message string
	// Type is "Warning" or "Normal" when the source said.
	Type  string
	Count int64
}

// Emit hands a raised anomaly to the engine. sig is the signal that raised it
// (nil for event anomalies); the engine fills in the workload, labels and
// evidence window from it when the detector left them empty, then applies
// re-alert suppression.
type Emit func(sig *Signal, a Anomaly)

// Detector watches signals in event time. A detector instance belongs to one
// engine shard and is called only with that shard's lock held: it needs no
// locking of its own, and it must not block.
//
// Its state must be bounded: O(1) per signal it wants, plus O(1) per workload
// for detectors that aggregate.
type Detector interface {
	// Name is the detector's name as it appears in anomalies and config.
	Name() string
	// Wants is asked once per new signal: should Observe see its points?
	Wants(sig *Signal) bool
	// Observe takes one point of a wanted signal. Points of one signal
	// arrive in event-time order; late and duplicate points are dropped
	// before they reach a detector.
	Observe(sig *Signal, p Point, emit Emit)
	// Forget drops all state about sig: the engine evicted it (stale, or over
	// the series limit) and will reuse its ID.
	Forget(sig *Signal)
	// Advance tells the detector that event time reached now (Unix nanos):
	// no earlier data will come for this shard. Windowed detectors close
	// their windows here.
	Advance(now int64, emit Emit)
}

// EventDetector is implemented by detectors that also read Kubernetes events.
type EventDetector interface {
	ObserveEvent(ev *Event, emit Emit)
}
