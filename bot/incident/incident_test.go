package incident

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
)

// The fields the grouper added are omitted when unset, so a hand-written
// incident keeps its JSON form, and a grouped one round-trips.
func TestIncidentJSON(t *testing.T) {
	hand := Incident{ID: "inc-1", Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}, Opened: t0}
	b, err := json.Marshal(hand)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"inc-1","workload":{"namespace":"shop","kind":"Deployment","name":"checkout"},"opened":"2026-11-02T14:00:00Z","anomalies":null}`
	if string(b) != want {
		t.Fatalf("hand-written incident:\n got %s\nwant %s", b, want)
	}
	grouped := hand
	grouped.Repo, grouped.LastSeen, grouped.DroppedAnomalies = "acme/infra", t0.Add(time.Minute), 2
	grouped.Anomalies = []detect.Anomaly{{Workload: hand.Workload, Signal: "s", Kind: detect.KindEvent, At: t0, Onset: t0}}
	b, err = json.Marshal(grouped)
	if err != nil {
		t.Fatal(err)
	}
	var back Incident
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, grouped) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, grouped)
	}
}
