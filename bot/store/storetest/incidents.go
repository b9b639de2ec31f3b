package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/redact"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/detect"
)

// incidentTests are Run's cases for store.Incidents.
var incidentTests = []struct {
	name string
	fn   func(t *testing.T, open func(t *testing.T) store.Store)
}{
	{"IncidentRoundTrip", testIncidentRoundTrip},
	{"SaveIncidentAgain", testSaveIncidentAgain},
	{"ConcurrentSaveIncident", testConcurrentSaveIncident},
	{"Apply", testApply},
	{"ApplyIsAtomic", testApplyAtomic},
	{"InvalidApply", testInvalidApply},
	{"ConcurrentApplyCreate", testConcurrentApplyCreate},
	{"InvalidIncident", testInvalidIncident},
	{"ListIncidents", testListIncidents},
	{"Transition", testTransition},
	{"TransitionCloses", testTransitionCloses},
	{"InvalidTransition", testInvalidTransition},
	{"ConcurrentTransition", testConcurrentTransition},
	{"ConcurrentTransitionChain", testConcurrentTransitionChain},
	{"CountTransitions", testCountTransitions},
	{"RecordStep", testRecordStep},
	{"ConcurrentRecordStep", testConcurrentRecordStep},
	{"Proposals", testProposals},
	{"ForgetIncidents", testForgetIncidents},
	{"IncidentSecretsScrubbed", testIncidentSecrets},
	{"IncidentLimits", testIncidentLimits},
	{"IncidentsCancelledContext", testIncidentsCancelled},
}

// Repositories as an incident record names them.
const (
	repoInfra = "acme/infra"
	repoApps  = "acme/apps"
)

// newIncident is an incident of Deployment name in namespace shop, opened
// at opened with one anomaly.
func newIncident(id, name string, opened time.Time) incident.Incident {
	w := detect.Workload{Namespace: "shop", Kind: "Deployment", Name: name, Container: "app"}
	return incident.Incident{
		ID:       id,
		Workload: w,
		Opened:   opened,
		Anomalies: []detect.Anomaly{{
			Workload: w,
			Signal:   "container.memory.working_set",
			Labels:   map[string]string{"k8s.pod.name": name + "-7d9f-abcde"},
			Kind:     detect.KindSaturation,
			Detector: "saturation",
			Onset:    opened,
			At:       opened.Add(30 * time.Second),
			Score:    0.93,
			Observed: 536870912,
			Baseline: 0.98,
			Summary:  "memory working set at 98% of its limit — «ünïcode», \"quotes\"",
			Evidence: []detect.EvidencePoint{{T: opened, V: 1.5e-7}, {T: opened.Add(time.Second), V: 0.1}},
		}},
	}
}

func mustSaveIncident(t *testing.T, s store.Store, rec store.IncidentRecord) {
	t.Helper()
	if err := s.SaveIncident(ctxFor(t), rec); err != nil {
		t.Fatalf("SaveIncident(%s): %v", rec.Incident.ID, err)
	}
}

// saveNew saves a new incident id of workload name in repo, detected at
// opened.
func saveNew(t *testing.T, s store.Store, repo, id, name string, opened time.Time) {
	t.Helper()
	mustSaveIncident(t, s, store.IncidentRecord{Incident: newIncident(id, name, opened), Repo: repo, State: "detected"})
}

func mustTransition(t *testing.T, s store.Store, tr store.Transition) {
	t.Helper()
	if err := s.Transition(ctxFor(t), tr); err != nil {
		t.Fatalf("Transition(%s %s->%s): %v", tr.IncidentID, tr.From, tr.To, err)
	}
}

func mustGetIncident(t *testing.T, s store.Store, id string) store.IncidentRecord {
	t.Helper()
	rec, err := s.GetIncident(ctxFor(t), id)
	if err != nil {
		t.Fatalf("GetIncident(%s): %v", id, err)
	}
	return rec
}

func mustHistory(t *testing.T, s store.Store, id string) []store.Transition {
	t.Helper()
	h, err := s.History(ctxFor(t), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return h
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// equalTime checks got equals want and is in UTC.
func equalTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %s, want UTC", what, got.Location())
	}
}

// equalRecord compares incident records: the incident by its JSON, times
// with time.Time.Equal.
func equalRecord(t *testing.T, got, want store.IncidentRecord) {
	t.Helper()
	if g, w := jsonOf(t, got.Incident), jsonOf(t, want.Incident); g != w {
		t.Errorf("incident document\n got %s\nwant %s", g, w)
	}
	if got.Repo != want.Repo || got.State != want.State {
		t.Errorf("record repo %q, state %q; want %q, %q", got.Repo, got.State, want.Repo, want.State)
	}
	if !want.Since.IsZero() || want.Seq != 0 || want.Cause != "" {
		equalTime(t, "Since", got.Since, want.Since)
		if got.Seq != want.Seq || got.Cause != want.Cause {
			t.Errorf("record seq %d, cause %q; want %d, %q", got.Seq, got.Cause, want.Seq, want.Cause)
		}
	}
	equalTime(t, "Updated", got.Updated, want.Updated)
	equalTime(t, "Closed", got.Closed, want.Closed)
}

