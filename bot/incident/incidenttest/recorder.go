// Package incidenttest holds test helpers for bot/incident: Recorder, an
// in-memory store of the Grouper's updates that is also its Ledger, for
// unit tests and for runs that need no database.
package incidenttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/medic-bot/medic/bot/incident"
)

// Recorder keeps what a store would: every incident's latest Tracked and
// every transition. It implements incident.Ledger. CountErr, when set, is
// returned by CountTransitions (a failing store). Safe for concurrent use.
type Recorder struct {
	CountErr error

	mu          sync.Mutex
	incidents   map[string]incident.Tracked
	transitions []incident.Transition
	history     map[string][]int // incident id → indexes into transitions
	queries     []incident.TransitionQuery
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{incidents: map[string]incident.Tracked{}, history: map[string][]int{}}
}

// Record stores updates in order, as the loop stores them: the incident
// document always, the transition with compare-and-set on its From state.
func (r *Recorder) Record(updates ...incident.Update) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range updates {
		id := u.Incident.ID
		if tr := u.Transition; tr != nil {
			cur := r.incidents[id].State
			if cur != tr.From {
				return fmt.Errorf("record transition of %s: stored state %q, transition from %q", id, cur, tr.From)
			}
			r.history[id] = append(r.history[id], len(r.transitions))
			r.transitions = append(r.transitions, *tr)
		} else if _, ok := r.incidents[id]; !ok {
			return fmt.Errorf("record update of %s: no such incident", id)
		}
		r.incidents[id] = u.Tracked
	}
	return nil
}

// Open returns the open incidents, sorted by id: what Restore takes.
func (r *Recorder) Open() []incident.Tracked {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []incident.Tracked
	for _, t := range r.incidents {
		if t.State.Open() {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b incident.Tracked) int { return cmp.Compare(a.Incident.ID, b.Incident.ID) })
	return out
}

// Incident returns an incident's latest record.
func (r *Recorder) Incident(id string) (incident.Tracked, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.incidents[id]
	return t, ok
}

// History returns an incident's transitions in order.
func (r *Recorder) History(id string) []incident.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []incident.Transition
	for _, i := range r.history[id] {
		out = append(out, r.transitions[i])
	}
	return out
}

// Queries returns the queries CountTransitions answered, in order.
func (r *Recorder) Queries() []incident.TransitionQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries)
}

// CountTransitions counts recorded transitions into q.To at or after
// q.Since of q.Repo's incidents (and q.Workload's, when set).
func (r *Recorder) CountTransitions(ctx context.Context, q incident.TransitionQuery) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	if r.CountErr != nil {
		return 0, r.CountErr
	}
	if q.Repo == "" {
		return 0, errors.New("count transitions: no repository")
	}
	n := 0
	for _, tr := range r.transitions {
		inc := r.incidents[tr.IncidentID].Incident
		if tr.To != q.To || tr.At.Before(q.Since) || inc.Repo != q.Repo {
			continue
		}
		if q.Workload != "" && inc.Workload.Key() != q.Workload {
			continue
		}
		n++
	}
	return n, nil
}
