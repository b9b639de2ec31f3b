package incident_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/incident/incidenttest"
	"github.com/medic-bot/medic/detect"
)

var t0 = time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)

const repoA, repoB = "acme/infra", "acme/other"

var caps = incident.RunCaps{PRsPerHour: 2, PRsPerWorkloadPerDay: 3}

func mins(n int) time.Duration { return time.Duration(n) * time.Minute }

func wl(name string) detect.Workload {
	return detect.Workload{Namespace: "shop", Kind: "Deployment", Name: name}
}

func anom(w detect.Workload, container, signal string, at time.Time) detect.Anomaly {
	w.Container = container
	return detect.Anomaly{
		Workload: w, Signal: signal, Kind: detect.KindSaturation, Detector: "saturation",
		Onset: at.Add(-time.Minute), At: at, Score: 0.9, Summary: signal + " high",
	}
}

// harness runs a Grouper the way the loop does: every update is recorded
// in the Recorder (the store and Ledger) before the next call.
type harness struct {
	t   *testing.T
	cfg incident.Config
	g   *incident.Grouper
	rec *incidenttest.Recorder
}

func newHarness(t *testing.T, cfg incident.Config) *harness {
	t.Helper()
	rec := incidenttest.NewRecorder()
	g, err := incident.NewGrouper(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, cfg: cfg, g: g, rec: rec}
}

func (h *harness) record(us ...incident.Update) {
	h.t.Helper()
	if err := h.rec.Record(us...); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) observe(repo string, a detect.Anomaly) incident.Decision {
	h.t.Helper()
	d, err := h.g.Observe(context.Background(), repo, a)
	if err != nil {
		h.t.Fatalf("Observe %s at %s: %v", a.Workload, a.At, err)
	}
	h.record(d.Updates...)
	return d
}

func (h *harness) tick(now time.Time) []incident.Update {
	h.t.Helper()
	us, err := h.g.Tick(now)
	if err != nil {
		h.t.Fatal(err)
	}
	h.record(us...)
	return us
}

func (h *harness) apply(id string, e incident.Event) incident.Update {
	h.t.Helper()
	u, err := h.g.Apply(id, e)
	if err != nil {
		h.t.Fatal(err)
	}
	h.record(u)
	return u
}

// restart replaces the Grouper with a new one restored from the store.
func (h *harness) restart() {
	h.t.Helper()
	g, err := incident.NewGrouper(h.cfg, h.rec)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := g.Restore(h.rec.Open()); err != nil {
		h.t.Fatal(err)
	}
	h.g = g
}

// openPRs opens one incident per workload name in repo, a minute apart
// from at, and a pull request for each (settle must be 0).
func (h *harness) openPRs(repo string, at time.Time, names ...string) {
	h.t.Helper()
	for i, name := range names {
		at := at.Add(mins(i))
		d := h.observe(repo, anom(wl(name), "app", "x", at))
		h.openPR(d.IncidentID, at)
	}
}

// noAction settles a new incident of w at at and has the crew find
// nothing to do.
func (h *harness) noAction(w detect.Workload, signal string, at time.Time) incident.Decision {
	h.t.Helper()
	d := h.observe(repoA, anom(w, "app", signal, at))
	h.tick(at.Add(h.cfg.Settle))
	h.apply(d.IncidentID, incident.Event{Type: incident.EventNoProposal, At: at.Add(h.cfg.Settle), Cause: "noise"})
	return d
}

func (h *harness) state(id string) incident.State {
	h.t.Helper()
	tr, ok := h.rec.Incident(id)
	if !ok {
		h.t.Fatalf("incident %s not recorded", id)
	}
	return tr.State
}

// proposeAndMerge drives a settled incident through a pull request that
// merges at at.
func (h *harness) openPR(id string, at time.Time) {
	h.t.Helper()
	if u, err := h.g.AdmitPR(context.Background(), id, caps, at); err != nil || u != nil {
		h.t.Fatalf("AdmitPR %s: %v %+v", id, err, u)
	}
	h.apply(id, incident.Event{Type: incident.EventPROpened, At: at})
}

