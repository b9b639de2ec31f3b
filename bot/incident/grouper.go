package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medic-bot/medic/detect"
)

// Ledger counts stored transitions: the Grouper's memory that survives a
// restart. The store implements it.
type Ledger interface {
	// CountTransitions counts the transitions into q.To at or after
	// q.Since, of the incidents of q.Repo (and of q.Workload when set).
	CountTransitions(ctx context.Context, q TransitionQuery) (int, error)
}

// TransitionQuery selects transitions for Ledger.CountTransitions.
type TransitionQuery struct {
	// Repo is the incidents' repository, "owner/name". Required.
	Repo string
	// Workload is the incidents' Workload.Key(); empty means every
	// workload of Repo.
	Workload string
	// To is the state the transitions entered.
	To State
	// Since is the earliest transition time counted (event time).
	Since time.Time
}

// Tracked is an open incident as the Grouper holds it, and what Restore
// rebuilds it from. From a store: the incident document and its state,
// Since and Cause from its last transition, Seq the number of transitions.
type Tracked struct {
	Incident Incident
	State    State
	// Since is when the incident entered State (event time).
	Since time.Time
	// Cause is the cause of the transition into State.
	Cause string
	// Seq is how many transitions the incident has had.
	Seq int
	// Admitted: AdmitPR let its pull request open and the incident is
	// still proposing, so it counts against the run caps until the pull
	// request is recorded as opened. From a store: whether the incident's
	// propose step (StepName(ActionPropose, Seq)) was recorded. When it
	// is false after a restart, the loop calls AdmitPR again before the
	// step, and must not when the step has a result.
	Admitted bool
}

// admittedBesides counts the incidents other than self that were admitted
// and are still opening their pull request, among those q selects.
func (g *Grouper) admittedBesides(self *Tracked, q TransitionQuery) int {
	n := 0
	for _, t := range g.byID {
		if t != self && t.Admitted && t.Incident.Repo == q.Repo && (q.Workload == "" || t.Incident.Workload.Key() == q.Workload) {
			n++
		}
	}
	return n
}

// Update is one change the Grouper made to an incident. The caller stores
// it (the incident document and, when Transition is set, the transition
// with compare-and-set from Transition.From) before the next call into the
// Grouper, then performs Steps in order, each keyed by (incident id,
// Step.Name). Its Tracked is the incident after the change.
type Update struct {
	Tracked
	// Transition is nil when the state did not change (an anomaly joined).
	Transition *Transition
	Steps      []Step
}

// Step is an action to perform and the stable name of its step.
type Step struct {
	Action Action
	Name   string
}

// Verdict is what the Grouper made of one anomaly.
type Verdict string

// Verdicts of Observe.
const (
	// VerdictNew: the anomaly opened a new incident.
	VerdictNew Verdict = "new"
	// VerdictJoined: it joined its workload's open incident.
	VerdictJoined Verdict = "joined"
	// VerdictSuppressed: its incident (new or joined) is suppressed.
	VerdictSuppressed Verdict = "suppressed"
	// VerdictDuplicate: the incident already holds this anomaly (same
	// container, signal, detector, onset and time: a re-delivery);
	// nothing changes.
	VerdictDuplicate Verdict = "duplicate"
)

// Decision is Observe's answer for one anomaly.
type Decision struct {
	Verdict    Verdict
	IncidentID string
	// Reason says why the anomaly is suppressed (the incident's cause).
	Reason string
	// Updates are the changes to store, in order: closing the
	// workload's expired incident, opening, joining, suppressing or
	// settling.
	Updates []Update
}

// Grouper turns anomalies into incidents, in event time: one open
// incident per repository and workload, flap and cooldown suppression,
// a cap on active incidents per repository and the pull-request run caps.
// It keeps only open incidents in memory; everything older is counted
// through the Ledger, so it is rebuilt after a restart with Restore.
//
// A Grouper is not safe for concurrent use: one loop owns it. It starts
// no goroutines and reads no clock; every time comes from its arguments.
type Grouper struct {
	cfg    Config
	ledger Ledger
	byID   map[string]*Tracked
	byKey  map[string]*Tracked
}

