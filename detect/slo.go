package detect

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SLOConfig configures multiwindow, multi-burn-rate SLO alerts on request
// windows (the `slo` detector), as chapter 5 of the SRE Workbook describes
// them: a rule fires when the error budget burns at least Burn times faster
// than the objective allows, measured over both a long and a short window.
type SLOConfig struct {
	// Default is the objective of every workload (its whole traffic, route
	// "") that no entry of Objectives names. Set disabled to watch only
	// the listed ones.
	Default SLOObjective `yaml:"default"`
	// Objectives are per service, workload or route; the first that matches
	// a window's workload and route applies.
	Objectives []SLOObjective `yaml:"objectives"`
	// Rules are the burn-rate alerts evaluated for every objective.
	Rules []BurnRule `yaml:"rules"`
	// MinRequests is how many requests the long window of a rule must hold
	// before the rule may fire, so that one failed request of an idle
	// service does not page.
	MinRequests float64 `yaml:"min_requests"`
	// MinBad is how many failed (or, for latency, slow) requests the long
	// window must hold: with little traffic even the slow rules would
	// otherwise fire on one or two failures, which say nothing about a
	// burn rate.
	MinBad float64 `yaml:"min_bad"`
}

// SLOObjective is a service level objective for a workload's requests.
type SLOObjective struct {
	// Service matches the workload's service.name.
	Service string `yaml:"service"`
	// Workload matches the workload key "namespace/Kind/name" (for
	// example "shop/Deployment/checkout").
	Workload string `yaml:"workload"`
	// Route restricts the objective to one route (http.route, RPC method
	// or span name); empty means all the workload's requests.
	Route string `yaml:"route"`
	// Disabled turns the objective off (useful for the default).
	Disabled bool `yaml:"disabled"`
	// Availability is the target fraction of requests without error, for
	// example 0.999; 0 means no availability objective.
	Availability float64 `yaml:"availability"`
	// LatencyThreshold and LatencyTarget form the latency objective:
	// LatencyTarget of the requests (for example 0.99) complete within
	// LatencyThreshold. A zero threshold means no latency objective.
	LatencyThreshold time.Duration `yaml:"latency_threshold"`
	LatencyTarget    float64       `yaml:"latency_target"`
}

// BurnRule fires when the budget burn rate is at least Burn over both the
// Long and the Short window. Windows up to 6h must be whole minutes, longer
// ones whole hours.
type BurnRule struct {
	// Name names the rule in summaries, e.g. "page-1h".
	Name string `yaml:"name"`
	// Severity is how urgent a firing is: "page" or "ticket".
	Severity string `yaml:"severity"`
	// Burn is the budget burn rate (bad ratio / allowed bad ratio) at
	// which the rule fires.
	Burn float64 `yaml:"burn"`
	// Long is the window that makes the burn significant; Short the one
	// that shows it still goes on (and lets the alert clear quickly).
	Long  time.Duration `yaml:"long"`
	Short time.Duration `yaml:"short"`
}

// DefaultSLOConfig returns 99.9% availability for every workload and the
// SRE Workbook's recommended burn-rate rules.
func DefaultSLOConfig() SLOConfig {
	return SLOConfig{
		Default: SLOObjective{Availability: 0.999},
		Rules: []BurnRule{
			{Name: "page-1h", Severity: "page", Burn: 14.4, Long: time.Hour, Short: 5 * time.Minute},
			{Name: "page-6h", Severity: "page", Burn: 6, Long: 6 * time.Hour, Short: 30 * time.Minute},
			{Name: "ticket-3d", Severity: "ticket", Burn: 1, Long: 72 * time.Hour, Short: 6 * time.Hour},
		},
		MinRequests: 100,
		MinBad:      3,
	}
}

// SLO windows up to sloMinuteSpan are summed from minute buckets, longer
// ones from hour buckets.
const sloMinuteSpan = 6 * time.Hour