func TestGroupingOneIncidentPerWorkload(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	checkout, cart := wl("checkout"), wl("cart")
	d1 := h.observe(repoA, anom(checkout, "app", "container.memory.working_set", t0))
	if d1.Verdict != incident.VerdictNew {
		t.Fatalf("first anomaly: %+v", d1)
	}
	// Another signal and another container (a sidecar) of the same
	// workload join; another workload, or the same one deployed from
	// another repository, opens its own.
	d2 := h.observe(repoA, anom(checkout, "envoy", "k8s.event:OOMKilled", t0.Add(mins(1))))
	d3 := h.observe(repoA, anom(cart, "app", "requests:p99", t0.Add(mins(1))))
	d4 := h.observe(repoB, anom(checkout, "app", "requests:p99", t0.Add(mins(1))))
	if d2.Verdict != incident.VerdictJoined || d2.IncidentID != d1.IncidentID {
		t.Fatalf("same workload: %+v, want joined %s", d2, d1.IncidentID)
	}
	if d3.Verdict != incident.VerdictNew || d4.Verdict != incident.VerdictNew || d3.IncidentID == d1.IncidentID || d4.IncidentID == d1.IncidentID || d3.IncidentID == d4.IncidentID {
		t.Fatalf("other workload %+v, other repo %+v", d3, d4)
	}
	if len(d2.Updates) != 1 || d2.Updates[0].Transition != nil {
		t.Fatalf("a join changes no state: %+v", d2.Updates)
	}
	inc := d2.Updates[0].Incident
	if len(inc.Anomalies) != 2 || inc.Workload.Container != "" || inc.Repo != repoA ||
		!inc.Opened.Equal(t0.Add(-time.Minute)) || !inc.LastSeen.Equal(t0.Add(mins(1))) {
		t.Fatalf("incident %+v", inc)
	}
	if err := inc.Validate(); err != nil {
		t.Fatal(err)
	}
	hist := h.rec.History(d1.IncidentID)
	if len(hist) != 1 || hist[0].From != incident.StateNone || hist[0].To != incident.StateDetected ||
		hist[0].Event != incident.EventOpened || !hist[0].At.Equal(t0) || hist[0].Cause == "" {
		t.Fatalf("history %+v", hist)
	}
}

func TestSettleAsksTheCrewOnce(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig()) // settle 2m
	d := h.observe(repoA, anom(wl("checkout"), "app", "container.memory.working_set", t0))
	if us := h.tick(t0.Add(mins(2) - time.Second)); len(us) != 0 {
		t.Fatalf("settled early: %+v", us)
	}
	us := h.tick(t0.Add(mins(2)))
	if len(us) != 1 || us[0].Transition == nil || us[0].Transition.To != incident.StateProposing {
		t.Fatalf("tick at settle: %+v", us)
	}
	want := []incident.Step{{Action: incident.ActionSuggest, Name: "suggest-2"}, {Action: incident.ActionPropose, Name: "propose-2"}}
	if !reflect.DeepEqual(us[0].Steps, want) || us[0].Seq != 2 {
		t.Fatalf("steps %+v seq %d, want %+v seq 2", us[0].Steps, us[0].Seq, want)
	}
	if us := h.tick(t0.Add(mins(5))); len(us) != 0 {
		t.Fatalf("settled twice: %+v", us)
	}
	// With settle 0 the anomaly itself settles its incident.
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	h0 := newHarness(t, cfg)
	d0 := h0.observe(repoA, anom(wl("checkout"), "app", "x", t0))
	if len(d0.Updates) != 2 || d0.Updates[1].Transition.To != incident.StateProposing || h0.state(d0.IncidentID) != incident.StateProposing {
		t.Fatalf("settle 0: %+v", d0.Updates)
	}
	_ = d
}

func TestSettleOnJoin(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	d := h.observe(repoA, anom(wl("checkout"), "app", "a", t0))
	// No Tick in between: the anomaly that arrives after the settle
	// delay settles its incident.
	d2 := h.observe(repoA, anom(wl("checkout"), "app", "b", t0.Add(mins(3))))
	if d2.IncidentID != d.IncidentID || len(d2.Updates) != 2 || d2.Updates[1].Transition.To != incident.StateProposing {
		t.Fatalf("join after settle delay: %+v", d2)
	}
	if n := len(d2.Updates[1].Incident.Anomalies); n != 2 {
		t.Fatalf("the crew must see both anomalies, has %d", n)
	}
}