// NewGrouper returns a Grouper with no open incidents.
func NewGrouper(cfg Config, ledger Ledger) (*Grouper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("incident grouper config: %w", err)
	}
	if ledger == nil {
		return nil, errors.New("incident grouper: no ledger")
	}
	return &Grouper{cfg: cfg, ledger: ledger, byID: map[string]*Tracked{}, byKey: map[string]*Tracked{}}, nil
}

func trackKey(repo string, w detect.Workload) string { return repo + "\x00" + w.Key() }

// Observe feeds one anomaly of a workload deployed from repo ("owner/name").
// Its time a.At is the event time: the workload's expired incident closes
// first, then the anomaly joins its open incident or opens a new one,
// which is suppressed when the repository has max_open_per_repo active
// incidents, the workload is in cooldown after a merge, or it flaps. With
// settle 0 a new incident settles at once. A Ledger error fails closed:
// nothing changes and the error is returned.
func (g *Grouper) Observe(ctx context.Context, repo string, a detect.Anomaly) (Decision, error) {
	if repo == "" {
		return Decision{}, errors.New("observe anomaly: no repository")
	}
	if a.Workload.IsZero() {
		return Decision{}, fmt.Errorf("observe anomaly %s: no workload", a.Signal)
	}
	if a.At.IsZero() {
		return Decision{}, fmt.Errorf("observe anomaly %s of %s: no time", a.Signal, a.Workload.Key())
	}
	now := a.At
	t := g.byKey[trackKey(repo, a.Workload)]
	var closing *Tracked // the workload's incident whose window has passed
	if t != nil {
		if e, ok := g.due(t, now); ok && e.Type == EventQuiet {
			closing, t = t, nil
		}
	}
	if t != nil {
		if t.has(a) {
			return Decision{Verdict: VerdictDuplicate, IncidentID: t.Incident.ID}, nil
		}
		g.join(t, a)
		updates := []Update{g.snapshot(t, nil, nil)}
		if e, ok := g.due(t, now); ok {
			u, err := g.apply(t, e)
			if err != nil {
				return Decision{}, err
			}
			updates = append(updates, u)
		}
		d := Decision{Verdict: VerdictJoined, IncidentID: t.Incident.ID, Updates: updates}
		if t.State == StateSuppressed {
			d.Verdict, d.Reason = VerdictSuppressed, t.Cause
		}
		return d, nil
	}
	// Everything that can refuse comes before any change.
	w := a.Workload
	w.Container = "" // the incident is the workload's; its anomalies name containers
	n, err := g.count(ctx, TransitionQuery{Repo: repo, Workload: w.Key(), To: StateDetected})
	if err != nil {
		return Decision{}, err
	}
	inc := Incident{ID: NewID(repo, w, a, n), Workload: w, Repo: repo, Opened: openedAt(a)}
	open := len(g.byID)
	if closing != nil {
		open--
	}
	if open >= g.cfg.MaxTracked {
		return Decision{}, fmt.Errorf("open incident for %s: %d incidents are open (max_tracked %d)", w.Key(), open, g.cfg.MaxTracked)
	}
	if _, dup := g.byID[inc.ID]; dup {
		return Decision{}, fmt.Errorf("open incident for %s: id %s is already open", w.Key(), inc.ID)
	}
	reason, err := g.suppression(ctx, repo, w.Key(), now, closing)
	if err != nil {
		return Decision{}, err
	}
	var updates []Update
	if closing != nil {
		e, _ := g.due(closing, now)
		u, err := g.apply(closing, e)
		if err != nil {
			return Decision{}, err
		}
		updates = append(updates, u)
	}
	t = &Tracked{Incident: inc}
	g.join(t, a)
	g.byID[inc.ID], g.byKey[trackKey(repo, w)] = t, t
	d := Decision{Verdict: VerdictNew, IncidentID: inc.ID}
	events := []Event{{Type: EventOpened, At: now, Cause: "opened by " + a.Signal + " (" + string(a.Kind) + ")"}}
	if reason != "" {
		events = append(events, Event{Type: EventSuppressed, At: now, Cause: reason})
		d.Verdict, d.Reason = VerdictSuppressed, reason
	}
	for _, e := range events {
		u, err := g.apply(t, e)
		if err != nil {
			return Decision{}, err
		}
		updates = append(updates, u)
	}
	if e, ok := g.due(t, now); ok {
		u, err := g.apply(t, e)
		if err != nil {
			return Decision{}, err
		}
		updates = append(updates, u)
	}
	d.Updates = updates
	return d, nil
}

