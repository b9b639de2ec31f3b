package forgetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// Opened is the event time NewRequest's incidents open at.
var Opened = time.Date(2026, 11, 2, 14, 7, 0, 0, time.UTC)

// Target is the workload NewRequest's intents and incidents name.
var Target = patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}

// IntentParams are valid params for every intent kind, as NewRequest uses
// them: the first example of each kind in patchers.Kinds.
var IntentParams = func() map[string]string {
	m := map[string]string{}
	for _, k := range patchers.Kinds() {
		m[k.Name] = string(k.Examples[0])
	}
	return m
}()

// NewIncident returns a valid incident with id: checkout in shop, one
// OOM-kill anomaly with evidence points.
func NewIncident(id string) incident.Incident {
	w := detect.Workload{Namespace: Target.Namespace, Kind: Target.Kind, Name: Target.Name, Container: Target.Container, Service: "checkout"}
	var ev []detect.EvidencePoint
	for i, v := range []float64{402, 431, 468, 497, 509, 512} {
		ev = append(ev, detect.EvidencePoint{T: Opened.Add(time.Duration(i-5) * time.Minute), V: v * (1 << 20)})
	}
	return incident.Incident{
		ID:       id,
		Workload: w,
		Opened:   Opened,
		Anomalies: []detect.Anomaly{{
			Workload: w,
			Signal:   "container.memory.working_set",
			Kind:     detect.KindSaturation,
			Detector: "saturation",
			Onset:    Opened.Add(-5 * time.Minute),
			At:       Opened,
			Score:    0.97,
			Observed: 512 * (1 << 20),
			Baseline: 410 * (1 << 20),
			Summary:  "memory working set at 100% of the 512Mi limit; 3 OOM kills in 10 minutes",
			Evidence: ev,
		}},
	}
}

// NewIntent returns an intent of kind on Target with IntentParams' params
// (empty params, which do not validate, for an unknown kind).
func NewIntent(kind string) patchers.Intent {
	p, ok := IntentParams[kind]
	if !ok {
		p = `{}`
	}
	return patchers.Intent{Kind: kind, Target: Target, Params: json.RawMessage(p)}
}

// NewRequest builds a valid request to propose files (path to new
// content) for incidentID with an intent of intentKind, against h's
// repository and default branch: a validating intent, a policy decision
// that allows it (not automerge), and a Change whose files carry their
// content and a diff.
func NewRequest(h Harness, incidentID, intentKind string, files map[string]string) forge.Request {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var fcs []patchers.FileChange
	for _, p := range paths {
		fcs = append(fcs, patchers.FileChange{Path: p, Content: []byte(files[p]), Diff: wholeFileDiff(p, files[p])})
	}
	in := NewIntent(intentKind)
	return forge.Request{
		Repo:        h.Repo(),
		Base:        h.DefaultBranch(),
		Environment: "prod",
		Incident:    NewIncident(incidentID),
		Proposal: policy.Proposal{
			Intent:     in,
			Rationale:  "checkout/app was OOM-killed 3 times in 10 minutes at its 512Mi limit.",
			Confidence: 0.9,
			Source:     "playbook",
		},
		Change: patchers.Change{
			Files:          fcs,
			RenderedDiff:   "--- rendered/apps_v1_deployment_shop_checkout.yaml\n+++ rendered/apps_v1_deployment_shop_checkout.yaml\n@@ -20 +20 @@\n-              memory: 512Mi\n+              memory: 768Mi\n",
			ChangedObjects: []patchers.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: Target.Namespace, Name: Target.Name}},
			Summary:        fmt.Sprintf("%s %s for %s", intentKind, Target, incidentID),
		},
		Decision: policy.Decision{
			Allow:   true,
			Reasons: []string{"memory raise within 2x of the current limit"},
			Labels:  []string{"medic/remediation"},
		},
		Labels:    []string{"medic"},
		Reviewers: []string{"sre-oncall"},
	}
}

// DeleteRequest is NewRequest for a change that removes paths.
func DeleteRequest(h Harness, incidentID, intentKind string, paths ...string) forge.Request {
	r := NewRequest(h, incidentID, intentKind, nil)
	for _, p := range paths {
		r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: p, Deleted: true, Diff: "--- a/" + p + "\n+++ /dev/null\n"})
	}
	return r
}

// wholeFileDiff is a unified diff that writes content as a new file; the
// suite does not know the old content and forges do not read diffs.
func wholeFileDiff(path, content string) string {
	lines := strings.SplitAfter(content, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- /dev/null\n+++ b/%s\n@@ -0,0 +1,%d @@\n", path, len(lines))
	for _, l := range lines {
		b.WriteString("+" + l)
		if !strings.HasSuffix(l, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
	return b.String()
}