// Validate reports every problem with the configuration at once.
func (c SLOConfig) Validate() error {
	var errs []error
	if !c.Default.Disabled {
		if err := c.Default.validate(false); err != nil {
			errs = append(errs, fmt.Errorf("default: %w", err))
		}
	}
	for i, o := range c.Objectives {
		if err := o.validate(true); err != nil {
			errs = append(errs, fmt.Errorf("objectives[%d]: %w", i, err))
		}
	}
	if len(c.Rules) == 0 {
		errs = append(errs, errors.New("rules: at least one burn rule is needed"))
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("rules[%d]: name is required", i))
		} else if names[r.Name] {
			errs = append(errs, fmt.Errorf("rules[%d]: duplicate name %q", i, r.Name))
		}
		names[r.Name] = true
		if !(r.Burn > 0) || math.IsInf(r.Burn, 0) {
			errs = append(errs, fmt.Errorf("rules[%d] %s: burn must be positive, got %v", i, r.Name, r.Burn))
		}
		if r.Severity != "page" && r.Severity != "ticket" {
			errs = append(errs, fmt.Errorf("rules[%d] %s: severity must be page or ticket, got %q", i, r.Name, r.Severity))
		}
		if r.Short <= 0 || r.Long <= r.Short {
			errs = append(errs, fmt.Errorf("rules[%d] %s: need 0 < short < long, got short %s long %s", i, r.Name, r.Short, r.Long))
		}
		for _, w := range []time.Duration{r.Short, r.Long} {
			if err := sloValidWindow(w); err != nil {
				errs = append(errs, fmt.Errorf("rules[%d] %s: %w", i, r.Name, err))
			}
		}
	}
	if !(c.MinRequests >= 0) || math.IsInf(c.MinRequests, 0) {
		errs = append(errs, fmt.Errorf("min_requests must be a number >= 0, got %v", c.MinRequests))
	}
	if !(c.MinBad >= 0) || math.IsInf(c.MinBad, 0) {
		errs = append(errs, fmt.Errorf("min_bad must be a number >= 0, got %v", c.MinBad))
	}
	return errors.Join(errs...)
}

func sloValidWindow(w time.Duration) error {
	switch {
	case w <= 0:
		return nil // reported as a short/long problem
	case w <= sloMinuteSpan && w%time.Minute != 0:
		return fmt.Errorf("window %s is not a whole number of minutes", w)
	case w > sloMinuteSpan && w%time.Hour != 0:
		return fmt.Errorf("window %s is longer than %s and not a whole number of hours", w, sloMinuteSpan)
	case w > 90*24*time.Hour:
		return fmt.Errorf("window %s is longer than 90 days", w)
	}
	return nil
}

func (o SLOObjective) validate(named bool) error {
	var errs []error
	if named && o.Service == "" && o.Workload == "" {
		errs = append(errs, errors.New("service or workload is required"))
	}
	if o.Workload != "" && strings.Count(o.Workload, "/") != 2 {
		errs = append(errs, fmt.Errorf("workload %q is not namespace/Kind/name", o.Workload))
	}
	if o.Disabled {
		return errors.Join(errs...)
	}
	if o.Availability != 0 && !(o.Availability > 0 && o.Availability < 1) {
		errs = append(errs, fmt.Errorf("availability must be in (0,1), got %v", o.Availability))
	}
	if o.LatencyThreshold < 0 {
		errs = append(errs, fmt.Errorf("latency_threshold must not be negative, got %s", o.LatencyThreshold))
	}
	if o.LatencyThreshold > 0 && !(o.LatencyTarget > 0 && o.LatencyTarget < 1) {
		errs = append(errs, fmt.Errorf("latency_target must be in (0,1) with a latency_threshold, got %v", o.LatencyTarget))
	}
	if o.Availability == 0 && o.LatencyThreshold == 0 {
		errs = append(errs, errors.New("neither an availability nor a latency objective is set"))
	}
	return errors.Join(errs...)
}

// matches reports whether o names the workload w and route.
func (o *SLOObjective) matches(w *Workload, wkey, route string) bool {
	if o.Route != route {
		return false
	}
	service := w.Service
	if service == "" && w.Kind == "" {
		service = w.Name
	}
	return (o.Service != "" && o.Service == service) || (o.Workload != "" && o.Workload == wkey)
}

var _ WindowDetector = (*SLODetector)(nil)