// has reports whether t's incident keeps an anomaly that a repeats.
func (t *Tracked) has(a detect.Anomaly) bool {
	for _, b := range t.Incident.Anomalies {
		if b.Workload.Container == a.Workload.Container && b.Signal == a.Signal && b.Detector == a.Detector &&
			b.Onset.Equal(a.Onset) && b.At.Equal(a.At) {
			return true
		}
	}
	return false
}

// join adds a to t's incident, keeping at most max_anomalies.
func (g *Grouper) join(t *Tracked, a detect.Anomaly) {
	if len(t.Incident.Anomalies) < g.cfg.MaxAnomalies {
		t.Incident.Anomalies = append(t.Incident.Anomalies, a)
	} else {
		t.Incident.DroppedAnomalies++
	}
	if a.At.After(t.Incident.LastSeen) {
		t.Incident.LastSeen = a.At
	}
}

// suppression says why a new incident of workload in repo at now must be
// suppressed, or "" when it may go on; closing is about to close and does
// not count.
func (g *Grouper) suppression(ctx context.Context, repo, workload string, now time.Time, closing *Tracked) (string, error) {
	active := 0
	for _, t := range g.byID {
		if t != closing && t.Incident.Repo == repo && t.State.Active() {
			active++
		}
	}
	if active >= g.cfg.MaxOpenPerRepo {
		return fmt.Sprintf("cap: %s has %d active incidents (max_open_per_repo %d)", repo, active, g.cfg.MaxOpenPerRepo), nil
	}
	n, err := g.count(ctx, TransitionQuery{Repo: repo, Workload: workload, To: StateMerged, Since: now.Add(-g.cfg.Cooldown)})
	if err != nil {
		return "", err
	}
	if n > 0 {
		return fmt.Sprintf("cooldown: a pull request for %s merged within %s (cooldown %s)", workload, g.cfg.Cooldown, g.cfg.Cooldown), nil
	}
	n, err = g.count(ctx, TransitionQuery{Repo: repo, Workload: workload, To: StateProposing, Since: now.Add(-g.cfg.Flap.Window)})
	if err != nil {
		return "", err
	}
	if n >= g.cfg.Flap.MaxIncidents {
		return fmt.Sprintf("flapping: %d incidents of %s reached the crew within %s (flap.max_incidents %d)", n, workload, g.cfg.Flap.Window, g.cfg.Flap.MaxIncidents), nil
	}
	return "", nil
}

func (g *Grouper) count(ctx context.Context, q TransitionQuery) (int, error) {
	n, err := g.ledger.CountTransitions(ctx, q)
	if err != nil {
		what := q.Repo
		if q.Workload != "" {
			what = q.Workload + " in " + q.Repo
		}
		return 0, fmt.Errorf("count transitions to %s of %s: %w", q.To, what, err)
	}
	return n, nil
}

