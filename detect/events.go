package detect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventsConfig configures the event rules detector: Kubernetes events (from
// the k8s_events / k8sobjects receivers) and container state metrics (from
// k8s_cluster) that are problems by themselves, whatever their numbers.
type EventsConfig struct {
	// Rules map event reasons and container status reasons to anomalies.
	// Rules with the same name share one signal and one burst state.
	Rules []EventRule `yaml:"rules"`
	// Restarts raises on increases of the container restart count.
	Restarts RestartRule `yaml:"restarts"`
	// StatusMetrics name k8s_cluster's container status metric: a 0/1 sum
	// per reason (attribute k8s.container.status.reason), disabled by
	// default in the receiver. A reason turning 1 is an occurrence of the
	// rule listing it in status_reasons.
	StatusMetrics []string `yaml:"status_metrics"`
	// PodStatusMetrics name k8s_cluster's pod status reason gauge
	// (1 Evicted, 2 NodeAffinity, 3 NodeLost, 4 Shutdown,
	// 5 UnexpectedAdmissionError), also off by default in the receiver.
	PodStatusMetrics []string `yaml:"pod_status_metrics"`
}

// EventRule turns matching events into one anomaly per burst: the rule
// fires when MinCount occurrences fall within Within, and fires again only
// after Quiet without any occurrence.
type EventRule struct {
	// Name names the anomaly's signal, "k8s.event:<name>" (lowercase
	// letters, digits and underscores).
	Name string `yaml:"name"`
	// Reasons are the Kubernetes event reasons that match (any case).
	Reasons []string `yaml:"reasons"`
	// Message, when set, also requires the event message to contain one
	// of these strings (any case).
	Message []string `yaml:"message"`
	// StatusReasons are container (or pod) status reasons from k8s_cluster
	// metrics that count as occurrences too, for example OOMKilled from
	// k8s.container.status.reason or the restart's last terminated
	// reason.
	StatusReasons []string `yaml:"status_reasons"`
	// Verb describes an occurrence in summaries: "OOMKilled", "failed
	// health probes".
	Verb string `yaml:"verb"`
	// MinCount occurrences within Within fire the rule.
	MinCount int           `yaml:"min_count"`
	Within   time.Duration `yaml:"within"`
	// Quiet is how long without occurrences ends a burst, so that the
	// next occurrence can fire again.
	Quiet time.Duration `yaml:"quiet"`
}

// RestartRule raises on increases of the container restart count gauge
// (k8s_cluster's k8s.container.restarts), per pod and container. The first
// sample of a container is its baseline, not an increase; a drop (the
// kubelet pruned dead containers) is a new baseline.
type RestartRule struct {
	// Disabled turns restart counting off.
	Disabled bool `yaml:"disabled"`
	// Metrics name the restart count gauges.
	Metrics []string `yaml:"metrics"`
	// MinCount restarts within Within fire; Quiet without restarts ends
	// the burst (as for EventRule).
	MinCount int           `yaml:"min_count"`
	Within   time.Duration `yaml:"within"`
	Quiet    time.Duration `yaml:"quiet"`
}

// AttrLastTerminatedReason is the k8s_cluster resource attribute (off by
// default) with the reason a container last terminated. When the engine
// passes it on in a restart signal's labels, a restart whose reason a rule
// lists in status_reasons (OOMKilled) counts for that rule instead.
const AttrLastTerminatedReason = "k8s.container.status.last_terminated_reason"

// attrContainerStatusReason is the attribute of k8s.container.status.reason.
const attrContainerStatusReason = "k8s.container.status.reason"

// DefaultEventsConfig watches OOM kills, crash loops, repeated probe
// failures, evictions, failed scheduling and restarts.
func DefaultEventsConfig() EventsConfig {
	burst := func(r EventRule) EventRule {
		if r.MinCount == 0 {
			r.MinCount = 1
		}
		r.Within, r.Quiet = 10*time.Minute, 15*time.Minute
		return r
	}
	return EventsConfig{
		Rules: []EventRule{
			burst(EventRule{Name: "oom_killed", Reasons: []string{"OOMKilling", "OOMKilled"},
				StatusReasons: []string{"OOMKilled"}, Verb: "OOMKilled"}),
			burst(EventRule{Name: "crash_loop", Reasons: []string{"BackOff"},
				Message: []string{"restarting failed container"}, Verb: "crash-looping"}),
			burst(EventRule{Name: "crash_loop", Reasons: []string{"CrashLoopBackOff"},
				StatusReasons: []string{"CrashLoopBackOff"}, Verb: "crash-looping"}),
			burst(EventRule{Name: "unhealthy", Reasons: []string{"Unhealthy"},
				Verb: "failed health probes", MinCount: 3}),
			burst(EventRule{Name: "evicted", Reasons: []string{"Evicted"},
				StatusReasons: []string{"Evicted"}, Verb: "evicted"}),
			burst(EventRule{Name: "failed_scheduling", Reasons: []string{"FailedScheduling"},
				Verb: "could not be scheduled"}),
		},
		Restarts: RestartRule{
			Metrics:  []string{"k8s.container.restarts"},
			MinCount: 1,
			Within:   10 * time.Minute,
			Quiet:    15 * time.Minute,
		},
		StatusMetrics:    []string{"k8s.container.status.reason"},
		PodStatusMetrics: []string{"k8s.pod.status_reason"},
	}
}

// maxEventCount bounds min_count: the detector keeps that many occurrence
// times per burst.
const maxEventCount = 64

// Validate reports every problem with the configuration at once.
func (c EventsConfig) Validate() error {
	var errs []error
	for i, r := range c.Rules {
		where := fmt.Sprintf("rules[%d] %s", i, r.Name)
		if !validRuleName(r.Name) {
			errs = append(errs, fmt.Errorf("rules[%d]: name %q must be lowercase letters, digits and underscores", i, r.Name))
		}
		if len(r.Reasons) == 0 && len(r.StatusReasons) == 0 {
			errs = append(errs, fmt.Errorf("%s: needs reasons or status_reasons", where))
		}
		errs = append(errs, validBurst(where, r.MinCount, r.Within, r.Quiet)...)
	}
	if !c.Restarts.Disabled {
		if len(c.Restarts.Metrics) == 0 {
			errs = append(errs, errors.New("restarts: metrics must not be empty (or set disabled)"))
		}
		errs = append(errs, validBurst("restarts", c.Restarts.MinCount, c.Restarts.Within, c.Restarts.Quiet)...)
	}
	return errors.Join(errs...)
}

func validRuleName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

func validBurst(where string, minCount int, within, quiet time.Duration) []error {
	var errs []error
	if minCount < 1 || minCount > maxEventCount {
		errs = append(errs, fmt.Errorf("%s: min_count must be in [1,%d], got %d", where, maxEventCount, minCount))
	}
	if within <= 0 {
		errs = append(errs, fmt.Errorf("%s: within must be positive, got %s", where, within))
	}
	if quiet <= 0 {
		errs = append(errs, fmt.Errorf("%s: quiet must be positive, got %s", where, quiet))
	}
	return errs
}

// evKey identifies one burst: a rule firing for one container of a
// workload.
type evKey struct{ workload, container, rule string }

// evBurst is the state of one evKey.
type evBurst struct {
	// occ holds the latest occurrences, oldest first, at most MinCount:
	// until the rule fires, fewer than MinCount lie in its window, so the
	// window's count is exact when it does.
	occ    []evOcc
	last   int64 // latest occurrence
	keep   int64 // drop the burst this long after last
	raised bool
}

// evOcc is n occurrences at one time (a restart count may jump by several).
type evOcc struct {
	t int64
	n int
}

// evSignal is the state of one wanted signal.
type evSignal struct {
	kind uint8 // evRestarts, evStatus, evPodStatus
	seen bool
	last float64
}

const (
	evRestarts = iota + 1
	evStatus
	evPodStatus
)

// evRule is a rule as the detector applies it.
type evRule struct {
	EventRule
	signal string
}

var _ EventDetector = (*EventRules)(nil)

// EventRules raises KindEvent anomalies from Kubernetes events and from
// container restart and status metrics: one anomaly per burst of
// occurrences per (workload, container, rule). Its state is one small record
// per wanted signal and one per active burst; bursts are dropped after
// their quiet period.
type EventRules struct {
	rules    []evRule
	restarts evRule
	metrics  map[string]uint8
	counts   map[string]int // occurrence times kept per rule name
	signals  map[uint32]*evSignal
	bursts   map[evKey]*evBurst
	now      int64
	swept    int64
}

// NewEventRules builds the event rules detector from a (validated) config.
func NewEventRules(cfg EventsConfig) Detector {
	d := &EventRules{
		metrics: map[string]uint8{},
		counts:  map[string]int{},
		signals: map[uint32]*evSignal{},
		bursts:  map[evKey]*evBurst{},
	}
	for _, r := range cfg.Rules {
		d.rules = append(d.rules, evRule{EventRule: r, signal: "k8s.event:" + r.Name})
		d.counts[r.Name] = max(d.counts[r.Name], r.MinCount)
	}
	if !cfg.Restarts.Disabled {
		d.restarts = evRule{signal: "k8s.container.restarts", EventRule: EventRule{
			Name:     "k8s.container.restarts", // no configured rule can be named so
			Verb:     "restarted",
			MinCount: cfg.Restarts.MinCount,
			Within:   cfg.Restarts.Within,
			Quiet:    cfg.Restarts.Quiet,
		}}
		d.counts[d.restarts.Name] = cfg.Restarts.MinCount
		for _, m := range cfg.Restarts.Metrics {
			d.metrics[m] = evRestarts
		}
	}
	for _, m := range cfg.StatusMetrics {
		d.metrics[m] = evStatus
	}
	for _, m := range cfg.PodStatusMetrics {
		d.metrics[m] = evPodStatus
	}
	return d
}

// Name is "events".
func (d *EventRules) Name() string { return "events" }

// Wants reports whether sig is a restart count or status metric.
func (d *EventRules) Wants(sig *Signal) bool {
	_, ok := d.metrics[sig.Name]
	return ok
}

// ObserveEvent counts ev for the first rule that matches it.
func (d *EventRules) ObserveEvent(ev *Event, emit Emit) {
	if ev == nil || ev.Workload == nil {
		return
	}
	for i := range d.rules {
		r := &d.rules[i]
		if !r.matchesEvent(ev) {
			continue
		}
		t := ev.TimeNano
		if t == 0 {
			t = d.now
		}
		if t < d.now-int64(r.Within) {
			// Older than the rule's window: a replayed or deleted event
			// object (watches report deletions with their old time), not
			// news.
			return
		}
		d.occur(r, ev.Workload, nil, t, 1, ev.Message, emit)
		return
	}
}

func (r *evRule) matchesEvent(ev *Event) bool {
	if !containsFold(r.Reasons, ev.Reason) {
		return false
	}
	if len(r.Message) == 0 {
		return true
	}
	msg := strings.ToLower(ev.Message)
	for _, m := range r.Message {
		if strings.Contains(msg, strings.ToLower(m)) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ruleForStatus is the first rule that lists reason as a status reason.
func (d *EventRules) ruleForStatus(reason string) *evRule {
	for i := range d.rules {
		if containsFold(d.rules[i].StatusReasons, reason) {
			return &d.rules[i]
		}
	}
	return nil
}

// podStatusReasons are the values of k8s_cluster's k8s.pod.status_reason.
var podStatusReasons = [...]string{1: "Evicted", 2: "NodeAffinity", 3: "NodeLost", 4: "Shutdown", 5: "UnexpectedAdmissionError"}

// Observe turns restart count increases and status reasons becoming
// current into occurrences.
func (d *EventRules) Observe(sig *Signal, p Point, emit Emit) {
	s := d.signals[sig.ID]
	if s == nil {
		kind, ok := d.metrics[sig.Name]
		if !ok {
			return
		}
		s = &evSignal{kind: kind}
		d.signals[sig.ID] = s
	}
	prev, seen := s.last, s.seen
	s.last, s.seen = p.V, true
	switch s.kind {
	case evRestarts:
		if !seen || p.V <= prev {
			return // a baseline, or a count the kubelet reset
		}
		n := int(min(p.V-prev, 1e6))
		r := &d.restarts
		if reason, ok := sig.Labels.Get(AttrLastTerminatedReason); ok {
			if sr := d.ruleForStatus(reason); sr != nil {
				r = sr
			}
		}
		d.occur(r, sig.Workload, sig, p.T, n, "", emit)
	case evStatus:
		if p.V < 1 || (seen && prev >= 1) {
			return // not in this state, or already was
		}
		reason, _ := sig.Labels.Get(attrContainerStatusReason)
		if r := d.ruleForStatus(reason); r != nil {
			d.occur(r, sig.Workload, sig, p.T, 1, "", emit)
		}
	case evPodStatus:
		code := int(p.V)
		if code <= 0 || code >= len(podStatusReasons) || float64(code) != p.V || (seen && prev == p.V) {
			return
		}
		if r := d.ruleForStatus(podStatusReasons[code]); r != nil {
			d.occur(r, sig.Workload, sig, p.T, 1, "", emit)
		}
	}
}

// occur records n occurrences of rule r for workload w at t, and raises the
// burst's anomaly when it reaches the rule's count.
func (d *EventRules) occur(r *evRule, w *Workload, sig *Signal, t int64, n int, msg string, emit Emit) {
	if w == nil || r.MinCount < 1 {
		return
	}
	k := evKey{w.Key(), w.Container, r.Name}
	b := d.bursts[k]
	if b == nil {
		b = &evBurst{occ: make([]evOcc, 0, min(max(d.counts[r.Name], r.MinCount, 1), maxEventCount))}
		d.bursts[k] = b
	}
	if b.raised && t-b.last >= int64(r.Quiet) {
		b.raised = false // the last burst is over
		b.occ = b.occ[:0]
	}
	if len(b.occ) == cap(b.occ) {
		copy(b.occ, b.occ[1:])
		b.occ = b.occ[:len(b.occ)-1]
	}
	b.occ = append(b.occ, evOcc{t, n})
	b.last = max(b.last, t)
	b.keep = int64(max(r.Quiet, r.Within))
	if b.raised {
		return
	}
	// Occurrences within the window ending at t.
	first, count := t, 0
	for _, o := range b.occ {
		if o.t > t-int64(r.Within) && o.t <= t {
			first = min(first, o.t)
			count += o.n
		}
	}
	if count < r.MinCount {
		return
	}
	b.raised = true
	emit(sig, r.anomaly(w, sig, first, t, count, msg))
}

func (r *evRule) anomaly(w *Workload, sig *Signal, first, t int64, count int, msg string) Anomaly {
	subject := w.Name
	if w.Container != "" {
		subject = "container " + w.Container
	}
	summary := subject + " " + r.Verb
	if count > 1 {
		summary += " " + strconv.Itoa(count) + " times"
		if span := time.Duration(t - first); span >= time.Second {
			summary += " in " + fmtDuration(span)
		}
	}
	if msg = strings.TrimSpace(msg); msg != "" {
		if len(msg) > 160 {
			msg = msg[:157] + "..."
		}
		summary += ": " + msg
	}
	return Anomaly{
		Workload: *w,
		Signal:   r.signal,
		Kind:     KindEvent,
		Detector: "events",
		Onset:    time.Unix(0, first).UTC(),
		At:       time.Unix(0, t).UTC(),
		Score:    1,
		Observed: float64(count),
		Summary:  summary,
	}
}

// Forget drops the state of a restart or status signal.
func (d *EventRules) Forget(sig *Signal) { delete(d.signals, sig.ID) }

// Advance drops bursts that have been quiet past their rule's quiet period
// and window, checking at most once a minute of event time.
func (d *EventRules) Advance(now int64, _ Emit) {
	d.now = max(d.now, now)
	if now-d.swept < int64(time.Minute) {
		return
	}
	d.swept = now
	for k, b := range d.bursts {
		if now-b.last > b.keep {
			delete(d.bursts, k)
		}
	}
}

// Bursts is the number of (workload, container, rule) bursts with state.
func (d *EventRules) Bursts() int { return len(d.bursts) }
