package crew

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
)

// fakeView is a RepoView with fixed answers.
type fakeView struct {
	facts      TargetFacts
	targetErr  error
	commits    []Commit // newest first
	commitsErr error
	untils     []time.Time
}

func (f *fakeView) FS() fs.FS { return fstest.MapFS{} }

func (f *fakeView) Target(_ context.Context, t patchers.Target) (TargetFacts, error) {
	if f.targetErr != nil {
		return TargetFacts{}, f.targetErr
	}
	out := f.facts
	out.Target = t
	return out, nil
}

func (f *fakeView) Commits(_ context.Context, _ patchers.Target, until time.Time, n int) ([]Commit, error) {
	f.untils = append(f.untils, until)
	if f.commitsErr != nil {
		return nil, f.commitsErr
	}
	var out []Commit
	for _, c := range f.commits {
		if c.Time.Before(until) && len(out) < n {
			out = append(out, c)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func ptr[T any](v T) *T { return &v }

// twoContainers is a Deployment with an app and a sidecar, no HPA.
func twoContainers() TargetFacts {
	return TargetFacts{
		Dir:      "overlays/prod",
		Replicas: ptr(int32(3)),
		Containers: []Container{
			{Name: "web", Image: "example.com/web:2.0.0", Limits: map[string]string{"memory": "512Mi", "cpu": "1"}, Requests: map[string]string{"memory": "256Mi", "cpu": "250m"}},
			{Name: "proxy", Image: "example.com/proxy:1.1.0", Limits: map[string]string{"memory": "64Mi"}},
		},
	}
}

func withHPA(f TargetFacts, min, max int32) TargetFacts {
	f.HPA = &HPA{Name: "hpa-of-it", MinReplicas: min, MaxReplicas: max, TargetCPUUtilizationPercentage: ptr(int32(70))}
	return f
}

func workload(kind, container string) detect.Workload {
	return detect.Workload{Namespace: "team-a", Kind: kind, Name: "orders", Container: container}
}

func anomaly(container, signal string, kind detect.AnomalyKind, onsetMin int, observed, baseline float64) detect.Anomaly {
	return detect.Anomaly{
		Workload: workload("Deployment", container), Signal: signal, Kind: kind, Detector: string(kind),
		Onset: at(onsetMin), At: at(onsetMin + 3), Score: 0.9, Observed: observed, Baseline: baseline,
		Summary: signal + " anomalous",
	}
}

func oom(c string, m int) detect.Anomaly {
	return anomaly(c, "k8s.event:oom_killed", detect.KindEvent, m, 2, 0)
}
func memSat(c string, m int) detect.Anomaly {
	return anomaly(c, "container.memory.working_set", detect.KindSaturation, m, 0.98, 0.9)
}
func memGrowth(c string, m int) detect.Anomaly {
	return anomaly(c, "container.memory.working_set", detect.KindScore, m, 480e6, 200e6)
}
func cpuSat(c string, m int) detect.Anomaly {
	return anomaly(c, "container.cpu.usage", detect.KindSaturation, m, 0.99, 0.9)
}
func throttled(c string, m int) detect.Anomaly {
	return anomaly(c, "container.cpu.cfs.throttled_periods:rate", detect.KindSaturation, m, 0.6, 0.25)
}
func latency(m int) detect.Anomaly {
	return anomaly("", "requests:latency", detect.KindSLOBurn, m, 0.2, 0.01)
}
func errorsUp(m int) detect.Anomaly {
	return anomaly("", "requests:error_ratio", detect.KindSLOBurn, m, 0.2, 0.001)
}
func p99Up(m int) detect.Anomaly { return anomaly("", "requests:p99", detect.KindScore, m, 0.9, 0.1) }
func rateUp(m int, f float64) detect.Anomaly {
	return anomaly("", "requests:rate", detect.KindScore, m, 100*f, 100)
}
func crash(c string, m int) detect.Anomaly {
	return anomaly(c, "k8s.event:crash_loop", detect.KindEvent, m, 3, 0)
}
func evicted(m int) detect.Anomaly {
	return anomaly("", "k8s.event:evicted", detect.KindEvent, m, 4, 0)
}

func commit(hash string, m int, subject string, changes ...FieldChange) Commit {
	return Commit{Hash: strings.Repeat(hash, 40/len(hash)), Time: at(m), Subject: subject, Changes: changes}
}

func imageChange(c, before, after string) FieldChange {
	return FieldChange{Area: AreaImage, Container: c, Field: "image", Before: before, After: after}
}

// created is the commit that added the target long before.
var created = commit("c0", -10000, "add orders", FieldChange{Area: AreaCreated})

func incidentOf(as ...detect.Anomaly) incident.Incident {
	in := incident.Incident{ID: "team-a-orders-1", Anomalies: as}
	if len(as) > 0 {
		in.Workload = as[0].Workload
		in.Workload.Container = ""
		in.Opened = as[0].At
	}
	return in
}

// want is the expected answer of one case.
type want struct {
	kind      string // "" for no action
	source    string
	container string
	params    string // exact JSON of the params
	rationale []string
	rejected  []string // substrings of some rejected alternative's reason
	extra     int      // more proposals expected beyond the first
}

func TestPlaybook(t *testing.T) {
	cases := []struct {
		name  string
		view  *fakeView
		in    incident.Incident
		want  want
		other func(t *testing.T, ps []Proposal)
	}{
		{
			name: "OOM of the app steps up from the limit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web", params: `{"limits":{"memory":"768Mi"}}`,
				rationale: []string{"censored", "512Mi", "2x auto-merge bound"}, rejected: []string{"no release to roll back"}},
		},
		{
			name: "sidecar OOM belongs to the sidecar",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(oom("proxy", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "proxy", params: `{"limits":{"memory":"96Mi"}}`},
		},
		{
			name: "working set pinned at the limit without a kill",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(memSat("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web", params: `{"limits":{"memory":"768Mi"}}`, rationale: []string{"98%"}},
		},
		{
			name: "a step is bounded by the resource factor",
			view: &fakeView{facts: func() TargetFacts {
				f := twoContainers()
				f.Containers[0].Limits["memory"] = "5Gi"
				return f
			}()},
			in:   incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web", params: `{"limits":{"memory":"7680Mi"}}`},
		},
		{
			name: "a step is bounded by the memory cap",
			view: &fakeView{facts: func() TargetFacts {
				f := twoContainers()
				f.Containers[0].Limits["memory"] = "6Gi"
				return f
			}()},
			in:   incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web", params: `{"limits":{"memory":"8Gi"}}`},
		},
		{
			name: "at the memory cap there is nothing to step",
			view: &fakeView{facts: func() TargetFacts {
				f := twoContainers()
				f.Containers[0].Limits["memory"] = "8Gi"
				return f
			}()},
			in:   incidentOf(oom("web", 0)),
			want: want{rationale: []string{"already at the cap"}},
		},
		{
			name: "no memory limit: the node killed it",
			view: &fakeView{facts: func() TargetFacts {
				f := twoContainers()
				delete(f.Containers[0].Limits, "memory")
				return f
			}()},
			in:   incidentOf(oom("web", 0)),
			want: want{rationale: []string{"no memory limit"}, rejected: []string{"no memory limit to step up"}},
		},
		{
			name: "single container found without a container name",
			view: &fakeView{facts: TargetFacts{Containers: []Container{{Name: "only", Limits: map[string]string{"memory": "1Gi"}}}}},
			in:   incidentOf(oom("", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "only", params: `{"limits":{"memory":"1536Mi"}}`},
		},
		{
			name: "an unnamed container of a two-container pod is not guessed",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(oom("", 0)),
			want: want{rationale: []string{"name no container", "web, proxy"}},
		},
		{
			name: "a container the render lacks is refused",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(oom("ghost", 0)),
			want: want{rationale: []string{"container ghost is not in the rendered"}},
		},
		{
			name: "growth after a release is a leak: roll back",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a1", -120, "release web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in: incidentOf(memGrowth("web", -60), oom("web", 0)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/memory_leak", container: "web", params: `{"previous":true}`,
				rationale: []string{"a1a1a1a", "leak", "postpone"}, rejected: []string{"postpone the kill", "rollback_image is narrower"}},
		},
		{
			name: "growth after a release, image changed again since: roll back to the image before the release",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("b2", 5, "hotfix attempt", imageChange("web", "example.com/web:2.0.0", "example.com/web:2.0.1")),
				commit("a1", -120, "release web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(memGrowth("web", -60), oom("web", 10)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/memory_leak", container: "web", params: `{"image":"example.com/web:1.9.0"}`},
		},
		{
			name: "growth after a config change is a leak: revert the commit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a2", -200, "enable the cache", FieldChange{Area: AreaEnv, Container: "web", Field: "CACHE", After: "set"}), created}},
			in: incidentOf(memGrowth("web", -100), memSat("web", 0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/memory_leak", params: `{"commit":"a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"}`,
				rationale: []string{"env CACHE of web (set)"}, rejected: []string{"changed no image"}},
		},
		{
			name: "OOM hours after a release of the container, no growth anomaly: the release's leak",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("ab", -180, "release web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(memSat("web", 0), oom("web", 5)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/memory_leak", container: "web", params: `{"previous":true}`, rejected: []string{"postpone the kill"}},
		},
		{
			name: "growth without a release, below the limit: nothing yet",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(memGrowth("web", 0)),
			want: want{rationale: []string{"has not reached its limit"}},
		},
		{
			name: "growth long after a release is not blamed on it",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a1", -60*24, "release web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(memGrowth("web", -60), oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web"},
		},
		{
			name: "a sidecar release does not explain the app's OOM",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a1", -20, "bump proxy", imageChange("proxy", "example.com/proxy:1.0.0", "example.com/proxy:1.1.0")), created}},
			in:   incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web"},
		},
		{
			name: "OOM right after a commit lowered the limit: revert it",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("d4", -15, "trim memory", FieldChange{Area: AreaResources, Container: "web", Field: "limits.memory", Before: "1Gi", After: "512Mi"}), created}},
			in: incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/release_regression", params: `{"commit":"d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"}`,
				rejected: []string{"changed no image", "postpone the kill"}},
		},
		{
			name: "a commit that raised the limit is no culprit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("d4", -15, "more memory", FieldChange{Area: AreaResources, Container: "web", Field: "limits.memory", Before: "256Mi", After: "512Mi"}), created}},
			in:   incidentOf(oom("web", 0)),
			want: want{kind: patchers.KindSetResources, source: "playbook/memory_limit", container: "web"},
		},
		{
			name: "CPU throttling with latency steps up the CPU limit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(throttled("web", 0), latency(2)),
			want: want{kind: patchers.KindSetResources, source: "playbook/cpu_throttling", container: "web", params: `{"limits":{"cpu":"1500m"}}`,
				rejected: []string{"each replica needs more CPU"}},
		},
		{
			name: "CPU at its limit without degradation: nothing users feel",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(cpuSat("web", 0)),
			want: want{rationale: []string{"nothing users feel"}},
		},
		{
			name: "CPU saturation under a load rise scales out",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(cpuSat("web", 0), rateUp(-2, 1.8), p99Up(1)),
			want: want{kind: patchers.KindScale, source: "playbook/scale_out", params: `{"replicas":6}`, rationale: []string{"1.8x"},
				rejected: []string{"no HPA targets", "spread"}},
		},
		{
			name: "CPU saturation under a load rise with an HPA raises its maximum",
			view: &fakeView{facts: withHPA(twoContainers(), 2, 6)},
			in:   incidentOf(cpuSat("web", 0), rateUp(-2, 1.8)),
			want: want{kind: patchers.KindSetHPA, source: "playbook/scale_out", params: `{"maxReplicas":11}`, rationale: []string{"maximum of 6"},
				rejected: []string{"owns the replica count"}},
		},
		{
			name: "an HPA at the replica cap is not raised, and no bump replaces it",
			view: &fakeView{facts: withHPA(twoContainers(), 2, 20)},
			in:   incidentOf(cpuSat("web", 0), rateUp(-2, 1.8), latency(1)),
			want: want{rationale: []string{"already at the cap"}},
		},
		{
			name: "a StatefulSet is not scaled: its CPU is stepped",
			view: &fakeView{facts: twoContainers()},
			in: func() incident.Incident {
				in := incidentOf(throttled("web", 0), rateUp(-2, 2), latency(1))
				for i := range in.Anomalies {
					in.Anomalies[i].Workload.Kind = "StatefulSet"
				}
				in.Workload.Kind = "StatefulSet"
				return in
			}(),
			want: want{kind: patchers.KindSetResources, source: "playbook/cpu_throttling", container: "web", params: `{"limits":{"cpu":"1500m"}}`,
				rejected: []string{"its replicas hold state"}},
		},
		{
			name: "latency right after a release rolls the image back",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(latency(0), p99Up(1)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/release_regression", container: "web", params: `{"previous":true}`, rationale: []string{"10m after commit e5e5e5e"}},
		},
		{
			name: "errors after a commit that changed image and env revert the commit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("f6", -5, "web 2.0.0 with new flags", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0"),
					FieldChange{Area: AreaEnv, Container: "web", Field: "FEATURE_X", Before: "set", After: "set"}), created}},
			in: incidentOf(errorsUp(0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/release_regression", params: `{"commit":"f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6"}`,
				rejected: []string{"changed more than the image"}},
		},
		{
			name: "a regression with CPU pinned after a release is the release's",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in: incidentOf(throttled("web", 0), latency(1)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/release_regression", container: "web", params: `{"previous":true}`,
				rejected: []string{"hide a regression"}},
		},
		{
			name: "latency without any recent commit: a dependency, no action",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -300, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(latency(0), errorsUp(1)),
			want: want{rationale: []string{"outside this repository"}, rejected: []string{"rolling back a victim is unsafe", "more replicas of a victim"}},
		},
		{
			name: "a replica change before errors is no culprit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "scale up", FieldChange{Area: AreaReplicas, Field: "replicas", Before: "2", After: "3"}), created}},
			in:   incidentOf(errorsUp(0)),
			want: want{rationale: []string{"outside this repository"}},
		},
		{
			name: "crash loop after an env change reverts the commit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a7", -3, "point web at the new db", FieldChange{Area: AreaEnv, Container: "web", Field: "DB_URL", Before: "set", After: "set"}), created}},
			in:   incidentOf(crash("web", 0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/crashloop_config", params: `{"commit":"a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7"}`, rationale: []string{"env DB_URL of web (set)"}},
			other: func(t *testing.T, ps []Proposal) {
				for _, s := range []string{ps[0].Rationale, strings.Join(ps[0].Evidence, "\n")} {
					if strings.Contains(s, "postgres://") {
						t.Errorf("an env value reached the proposal: %s", s)
					}
				}
			},
		},
		{
			name: "crash loop after a ConfigMap change reverts the commit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a8", -3, "tune config", FieldChange{Area: AreaConfig, Field: "ConfigMap/orders-config"}), created}},
			in:   incidentOf(crash("web", 0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/crashloop_config"},
		},
		{
			name: "a commit that only relabels the workload is no culprit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("a9", -3, "owner label", FieldChange{Area: AreaOther, Field: "metadata.labels.team"}), created}},
			in:   incidentOf(crash("web", 0)),
			want: want{rationale: []string{"nothing in this repository to revert"}},
		},
		{
			name: "a pod template change is a culprit",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("aa", -3, "new probe", FieldChange{Area: AreaOther, Container: "web", Field: "livenessProbe.periodSeconds"}), created}},
			in:   incidentOf(crash("web", 0)),
			want: want{kind: patchers.KindRevertCommit, source: "playbook/crashloop_config", rationale: []string{"other livenessProbe.periodSeconds of web"}},
		},
		{
			name: "crash loop with no change before it: no action",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(crash("web", 0)),
			want: want{rationale: []string{"nothing in this repository to revert"}, rejected: []string{"no commit touched"}},
		},
		{
			name: "a single restart is a one-off, not a crash loop",
			view: &fakeView{facts: twoContainers(), commits: []Commit{created}},
			in:   incidentOf(anomaly("web", "k8s.container.restarts", detect.KindEvent, 0, 1, 0)),
			want: want{rationale: []string{"restarted once", "one-off"}},
		},
		{
			name: "evictions: node pressure, the workload is a victim",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(evicted(0), latency(1), crash("web", 1)),
			want: want{rationale: []string{"node pressure"}, rejected: []string{"rolling back a victim is unsafe", "add pressure"}},
		},
		{
			name: "evictions alone",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(evicted(0)),
			want: want{rationale: []string{"node pressure"}},
		},
		{
			name: "noise: an anomaly no rule knows",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(anomaly("web", "jvm.gc.duration", detect.KindScore, 0, 3, 1)),
			want: want{rationale: []string{"noise", "jvm.gc.duration"}},
		},
		{
			name: "noise: latency that fell is no regression",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(anomaly("", "requests:p99", detect.KindScore, 0, 0.01, 0.1)),
			want: want{rationale: []string{"noise"}},
		},
		{
			name: "a load rise alone needs nothing",
			view: &fakeView{facts: twoContainers()},
			in:   incidentOf(rateUp(0, 3)),
			want: want{rationale: []string{"nothing to fix", "request rate"}, rejected: []string{"carries the load"}},
		},
		{
			name: "a service-only workload cannot be changed",
			view: &fakeView{facts: twoContainers()},
			in: func() incident.Incident {
				in := incidentOf(oom("web", 0))
				in.Workload.Kind = ""
				return in
			}(),
			want: want{rationale: []string{"service without a workload kind"}},
		},
		{
			name: "a workload this repository does not define",
			view: &fakeView{targetErr: errors.Join(errors.New("render"), patchers.ErrNotFound)},
			in:   incidentOf(oom("web", 0)),
			want: want{rationale: []string{"not defined in this repository"}},
		},
		{
			name: "a release regression and an unrelated sidecar OOM give two proposals",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(latency(0), oom("proxy", 1)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/release_regression", container: "web", params: `{"previous":true}`, extra: 1},
			other: func(t *testing.T, ps []Proposal) {
				if ps[1].Intent.Kind != patchers.KindSetResources || ps[1].Intent.Target.Container != "proxy" {
					t.Errorf("second proposal %s on %s, want set_resources on proxy", ps[1].Intent.Kind, ps[1].Intent.Target)
				}
			},
		},
		{
			name: "a crash loop and an OOM after one release give one rollback",
			view: &fakeView{facts: twoContainers(), commits: []Commit{
				commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}},
			in:   incidentOf(oom("web", 0), crash("web", 1)),
			want: want{kind: patchers.KindRollbackImage, source: "playbook/memory_leak", container: "web", params: `{"previous":true}`},
		},
	}
	pb, err := NewPlaybook(DefaultPlaybookConfig())
	if err != nil {
		t.Fatal(err)
	}
	emitted := map[string]bool{} // "rule kind"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := pb.Suggest(context.Background(), c.in, c.view)
			if c.want.kind == "" {
				na, ok := AsNoAction(err)
				if !ok {
					t.Fatalf("Suggest = %d proposals, %v; want no action", len(ps), err)
				}
				if ps != nil {
					t.Errorf("proposals with no action: %v", ps)
				}
				for _, s := range c.want.rationale {
					if !strings.Contains(na.Reason, s) {
						t.Errorf("reason %q does not say %q", na.Reason, s)
					}
				}
				checkRejected(t, na.Rejected, c.want.rejected)
				return
			}
			if err != nil {
				t.Fatalf("Suggest: %v", err)
			}
			if len(ps) != 1+c.want.extra {
				t.Fatalf("%d proposals, want %d: %+v", len(ps), 1+c.want.extra, ps)
			}
			p := ps[0]
			if p.Intent.Kind != c.want.kind || p.Source != c.want.source || p.Intent.Target.Container != c.want.container {
				t.Errorf("proposal %s from %s on %s; want %s from %s on container %q\nrationale: %s", p.Intent.Kind, p.Source, p.Intent.Target, c.want.kind, c.want.source, c.want.container, p.Rationale)
			}
			if c.want.params != "" && string(p.Intent.Params) != c.want.params {
				t.Errorf("params %s, want %s", p.Intent.Params, c.want.params)
			}
			for _, s := range c.want.rationale {
				if !strings.Contains(p.Rationale, s) {
					t.Errorf("rationale %q does not say %q", p.Rationale, s)
				}
			}
			checkRejected(t, p.Rejected, c.want.rejected)
			for _, q := range ps {
				if err := q.Intent.Validate(); err != nil {
					t.Errorf("invalid intent: %v", err)
				}
				if q.Intent.Target.Namespace != "team-a" || q.Intent.Target.Name != "orders" {
					t.Errorf("intent on %s, not on the incident's workload", q.Intent.Target)
				}
				if q.Confidence <= 0 || q.Confidence > 1 || q.Rationale == "" || len(q.Evidence) == 0 {
					t.Errorf("proposal lacks confidence, rationale or evidence: %+v", q)
				}
				for _, r := range q.Rejected {
					if r.Reason == "" || r.Kind == "" {
						t.Errorf("rejected alternative without kind or reason: %+v", r)
					}
				}
				emitted[strings.TrimPrefix(q.Source, "playbook/")+" "+q.Intent.Kind] = true
				if pp := q.Policy(); pp.Source != q.Source || string(pp.Intent.Params) != string(q.Intent.Params) {
					t.Errorf("Policy() = %+v", pp)
				}
			}
			if c.other != nil {
				c.other(t, ps)
			}
		})
	}
	for rule, kinds := range ruleKinds {
		for _, k := range kinds {
			if !emitted[rule+" "+k] {
				t.Errorf("rule %s is declared to emit %s, and no case shows it", rule, k)
			}
		}
	}
}

