package detect

import (
	"context"
	"time"
)

// AnomalyKind says which family of detector raised an anomaly.
type AnomalyKind string

// The anomaly kinds medic raises.
const (
	KindScore      AnomalyKind = "score"      // a series left its learned normal range
	KindSLOBurn    AnomalyKind = "slo_burn"   // an SLO's error budget burns too fast
	KindSaturation AnomalyKind = "saturation" // a resource is near its limit
	KindEvent      AnomalyKind = "event"      // a Kubernetes event or state (OOMKilled, CrashLoopBackOff, restarts)
)

// EvidencePoint is one point of the window drawn in a PR's evidence chart.
type EvidencePoint struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Anomaly is one problem with one workload, raised once (repeats of the same
// problem on the same series are suppressed until it has been quiet for the
// cooldown).
type Anomaly struct {
	Workload Workload          `json:"workload"`
	Signal   string            `json:"signal"`
	Labels   map[string]string `json:"labels,omitempty"`
	Kind     AnomalyKind       `json:"kind"`
	Detector string            `json:"detector"`
	// Onset is when the problem started, in event time (the data's clock).
	Onset time.Time `json:"onset"`
	// At is the event time at which the detector was sure enough to raise it.
	At time.Time `json:"at"`
	// Score is the detector's confidence in [0,1].
	Score    float64 `json:"score"`
	Observed float64 `json:"observed"`
	Baseline float64 `json:"baseline"`
	// Summary is one human sentence: what is wrong, in numbers.
	Summary  string          `json:"summary"`
	Evidence []EvidencePoint `json:"evidence,omitempty"`
}

// AnomalyConsumer receives anomalies. Implementations must be safe for
// concurrent use; the slice is owned by the callee after the call.
type AnomalyConsumer interface {
	ConsumeAnomalies(ctx context.Context, a []Anomaly) error
}

// AnomalyConsumerFunc adapts a function to AnomalyConsumer.
type AnomalyConsumerFunc func(ctx context.Context, a []Anomaly) error

// ConsumeAnomalies calls f.
func (f AnomalyConsumerFunc) ConsumeAnomalies(ctx context.Context, a []Anomaly) error {
	return f(ctx, a)
}