// SLODetector raises KindSLOBurn anomalies from request windows. It reads
// no signals; its state is a fixed ring of minute and hour buckets per
// tracked (workload, route), dropped when the key has had no window for the
// longest rule window.
//
// Each rule raises once when it starts firing and re-arms when it stops. A
// rule that starts while a faster-burning rule of the same objective fires
// stays silent, so an incident raises once, plus once for each escalation
// to a faster rule. Rules are evaluated over the data there is: before a
// key has a long window of history, its long window is that history.
type SLODetector struct {
	cfg       SLOConfig
	rules     []BurnRule // by burn rate, highest first
	minSlots  int        // minute buckets kept
	hourSlots int        // hour buckets kept
	retention int64      // nanos without a window before a key is dropped
	keys      map[sloKey]*sloTrack
	lastSweep int64
}

type sloKey struct{ workload, route string }

// sloBucket counts the requests of one minute or hour. float32 keeps a
// tracked key small; per-bucket counts stay far below its 2^24 exact range
// for any but the busiest services, and rounding beyond is relative 1e-7.
type sloBucket struct {
	total, bad  float32 // requests, failed requests
	timed, slow float32 // requests with a duration, those over the latency threshold
}

func (b *sloBucket) add(o sloBucket, f float64) {
	b.total += float32(float64(o.total) * f)
	b.bad += float32(float64(o.bad) * f)
	b.timed += float32(float64(o.timed) * f)
	b.slow += float32(float64(o.slow) * f)
}

// sloRing is buckets of one width; slot i holds period head-(len-1)..head
// modulo the ring.
type sloRing struct {
	width int64 // nanos
	head  int64 // newest period number (time / width); -1 when empty
	b     []sloBucket
}

func (r *sloRing) add(start, end int64, c sloBucket) {
	if end <= start {
		end = start + 1
	}
	span := float64(end - start)
	n := int64(len(r.b))
	for p := start / r.width; p*r.width < end; p++ {
		lo, hi := max(start, p*r.width), min(end, (p+1)*r.width)
		f := float64(hi-lo) / span
		if p > r.head {
			if r.head < 0 || p-r.head >= n {
				clear(r.b)
			} else {
				for q := r.head + 1; q <= p; q++ {
					r.b[q%n] = sloBucket{}
				}
			}
			r.head = p
		}
		if p <= r.head-n {
			continue // older than the ring
		}
		r.b[p%n].add(c, f)
	}
}

// sum adds up the newest k periods.
func (r *sloRing) sum(k int64) sloBucket {
	var s sloBucket
	n := int64(len(r.b))
	if r.head < 0 {
		return s
	}
	for p := r.head - min(k, n) + 1; p <= r.head; p++ {
		s.add(r.b[p%n], 1)
	}
	return s
}

// sloTrack is the state of one (workload, route).
type sloTrack struct {
	wl       Workload
	route    string
	obj      SLOObjective
	lastSeen int64
	// since is when data for the key began. A rule waits until the key
	// has history for its whole short window: before that the "long"
	// window is only the little data there is, and the slow ticket rule
	// would fire on a few minutes of noise, ahead of the page rules.
	since   int64
	minutes sloRing
	hours   sloRing
	raised  [2][]bool // [availability, latency][rule]
}

// NewSLODetector builds the SLO detector from a (validated) config.
func NewSLODetector(cfg SLOConfig) Detector {
	d := &SLODetector{
		cfg:      cfg,
		rules:    append([]BurnRule(nil), cfg.Rules...),
		keys:     map[sloKey]*sloTrack{},
		minSlots: 1, hourSlots: 1,
	}
	sort.SliceStable(d.rules, func(i, j int) bool { return d.rules[i].Burn > d.rules[j].Burn })
	var longest time.Duration
	for _, r := range d.rules {
		for _, w := range []time.Duration{r.Short, r.Long} {
			longest = max(longest, w)
			if w <= sloMinuteSpan {
				d.minSlots = max(d.minSlots, int(w/time.Minute))
			} else {
				d.hourSlots = max(d.hourSlots, int(w/time.Hour))
			}
		}
	}
	d.retention = int64(max(longest, time.Hour))
	return d
}

// Name is "slo".
func (d *SLODetector) Name() string { return "slo" }

// Wants is false: the detector reads request windows, not signals.
func (d *SLODetector) Wants(*Signal) bool { return false }

// Observe is never called (Wants is false).
func (d *SLODetector) Observe(*Signal, Point, Emit) {}

