package incident

import (
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/medic-bot/medic/detect"
)

// Incident is one workload's problem, as the crew, the policy and the pull
// request see it.
type Incident struct {
	// ID is stable for the incident's life and safe in a git branch name
	// (lowercase letters, digits and dashes).
	ID       string          `json:"id"`
	Workload detect.Workload `json:"workload"`
	// Repo is the repository ("owner/name") whose configuration deploys
	// the workload; empty when the incident was written by hand.
	Repo string `json:"repo,omitempty"`
	// Opened is the event time of the first anomaly.
	Opened    time.Time        `json:"opened"`
	Anomalies []detect.Anomaly `json:"anomalies"`
	// LastSeen is the event time of the latest anomaly that joined,
	// including those not kept in Anomalies; the grouper decides quiet
	// from it.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// DroppedAnomalies counts anomalies that joined after Anomalies
	// reached the grouper's max_anomalies: they are counted, not kept.
	DroppedAnomalies int `json:"dropped_anomalies,omitempty"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate reports what makes the incident unusable for a pull request.
func (in Incident) Validate() error {
	if !idPattern.MatchString(in.ID) {
		return fmt.Errorf("incident id %q must be 1-63 lowercase letters, digits or dashes", in.ID)
	}
	if in.Workload.Name == "" {
		return fmt.Errorf("incident %s names no workload", in.ID)
	}
	return nil
}

// Summary is one line naming the workload and its strongest anomaly.
func (in Incident) Summary() string {
	w := in.Workload.Key()
	if len(in.Anomalies) == 0 {
		return w
	}
	return w + ": " + in.Strongest().Summary
}

// Strongest is the anomaly with the highest score (the first on ties); the
// zero Anomaly when there is none.
func (in Incident) Strongest() detect.Anomaly {
	if len(in.Anomalies) == 0 {
		return detect.Anomaly{}
	}
	a := make([]detect.Anomaly, len(in.Anomalies))
	copy(a, in.Anomalies)
	sort.SliceStable(a, func(i, j int) bool { return a[i].Score > a[j].Score })
	return a[0]
}
