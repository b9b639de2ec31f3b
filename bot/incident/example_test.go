package incident_test

import (
	"context"
	"fmt"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/incident/incidenttest"
	"github.com/medic-bot/medic/detect"
)

// The loop's use of a Grouper: store every update before the next call,
// perform its steps, and feed the outcomes back as events.
func Example() {
	ctx := context.Background()
	store := incidenttest.NewRecorder() // the loop uses bot/store
	g, err := incident.NewGrouper(incident.DefaultConfig(), store)
	if err != nil {
		panic(err)
	}
	show := func(us []incident.Update) {
		if err := store.Record(us...); err != nil {
			panic(err)
		}
		for _, u := range us {
			if u.Transition != nil {
				fmt.Printf("%s: %s -> %s (%s) steps %v\n", u.Incident.ID, u.Transition.From, u.Transition.To, u.Transition.Event, u.Steps)
			}
		}
	}
	at := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)
	w := detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}
	d, err := g.Observe(ctx, "acme/infra", detect.Anomaly{Workload: w, Signal: "k8s.event:OOMKilled", Kind: detect.KindEvent, Detector: "event", Onset: at, At: at})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Verdict)
	show(d.Updates)

	// The settle delay passes: the crew is asked, then the PR proposed.
	us, _ := g.Tick(at.Add(2 * time.Minute))
	show(us)
	// Before the propose step opens the pull request:
	if u, err := g.AdmitPR(ctx, d.IncidentID, incident.RunCaps{PRsPerHour: 2, PRsPerWorkloadPerDay: 3}, at.Add(3*time.Minute)); err != nil || u != nil {
		panic(fmt.Sprint("refused: ", err, u))
	}
	u, _ := g.Apply(d.IncidentID, incident.Event{Type: incident.EventPROpened, At: at.Add(3 * time.Minute), Automerge: true})
	show([]incident.Update{u})
	u, _ = g.Apply(d.IncidentID, incident.Event{Type: incident.EventPRMerged, At: at.Add(4 * time.Minute)})
	show([]incident.Update{u})
	// Output:
	// new
	// shop-checkout-20261102t140000-1276b1f9:  -> detected (opened) steps []
	// shop-checkout-20261102t140000-1276b1f9: detected -> proposing (settled) steps [{suggest suggest-2} {propose propose-2}]
	// shop-checkout-20261102t140000-1276b1f9: proposing -> proposed (pr_opened) steps [{merge merge-3}]
	// shop-checkout-20261102t140000-1276b1f9: proposed -> merged (pr_merged) steps [{verify verify-4}]
}