func TestNoActionClosesWhenQuiet(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig()) // window 10m
	w := wl("checkout")
	d := h.noAction(w, "a", t0)
	// Anomalies within the window join and push the close out.
	if d2 := h.observe(repoA, anom(w, "app", "b", t0.Add(mins(11)))); d2.Verdict != incident.VerdictJoined || d2.IncidentID != d.IncidentID {
		t.Fatalf("join no_action: %+v", d2)
	}
	if us := h.tick(t0.Add(mins(20))); len(us) != 0 {
		t.Fatalf("closed before a quiet window: %+v", us)
	}
	// A late tick stamps the close with the time it fell due.
	us := h.tick(t0.Add(mins(25)))
	if len(us) != 1 || us[0].Transition.To != incident.StateClosed || us[0].Transition.Event != incident.EventQuiet ||
		!us[0].Transition.At.Equal(t0.Add(mins(21))) {
		t.Fatalf("quiet: %+v", us)
	}
	if _, ok := h.g.Get(d.IncidentID); ok {
		t.Fatal("closed incident still tracked")
	}
	d3 := h.observe(repoA, anom(w, "app", "c", t0.Add(mins(26))))
	if d3.Verdict != incident.VerdictNew || d3.IncidentID == d.IncidentID {
		t.Fatalf("after close: %+v", d3)
	}
}

func TestObserveClosesExpiredIncidentFirst(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	w := wl("checkout")
	d := h.noAction(w, "a", t0)
	// No Tick: the next anomaly, after the window, closes the old incident
	// and opens a new one, in that order.
	d2 := h.observe(repoA, anom(w, "app", "b", t0.Add(mins(30))))
	if d2.Verdict != incident.VerdictNew || len(d2.Updates) < 2 ||
		d2.Updates[0].Incident.ID != d.IncidentID || d2.Updates[0].Transition.To != incident.StateClosed {
		t.Fatalf("expired then new: %+v", d2)
	}
}

func TestCooldownAfterMerge(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig()) // cooldown 30m, window 10m
	w := wl("checkout")
	d := h.observe(repoA, anom(w, "app", "a", t0))
	h.tick(t0.Add(mins(2)))
	h.openPR(d.IncidentID, t0.Add(mins(3)))
	merged := t0.Add(mins(4))
	h.apply(d.IncidentID, incident.Event{Type: incident.EventPRMerged, At: merged})
	h.tick(merged.Add(mins(10))) // quiet: closes
	if st := h.state(d.IncidentID); st != incident.StateClosed {
		t.Fatalf("merged incident not closed when quiet: %s", st)
	}
	d2 := h.observe(repoA, anom(w, "app", "b", merged.Add(mins(15))))
	if d2.Verdict != incident.VerdictSuppressed || !strings.HasPrefix(d2.Reason, "cooldown:") || !strings.Contains(d2.Reason, "cooldown 30m0s") {
		t.Fatalf("within cooldown: %+v", d2)
	}
	if st := h.state(d2.IncidentID); st != incident.StateSuppressed {
		t.Fatalf("state %s", st)
	}
	// Its anomalies join the suppressed incident, which is judged again a
	// window later: by then the cooldown is over.
	if d3 := h.observe(repoA, anom(w, "app", "c", merged.Add(mins(20)))); d3.Verdict != incident.VerdictSuppressed || d3.IncidentID != d2.IncidentID || d3.Reason != d2.Reason {
		t.Fatalf("join suppressed: %+v", d3)
	}
	d4 := h.observe(repoA, anom(w, "app", "d", merged.Add(mins(31))))
	if d4.Verdict != incident.VerdictNew {
		t.Fatalf("after cooldown: %+v", d4)
	}
	// Another workload was never in cooldown.
	if d5 := h.observe(repoA, anom(wl("cart"), "app", "a", merged.Add(mins(5)))); d5.Verdict != incident.VerdictNew {
		t.Fatalf("other workload: %+v", d5)
	}
}

func TestFlapSuppression(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig()) // 3 per hour
	w := wl("checkout")
	at := t0
	var ids []string
	for i := range 3 {
		d := h.noAction(w, fmt.Sprintf("s%d", i), at)
		if d.Verdict != incident.VerdictNew {
			t.Fatalf("incident %d: %+v", i, d)
		}
		ids = append(ids, d.IncidentID)
		at = at.Add(mins(12))
		h.tick(at)
	}
	d := h.observe(repoA, anom(w, "app", "s3", at))
	if d.Verdict != incident.VerdictSuppressed || !strings.HasPrefix(d.Reason, "flapping: 3 incidents") || !strings.Contains(d.Reason, "flap.max_incidents 3") {
		t.Fatalf("4th incident within the hour: %+v", d)
	}
	// Suppressed incidents do not count: once the first three are out of
	// the flap window (the first reached the crew at 14:02) the workload
	// gets its turn again.
	if d := h.observe(repoA, anom(w, "app", "s4", t0.Add(mins(62)-time.Second))); d.Verdict != incident.VerdictSuppressed {
		t.Fatalf("just inside the flap window: %+v", d)
	}
	h.tick(t0.Add(mins(80)))
	if d := h.observe(repoA, anom(w, "app", "s5", t0.Add(mins(80)))); d.Verdict != incident.VerdictNew {
		t.Fatalf("after the flap window: %+v (history %v)", d, ids)
	}
}