// equalHistory compares histories, times with time.Time.Equal.
func equalHistory(t *testing.T, got, want []store.Transition) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history has %d transitions, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		equalTime(t, fmt.Sprintf("transition %d At", i), got[i].At, want[i].At)
		g, w := got[i], want[i]
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("transition %d\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func testIncidentRoundTrip(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	in := newIncident("shop-checkout-20260314t150926", "checkout", t0)
	rec := store.IncidentRecord{Incident: in, Repo: "Acme/Infra", State: "detected", Updated: t0.Add(time.Minute)}
	mustSaveIncident(t, s, rec)
	got := mustGetIncident(t, s, in.ID)
	equalRecord(t, got, rec)
	if got.Seq != 1 || !got.Since.Equal(rec.Updated) || got.Cause != "" {
		t.Errorf("a first save's record has seq %d, since %s, cause %q; want 1, its Updated, none", got.Seq, got.Since, got.Cause)
	}
	if got.Incident.ID != in.ID || got.Incident.Workload != in.Workload || !got.Incident.Opened.Equal(t0) {
		t.Errorf("stored incident %s of %s opened %s, want %s of %s opened %s",
			got.Incident.ID, got.Incident.Workload, got.Incident.Opened, in.ID, in.Workload, t0)
	}
	// The history starts with the first save.
	equalHistory(t, mustHistory(t, s, in.ID), []store.Transition{
		{IncidentID: in.ID, From: "", To: "detected", At: t0.Add(time.Minute)},
	})
	// A zero Updated means Opened.
	in2 := newIncident("shop-cart-1", "cart", t0)
	mustSaveIncident(t, s, store.IncidentRecord{Incident: in2, State: "detected"})
	equalTime(t, "Updated of a record saved without one", mustGetIncident(t, s, in2.ID).Updated, t0)
	if _, err := s.GetIncident(ctxFor(t), "absent"); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), `"absent"`) {
		t.Errorf("GetIncident(absent) err = %v, want ErrNotFound naming it", err)
	}
	if _, err := s.History(ctxFor(t), "absent"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("History(absent) err = %v, want ErrNotFound", err)
	}
}

// testSaveIncidentAgain: a second save replaces the document, moves
// Updated only forward, and leaves state and history alone; a save that
// names another workload or repository for the id is a conflict.
func testSaveIncidentAgain(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	in := newIncident("inc-1", "checkout", t0)
	mustSaveIncident(t, s, store.IncidentRecord{Incident: in, Repo: repoInfra, State: "detected", Updated: t0.Add(time.Minute)})
	mustTransition(t, s, store.Transition{IncidentID: in.ID, From: "detected", To: "proposing", Event: "anomaly", At: t0.Add(2 * time.Minute)})

	joined := in
	joined.Anomalies = append(slices.Clone(in.Anomalies), detect.Anomaly{Workload: in.Workload, Signal: "k8s.event:OOMKilled", Kind: detect.KindEvent, Summary: "OOMKilled"})
	// State and Closed of a stored incident are ignored; an Updated
	// before the stored one keeps the stored one.
	mustSaveIncident(t, s, store.IncidentRecord{Incident: joined, Repo: "ACME/infra", State: "closed", Updated: t0, Closed: t0})
	want := store.IncidentRecord{Incident: joined, Repo: repoInfra, State: "proposing", Updated: t0.Add(2 * time.Minute)}
	equalRecord(t, mustGetIncident(t, s, in.ID), want)
	mustSaveIncident(t, s, store.IncidentRecord{Incident: joined, Repo: repoInfra, State: "detected", Updated: t0.Add(time.Hour)})
	want.Updated = t0.Add(time.Hour)
	equalRecord(t, mustGetIncident(t, s, in.ID), want)
	if h := mustHistory(t, s, in.ID); len(h) != 2 {
		t.Errorf("history after saves has %d transitions, want 2 (saves of a stored incident add none)", len(h))
	}

	other := newIncident(in.ID, "cart", t0)
	for _, c := range []struct {
		name string
		rec  store.IncidentRecord
	}{
		{"another workload", store.IncidentRecord{Incident: other, Repo: repoInfra, State: "detected"}},
		{"another repository", store.IncidentRecord{Incident: in, Repo: repoApps, State: "detected"}},
		{"no repository", store.IncidentRecord{Incident: in, State: "detected"}},
	} {
		err := s.SaveIncident(ctx, c.rec)
		if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), in.ID) {
			t.Errorf("SaveIncident with %s: err = %v, want ErrConflict naming %s", c.name, err, in.ID)
		}
	}
	equalRecord(t, mustGetIncident(t, s, in.ID), want)
}

// testConcurrentSaveIncident: replicas that both see a new incident save
// it at once: it is created once, with one first transition, and every
// save succeeds.
func testConcurrentSaveIncident(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	const n = 8
	replicas := []store.Store{a, b}
	errs := make([]error, n)
	concurrently(n, func(i int) {
		errs[i] = replicas[i%2].SaveIncident(ctxFor(t), store.IncidentRecord{Incident: newIncident("inc-1", "checkout", t0),
			Repo: repoInfra, State: "detected", Updated: t0.Add(time.Duration(i) * time.Second)})
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if h := mustHistory(t, a, "inc-1"); len(h) != 1 || h[0].To != "detected" {
		t.Errorf("history after concurrent first saves = %+v, want one first save", h)
	}
	// Updated only moves forward, so the latest save's time stays.
	equalTime(t, "Updated", mustGetIncident(t, b, "inc-1").Updated, t0.Add((n-1)*time.Second))
}

// testApply stores a Grouper's updates: the creation from no state, a
// document change without a transition, and a document with a
// transition; the record keeps the last transition's time, cause and
// seq.
func testApply(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	in := newIncident("inc-1", "checkout", t0)
	opened := store.Transition{IncidentID: "inc-1", From: "", To: "detected", Event: "opened", Cause: "memory at 98% of its limit", At: t0}
	if err := s.Apply(ctx, store.IncidentRecord{Incident: in, Repo: repoInfra}, &opened); err != nil {
		t.Fatal(err)
	}
	equalRecord(t, mustGetIncident(t, s, "inc-1"), store.IncidentRecord{Incident: in, Repo: repoInfra, State: "detected",
		Since: t0, Cause: "memory at 98% of its limit", Seq: 1, Updated: t0})
	// A second creation is a conflict, from any document.
	err := s.Apply(ctx, store.IncidentRecord{Incident: in, Repo: repoInfra, State: "detected"}, &opened)
	if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "detected") {
		t.Errorf("second creation: err = %v, want ErrConflict naming the stored state", err)
	}
	// An anomaly joins: the document changes, the state does not.
	joined := in
	joined.Anomalies = append(slices.Clone(in.Anomalies), detect.Anomaly{Workload: in.Workload, Signal: "k8s.event:OOMKilled", Kind: detect.KindEvent, Summary: "OOMKilled"})
	if err := s.Apply(ctx, store.IncidentRecord{Incident: joined, Repo: repoInfra, State: "detected", Updated: t0.Add(time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	// It settles: document and transition together.
	settled := store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "settled", At: t0.Add(2 * time.Minute)}
	if err := s.Apply(ctx, store.IncidentRecord{Incident: joined, Repo: repoInfra, Updated: t0.Add(2 * time.Minute)}, &settled); err != nil {
		t.Fatal(err)
	}
	equalRecord(t, mustGetIncident(t, s, "inc-1"), store.IncidentRecord{Incident: joined, Repo: repoInfra, State: "proposing",
		Since: t0.Add(2 * time.Minute), Seq: 2, Updated: t0.Add(2 * time.Minute)})
	// Transition alone keeps the record's seq in step with the history.
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "proposing", To: "no_action", Event: "no_proposal", Cause: "dependency outage", At: t0.Add(3 * time.Minute)})
	rec := mustGetIncident(t, s, "inc-1")
	h := mustHistory(t, s, "inc-1")
	if rec.Seq != len(h) || rec.Seq != 3 || rec.Cause != "dependency outage" || !rec.Since.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("record after 3 transitions: seq %d (history %d), cause %q, since %s", rec.Seq, len(h), rec.Cause, rec.Since)
	}
	equalHistory(t, h, []store.Transition{opened, settled,
		{IncidentID: "inc-1", From: "proposing", To: "no_action", Event: "no_proposal", Cause: "dependency outage", At: t0.Add(3 * time.Minute)}})
	// A creation that is terminal at once is closed at its time.
	sup := store.Transition{IncidentID: "inc-2", To: "closed", Event: "opened", At: t0, Terminal: true}
	if err := s.Apply(ctx, store.IncidentRecord{Incident: newIncident("inc-2", "cart", t0), Repo: repoInfra}, &sup); err != nil {
		t.Fatal(err)
	}
	equalTime(t, "Closed of a terminal creation", mustGetIncident(t, s, "inc-2").Closed, t0)
}