// AdmitPR checks the run caps before the incident's ActionPropose step
// opens a pull request at event time at: at most caps.PRsPerHour pull
// requests (transitions into proposed) in the repository within the last
// hour, and caps.PRsPerWorkloadPerDay for the workload within 24 hours.
// Other incidents admitted and still proposing count as opened, so that
// two admissions before either pull request opens cannot both take the
// last slot (after Restore, those restored with Admitted).
// It returns nil when the pull request may open; otherwise the incident is
// suppressed and the Update says why. Invalid caps and Ledger errors fail
// closed with an error and change nothing.
func (g *Grouper) AdmitPR(ctx context.Context, id string, caps RunCaps, at time.Time) (*Update, error) {
	t, err := g.tracked(id)
	if err != nil {
		return nil, err
	}
	if t.State != StateProposing {
		return nil, fmt.Errorf("admit pull request for incident %s: state is %s, not %s", id, t.State, StateProposing)
	}
	if err := caps.Validate(); err != nil {
		return nil, fmt.Errorf("admit pull request for incident %s: %w", id, err)
	}
	repo, workload := t.Incident.Repo, t.Incident.Workload.Key()
	reason := ""
	for _, c := range []struct {
		q                  TransitionQuery
		max                int
		where, within, key string
	}{
		{TransitionQuery{Repo: repo, To: StateProposed, Since: at.Add(-time.Hour)}, caps.PRsPerHour, "in " + repo, "1h", "limits.prs_per_hour"},
		{TransitionQuery{Repo: repo, Workload: workload, To: StateProposed, Since: at.Add(-24 * time.Hour)}, caps.PRsPerWorkloadPerDay, "for " + workload, "24h", "limits.prs_per_workload_per_day"},
	} {
		n, err := g.count(ctx, c.q)
		if err != nil {
			return nil, err
		}
		if n += g.admittedBesides(t, c.q); n >= c.max {
			reason = fmt.Sprintf("run cap: %d pull requests opened or being opened %s within %s (%s %d)", n, c.where, c.within, c.key, c.max)
			break
		}
	}
	if reason == "" {
		t.Admitted = true
		return nil, nil
	}
	u, err := g.apply(t, Event{Type: EventSuppressed, At: at, Cause: reason})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Apply feeds an event from outside the Grouper (the crew's answer, the
// forge's pull-request events, verification) to an open incident. An
// incident that reaches a terminal state is no longer tracked. Anomalies
// go through Observe, and the grouping window's events through Tick.
func (g *Grouper) Apply(id string, e Event) (Update, error) {
	t, err := g.tracked(id)
	if err != nil {
		return Update{}, err
	}
	switch e.Type {
	case EventOpened, EventAnomaly, EventSettled, EventQuiet:
		return Update{}, fmt.Errorf("apply %s to incident %s: the grouper raises it itself", e.Type, id)
	}
	return g.apply(t, e)
}

// Tick raises the events the grouping window makes due by event time now,
// in incident id order: detected incidents settle, quiet ones close. Each
// transition is stamped with the time it fell due, not now, so that the
// history does not depend on how often the caller ticks.
func (g *Grouper) Tick(now time.Time) ([]Update, error) {
	var updates []Update
	for _, id := range g.ids() {
		t := g.byID[id]
		if e, ok := g.due(t, now); ok {
			u, err := g.apply(t, e)
			if err != nil {
				return updates, err
			}
			updates = append(updates, u)
		}
	}
	return updates, nil
}

// due is the event the grouping window makes due for t by now, stamped
// with the time it fell due: a detected incident settles settle after it
// opened; one with nothing in flight closes, suppressed a window after it
// was suppressed, no_action and merged after a window without anomalies.
func (g *Grouper) due(t *Tracked, now time.Time) (Event, bool) {
	var e Event
	switch t.State {
	case StateDetected:
		e = Event{Type: EventSettled, At: t.Since.Add(g.cfg.Settle),
			Cause: fmt.Sprintf("settled after %s with %d anomalies", g.cfg.Settle, len(t.Incident.Anomalies)+t.Incident.DroppedAnomalies)}
	case StateSuppressed:
		e = Event{Type: EventQuiet, At: t.Since.Add(g.cfg.Window),
			Cause: fmt.Sprintf("suppressed for the window (%s): judge the next anomaly afresh", g.cfg.Window)}
	case StateNoAction, StateMerged:
		last := t.Since
		if t.Incident.LastSeen.After(last) {
			last = t.Incident.LastSeen
		}
		e = Event{Type: EventQuiet, At: last.Add(g.cfg.Window), Cause: fmt.Sprintf("no anomaly for the window (%s)", g.cfg.Window)}
	default:
		return Event{}, false
	}
	return e, !now.Before(e.At)
}

// apply runs the state machine on t and records the result.
func (g *Grouper) apply(t *Tracked, e Event) (Update, error) {
	to, actions, err := Next(t.State, e)
	if err != nil {
		return Update{}, fmt.Errorf("incident %s: %w", t.Incident.ID, err)
	}
	if to == t.State {
		return g.snapshot(t, nil, nil), nil
	}
	tr := &Transition{IncidentID: t.Incident.ID, From: t.State, To: to, Event: e.Type, Cause: e.Cause, At: e.At}
	t.State, t.Since, t.Cause = to, e.At, e.Cause
	t.Admitted = t.Admitted && to == StateProposing
	t.Seq++
	steps := make([]Step, len(actions))
	for i, a := range actions {
		steps[i] = Step{Action: a, Name: StepName(a, t.Seq)}
	}
	if to.Terminal() {
		delete(g.byID, t.Incident.ID)
		delete(g.byKey, trackKey(t.Incident.Repo, t.Incident.Workload))
	}
	return g.snapshot(t, tr, steps), nil
}

// snapshot copies t so that the caller owns what it is handed.
func (g *Grouper) snapshot(t *Tracked, tr *Transition, steps []Step) Update {
	c := *t
	c.Incident.Anomalies = slices.Clone(t.Incident.Anomalies)
	return Update{Tracked: c, Transition: tr, Steps: steps}
}

// ErrNotOpen marks an incident id the Grouper holds no open incident for
// (errors.Is): unknown, or already in a terminal state.
var ErrNotOpen = errors.New("incident is not open")

func (g *Grouper) tracked(id string) (*Tracked, error) {
	t, ok := g.byID[id]
	if !ok {
		return nil, fmt.Errorf("incident %s: %w", id, ErrNotOpen)
	}
	return t, nil
}

func (g *Grouper) ids() []string {
	ids := make([]string, 0, len(g.byID))
	for id := range g.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Open returns copies of the open incidents, in id order: what a store
// holds and Restore takes back.
func (g *Grouper) Open() []Tracked {
	out := make([]Tracked, 0, len(g.byID))
	for _, id := range g.ids() {
		out = append(out, g.snapshot(g.byID[id], nil, nil).Tracked)
	}
	return out
}

// Get returns a copy of the open incident id.
func (g *Grouper) Get(id string) (Tracked, bool) {
	t, ok := g.byID[id]
	if !ok {
		return Tracked{}, false
	}
	return g.snapshot(t, nil, nil).Tracked, true
}

// Restore replaces the Grouper's open incidents with ts, the open incidents
// a store holds, after a restart. Nothing changes unless every one is
// valid: an id safe for a branch, a repository, an open state, a time and
// at least one transition, no id or repository and workload twice, and no
// more than max_tracked.
func (g *Grouper) Restore(ts []Tracked) error {
	if len(ts) > g.cfg.MaxTracked {
		return fmt.Errorf("restore incidents: %d open incidents (max_tracked %d)", len(ts), g.cfg.MaxTracked)
	}
	byID := make(map[string]*Tracked, len(ts))
	byKey := make(map[string]*Tracked, len(ts))
	var errs []error
	for i := range ts {
		t := ts[i]
		t.Incident.Anomalies = slices.Clone(t.Incident.Anomalies)
		id := t.Incident.ID
		var bad []string
		if err := t.Incident.Validate(); err != nil {
			bad = append(bad, err.Error())
		}
		if t.Incident.Repo == "" {
			bad = append(bad, "no repository")
		}
		if !t.State.Open() {
			bad = append(bad, fmt.Sprintf("state %q is not open", t.State))
		}
		if t.Since.IsZero() {
			bad = append(bad, "no time")
		}
		if t.Seq < 1 {
			bad = append(bad, fmt.Sprintf("seq %d: no transition", t.Seq))
		}
		key := trackKey(t.Incident.Repo, t.Incident.Workload)
		if _, dup := byID[id]; dup {
			bad = append(bad, "listed twice")
		} else if o, dup := byKey[key]; dup {
			bad = append(bad, fmt.Sprintf("%s in %s is also incident %s", t.Incident.Workload.Key(), t.Incident.Repo, o.Incident.ID))
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("incident %q: %s", id, strings.Join(bad, "; ")))
			continue
		}
		t.Admitted = t.Admitted && t.State == StateProposing
		byID[id], byKey[key] = &t, &t
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore incidents: %w", err)
	}
	g.byID, g.byKey = byID, byKey
	return nil
}