// Forget has nothing to drop.
func (d *SLODetector) Forget(*Signal) {}

// Advance drops (workload, route) keys that had no window for the longest
// rule window, checking at most once a minute of event time.
func (d *SLODetector) Advance(now int64, _ Emit) {
	if now-d.lastSweep < int64(time.Minute) {
		return
	}
	d.lastSweep = now
	for k, tr := range d.keys {
		if now-tr.lastSeen > d.retention {
			delete(d.keys, k)
		}
	}
}

// Tracked is the number of (workload, route) keys with state.
func (d *SLODetector) Tracked() int { return len(d.keys) }

// objective finds the objective for a window's workload and route.
func (d *SLODetector) objective(w *Workload, wkey, route string) (SLOObjective, bool) {
	for i := range d.cfg.Objectives {
		if o := &d.cfg.Objectives[i]; o.matches(w, wkey, route) {
			return *o, !o.Disabled
		}
	}
	if route == "" && !d.cfg.Default.Disabled {
		return d.cfg.Default, true
	}
	return SLOObjective{}, false
}

// ObserveWindow adds a closed request window to its key's buckets and
// evaluates the burn rules at the window's end.
func (d *SLODetector) ObserveWindow(w *Window, emit Emit) {
	if w == nil || w.Workload == nil {
		return
	}
	wkey := w.Workload.Key()
	k := sloKey{wkey, w.Route}
	tr := d.keys[k]
	if tr == nil {
		obj, ok := d.objective(w.Workload, wkey, w.Route)
		if !ok {
			return
		}
		tr = &sloTrack{
			wl:      *w.Workload,
			route:   w.Route,
			obj:     obj,
			since:   w.Start,
			minutes: sloRing{width: int64(time.Minute), head: -1, b: make([]sloBucket, d.minSlots)},
			hours:   sloRing{width: int64(time.Hour), head: -1, b: make([]sloBucket, d.hourSlots)},
		}
		tr.raised[0] = make([]bool, len(d.rules))
		tr.raised[1] = make([]bool, len(d.rules))
		d.keys[k] = tr
	}
	tr.lastSeen = max(tr.lastSeen, w.End)
	c := sloBucket{total: float32(max(w.Requests, 0)), bad: float32(max(w.Errors, 0))}
	if th := tr.obj.LatencyThreshold; th > 0 && w.Latency != nil && w.Latency.Count() > 0 {
		c.timed = float32(w.Latency.Count())
		c.slow = float32(w.Latency.CountAbove(th.Seconds()))
	}
	tr.minutes.add(w.Start, w.End, c)
	tr.hours.add(w.Start, w.End, c)

	if a := tr.obj.Availability; a > 0 {
		d.evaluate(tr, 0, 1-a, w.End, emit)
	}
	if tr.obj.LatencyThreshold > 0 {
		d.evaluate(tr, 1, 1-tr.obj.LatencyTarget, w.End, emit)
	}
}

// sum is the count over the newest span of event time.
func (tr *sloTrack) sum(span time.Duration) sloBucket {
	if span <= sloMinuteSpan {
		return tr.minutes.sum(int64(span / time.Minute))
	}
	return tr.hours.sum(int64(span / time.Hour))
}

// sloRatio is the bad fraction of c for an objective kind (0 availability,
// 1 latency), and the bad and total counts it is made of.
func sloRatio(c sloBucket, kind int) (ratio, bad, n float64) {
	bad, n = float64(c.bad), float64(c.total)
	if kind == 1 {
		bad, n = float64(c.slow), float64(c.timed)
	}
	if n <= 0 {
		return 0, 0, 0
	}
	return bad / n, bad, n
}

func (d *SLODetector) evaluate(tr *sloTrack, kind int, budget float64, now int64, emit Emit) {
	higher := false // a faster-burning rule of this objective is firing
	for i, r := range d.rules {
		longRatio, longBad, longN := sloRatio(tr.sum(r.Long), kind)
		shortRatio, _, shortN := sloRatio(tr.sum(r.Short), kind)
		longBurn, shortBurn := longRatio/budget, shortRatio/budget
		firing := now-tr.since >= int64(r.Short) && longN > 0 && shortN > 0 &&
			longN >= d.cfg.MinRequests && longBad >= d.cfg.MinBad &&
			longBurn >= r.Burn && shortBurn >= r.Burn
		was := tr.raised[kind][i]
		tr.raised[kind][i] = firing
		if firing && !was && !higher {
			emit(nil, d.anomaly(tr, kind, r, budget, longRatio, longBurn, shortBurn, now))
		}
		higher = higher || firing
	}
}