// testApplyAtomic: when an update's compare-and-set fails, its document
// is not stored either.
func testApplyAtomic(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	changed := newIncident("inc-1", "checkout", t0)
	changed.Anomalies[0].Summary = "a document that must not be stored"
	stale := store.Transition{IncidentID: "inc-1", From: "proposing", To: "proposed", Event: "pr_opened", At: t0.Add(time.Minute)}
	err := s.Apply(ctx, store.IncidentRecord{Incident: changed, Repo: repoInfra, Updated: t0.Add(time.Minute)}, &stale)
	if !errors.Is(err, forge.ErrConflict) {
		t.Fatalf("Apply from a stale state: err = %v, want ErrConflict", err)
	}
	equalRecord(t, mustGetIncident(t, s, "inc-1"), store.IncidentRecord{Incident: newIncident("inc-1", "checkout", t0), Repo: repoInfra,
		State: "detected", Since: t0, Seq: 1, Updated: t0})
	absent := store.Transition{IncidentID: "inc-9", From: "detected", To: "proposing", Event: "settled", At: t0}
	if err := s.Apply(ctx, store.IncidentRecord{Incident: newIncident("inc-9", "cart", t0), Repo: repoInfra}, &absent); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Apply of a transition to an absent incident: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetIncident(ctx, "inc-9"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("a failed Apply created the incident: %v", err)
	}
}

func testInvalidApply(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	rec := store.IncidentRecord{Incident: newIncident("inc-1", "checkout", t0), Repo: repoInfra}
	for _, c := range []struct {
		name, want string
		state      string
		tr         store.Transition
	}{
		{"another incident's transition", `"inc-2"`, "", store.Transition{IncidentID: "inc-2", From: "detected", To: "proposing", Event: "settled", At: t0}},
		{"a state other than the transition's", "not its transition's", "merged", store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "settled", At: t0}},
		{"no event", "event", "", store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", At: t0}},
		{"no time", "at", "", store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "settled"}},
	} {
		r := rec
		r.State = c.state
		err := s.Apply(ctx, r, &c.tr)
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Apply with %s: err = %v, want a permanent error naming %s", c.name, err, c.want)
		}
	}
	// Transition cannot create: that takes the document.
	err := s.Transition(ctx, store.Transition{IncidentID: "inc-3", To: "detected", Event: "opened", At: t0})
	if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "Apply") {
		t.Errorf("Transition from no state: err = %v, want a permanent error pointing at Apply", err)
	}
	if h := mustHistory(t, s, "inc-1"); len(h) != 1 {
		t.Errorf("refused updates were recorded: %+v", h)
	}
}

// testConcurrentApplyCreate: replicas that both open one incident: one
// creation applies, the others are conflicts.
func testConcurrentApplyCreate(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	const n = 8
	replicas := []store.Store{a, b}
	errs := make([]error, n)
	concurrently(n, func(i int) {
		errs[i] = replicas[i%2].Apply(ctxFor(t), store.IncidentRecord{Incident: newIncident("inc-1", "checkout", t0), Repo: repoInfra},
			&store.Transition{IncidentID: "inc-1", To: "detected", Event: "opened", Cause: fmt.Sprintf("worker %d", i), At: t0})
	})
	oneWins(t, "Apply creating one incident", errs)
	if h := mustHistory(t, b, "inc-1"); len(h) != 1 {
		t.Errorf("history after concurrent creations = %+v, want one", h)
	}
}

func testInvalidIncident(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	for _, c := range []struct {
		name, want string
		edit       func(*store.IncidentRecord)
	}{
		{"bad id", "incident id", func(r *store.IncidentRecord) { r.Incident.ID = "Inc 1" }},
		{"empty id", "incident id", func(r *store.IncidentRecord) { r.Incident.ID = "" }},
		{"no workload", "workload", func(r *store.IncidentRecord) { r.Incident.Workload = detect.Workload{} }},
		{"bad repository", "owner/name", func(r *store.IncidentRecord) { r.Repo = "acme" }},
		{"repository with a path", "owner/name", func(r *store.IncidentRecord) { r.Repo = "acme/infra/x" }},
		{"no state", "state", func(r *store.IncidentRecord) { r.State = "" }},
		{"bad state", "state", func(r *store.IncidentRecord) { r.State = "open; DROP TABLE incidents" }},
		{"no opened", "opened", func(r *store.IncidentRecord) { r.Incident.Opened = time.Time{} }},
		{"opened past 9999", "opened", func(r *store.IncidentRecord) { r.Incident.Opened = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		rec := store.IncidentRecord{Incident: newIncident("inc-1", "checkout", t0), Repo: repoInfra, State: "detected"}
		c.edit(&rec)
		err := s.SaveIncident(ctx, rec)
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SaveIncident with %s: err = %v, want a permanent error naming %s", c.name, err, c.want)
		}
	}
	if recs, err := s.ListIncidents(ctx, store.IncidentFilter{}); err != nil || len(recs) != 0 {
		t.Errorf("refused saves stored %d incidents (err %v)", len(recs), err)
	}
}

func ids(recs []store.IncidentRecord) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Incident.ID)
	}
	return out
}