func TestOpenCapPerRepo(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.MaxOpenPerRepo = 2
	h := newHarness(t, cfg)
	a := h.observe(repoA, anom(wl("a"), "app", "x", t0))
	h.observe(repoA, anom(wl("b"), "app", "x", t0))
	d := h.observe(repoA, anom(wl("c"), "app", "x", t0))
	if d.Verdict != incident.VerdictSuppressed || d.Reason != "cap: acme/infra has 2 active incidents (max_open_per_repo 2)" {
		t.Fatalf("over the cap: %+v", d)
	}
	if d := h.observe(repoB, anom(wl("c"), "app", "x", t0)); d.Verdict != incident.VerdictNew {
		t.Fatalf("other repo: %+v", d)
	}
	// A no_action incident does not hold a slot.
	h.tick(t0.Add(mins(2)))
	h.apply(a.IncidentID, incident.Event{Type: incident.EventNoProposal, At: t0.Add(mins(2)), Cause: "noise"})
	if d := h.observe(repoA, anom(wl("d"), "app", "x", t0.Add(mins(3)))); d.Verdict != incident.VerdictNew {
		t.Fatalf("after no_action freed a slot: %+v", d)
	}
}

func TestRunCaps(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	h := newHarness(t, cfg)
	// Two pull requests in the hour use repoA's prs_per_hour.
	h.openPRs(repoA, t0, "a", "b")
	d := h.observe(repoA, anom(wl("c"), "app", "x", t0.Add(mins(5))))
	u, err := h.g.AdmitPR(context.Background(), d.IncidentID, caps, t0.Add(mins(5)))
	if err != nil || u == nil {
		t.Fatalf("third pull request in the hour: %v %+v", err, u)
	}
	h.record(*u)
	if u.State != incident.StateSuppressed || u.Cause != "run cap: 2 pull requests opened or being opened in acme/infra within 1h (limits.prs_per_hour 2)" {
		t.Fatalf("suppressed: %+v", u.Tracked)
	}
	// An hour later the repository may open again.
	d2 := h.observe(repoA, anom(wl("e"), "app", "x", t0.Add(mins(61))))
	if u, err := h.g.AdmitPR(context.Background(), d2.IncidentID, caps, t0.Add(mins(61))); err != nil || u != nil {
		t.Fatalf("after an hour: %v %+v", err, u)
	}
	if u, err := h.g.AdmitPR(context.Background(), d2.IncidentID, incident.RunCaps{}, t0.Add(mins(61))); err == nil || u != nil ||
		!strings.Contains(err.Error(), "limits.prs_per_hour: must be positive, got 0") {
		t.Fatalf("zero caps must fail closed: %v", err)
	}
}

func TestRunCapPerWorkloadPerDay(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	cfg.Flap.MaxIncidents = 100 // flapping is not what this test is about
	h := newHarness(t, cfg)
	w := wl("checkout")
	at := t0
	for range 3 {
		d := h.observe(repoA, anom(w, "app", "x", at))
		h.openPR(d.IncidentID, at)
		h.apply(d.IncidentID, incident.Event{Type: incident.EventPRClosed, At: at.Add(mins(1))})
		at = at.Add(2 * time.Hour)
	}
	d := h.observe(repoA, anom(w, "app", "x", at))
	u, err := h.g.AdmitPR(context.Background(), d.IncidentID, caps, at)
	if err != nil || u == nil || !strings.Contains(u.Cause, "limits.prs_per_workload_per_day 3") || !strings.Contains(u.Cause, "shop/Deployment/checkout") {
		t.Fatalf("fourth in a day: %v %+v", err, u)
	}
}

