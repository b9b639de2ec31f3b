// Package detectorstest holds helpers for testing detect's detectors: a sink
// that collects what a detector emits and constructors for signals.
package detectorstest

import (
	"github.com/medic-bot/medic/detect"
)

// Sink collects the anomalies a detector emits, in order. Pass its Emit
// method wherever a detect.Emit is expected. Like detectors, it is not safe
// for concurrent use.
type Sink struct {
	// Signals holds the signal passed with each anomaly (nil for
	// window and event anomalies), parallel to Anomalies.
	Signals   []*detect.Signal
	Anomalies []detect.Anomaly
}

// Emit records one anomaly.
func (s *Sink) Emit(sig *detect.Signal, a detect.Anomaly) {
	s.Signals = append(s.Signals, sig)
	s.Anomalies = append(s.Anomalies, a)
}

// Len is the number of anomalies collected.
func (s *Sink) Len() int { return len(s.Anomalies) }

// Reset forgets everything collected.
func (s *Sink) Reset() {
	s.Signals, s.Anomalies = nil, nil
}

// BySignal returns the anomalies whose Signal field is name.
func (s *Sink) BySignal(name string) []detect.Anomaly {
	var out []detect.Anomaly
	for _, a := range s.Anomalies {
		if a.Signal == name {
			out = append(out, a)
		}
	}
	return out
}

// Signal builds a signal as the engine would hand it to detectors.
func Signal(id uint32, w *detect.Workload, name string, labels map[string]string) *detect.Signal {
	return &detect.Signal{ID: id, Workload: w, Name: name, Labels: detect.LabelsFromMap(labels)}
}