func testListIncidents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	if recs, err := s.ListIncidents(ctx, store.IncidentFilter{}); err != nil || len(recs) != 0 {
		t.Errorf("ListIncidents on an empty store = %v, %v", ids(recs), err)
	}
	// Opened in the order a, b, c, d, e, one minute apart.
	saveNew(t, s, repoInfra, "a", "checkout", t0)
	saveNew(t, s, "Acme/Infra", "b", "cart", t0.Add(time.Minute))
	saveNew(t, s, repoInfra, "c", "checkout", t0.Add(2*time.Minute))
	saveNew(t, s, repoApps, "d", "checkout", t0.Add(3*time.Minute))
	mustSaveIncident(t, s, store.IncidentRecord{Incident: newIncident("e", "web", t0.Add(4*time.Minute)), State: "detected"})
	mustTransition(t, s, store.Transition{IncidentID: "a", From: "detected", To: "closed", Event: "quiet", At: t0.Add(time.Hour), Terminal: true})
	checkout := newIncident("x", "checkout", t0).Workload.Key()
	for _, c := range []struct {
		name string
		f    store.IncidentFilter
		want []string
	}{
		{"all", store.IncidentFilter{}, []string{"e", "d", "c", "b", "a"}},
		{"repo", store.IncidentFilter{Repo: "ACME/INFRA"}, []string{"c", "b", "a"}},
		{"workload", store.IncidentFilter{Workload: checkout}, []string{"d", "c", "a"}},
		{"repo and workload", store.IncidentFilter{Repo: repoInfra, Workload: checkout}, []string{"c", "a"}},
		{"open", store.IncidentFilter{Open: true}, []string{"e", "d", "c", "b"}},
		{"open in repo", store.IncidentFilter{Repo: repoInfra, Open: true}, []string{"c", "b"}},
		// Updated: a at t0+1h (its transition), the others when opened.
		{"since", store.IncidentFilter{Since: t0.Add(3 * time.Minute)}, []string{"e", "d", "a"}},
		{"since, exactly", store.IncidentFilter{Since: t0.Add(4 * time.Minute).In(time.FixedZone("PST", -8*3600))}, []string{"e", "a"}},
		{"limit", store.IncidentFilter{Limit: 2}, []string{"e", "d"}},
		{"limit in repo", store.IncidentFilter{Repo: repoInfra, Limit: 1}, []string{"c"}},
		{"none", store.IncidentFilter{Repo: "acme/other"}, []string{}},
	} {
		recs, err := s.ListIncidents(ctx, c.f)
		if err != nil {
			t.Errorf("ListIncidents(%s): %v", c.name, err)
			continue
		}
		if got := ids(recs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListIncidents(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	recs, err := s.ListIncidents(ctx, store.IncidentFilter{Workload: checkout, Repo: repoInfra})
	if err != nil || len(recs) != 2 {
		t.Fatalf("ListIncidents = %v, %v", ids(recs), err)
	}
	equalRecord(t, recs[1], store.IncidentRecord{Incident: newIncident("a", "checkout", t0), Repo: repoInfra, State: "closed",
		Updated: t0.Add(time.Hour), Closed: t0.Add(time.Hour)})
	for _, f := range []store.IncidentFilter{{Repo: "acme"}, {Limit: -1}} {
		if _, err := s.ListIncidents(ctx, f); err == nil || !forge.IsPermanent(err) {
			t.Errorf("ListIncidents(%+v) err = %v, want a permanent error", f, err)
		}
	}
}

func testTransition(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	steps := []store.Transition{
		{IncidentID: "inc-1", From: "detected", To: "detected", Event: "anomaly_joined", Cause: "OOMKilled joined", At: t0.Add(time.Second)},
		{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "anomaly_joined", Cause: "memory at the limit for 5m", At: t0.Add(2 * time.Second)},
		{IncidentID: "inc-1", From: "proposing", To: "proposed", Event: "pr_opened", Cause: "acme/infra#7", At: t0.Add(3 * time.Second)},
	}
	for _, tr := range steps {
		mustTransition(t, s, tr)
	}
	// From a state the incident is not in: refused, nothing changes.
	err := s.Transition(ctx, store.Transition{IncidentID: "inc-1", From: "proposing", To: "no_action", Event: "no_proposal", At: t0.Add(4 * time.Second)})
	if !errors.Is(err, forge.ErrConflict) || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "proposed") || !strings.Contains(err.Error(), "inc-1") {
		t.Errorf("Transition from a stale state: err = %v, want ErrConflict naming the incident and its state proposed", err)
	}
	err = s.Transition(ctx, store.Transition{IncidentID: "absent", From: "detected", To: "proposing", Event: "e", At: t0})
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "absent") {
		t.Errorf("Transition of an absent incident: err = %v, want ErrNotFound naming it", err)
	}
	rec := mustGetIncident(t, s, "inc-1")
	if rec.State != "proposed" || !rec.Closed.IsZero() {
		t.Errorf("state %q closed %s, want proposed and open", rec.State, rec.Closed)
	}
	equalTime(t, "Updated", rec.Updated, t0.Add(3*time.Second))
	// An event stamped before the last change does not move Updated back.
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "proposed", To: "proposed", Event: "pr_updated", At: t0})
	equalTime(t, "Updated after a late event", mustGetIncident(t, s, "inc-1").Updated, t0.Add(3*time.Second))

	want := append([]store.Transition{{IncidentID: "inc-1", To: "detected", At: t0}}, steps...)
	want = append(want, store.Transition{IncidentID: "inc-1", From: "proposed", To: "proposed", Event: "pr_updated", At: t0})
	equalHistory(t, mustHistory(t, s, "inc-1"), want)
}