func TestLedgerErrorFailsClosed(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	h.rec.CountErr = errors.New("database is locked")
	_, err := h.g.Observe(context.Background(), repoA, anom(wl("checkout"), "app", "x", t0))
	if err == nil || !strings.Contains(err.Error(), "database is locked") || !strings.Contains(err.Error(), "shop/Deployment/checkout in acme/infra") {
		t.Fatalf("err %v", err)
	}
	if open := h.g.Open(); len(open) != 0 {
		t.Fatalf("tracked after a ledger error: %+v", open)
	}

	// An expired incident is not closed behind the caller's back when the
	// new one cannot open: the caller gets an error and no updates.
	h.rec.CountErr = nil
	w := wl("checkout")
	d := h.observe(repoA, anom(w, "app", "x", t0))
	h.tick(t0.Add(mins(2)))
	h.apply(d.IncidentID, incident.Event{Type: incident.EventNoProposal, At: t0.Add(mins(2)), Cause: "noise"})
	h.rec.CountErr = errors.New("database is locked")
	if _, err := h.g.Observe(context.Background(), repoA, anom(w, "app", "y", t0.Add(mins(30)))); err == nil {
		t.Fatal("no error")
	}
	if tr, ok := h.g.Get(d.IncidentID); !ok || tr.State != incident.StateNoAction {
		t.Fatalf("expired incident changed on error: %+v %v", tr, ok)
	}
	h.rec.CountErr = nil
	d2 := h.observe(repoA, anom(w, "app", "y", t0.Add(mins(30))))
	if d2.Verdict != incident.VerdictNew || d2.Updates[0].Incident.ID != d.IncidentID || d2.Updates[0].State != incident.StateClosed {
		t.Fatalf("retry: %+v", d2)
	}
}

func TestCapsCountedAcrossRestart(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	h := newHarness(t, cfg)
	h.openPRs(repoA, t0, "a", "b")
	h.restart() // a new Grouper over the same store
	d := h.observe(repoA, anom(wl("c"), "app", "x", t0.Add(mins(5))))
	u, err := h.g.AdmitPR(context.Background(), d.IncidentID, caps, t0.Add(mins(5)))
	if err != nil || u == nil || !strings.Contains(u.Cause, "limits.prs_per_hour 2") {
		t.Fatalf("cap after restart: %v %+v", err, u)
	}
	// The restored incidents are still the workloads' open ones.
	if d := h.observe(repoA, anom(wl("a"), "app", "y", t0.Add(mins(6)))); d.Verdict != incident.VerdictJoined {
		t.Fatalf("restored incident: %+v", d)
	}
}

// script is a run of anomalies, ticks and events; run feeds it and returns
// everything the Grouper said, restarting from the Recorder before step
// restartAt (never, when negative).
type scriptStep struct {
	repo string
	a    *detect.Anomaly
	tick time.Time
	ev   *scriptEvent
}

// scriptEvent goes to the open incident of workload name in repo.
type scriptEvent struct {
	repo, name string
	e          incident.Event
}

func runScript(t *testing.T, steps []scriptStep, restartAt int) []string {
	t.Helper()
	h := newHarness(t, incident.DefaultConfig())
	var out []string
	say := func(us []incident.Update) {
		for _, u := range us {
			s := fmt.Sprintf("%s %s seq=%d anomalies=%d", u.Incident.ID, u.State, u.Seq, len(u.Incident.Anomalies))
			if u.Transition != nil {
				s += fmt.Sprintf(" %s->%s %s %q", u.Transition.From, u.Transition.To, u.Transition.Event, u.Transition.Cause)
			}
			for _, st := range u.Steps {
				s += " " + st.Name
			}
			out = append(out, s)
		}
	}
	for i, s := range steps {
		if i == restartAt {
			h.restart()
		}
		switch {
		case s.a != nil:
			d := h.observe(s.repo, *s.a)
			out = append(out, string(d.Verdict)+" "+d.IncidentID+" "+d.Reason)
			say(d.Updates)
		case s.ev != nil:
			var id string
			for _, tr := range h.g.Open() {
				if tr.Incident.Repo == s.ev.repo && tr.Incident.Workload.Name == s.ev.name {
					id = tr.Incident.ID
				}
			}
			if s.ev.e.Type == incident.EventPROpened {
				u, err := h.g.AdmitPR(context.Background(), id, caps, s.ev.e.At)
				if err != nil {
					t.Fatal(err)
				}
				if u != nil {
					h.record(*u)
					say([]incident.Update{*u})
					continue
				}
			}
			say([]incident.Update{h.apply(id, s.ev.e)})
		default:
			say(h.tick(s.tick))
		}
	}
	return out
}

