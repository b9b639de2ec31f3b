package incident_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/incident"
)

// external are the events the loop feeds with Apply.
var external = []incident.EventType{
	incident.EventNoProposal, incident.EventPROpened, incident.EventPRUpdated, incident.EventPRMerged,
	incident.EventPRClosed, incident.EventVerifying, incident.EventRecovered, incident.EventNotRecovered,
	incident.EventRevertOpened, incident.EventRevertMerged, incident.EventFailed,
}

// randomRun feeds a seeded random run of anomalies, ticks and events,
// restarting from the store at every step in restarts, checks the
// invariants after every step, and returns the trace of what was decided.
func randomRun(t *testing.T, seed uint64, steps int, restarts map[int]bool) []string {
	t.Helper()
	cfg := incident.DefaultConfig()
	cfg.MaxOpenPerRepo = 3
	h := newHarness(t, cfg)
	r := rand.New(rand.NewPCG(seed, 1))
	repos := []string{repoA, repoB}
	names := []string{"checkout", "cart", "search", "auth", "mail"}
	now := t0
	var trace []string
	say := func(us ...incident.Update) {
		for _, u := range us {
			s := fmt.Sprintf("%s %s %d", u.Incident.ID, u.State, len(u.Incident.Anomalies))
			if u.Transition != nil {
				s += fmt.Sprintf(" %s %q %s", u.Transition.Event, u.Transition.Cause, u.Transition.At.Format(time.TimeOnly))
			}
			trace = append(trace, fmt.Sprint(s, u.Steps))
		}
	}
	for i := range steps {
		if restarts[i] {
			h.restart()
		}
		now = now.Add(time.Duration(r.IntN(240)) * time.Second)
		switch op := r.IntN(10); {
		case op < 5:
			w := wl(names[r.IntN(len(names))])
			d := h.observe(repos[r.IntN(len(repos))], anom(w, "app", fmt.Sprint("s", r.IntN(3)), now))
			trace = append(trace, fmt.Sprint(d.Verdict, " ", d.IncidentID, " ", d.Reason))
			say(d.Updates...)
		case op < 7:
			say(h.tick(now)...)
		default:
			open := h.g.Open()
			if len(open) == 0 {
				continue
			}
			tr := open[r.IntN(len(open))]
			e := incident.Event{Type: external[r.IntN(len(external))], At: now, Cause: "random", Automerge: r.IntN(2) == 0}
			if _, _, err := incident.Next(tr.State, e); err != nil {
				continue
			}
			if e.Type == incident.EventPROpened {
				u, err := h.g.AdmitPR(context.Background(), tr.Incident.ID, caps, now)
				if err != nil {
					t.Fatal(err)
				}
				if u != nil {
					h.record(*u)
					say(*u)
					continue
				}
			}
			say(h.apply(tr.Incident.ID, e))
		}
		checkInvariants(t, h, i)
	}
	return trace
}

func checkInvariants(t *testing.T, h *harness, step int) {
	t.Helper()
	open := h.g.Open()
	if stored := h.rec.Open(); !reflect.DeepEqual(ids(open), ids(stored)) {
		t.Fatalf("step %d: grouper holds %v, store %v", step, ids(open), ids(stored))
	}
	perWorkload := map[string]string{}
	active := map[string]int{}
	for _, tr := range open {
		k := tr.Incident.Repo + " " + tr.Incident.Workload.Key()
		if o, dup := perWorkload[k]; dup {
			t.Fatalf("step %d: %s has two open incidents, %s and %s", step, k, o, tr.Incident.ID)
		}
		perWorkload[k] = tr.Incident.ID
		if err := tr.Incident.Validate(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if !tr.State.Open() || len(tr.Incident.Anomalies) == 0 || tr.Seq != len(h.rec.History(tr.Incident.ID)) {
			t.Fatalf("step %d: %+v (history %d)", step, tr, len(h.rec.History(tr.Incident.ID)))
		}
		if tr.State == incident.StateDetected {
			active[tr.Incident.Repo]++
		}
	}
	for repo, n := range active {
		if n > h.cfg.MaxOpenPerRepo {
			t.Fatalf("step %d: %s has %d detected incidents (max_open_per_repo %d)", step, repo, n, h.cfg.MaxOpenPerRepo)
		}
	}
}

func ids(ts []incident.Tracked) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Incident.ID+"/"+string(t.State))
	}
	return out
}

// TestRandomRuns: on seeded random runs the invariants hold (one open
// incident per repository and workload, store and grouper agree, every
// stored transition passes compare-and-set), and restarting anywhere
// changes nothing that is decided.
func TestRandomRuns(t *testing.T) {
	const steps = 250
	for seed := range uint64(5) {
		want := randomRun(t, seed, steps, nil)
		if len(want) < steps/2 {
			t.Fatalf("seed %d: a run of %d steps said only %d things", seed, steps, len(want))
		}
		r := rand.New(rand.NewPCG(seed, 2))
		restarts := map[int]bool{}
		for range 15 {
			restarts[r.IntN(steps)] = true
		}
		if got := randomRun(t, seed, steps, restarts); !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("seed %d: with restarts at %v, line %d:\n got %s\nwant %s", seed, restarts, i, got[i], want[i])
				}
			}
			t.Fatalf("seed %d: with restarts, %d lines, want %d", seed, len(got), len(want))
		}
	}
}