// testTransitionCloses: a terminal transition closes the incident at its
// time; a later non-terminal one reopens it.
func testTransitionCloses(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "detected", To: "no_action", Event: "no_proposal", Cause: "dependency outage", At: t0.Add(time.Minute), Terminal: true})
	rec := mustGetIncident(t, s, "inc-1")
	equalTime(t, "Closed", rec.Closed, t0.Add(time.Minute))
	if open := listIDs(t, s, store.IncidentFilter{Open: true}); len(open) != 0 {
		t.Errorf("open incidents after a terminal transition: %v", open)
	}
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "no_action", To: "detected", Event: "reopened", At: t0.Add(2 * time.Minute)})
	if rec := mustGetIncident(t, s, "inc-1"); !rec.Closed.IsZero() || rec.State != "detected" {
		t.Errorf("after reopening: state %q, closed %s; want detected and open", rec.State, rec.Closed)
	}
	// A new incident saved closed (suppressed at once) is closed from its
	// first save.
	mustSaveIncident(t, s, store.IncidentRecord{Incident: newIncident("inc-2", "cart", t0), Repo: repoInfra, State: "suppressed", Closed: t0})
	equalHistory(t, mustHistory(t, s, "inc-2"), []store.Transition{{IncidentID: "inc-2", To: "suppressed", At: t0, Terminal: true}})
	if open := listIDs(t, s, store.IncidentFilter{Open: true}); !reflect.DeepEqual(open, []string{"inc-1"}) {
		t.Errorf("open incidents = %v, want [inc-1]", open)
	}
}

func listIDs(t *testing.T, s store.Store, f store.IncidentFilter) []string {
	t.Helper()
	recs, err := s.ListIncidents(ctxFor(t), f)
	if err != nil {
		t.Fatal(err)
	}
	return ids(recs)
}

func testInvalidTransition(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	good := store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "anomaly", At: t0}
	for _, c := range []struct {
		name, want string
		edit       func(*store.Transition)
	}{
		{"no from", "from state", func(tr *store.Transition) { tr.From = "" }},
		{"no to", "to state", func(tr *store.Transition) { tr.To = "" }},
		{"bad to", "to state", func(tr *store.Transition) { tr.To = "proposing'--" }},
		{"no event", "event", func(tr *store.Transition) { tr.Event = "" }},
		{"no time", "at", func(tr *store.Transition) { tr.At = time.Time{} }},
	} {
		tr := good
		c.edit(&tr)
		err := s.Transition(ctx, tr)
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Transition with %s: err = %v, want a permanent error naming %s", c.name, err, c.want)
		}
	}
	if h := mustHistory(t, s, "inc-1"); len(h) != 1 {
		t.Errorf("refused transitions were recorded: %+v", h)
	}
}

// testConcurrentTransition: of transitions from one state from two Stores
// at once, exactly one applies.
func testConcurrentTransition(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	saveNew(t, a, repoInfra, "inc-1", "checkout", t0)
	const n = 8
	replicas := []store.Store{a, b}
	errs := make([]error, n)
	concurrently(n, func(i int) {
		errs[i] = replicas[i%2].Transition(ctxFor(t), store.Transition{IncidentID: "inc-1", From: "detected",
			To: "proposing", Event: "anomaly", Cause: fmt.Sprintf("worker %d", i), At: t0.Add(time.Second)})
	})
	won := oneWins(t, "Transition from detected", errs)
	if won < 0 {
		t.FailNow()
	}
	h := mustHistory(t, b, "inc-1")
	if len(h) != 2 || h[1].Cause != fmt.Sprintf("worker %d", won) {
		t.Errorf("history = %+v, want the first save and worker %d's transition", h, won)
	}
}