func (d *SLODetector) anomaly(tr *sloTrack, kind int, r BurnRule, budget, longRatio, longBurn, shortBurn float64, now int64) Anomaly {
	what, signal := "error", "requests:error_ratio"
	slo := fmtPercent(tr.obj.Availability) + " availability"
	if kind == 1 {
		what, signal = "latency", "requests:latency"
		slo = fmtPercent(tr.obj.LatencyTarget) + " of requests within " + tr.obj.LatencyThreshold.String()
	}
	summary := fmt.Sprintf("%s budget burning at %.1fx over %s and %.1fx over %s (SLO %s; rule %s fires at %gx)",
		what, longBurn, fmtWindow(r.Long), shortBurn, fmtWindow(r.Short), slo, r.Name, r.Burn)
	a := Anomaly{
		Workload: tr.wl,
		Signal:   signal,
		Kind:     KindSLOBurn,
		Detector: d.Name(),
		Onset:    time.Unix(0, tr.onset(kind, r.Burn*budget, r.Long, now)).UTC(),
		At:       time.Unix(0, now).UTC(),
		Score:    min(1, math.Max(0, 1-0.5*r.Burn/math.Min(longBurn, shortBurn))),
		Observed: longRatio,
		Baseline: budget,
		Summary:  summary,
	}
	if tr.route != "" {
		a.Labels = map[string]string{"route": tr.route}
		a.Summary = "route " + tr.route + ": " + a.Summary
	}
	a.Evidence = tr.evidence(kind, r.Long)
	return a
}

// evidence is the bad ratio per bucket over the newest span: per minute for
// spans the minute ring holds, per hour beyond. Buckets without requests
// are left out.
func (tr *sloTrack) evidence(kind int, span time.Duration) []EvidencePoint {
	r, k := &tr.minutes, int64(span/time.Minute)
	if span > sloMinuteSpan {
		r, k = &tr.hours, int64(span/time.Hour)
	}
	n := int64(len(r.b))
	if r.head < 0 {
		return nil
	}
	out := make([]EvidencePoint, 0, min(k, n))
	for p := r.head - min(k, n) + 1; p <= r.head; p++ {
		if ratio, _, cnt := sloRatio(r.b[p%n], kind); cnt > 0 {
			out = append(out, EvidencePoint{T: time.Unix(0, p*r.width).UTC(), V: ratio})
		}
	}
	return out
}

// onset walks the minute buckets back from the newest while each minute
// burns at least bad (a ratio), up to span: the start of the oldest such
// minute is when the problem began. Minutes without requests are skipped.
func (tr *sloTrack) onset(kind int, bad float64, span time.Duration, now int64) int64 {
	r := &tr.minutes
	n := int64(len(r.b))
	first := r.head + 1
	for p := r.head; p > r.head-min(n, int64(span/time.Minute)); p-- {
		ratio, _, cnt := sloRatio(r.b[p%n], kind)
		if cnt == 0 {
			continue
		}
		if ratio < bad {
			break
		}
		first = p
	}
	if first > r.head {
		return now
	}
	return first * r.width
}

// fmtPercent prints a target like 0.999 as "99.9%".
func fmtPercent(f float64) string {
	return strconv.FormatFloat(roundSignificant(f*100, 6), 'f', -1, 64) + "%"
}

// fmtWindow prints a window as the SRE Workbook does: 5m, 1h, 3d.
func fmtWindow(w time.Duration) string {
	day := 24 * time.Hour
	switch {
	case w >= day && w%day == 0:
		return strconv.FormatInt(int64(w/day), 10) + "d"
	case w >= time.Hour && w%time.Hour == 0:
		return strconv.FormatInt(int64(w/time.Hour), 10) + "h"
	case w >= time.Minute && w%time.Minute == 0:
		return strconv.FormatInt(int64(w/time.Minute), 10) + "m"
	}
	return w.String()
}