func TestRestoreGivesTheSameDecisions(t *testing.T) {
	ev := func(repo, name string, typ incident.EventType, at time.Time) scriptStep {
		return scriptStep{ev: &scriptEvent{repo, name, incident.Event{Type: typ, At: at, Cause: "c"}}}
	}
	an := func(repo, name, sig string, at time.Time) scriptStep {
		a := anom(wl(name), "app", sig, at)
		return scriptStep{repo: repo, a: &a}
	}
	tick := func(at time.Time) scriptStep { return scriptStep{tick: at} }
	steps := []scriptStep{
		an(repoA, "checkout", "mem", t0),
		an(repoA, "cart", "p99", t0.Add(mins(1))),
		an(repoB, "checkout", "mem", t0.Add(mins(1))),
		tick(t0.Add(mins(3))),
		ev(repoA, "checkout", incident.EventPROpened, t0.Add(mins(4))),
		ev(repoB, "checkout", incident.EventPROpened, t0.Add(mins(4))),
		ev(repoA, "cart", incident.EventNoProposal, t0.Add(mins(4))),
		an(repoA, "checkout", "oom", t0.Add(mins(5))),
		ev(repoA, "checkout", incident.EventPRMerged, t0.Add(mins(6))),
		ev(repoB, "checkout", incident.EventPRClosed, t0.Add(mins(6))),
		tick(t0.Add(mins(20))),
		an(repoA, "checkout", "mem", t0.Add(mins(25))), // cooldown
		an(repoB, "checkout", "mem", t0.Add(mins(25))), // no cooldown: closed by hand
		an(repoA, "cart", "p99", t0.Add(mins(26))),
		tick(t0.Add(mins(29))),
		ev(repoA, "cart", incident.EventNoProposal, t0.Add(mins(29))),
		ev(repoB, "checkout", incident.EventPROpened, t0.Add(mins(29))),
		an(repoA, "checkout", "mem", t0.Add(mins(30))), // joins the suppressed one
		tick(t0.Add(mins(40))),
		an(repoA, "checkout", "mem", t0.Add(mins(45))), // after the cooldown
		tick(t0.Add(mins(50))),
	}
	want := runScript(t, steps, -1)
	for _, l := range want {
		t.Log(l)
	}
	if len(want) < 20 {
		t.Fatalf("script said too little: %q", want)
	}
	for at := 1; at < len(steps); at++ {
		if got := runScript(t, steps, at); !reflect.DeepEqual(got, want) {
			t.Fatalf("restart before step %d:\n got %q\nwant %q", at, got, want)
		}
	}
	// The run is deterministic: the same input gives the same ids.
	if again := runScript(t, steps, -1); !reflect.DeepEqual(again, want) {
		t.Fatal("two runs differ")
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	d := h.observe(repoA, anom(wl("checkout"), "app", "x", t0))
	good, _ := h.g.Get(d.IncidentID)
	mod := func(f func(*incident.Tracked)) incident.Tracked {
		c := good
		f(&c)
		return c
	}
	for _, c := range []struct {
		name string
		ts   []incident.Tracked
		want string
	}{
		{"terminal", []incident.Tracked{mod(func(t *incident.Tracked) { t.State = incident.StateClosed })}, `state "closed" is not open`},
		{"bad id", []incident.Tracked{mod(func(t *incident.Tracked) { t.Incident.ID = "../x" })}, "must be 1-63 lowercase"},
		{"no repo", []incident.Tracked{mod(func(t *incident.Tracked) { t.Incident.Repo = "" })}, "no repository"},
		{"no time", []incident.Tracked{mod(func(t *incident.Tracked) { t.Since = time.Time{} })}, "no time"},
		{"no seq", []incident.Tracked{mod(func(t *incident.Tracked) { t.Seq = 0 })}, "no transition"},
		{"twice", []incident.Tracked{good, good}, "listed twice"},
		{"workload twice", []incident.Tracked{good, mod(func(t *incident.Tracked) { t.Incident.ID = "other-1" })}, "is also incident " + good.Incident.ID},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, _ := incident.NewGrouper(incident.DefaultConfig(), h.rec)
			if err := g.Restore([]incident.Tracked{mod(func(t *incident.Tracked) { t.Incident.ID = "kept-1" })}); err != nil {
				t.Fatal(err)
			}
			err := g.Restore(c.ts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if open := g.Open(); len(open) != 1 || open[0].Incident.ID != "kept-1" {
				t.Fatalf("a refused Restore changed the grouper: %+v", open)
			}
		})
	}
	cfg := incident.DefaultConfig()
	cfg.MaxTracked = 1
	g, _ := incident.NewGrouper(cfg, h.rec)
	if err := g.Restore([]incident.Tracked{good, mod(func(t *incident.Tracked) { t.Incident.ID = "o-1"; t.Incident.Workload.Name = "o" })}); err == nil || !strings.Contains(err.Error(), "max_tracked 1") {
		t.Fatalf("over max_tracked: %v", err)
	}
}