// testConcurrentTransitionChain: workers on two Stores race to advance
// one incident through a chain of states, each reading the state and
// compare-and-setting the next: no step is lost or taken twice, and the
// history is the chain in order.
func testConcurrentTransitionChain(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	saveNew(t, a, repoInfra, "inc-1", "checkout", t0)
	const steps, workers = 12, 4
	state := func(i int) string {
		if i == 0 {
			return "detected"
		}
		return fmt.Sprintf("s%02d", i)
	}
	replicas := []store.Store{a, b}
	wins := make([]int, workers)
	errs := make([]error, workers)
	concurrently(workers, func(w int) {
		s := replicas[w%2]
		for {
			rec, err := s.GetIncident(ctxFor(t), "inc-1")
			if err != nil {
				errs[w] = err
				return
			}
			var cur int
			if rec.State != "detected" {
				fmt.Sscanf(rec.State, "s%d", &cur)
			}
			if cur == steps {
				return
			}
			err = s.Transition(ctxFor(t), store.Transition{IncidentID: "inc-1", From: state(cur), To: state(cur + 1),
				Event: "step", Cause: fmt.Sprint(w), At: t0.Add(time.Duration(cur+1) * time.Second)})
			switch {
			case err == nil:
				wins[w]++
			case !errors.Is(err, forge.ErrConflict):
				errs[w] = err
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range wins {
		total += n
	}
	if total != steps {
		t.Errorf("%d transitions applied in all (%v per worker), want %d", total, wins, steps)
	}
	h := mustHistory(t, a, "inc-1")
	if len(h) != steps+1 {
		t.Fatalf("history has %d transitions, want %d", len(h), steps+1)
	}
	for i, tr := range h[1:] {
		if tr.From != state(i) || tr.To != state(i+1) {
			t.Errorf("transition %d is %s->%s, want %s->%s", i+1, tr.From, tr.To, state(i), state(i+1))
		}
	}
}

func testCountTransitions(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	ctx := ctxFor(t)
	// In acme/infra: checkout proposed at t0+1m and t0+3h, cart at t0+2h;
	// in acme/apps: checkout at t0+1m.
	for _, c := range []struct {
		repo, id, name string
		at             time.Duration
	}{
		{repoInfra, "i1", "checkout", time.Minute},
		{repoInfra, "i2", "cart", 2 * time.Hour},
		{"ACME/Infra", "i3", "checkout", 3 * time.Hour},
		{repoApps, "i4", "checkout", time.Minute},
	} {
		at := t0.Add(c.at)
		saveNew(t, a, c.repo, c.id, c.name, at)
		mustTransition(t, a, store.Transition{IncidentID: c.id, From: "detected", To: "proposing", Event: "anomaly", At: at})
		mustTransition(t, a, store.Transition{IncidentID: c.id, From: "proposing", To: "proposed", Event: "pr_opened", At: at})
		// Updating the pull request keeps the state: not counted.
		mustTransition(t, a, store.Transition{IncidentID: c.id, From: "proposed", To: "proposed", Event: "pr_updated", At: at})
	}
	checkout := newIncident("x", "checkout", t0).Workload.Key()
	for _, c := range []struct {
		name string
		q    store.TransitionQuery
		want int
	}{
		{"repo", store.TransitionQuery{Repo: repoInfra, To: "proposed", Since: t0}, 3},
		{"repo, other case", store.TransitionQuery{Repo: "acme/INFRA", To: "proposed", Since: t0}, 3},
		{"workload", store.TransitionQuery{Repo: repoInfra, Workload: checkout, To: "proposed", Since: t0}, 2},
		{"since is inclusive", store.TransitionQuery{Repo: repoInfra, To: "proposed", Since: t0.Add(2 * time.Hour).In(time.FixedZone("CET", 3600))}, 2},
		{"since, a nanosecond later", store.TransitionQuery{Repo: repoInfra, To: "proposed", Since: t0.Add(2*time.Hour + 1)}, 1},
		{"other repo", store.TransitionQuery{Repo: repoApps, To: "proposed", Since: t0}, 1},
		{"first saves count", store.TransitionQuery{Repo: repoInfra, To: "detected", Since: t0}, 3},
		{"no such state", store.TransitionQuery{Repo: repoInfra, To: "merged", Since: t0}, 0},
		{"no such repo", store.TransitionQuery{Repo: "acme/none", To: "proposed", Since: t0}, 0},
		{"zero since", store.TransitionQuery{Repo: repoApps, To: "proposed"}, 1},
	} {
		// Counted from the other Store: caps hold across replicas.
		n, err := b.CountTransitions(ctx, c.q)
		if err != nil || n != c.want {
			t.Errorf("CountTransitions(%s) = %d, %v; want %d", c.name, n, err, c.want)
		}
	}
	for _, q := range []store.TransitionQuery{{To: "proposed"}, {Repo: "acme", To: "proposed"}, {Repo: repoInfra}} {
		if _, err := a.CountTransitions(ctx, q); err == nil || !forge.IsPermanent(err) {
			t.Errorf("CountTransitions(%+v) err = %v, want a permanent error", q, err)
		}
	}
}

func testRecordStep(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	first := store.StepRecord{IncidentID: "inc-1", Name: "open_pr:1", Result: json.RawMessage(`{"number": 7, "branch": "medic/inc-1"}`), At: t0}
	got, isFirst, err := s.RecordStep(ctx, first)
	if err != nil || !isFirst {
		t.Fatalf("first RecordStep = %v, %v; want first", isFirst, err)
	}
	checkStep(t, "first RecordStep", got, first)
	// A second record of the step (after a restart) returns the first.
	again := store.StepRecord{IncidentID: "inc-1", Name: "open_pr:1", Result: json.RawMessage(`{"number": 8}`), At: t0.Add(time.Hour)}
	got, isFirst, err = s.RecordStep(ctx, again)
	if err != nil || isFirst {
		t.Fatalf("second RecordStep = %v, %v; want not first", isFirst, err)
	}
	checkStep(t, "second RecordStep", got, first)
	st, err := s.Step(ctx, "inc-1", "open_pr:1")
	if err != nil {
		t.Fatal(err)
	}
	checkStep(t, "Step", st, first)
	// A step without a result, and steps of the same name elsewhere.
	saveNew(t, s, repoInfra, "inc-2", "cart", t0)
	for _, rec := range []store.StepRecord{
		{IncidentID: "inc-1", Name: "push:1", At: t0},
		{IncidentID: "inc-2", Name: "open_pr:1", Result: json.RawMessage(`[]`), At: t0},
	} {
		got, isFirst, err := s.RecordStep(ctx, rec)
		if err != nil || !isFirst {
			t.Errorf("RecordStep(%s %s) = %v, %v; want first", rec.IncidentID, rec.Name, isFirst, err)
		}
		checkStep(t, "RecordStep", got, rec)
		st, err := s.Step(ctx, rec.IncidentID, rec.Name)
		if err != nil {
			t.Fatal(err)
		}
		checkStep(t, "Step", st, rec)
	}
	if _, err := s.Step(ctx, "inc-1", "merge:1"); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "merge:1") {
		t.Errorf("Step(absent) err = %v, want ErrNotFound naming the step", err)
	}
	if _, _, err := s.RecordStep(ctx, store.StepRecord{IncidentID: "absent", Name: "push:1", At: t0}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("RecordStep of an absent incident: err = %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		name, want string
		rec        store.StepRecord
	}{
		{"no name", "step name", store.StepRecord{IncidentID: "inc-1", At: t0}},
		{"bad name", "step name", store.StepRecord{IncidentID: "inc-1", Name: "a b", At: t0}},
		{"no time", "at", store.StepRecord{IncidentID: "inc-1", Name: "x"}},
		{"result not JSON", "not JSON", store.StepRecord{IncidentID: "inc-1", Name: "x", Result: json.RawMessage(`{"a":`), At: t0}},
		{"two JSON values", "one JSON value", store.StepRecord{IncidentID: "inc-1", Name: "x", Result: json.RawMessage(`{} {}`), At: t0}},
	} {
		if _, _, err := s.RecordStep(ctx, c.rec); err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RecordStep with %s: err = %v, want a permanent error naming %s", c.name, err, c.want)
		}
	}
	if _, err := s.Step(ctx, "inc-1", "x"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("a refused RecordStep was stored: err = %v", err)
	}
}

// checkStep compares steps, the result as JSON text, the time with Equal.
func checkStep(t *testing.T, what string, got, want store.StepRecord) {
	t.Helper()
	if got.IncidentID != want.IncidentID || got.Name != want.Name || !bytes.Equal(got.Result, want.Result) {
		t.Errorf("%s = %s %s %s, want %s %s %s", what, got.IncidentID, got.Name, got.Result, want.IncidentID, want.Name, want.Result)
	}
	equalTime(t, what+" At", got.At, want.At)
}

// testConcurrentRecordStep: of one step recorded from two Stores at once,
// exactly one call is first, and every call returns its record.
func testConcurrentRecordStep(t *testing.T, open func(t *testing.T) store.Store) {
	a, b := open(t), open(t)
	saveNew(t, a, repoInfra, "inc-1", "checkout", t0)
	const n = 8
	replicas := []store.Store{a, b}
	got := make([]store.StepRecord, n)
	firsts := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], firsts[i], errs[i] = replicas[i%2].RecordStep(ctxFor(t), store.StepRecord{IncidentID: "inc-1", Name: "merge:1",
			Result: json.RawMessage(fmt.Sprintf(`{"worker":%d}`, i)), At: t0.Add(time.Duration(i) * time.Second)})
	})
	checkExactlyOne(t, firsts, errs)
	w := slices.Index(firsts, true)
	for i := range got {
		checkStep(t, fmt.Sprintf("worker %d's step", i), got[i], got[w])
	}
	if want := fmt.Sprintf(`{"worker":%d}`, w); string(got[w].Result) != want {
		t.Errorf("the first's step holds %s, want its own result %s", got[w].Result, want)
	}
}