func checkRejected(t *testing.T, got []Alternative, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, r := range got {
			found = found || strings.Contains(r.Reason, w)
		}
		if !found {
			t.Errorf("no rejected alternative says %q; rejected: %+v", w, got)
		}
	}
}

func TestPlaybookCommitsUntilTheIncident(t *testing.T) {
	pb, _ := NewPlaybook(DefaultPlaybookConfig())
	v := &fakeView{facts: twoContainers()}
	in := incidentOf(oom("web", 0), latency(20))
	_, _ = pb.Suggest(context.Background(), in, v)
	if len(v.untils) != 1 || !v.untils[0].Equal(at(23)) {
		t.Errorf("Commits asked until %v, want the incident's latest event time %v", v.untils, at(23))
	}
}

func TestPlaybookErrors(t *testing.T) {
	pb, _ := NewPlaybook(DefaultPlaybookConfig())
	boom := errors.New("disk on fire")
	for name, v := range map[string]*fakeView{
		"target":  {targetErr: boom},
		"commits": {facts: twoContainers(), commitsErr: boom},
	} {
		_, err := pb.Suggest(context.Background(), incidentOf(oom("web", 0)), v)
		if !errors.Is(err, boom) {
			t.Errorf("%s: err = %v, want it wrapped", name, err)
		}
		if _, ok := AsNoAction(err); ok {
			t.Errorf("%s: a failure to read the repository is no action, it must be an error", name)
		}
	}
}

