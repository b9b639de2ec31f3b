package crew

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/medic-bot/medic/detect"
)

// symptom is what an anomaly says is wrong.
type symptom int

const (
	symNone symptom = iota
	symOOM
	symMemoryLimit
	symMemoryGrowth
	symCPULimit
	symThrottling
	symLatency
	symErrors
	symLoad
	symCrash
	symNodePressure
)

var symptomNames = [...]string{"none", "OOM kill", "memory at its limit", "memory growth", "CPU at its limit", "CPU throttling", "latency", "errors", "request rate", "crash loop", "node pressure"}

func (s symptom) String() string { return symptomNames[s] }

// finding is one anomaly and the symptom it shows.
type finding struct {
	sym symptom
	a   detect.Anomaly
}

// symptoms are an incident's anomalies by symptom, each list in onset
// order.
type symptoms struct {
	by    map[symptom][]detect.Anomaly
	other []detect.Anomaly // anomalies that show no symptom the playbook knows
}

// classify sorts anomalies into symptoms. A score anomaly counts only in
// the direction that is a problem (growth, more latency, more errors, more
// load); saturation signals count only from the saturation detector.
func (s Signals) classify(anoms []detect.Anomaly) symptoms {
	out := symptoms{by: map[symptom][]detect.Anomaly{}}
	for _, a := range anoms {
		sym := s.symptomOf(a)
		if sym == symNone {
			out.other = append(out.other, a)
			continue
		}
		out.by[sym] = append(out.by[sym], a)
	}
	for _, l := range out.by {
		slices.SortStableFunc(l, func(x, y detect.Anomaly) int { return x.Onset.Compare(y.Onset) })
	}
	return out
}

func (s Signals) symptomOf(a detect.Anomaly) symptom {
	up := a.Kind != detect.KindScore || a.Observed > a.Baseline
	sat := a.Kind == detect.KindSaturation
	switch {
	case matchAny(s.NodePressure, a.Signal):
		return symNodePressure
	case matchAny(s.OOM, a.Signal):
		return symOOM
	case sat && matchAny(s.Throttling, a.Signal):
		return symThrottling
	case sat && matchAny(s.MemoryLimit, a.Signal):
		return symMemoryLimit
	case sat && matchAny(s.CPULimit, a.Signal):
		return symCPULimit
	case a.Kind == detect.KindScore && up && matchAny(s.MemoryGrowth, a.Signal):
		return symMemoryGrowth
	case up && matchAny(s.Latency, a.Signal):
		return symLatency
	case up && matchAny(s.Errors, a.Signal):
		return symErrors
	case a.Kind == detect.KindScore && up && matchAny(s.Load, a.Signal):
		return symLoad
	case matchAny(s.Crash, a.Signal):
		return symCrash
	}
	return symNone
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (s symptoms) has(syms ...symptom) bool {
	for _, x := range syms {
		if len(s.by[x]) > 0 {
			return true
		}
	}
	return false
}

// of lists the anomalies of syms, in onset order.
func (s symptoms) of(syms ...symptom) []detect.Anomaly {
	var out []detect.Anomaly
	for _, x := range syms {
		out = append(out, s.by[x]...)
	}
	slices.SortStableFunc(out, func(x, y detect.Anomaly) int { return x.Onset.Compare(y.Onset) })
	return out
}

// containers lists, in order of first onset, the containers the
// anomalies of syms name ("" for one that names none).
func (s symptoms) containers(syms ...symptom) []string {
	var out []string
	for _, a := range s.of(syms...) {
		if !slices.Contains(out, a.Workload.Container) {
			out = append(out, a.Workload.Container)
		}
	}
	return out
}

// onset is the earliest onset of as; zero when as is empty.
func onset(as []detect.Anomaly) time.Time {
	var t time.Time
	for _, a := range as {
		if t.IsZero() || a.Onset.Before(t) {
			t = a.Onset
		}
	}
	return t
}

// describe is one evidence line for an anomaly.
func describe(a detect.Anomaly) string {
	s := fmt.Sprintf("%s %s (%s, onset %s)", a.Kind, a.Signal, a.Detector, a.Onset.UTC().Format(time.RFC3339))
	if a.Summary != "" {
		s += ": " + a.Summary
	}
	return s
}