func testProposals(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	if ps, err := s.Proposals(ctx, "inc-1"); err != nil || len(ps) != 0 {
		t.Errorf("Proposals before any = %v, %v; want none", ps, err)
	}
	intent := json.RawMessage(`{"intent":{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}},"source":"playbook/memory-at-limit","confidence":0.8}`)
	decision := json.RawMessage(`{"allow":true,"automerge":false,"reasons":["memory step within 2x"]}`)
	second := store.ProposalRecord{IncidentID: "inc-1", Seq: 2, Proposal: json.RawMessage(`{"intent":{"kind":"rollback_image"}}`), Decision: json.RawMessage(`{"allow":false}`), Shadow: true, At: t0.Add(time.Minute)}
	first := store.ProposalRecord{IncidentID: "inc-1", Seq: 1, Proposal: intent, Decision: decision, Shadow: true, At: t0}
	for _, p := range []store.ProposalRecord{second, first} {
		if err := s.SaveProposal(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// The pull request is filled in later: the same Seq replaces.
	first.Change = json.RawMessage(`{"files":["overlays/prod/checkout.yaml"]}`)
	first.PR = json.RawMessage(`{"branch":"medic/inc-1-set-resources","state":"open","number":7}`)
	first.Shadow, first.At = false, t0.Add(2*time.Minute)
	if err := s.SaveProposal(ctx, first); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Proposals(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("Proposals = %d records, want 2", len(ps))
	}
	for i, want := range []store.ProposalRecord{first, second} {
		got := ps[i]
		equalTime(t, fmt.Sprintf("proposal %d At", want.Seq), got.At, want.At)
		got.At, want.At = time.Time{}, time.Time{}
		if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
			t.Errorf("proposal %d\n got %s\nwant %s", i, g, w)
		}
	}
	if err := s.SaveProposal(ctx, store.ProposalRecord{IncidentID: "absent", Seq: 1, At: t0}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("SaveProposal of an absent incident: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Proposals(ctx, "absent"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Proposals of an absent incident: err = %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		name, want string
		p          store.ProposalRecord
	}{
		{"negative seq", "seq", store.ProposalRecord{IncidentID: "inc-1", Seq: -1, At: t0}},
		{"no time", "at", store.ProposalRecord{IncidentID: "inc-1", Seq: 3}},
		{"decision not JSON", "decision", store.ProposalRecord{IncidentID: "inc-1", Seq: 3, Decision: json.RawMessage(`allow`), At: t0}},
	} {
		if err := s.SaveProposal(ctx, c.p); err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SaveProposal with %s: err = %v, want a permanent error naming %s", c.name, err, c.want)
		}
	}
}

func testForgetIncidents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	// c0, c1, c2 close one nanosecond apart around t0; "open" stays open.
	for i, id := range []string{"c0", "c1", "c2", "open"} {
		saveNew(t, s, repoInfra, id, "checkout", t0.Add(-time.Hour))
		if _, _, err := s.RecordStep(ctx, store.StepRecord{IncidentID: id, Name: "push:1", At: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveProposal(ctx, store.ProposalRecord{IncidentID: id, Seq: 1, Proposal: json.RawMessage(`{}`), At: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if id == "open" {
			continue
		}
		at := t0.Add(time.Duration(i-1) * time.Nanosecond)
		if i%2 == 1 {
			at = at.UTC()
		}
		mustTransition(t, s, store.Transition{IncidentID: id, From: "detected", To: "closed", Event: "quiet", At: at, Terminal: true})
	}
	n, err := s.ForgetIncidents(ctx, t0.In(time.FixedZone("PST", -8*3600)))
	if err != nil || n != 1 {
		t.Errorf("ForgetIncidents(t0) = %d, %v; want 1 (c0, the one closed strictly before)", n, err)
	}
	if _, err := s.GetIncident(ctx, "c0"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("forgotten incident: GetIncident err = %v, want ErrNotFound", err)
	}
	if _, err := s.History(ctx, "c0"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("forgotten incident: History err = %v, want ErrNotFound", err)
	}
	if _, err := s.Step(ctx, "c0", "push:1"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("forgotten incident: Step err = %v, want ErrNotFound", err)
	}
	if _, err := s.Proposals(ctx, "c0"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("forgotten incident: Proposals err = %v, want ErrNotFound", err)
	}
	if c, err := s.CountTransitions(ctx, store.TransitionQuery{Repo: repoInfra, To: "closed", Since: t0.Add(-time.Hour)}); err != nil || c != 2 {
		t.Errorf("closed transitions counted after forgetting c0 = %d, %v; want 2", c, err)
	}
	// The id is free again.
	saveNew(t, s, repoInfra, "c0", "cart", t0)
	if n, err := s.ForgetIncidents(ctx, t0.Add(24*365*time.Hour)); err != nil || n != 2 {
		t.Errorf("ForgetIncidents(a year on) = %d, %v; want 2 (c1, c2; never open ones)", n, err)
	}
	if got := listIDs(t, s, store.IncidentFilter{}); !reflect.DeepEqual(got, []string{"c0", "open"}) {
		t.Errorf("incidents left = %v, want [c0 open]", got)
	}
	if st, err := s.Step(ctx, "open", "push:1"); err != nil || st.Name != "push:1" {
		t.Errorf("the open incident's step after ForgetIncidents: %+v, %v", st, err)
	}
}

// Credentials as they reach medic in telemetry, errors and documents.
const (
	ghToken   = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	dbSecret  = "hunter2-Db-Pa55"
	bearerTok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZWRpYyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
)

// testIncidentSecrets: credentials in any stored text are scrubbed before
// they are stored.
func testIncidentSecrets(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := ctxFor(t)
	in := newIncident("inc-1", "checkout", t0)
	in.Anomalies[0].Summary = "connection to postgres://app:" + dbSecret + "@db:5432/shop failed"
	in.Anomalies[0].Labels["log.body"] = "auth with token " + ghToken + " refused"
	in.Anomalies[0].Labels["password"] = dbSecret
	mustSaveIncident(t, s, store.IncidentRecord{Incident: in, Repo: repoInfra, State: "detected"})
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "error",
		Cause: "push: remote: https://x-access-token:" + ghToken + "@github.com/acme/infra.git denied", At: t0})
	if _, _, err := s.RecordStep(ctx, store.StepRecord{IncidentID: "inc-1", Name: "push:1",
		Result: json.RawMessage(`{"error":"Authorization: Bearer ` + bearerTok + `","db":{"password":"` + dbSecret + `"}}`), At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProposal(ctx, store.ProposalRecord{IncidentID: "inc-1", Seq: 1,
		Proposal: json.RawMessage(`{"rationale":"DB_PASSWORD=` + dbSecret + ` in the env"}`),
		PR:       json.RawMessage(`{"body":["token: ` + ghToken + `"]}`), At: t0}); err != nil {
		t.Fatal(err)
	}

	rec := mustGetIncident(t, s, "inc-1")
	h := mustHistory(t, s, "inc-1")
	st, err := s.Step(ctx, "inc-1", "push:1")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Proposals(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	stored := jsonOf(t, rec) + jsonOf(t, h) + jsonOf(t, st) + jsonOf(t, ps)
	for _, secret := range []string{ghToken, dbSecret, bearerTok} {
		if strings.Contains(stored, secret) {
			t.Errorf("a credential was stored: %s in\n%s", secret, stored)
		}
	}
	if !strings.Contains(stored, redact.Marker) {
		t.Errorf("stored records hold no %s marker:\n%s", redact.Marker, stored)
	}
	// Scrubbing keeps the rest: the documents are still what they were.
	if got := rec.Incident.Anomalies[0].Summary; !strings.HasPrefix(got, "connection to postgres://app:") || !strings.HasSuffix(got, "@db:5432/shop failed") {
		t.Errorf("scrubbed summary = %q, want the text around the password kept", got)
	}
	if rec.Incident.ID != "inc-1" || rec.Incident.Anomalies[0].Score != 0.93 {
		t.Errorf("scrubbed incident lost its fields: %+v", rec.Incident)
	}
	if !strings.HasPrefix(h[1].Cause, "push: remote: https://x-access-token:") {
		t.Errorf("scrubbed cause = %q", h[1].Cause)
	}
}

// testIncidentLimits: a long cause is cut and marked.
func testIncidentLimits(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	long := strings.Repeat("é", store.DefaultMaxCauseBytes) // two bytes each
	mustTransition(t, s, store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "error", Cause: long, At: t0})
	cause := mustHistory(t, s, "inc-1")[1].Cause
	if len(cause) > store.DefaultMaxCauseBytes || !strings.HasSuffix(cause, "[truncated]") || !strings.HasPrefix(cause, "éé") || !utf8.ValidString(cause) {
		t.Errorf("a %d-byte cause was stored as %d bytes ending %q, want at most %d, valid UTF-8, marked truncated",
			len(long), len(cause), cause[max(0, len(cause)-20):], store.DefaultMaxCauseBytes)
	}
	// Documents over max_document_bytes: see the store package's
	// TestOpenConfigLimits, which sets a small limit on both backends.
}

func testIncidentsCancelled(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	saveNew(t, s, repoInfra, "inc-1", "checkout", t0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checks := map[string]error{
		"SaveIncident": s.SaveIncident(ctx, store.IncidentRecord{Incident: newIncident("inc-2", "cart", t0), Repo: repoInfra, State: "detected"}),
		"Transition":   s.Transition(ctx, store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "e", At: t0}),
		"SaveProposal": s.SaveProposal(ctx, store.ProposalRecord{IncidentID: "inc-1", Seq: 1, At: t0}),
	}
	_, checks["GetIncident"] = s.GetIncident(ctx, "inc-1")
	_, checks["ListIncidents"] = s.ListIncidents(ctx, store.IncidentFilter{})
	_, checks["History"] = s.History(ctx, "inc-1")
	_, checks["CountTransitions"] = s.CountTransitions(ctx, store.TransitionQuery{Repo: repoInfra, To: "detected"})
	_, _, checks["RecordStep"] = s.RecordStep(ctx, store.StepRecord{IncidentID: "inc-1", Name: "push:1", At: t0})
	_, checks["ForgetIncidents"] = s.ForgetIncidents(ctx, t0)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	if rec := mustGetIncident(t, s, "inc-1"); rec.State != "detected" {
		t.Errorf("state after a cancelled Transition = %q", rec.State)
	}
	if _, err := s.Step(ctxFor(t), "inc-1", "push:1"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("a cancelled RecordStep was stored: %v", err)
	}
}