func TestResolveConflicts(t *testing.T) {
	d := &decision{t: patchers.Target{Namespace: "n", Kind: "Deployment", Name: "w"}}
	mk := func(kind, src string, params any, fields ...string) candidate {
		b, _ := json.Marshal(params)
		return candidate{Proposal: Proposal{Intent: patchers.Intent{Kind: kind, Target: d.t, Params: b}, Source: src, Evidence: []string{src}}, fields: fields}
	}
	d.cands = []candidate{
		mk(patchers.KindScale, "playbook/a", patchers.ScaleParams{Replicas: ptr(int32(4))}, "replicas"),
		mk(patchers.KindSetHPA, "playbook/b", patchers.HPAParams{MaxReplicas: ptr(int32(9))}, "replicas", "hpa.maxReplicas"),
		mk(patchers.KindScale, "playbook/c", patchers.ScaleParams{Replicas: ptr(int32(4))}, "replicas"),
	}
	ps := d.resolve()
	if len(ps) != 1 || ps[0].Source != "playbook/a" {
		t.Fatalf("resolve kept %+v, want the first scale only", ps)
	}
	if len(ps[0].Evidence) != 2 {
		t.Errorf("the duplicate's evidence was not merged: %v", ps[0].Evidence)
	}
	checkRejected(t, ps[0].Rejected, []string{"must not fight over one field"})
}

func TestPlaybookConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c := DefaultPlaybookConfig()
	c.MemoryStep = 3
	c.MaxMemory = "lots"
	c.ReleaseWindow = 0
	c.Signals.OOM = []string{"["}
	c.Commits = 0
	err := c.Validate()
	for _, s := range []string{"memory_step 3 is above max_resource_factor 2", `max_memory "lots"`, "release_window must be positive", `signals.oom: "["`, "commits must be from 1"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate = %v, want it to say %q", err, s)
		}
	}
	if _, err := NewPlaybook(c); err == nil {
		t.Error("NewPlaybook took an invalid config")
	}
	h := HistoryConfig{MaxCommits: 0, MaxMessageBytes: -1}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "max_commits") || !strings.Contains(err.Error(), "max_message_bytes") {
		t.Errorf("HistoryConfig.Validate = %v", err)
	}
}
