package incidenttest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
)

func TestRecorder(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)
	r := NewRecorder()
	upd := func(id, repo, name string, from, to incident.State, at time.Time) incident.Update {
		return incident.Update{
			Tracked:    incident.Tracked{Incident: incident.Incident{ID: id, Repo: repo, Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: name}}, State: to, Since: at},
			Transition: &incident.Transition{IncidentID: id, From: from, To: to, At: at},
		}
	}
	if err := r.Record(
		upd("a-1", "acme/infra", "a", incident.StateNone, incident.StateDetected, t0),
		upd("a-1", "acme/infra", "a", incident.StateDetected, incident.StateProposing, t0.Add(time.Minute)),
		upd("b-1", "acme/infra", "b", incident.StateNone, incident.StateDetected, t0),
		upd("b-1", "acme/infra", "b", incident.StateDetected, incident.StateProposing, t0.Add(2*time.Minute)),
		upd("c-1", "acme/other", "a", incident.StateNone, incident.StateDetected, t0),
		upd("c-1", "acme/other", "a", incident.StateDetected, incident.StateProposing, t0.Add(time.Minute)),
	); err != nil {
		t.Fatal(err)
	}
	// Compare-and-set: a transition from a state the incident is not in,
	// or an update of an incident never opened, is refused.
	if err := r.Record(upd("a-1", "acme/infra", "a", incident.StateDetected, incident.StateSuppressed, t0)); err == nil || !strings.Contains(err.Error(), `stored state "proposing"`) {
		t.Fatalf("stale transition: %v", err)
	}
	if err := r.Record(incident.Update{Tracked: incident.Tracked{Incident: incident.Incident{ID: "x"}}}); err == nil {
		t.Fatal("update of an unknown incident accepted")
	}
	ctx := context.Background()
	for _, c := range []struct {
		q    incident.TransitionQuery
		want int
	}{
		{incident.TransitionQuery{Repo: "acme/infra", To: incident.StateProposing}, 2},
		{incident.TransitionQuery{Repo: "acme/infra", Workload: "shop/Deployment/a", To: incident.StateProposing}, 1},
		{incident.TransitionQuery{Repo: "acme/infra", To: incident.StateProposing, Since: t0.Add(90 * time.Second)}, 1},
		{incident.TransitionQuery{Repo: "acme/infra", To: incident.StateDetected}, 2},
		{incident.TransitionQuery{Repo: "acme/other", To: incident.StateProposing}, 1},
	} {
		if n, err := r.CountTransitions(ctx, c.q); err != nil || n != c.want {
			t.Errorf("%+v: %d %v, want %d", c.q, n, err, c.want)
		}
	}
	if len(r.History("a-1")) != 2 || len(r.Open()) != 3 || len(r.Queries()) != 5 {
		t.Fatalf("history %v open %v", r.History("a-1"), r.Open())
	}
	r.CountErr = errors.New("down")
	if _, err := r.CountTransitions(ctx, incident.TransitionQuery{Repo: "acme/infra"}); !errors.Is(err, r.CountErr) {
		t.Fatalf("CountErr: %v", err)
	}
}