func TestLimits(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.MaxAnomalies, cfg.MaxTracked = 3, 2
	h := newHarness(t, cfg)
	var d incident.Decision
	for i := range 5 {
		d = h.observe(repoA, anom(wl("checkout"), "app", "x", t0.Add(time.Duration(i)*time.Second)))
	}
	inc := d.Updates[len(d.Updates)-1].Incident
	if len(inc.Anomalies) != 3 || inc.DroppedAnomalies != 2 || !inc.LastSeen.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("max_anomalies: %d kept, %d dropped, last %s", len(inc.Anomalies), inc.DroppedAnomalies, inc.LastSeen)
	}
	h.observe(repoA, anom(wl("cart"), "app", "x", t0))
	_, err := h.g.Observe(context.Background(), repoA, anom(wl("third"), "app", "x", t0))
	if err == nil || !strings.Contains(err.Error(), "max_tracked 2") {
		t.Fatalf("max_tracked: %v", err)
	}
}

func TestObserveAndApplyRefuse(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	ctx := context.Background()
	for _, c := range []struct {
		name string
		repo string
		a    detect.Anomaly
		want string
	}{
		{"no repo", "", anom(wl("x"), "", "s", t0), "no repository"},
		{"no workload", repoA, detect.Anomaly{Signal: "s", At: t0}, "no workload"},
		{"no time", repoA, anom(wl("x"), "", "s", time.Time{}), "no time"},
	} {
		if _, err := h.g.Observe(ctx, c.repo, c.a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
	d := h.observe(repoA, anom(wl("checkout"), "app", "x", t0))
	for _, typ := range []incident.EventType{incident.EventOpened, incident.EventAnomaly, incident.EventSettled, incident.EventQuiet} {
		if _, err := h.g.Apply(d.IncidentID, incident.Event{Type: typ, At: t0}); err == nil || !strings.Contains(err.Error(), "raises it itself") {
			t.Errorf("Apply %s: %v", typ, err)
		}
	}
	if _, err := h.g.Apply(d.IncidentID, incident.Event{Type: incident.EventPRMerged, At: t0}); !errors.Is(err, incident.ErrInvalidEvent) || !strings.Contains(err.Error(), `"detected"`) {
		t.Errorf("invalid event: %v", err)
	}
	if _, err := h.g.Apply("nope", incident.Event{Type: incident.EventPRMerged, At: t0}); !errors.Is(err, incident.ErrNotOpen) {
		t.Errorf("unknown incident: %v", err)
	}
	if _, err := h.g.AdmitPR(ctx, d.IncidentID, caps, t0); err == nil || !strings.Contains(err.Error(), "not proposing") {
		t.Errorf("AdmitPR before settle: %v", err)
	}
}

func TestPRClosedByHand(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	h := newHarness(t, cfg)
	w := wl("checkout")
	d := h.observe(repoA, anom(w, "app", "x", t0))
	h.openPR(d.IncidentID, t0.Add(mins(1)))
	u := h.apply(d.IncidentID, incident.Event{Type: incident.EventPRClosed, At: t0.Add(mins(2)), Cause: "closed by alice"})
	if u.State != incident.StateClosed || u.Seq != 4 {
		t.Fatalf("closed by hand: %+v", u.Tracked)
	}
	if d2 := h.observe(repoA, anom(w, "app", "x", t0.Add(mins(3)))); d2.Verdict != incident.VerdictNew || d2.IncidentID == d.IncidentID {
		t.Fatalf("after close: %+v", d2)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := incident.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := incident.Config{Settle: -1}
	err := bad.Validate()
	for _, key := range []string{"window:", "cooldown:", "flap.window:", "settle:", "max_open_per_repo:", "flap.max_incidents:", "max_anomalies:", "max_tracked:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	c := incident.DefaultConfig()
	c.Settle = c.Window + 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "settle: must be between 0 and window (10m0s)") {
		t.Errorf("settle over window: %v", err)
	}
	if _, err := incident.NewGrouper(bad, incidenttest.NewRecorder()); err == nil {
		t.Error("NewGrouper took a bad config")
	}
	if _, err := incident.NewGrouper(incident.DefaultConfig(), nil); err == nil {
		t.Error("NewGrouper took no ledger")
	}
	if err := (incident.RunCaps{PRsPerHour: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "limits.prs_per_workload_per_day") {
		t.Errorf("RunCaps: %v", err)
	}
}

func TestRunCapCountsAdmittedPRs(t *testing.T) {
	cfg := incident.DefaultConfig()
	cfg.Settle = 0
	h := newHarness(t, cfg)
	ctx := context.Background()
	h.openPRs(repoA, t0, "a")
	b := h.observe(repoA, anom(wl("b"), "app", "x", t0.Add(mins(1))))
	c := h.observe(repoA, anom(wl("c"), "app", "x", t0.Add(mins(1))))
	// b takes the last slot; asking again (a resumed step) is no second PR.
	for range 2 {
		if u, err := h.g.AdmitPR(ctx, b.IncidentID, caps, t0.Add(mins(2))); err != nil || u != nil {
			t.Fatalf("b: %v %+v", err, u)
		}
	}
	// c must not take it too while b's pull request is still opening.
	u, err := h.g.AdmitPR(ctx, c.IncidentID, caps, t0.Add(mins(2)))
	if err != nil || u == nil || !strings.Contains(u.Cause, "limits.prs_per_hour 2") {
		t.Fatalf("c while b opens: %v %+v", err, u)
	}
	h.record(*u)
	// A restart while b is proposing counts b as admitted when the store
	// says its propose step was recorded.
	d := h.observe(repoA, anom(wl("d"), "app", "x", t0.Add(mins(3))))
	h.restart()
	if u, err := h.g.AdmitPR(ctx, d.IncidentID, caps, t0.Add(mins(3))); err != nil || u != nil {
		t.Fatalf("d after a restart that forgot b's admission: %v %+v", err, u)
	}
	open := h.rec.Open()
	for i := range open {
		open[i].Admitted = open[i].Incident.ID == b.IncidentID
	}
	g, _ := incident.NewGrouper(cfg, h.rec)
	if err := g.Restore(open); err != nil {
		t.Fatal(err)
	}
	h.g = g
	if u, err := h.g.AdmitPR(ctx, d.IncidentID, caps, t0.Add(mins(3))); err != nil || u == nil {
		t.Fatalf("d after restart: %v %+v", err, u)
	}
	// No PR for b after all: its slot frees (d, refused above without
	// being stored, is asked again on a grouper of the stored state).
	h.restart()
	h.apply(b.IncidentID, incident.Event{Type: incident.EventNoProposal, At: t0.Add(mins(4)), Cause: "nothing safe"})
	if u, err := h.g.AdmitPR(ctx, d.IncidentID, caps, t0.Add(mins(4))); err != nil || u != nil {
		t.Fatalf("d once b gave up: %v %+v", err, u)
	}
}

// zeroLedger counts nothing: the benchmark measures the Grouper alone.
type zeroLedger struct{}

func (zeroLedger) CountTransitions(context.Context, incident.TransitionQuery) (int, error) {
	return 0, nil
}

// BenchmarkObserve: anomalies of 50 workloads, 30 s apart in event time,
// with a Tick after each.
func BenchmarkObserve(b *testing.B) {
	g, err := incident.NewGrouper(incident.DefaultConfig(), zeroLedger{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	names := make([]detect.Workload, 50)
	for i := range names {
		names[i] = wl(fmt.Sprint("w", i))
	}
	at := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at = at.Add(30 * time.Second)
		if _, err := g.Observe(ctx, repoA, anom(names[i%len(names)], "app", "x", at)); err != nil {
			b.Fatal(err)
		}
		if _, err := g.Tick(at); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDuplicateAnomaly(t *testing.T) {
	h := newHarness(t, incident.DefaultConfig())
	a := anom(wl("checkout"), "app", "x", t0)
	d := h.observe(repoA, a)
	again := h.observe(repoA, a)
	if again.Verdict != incident.VerdictDuplicate || again.IncidentID != d.IncidentID || len(again.Updates) != 0 {
		t.Fatalf("re-delivered anomaly: %+v", again)
	}
	// Another container's, or a later raise of the same signal, joins.
	b := a
	b.Workload.Container = "envoy"
	c := a
	c.At = a.At.Add(time.Second)
	for _, x := range []detect.Anomaly{b, c} {
		if d := h.observe(repoA, x); d.Verdict != incident.VerdictJoined {
			t.Fatalf("%+v: %+v", x, d)
		}
	}
	if tr, _ := h.g.Get(d.IncidentID); len(tr.Incident.Anomalies) != 3 {
		t.Fatalf("%d anomalies, want 3", len(tr.Incident.Anomalies))
	}
	// After the incident closed, the same anomaly delivered again opens a
	// new incident, not the closed one's id a second time (the store's
	// compare-and-set in the Recorder would refuse that).
	h.tick(t0.Add(mins(2)))
	h.openPR(d.IncidentID, t0.Add(mins(2)))
	h.apply(d.IncidentID, incident.Event{Type: incident.EventPRClosed, At: t0.Add(mins(3))})
	if d2 := h.observe(repoA, a); d2.Verdict != incident.VerdictNew || d2.IncidentID == d.IncidentID {
		t.Fatalf("re-delivered after close: %+v", d2)
	}
}
