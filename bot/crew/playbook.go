package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
)

// The playbook's rules: each proposal's Source is "playbook/<rule>".
const (
	RuleMemoryLimit       = "memory_limit"
	RuleMemoryLeak        = "memory_leak"
	RuleCPUThrottling     = "cpu_throttling"
	RuleScaleOut          = "scale_out"
	RuleReleaseRegression = "release_regression"
	RuleCrashLoopConfig   = "crashloop_config"
)

// ruleKinds are the intent kinds each rule may emit.
var ruleKinds = map[string][]string{
	RuleMemoryLimit:       {patchers.KindSetResources},
	RuleMemoryLeak:        {patchers.KindRollbackImage, patchers.KindRevertCommit},
	RuleCPUThrottling:     {patchers.KindSetResources},
	RuleScaleOut:          {patchers.KindScale, patchers.KindSetHPA},
	RuleReleaseRegression: {patchers.KindRollbackImage, patchers.KindRevertCommit},
	RuleCrashLoopConfig:   {patchers.KindRevertCommit},
}

// NeverProposed are the intent kinds no playbook rule emits, each with the
// reason.
var NeverProposed = map[string]string{
	patchers.KindSetEnv: "the right value of a variable cannot be derived from telemetry; a bad env change is undone whole by revert_commit",
}

// Confidences of the rules' proposals.
const (
	confOOM        = 0.85
	confSaturation = 0.7
	confRollback   = 0.8
	confRevert     = 0.75
	confScale      = 0.7
)

// Playbook is the deterministic crew: rules from symptom to intent, values
// computed from the evidence and the rendered target. It is safe for
// concurrent use.
type Playbook struct {
	cfg            PlaybookConfig
	maxMem, maxCPU resource.Quantity
}

// NewPlaybook returns the playbook crew for a configuration, which must
// be valid.
func NewPlaybook(cfg PlaybookConfig) (*Playbook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("playbook config: %w", err)
	}
	return &Playbook{cfg: cfg, maxMem: resource.MustParse(cfg.MaxMemory), maxCPU: resource.MustParse(cfg.MaxCPU)}, nil
}

var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// Suggest implements Crew.
func (p *Playbook) Suggest(ctx context.Context, in incident.Incident, view RepoView) ([]Proposal, error) {
	w := in.Workload
	if !slices.Contains(workloadKinds, w.Kind) || w.Namespace == "" || w.Name == "" {
		kind := w.Kind
		if kind == "" {
			kind = "service without a workload kind"
		}
		return nil, noAction(nil, fmt.Sprintf("%s is a %s, not a Deployment, StatefulSet or DaemonSet with a namespace, which is what a repository change can fix", w.Key(), kind))
	}
	t := patchers.Target{Namespace: w.Namespace, Kind: w.Kind, Name: w.Name}
	d := &decision{p: p, cfg: &p.cfg, in: in, t: t, s: p.cfg.Signals.classify(in.Anomalies)}
	if na := d.triage(); na != nil {
		return nil, na
	}
	facts, err := view.Target(ctx, t)
	if missing(err) {
		return nil, noAction(nil, fmt.Sprintf("%s is not defined in this repository (%v): no change to it can help", t, err))
	}
	if err != nil {
		return nil, fmt.Errorf("playbook: %w", err)
	}
	d.facts = facts
	d.now = in.Opened
	for _, a := range in.Anomalies {
		if a.At.After(d.now) {
			d.now = a.At
		}
	}
	if d.commits, err = view.Commits(ctx, t, d.now, p.cfg.Commits); err != nil {
		return nil, fmt.Errorf("playbook: read the commits that touched %s: %w", t, err)
	}
	if na := d.victim(); na != nil {
		return nil, na
	}
	for _, c := range d.s.containers(symOOM, symMemoryLimit, symMemoryGrowth) {
		d.memory(c)
	}
	for _, c := range d.s.containers(symCPULimit, symThrottling) {
		d.cpu(c)
	}
	if d.s.has(symCrash) {
		d.crash()
	}
	if d.s.has(symLatency, symErrors) {
		d.service()
	}
	props := d.resolve()
	if len(props) == 0 {
		return nil, noAction(d.rejected, d.reasons...)
	}
	return props, nil
}

// decision is one Suggest call's working state.
type decision struct {
	p       *Playbook
	cfg     *PlaybookConfig
	in      incident.Incident
	t       patchers.Target
	s       symptoms
	facts   TargetFacts
	now     time.Time // the latest event time of the incident
	commits []Commit  // newest first, before now

	cands    []candidate
	reasons  []string
	rejected []Alternative
}

// candidate is a proposal with the fields it sets and, for a release
// rollback, the containers whose symptoms it explains.
type candidate struct {
	Proposal
	fields  []string
	release bool
	scope   []string // containers a release explains; nil: all
}

func (d *decision) reason(format string, args ...any) {
	d.reasons = append(d.reasons, fmt.Sprintf(format, args...))
}

func (d *decision) reject(kind string, in *patchers.Intent, format string, args ...any) {
	d.rejected = append(d.rejected, Alternative{Kind: kind, Intent: in, Reason: fmt.Sprintf(format, args...)})
}

// triage is the no-action answer for incidents without a symptom a
// repository change can fix.
func (d *decision) triage() *NoAction {
	if d.s.has(symOOM, symMemoryLimit, symMemoryGrowth, symCPULimit, symThrottling, symLatency, symErrors, symCrash) {
		return nil
	}
	var ev []string
	for _, a := range d.in.Anomalies {
		ev = append(ev, describe(a))
	}
	switch {
	case d.s.has(symNodePressure):
		return d.victimAnswer()
	case d.s.has(symLoad):
		return noAction([]Alternative{{Kind: patchers.KindScale, Reason: "nothing is saturated and nothing degraded: the workload carries the load"}},
			fmt.Sprintf("the request rate of %s rose, but no resource is at its limit and neither latency nor errors rose: nothing to fix (%s)", d.t, strings.Join(ev, "; ")))
	}
	if len(ev) == 0 {
		return noAction(nil, fmt.Sprintf("incident %s has no anomalies", d.in.ID))
	}
	return noAction(nil, fmt.Sprintf("noise: no anomaly of %s shows a symptom a repository change can fix (%s)", d.t, strings.Join(ev, "; ")))
}

// victim is the no-action answer when nodes, not the workload, are short:
// pods evicted or unschedulable without a container at its own limit.
func (d *decision) victim() *NoAction {
	if !d.s.has(symNodePressure) || d.s.has(symOOM, symMemoryLimit, symCPULimit, symThrottling) {
		return nil
	}
	return d.victimAnswer()
}

func (d *decision) victimAnswer() *NoAction {
	var ev []string
	for _, a := range d.s.of(symNodePressure) {
		ev = append(ev, describe(a))
	}
	return noAction([]Alternative{
		{Kind: patchers.KindScale, Reason: "more replicas on nodes under pressure add pressure; the pods are victims"},
		{Kind: patchers.KindRollbackImage, Reason: "no container of the workload is at its own limit: rolling back a victim is unsafe"},
		{Kind: patchers.KindSetResources, Reason: "the kills come from the node (evictions, scheduling), not from the workload's limits"},
	}, fmt.Sprintf("node pressure: pods of %s were evicted or could not be scheduled while no container was at its own limit (%s); the nodes, not this repository's workload, need attention", d.t, strings.Join(ev, "; ")))
}

// resolveContainer is the container an anomaly names ("" when the pod has
// one), or the reason none fits.
func (d *decision) resolveContainer(name string) (Container, string) {
	if name == "" {
		reg := d.facts.Regular()
		if len(reg) == 1 {
			return reg[0], ""
		}
		return Container{}, fmt.Sprintf("the anomalies name no container and %s has %d: %s", d.t, len(reg), containerNames(reg))
	}
	c, ok := d.facts.Container(name)
	switch {
	case !ok:
		return Container{}, fmt.Sprintf("container %s is not in the rendered %s (it has %s)", name, d.t, containerNames(d.facts.Containers))
	case c.Init:
		return Container{}, fmt.Sprintf("container %s of %s is an init container, which medic does not resize", name, d.t)
	}
	return c, ""
}

func containerNames(cs []Container) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// forContainer keeps the anomalies of container name.
func forContainer(as []detect.Anomaly, name string) []detect.Anomaly {
	var out []detect.Anomaly
	for _, a := range as {
		if a.Workload.Container == name {
			out = append(out, a)
		}
	}
	return out
}

func evidence(as []detect.Anomaly) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = describe(a)
	}
	return out
}

// memory handles a container's OOM kills, memory at its limit and memory
// growth.
func (d *decision) memory(name string) {
	anoms := forContainer(d.s.of(symOOM, symMemoryLimit, symMemoryGrowth), name)
	c, why := d.resolveContainer(name)
	if why != "" {
		d.reason("memory: %s", why)
		return
	}
	growth := forContainer(d.s.of(symMemoryGrowth), name)
	hits := forContainer(d.s.of(symOOM, symMemoryLimit), name)
	// A leak fills the limit hours after its release: memory symptoms
	// look back the leak window from the growth's onset, or else from the
	// first kill or saturation.
	on, window, what := onset(hits), d.cfg.LeakWindow, "memory at the limit"
	if len(growth) > 0 {
		on, what = onset(growth), "memory growth"
	}
	if cm, causes, ok := d.culprit(on, window, c.Name, lowered("limits.memory")); ok {
		rule := RuleMemoryLeak
		if onlyArea(causes, AreaResources) {
			rule = RuleReleaseRegression // the commit lowered the limit
		}
		bump := Alternative{Kind: patchers.KindSetResources, Reason: fmt.Sprintf("%s of container %s began %s after commit %s changed %s: a release is the cause, and raising the limit would only postpone the kill", what, c.Name, since(cm.Time, on), cm.Short(), describeChanges(causes))}
		d.release(cm, causes, rule, fmt.Sprintf("%s of container %s", what, c.Name), anoms, []string{c.Name}, bump)
		return
	}
	noRelease := fmt.Sprintf("no commit changed the image, env or config of container %s within %s before the onset at %s", c.Name, brief(window), on.UTC().Format(time.RFC3339))
	if len(hits) == 0 {
		d.reason("memory of container %s grows but has not reached its limit, and %s: nothing to change yet", c.Name, noRelease)
		d.reject(patchers.KindSetResources, nil, "container %s has not reached its memory limit: a higher limit changes nothing", c.Name)
		return
	}
	limit, newLimit, in, ok := d.stepLimit(c, "memory", "its kills came from the node's memory pressure, not from a limit a repository change can step up")
	if !ok {
		return
	}
	kills := forContainer(d.s.of(symOOM), name)
	seen := fmt.Sprintf("its memory stayed at %s of its %s limit", peak(hits), limit)
	conf := confSaturation
	if len(kills) > 0 {
		seen = fmt.Sprintf("it was OOMKilled (%s)", kills[0].Summary)
		conf = confOOM
	}
	d.add(candidate{Proposal: Proposal{
		Intent: in,
		Rationale: fmt.Sprintf("Container %s of %s is at its memory limit: %s. The observed peak is censored by the limit (the container cannot use more than %s before it is killed), so peak + 10%% would not clear it; step up %gx from the limit to %s, within the policy's %gx auto-merge bound and the %s cap. Not a release regression: %s.",
			c.Name, d.t, seen, limit, d.cfg.MemoryStep, newLimit, d.cfg.MaxResourceFactor, d.cfg.MaxMemory, noRelease),
		Confidence: conf,
		Source:     "playbook/" + RuleMemoryLimit,
		Evidence:   evidence(anoms),
		Rejected: []Alternative{
			{Kind: patchers.KindRollbackImage, Reason: noRelease + ": there is no release to roll back"},
			{Kind: patchers.KindScale, Reason: "memory per pod is the limit that is hit: more replicas do not give a pod more memory"},
		},
	}, fields: resourceFields(c.Name, "limits", "memory")})
}

// cpu handles a container's CPU at its limit and throttling.
func (d *decision) cpu(name string) {
	anoms := forContainer(d.s.of(symCPULimit, symThrottling), name)
	c, why := d.resolveContainer(name)
	if why != "" {
		d.reason("cpu: %s", why)
		return
	}
	lat := d.s.of(symLatency, symErrors)
	on := onset(append(slices.Clone(anoms), lat...))
	cause := func(ch FieldChange) bool {
		return lowered("limits.cpu")(ch) || lowerCount(ch)
	}
	if cm, causes, ok := d.culprit(on, d.cfg.ReleaseWindow, c.Name, cause); ok {
		bump := Alternative{Kind: patchers.KindSetResources, Reason: fmt.Sprintf("CPU use of container %s rose %s after commit %s changed %s: more CPU would hide a regression", c.Name, since(cm.Time, on), cm.Short(), describeChanges(causes))}
		d.release(cm, causes, RuleReleaseRegression, fmt.Sprintf("CPU saturation of container %s", c.Name), append(anoms, lat...), []string{c.Name}, bump,
			Alternative{Kind: patchers.KindScale, Reason: "more replicas of a regressed release multiply the regression"})
		return
	}
	loadNote := "and the request rate did not rise: each replica is short of CPU"
	if f, load := d.load(); f >= d.cfg.MinLoadFactor {
		if d.scaleOut(c, f, append(anoms, load...)) || d.t.Kind == "Deployment" {
			return // scaled out, or at the replica cap: a bigger pod is no answer to more load
		}
		loadNote = fmt.Sprintf("and the request rate rose %.1fx, but a %s cannot add replicas", f, d.t.Kind)
	}
	if len(lat) == 0 {
		d.reason("CPU of container %s is at its limit or throttled, but neither latency nor errors rose: nothing users feel", c.Name)
		d.reject(patchers.KindSetResources, nil, "CPU of container %s is at its limit without latency degradation", c.Name)
		return
	}
	limit, newLimit, in, ok := d.stepLimit(c, "cpu", "it cannot be throttled by a limit, so the repository has no limit to step up")
	if !ok {
		return
	}
	d.add(candidate{Proposal: Proposal{
		Intent: in,
		Rationale: fmt.Sprintf("Container %s of %s is pinned at its %s CPU limit (%s) while %s, %s. Step the limit up %gx to %s, within the policy's %gx auto-merge bound and the %s cap. No commit touching %s within %s before the onset: not a release regression.",
			c.Name, d.t, limit, anoms[0].Summary, lat[0].Summary, loadNote, d.cfg.CPUStep, newLimit, d.cfg.MaxResourceFactor, d.cfg.MaxCPU, c.Name, brief(d.cfg.ReleaseWindow)),
		Confidence: confSaturation,
		Source:     "playbook/" + RuleCPUThrottling,
		Evidence:   evidence(append(anoms, lat...)),
		Rejected: []Alternative{
			{Kind: patchers.KindScale, Reason: "each replica needs more CPU: " + loadNote},
			{Kind: patchers.KindRollbackImage, Reason: "no release touched the container before the onset"},
		},
	}, fields: resourceFields(c.Name, "limits", "cpu")})
}

// stepLimit is the set_resources intent that steps container c's limit of
// res (memory or cpu) up; false, with the reason recorded, when c has no
// such limit (noLimit says what that means) or it is at the cap.
func (d *decision) stepLimit(c Container, res, noLimit string) (limit, next string, in patchers.Intent, ok bool) {
	limit, ok = c.Limits[res]
	if !ok {
		d.reason("container %s has no %s limit: %s", c.Name, res, noLimit)
		d.reject(patchers.KindSetResources, nil, "container %s has no %s limit to step up from", c.Name, res)
		return "", "", patchers.Intent{}, false
	}
	factor, top, unit := d.cfg.MemoryStep, d.p.maxMem, int64(memUnit)
	if res == "cpu" {
		factor, top, unit = d.cfg.CPUStep, d.p.maxCPU, cpuUnit
	}
	next, why := d.p.step(limit, factor, top, unit)
	if why != "" {
		d.reason("container %s: %s %s", c.Name, res, why)
		return "", "", patchers.Intent{}, false
	}
	return limit, next, d.intent(patchers.KindSetResources, c.Name, patchers.ResourcesParams{Limits: map[string]string{res: next}}), true
}

// load is the largest request-rate rise over its baseline, with its
// anomalies.
func (d *decision) load() (float64, []detect.Anomaly) {
	f := 0.0
	as := d.s.of(symLoad)
	for _, a := range as {
		if a.Baseline > 0 {
			f = max(f, a.Observed/a.Baseline)
		}
	}
	return f, as
}

// scaleOut proposes more replicas (or a higher HPA maximum) for a load
// rise of f; false when the workload cannot be scaled.
func (d *decision) scaleOut(c Container, f float64, anoms []detect.Anomaly) bool {
	switch d.t.Kind {
	case "DaemonSet":
		d.reject(patchers.KindScale, nil, "%s is a DaemonSet: it runs one pod per node and has no replicas to add", d.t)
		return false
	case "StatefulSet":
		d.reject(patchers.KindScale, nil, "%s is a StatefulSet: its replicas hold state, and adding them is not a capacity fix medic makes", d.t)
		return false
	}
	bumpReason := fmt.Sprintf("the request rate rose %.1fx: the load per replica is what rose, and more replicas spread it where a larger limit only helps each pod up to one node's share", f)
	if h := d.facts.HPA; h != nil {
		cur := h.MaxReplicas
		next, why := d.p.scaleTo(cur, f)
		if why != "" {
			d.reason("the HPA %s of %s: %s", h.Name, d.t, why)
			return false
		}
		in := d.intent(patchers.KindSetHPA, "", patchers.HPAParams{MaxReplicas: &next})
		d.add(candidate{Proposal: Proposal{
			Intent: in,
			Rationale: fmt.Sprintf("Container %s of %s is at its CPU limit across its replicas (%s) while the request rate rose %.1fx (%s). Pods pinned at their limit use more of their request than the HPA %s's target, so the HPA wants more replicas; that the saturation persists means it is at its maximum of %d. Raise maxReplicas to %d (%.1fx the load, at most %gx and %d).",
				c.Name, d.t, anoms[0].Summary, f, lastSummary(anoms), h.Name, cur, next, f, d.cfg.MaxScaleFactor, d.cfg.MaxReplicas),
			Confidence: confScale,
			Source:     "playbook/" + RuleScaleOut,
			Evidence:   evidence(anoms),
			Rejected: []Alternative{
				{Kind: patchers.KindScale, Reason: fmt.Sprintf("the HPA %s owns the replica count: a scale would be overwritten", h.Name)},
				{Kind: patchers.KindSetResources, Reason: bumpReason},
			},
		}, fields: []string{"replicas", "hpa.maxReplicas"}})
		return true
	}
	cur := int32(1)
	if d.facts.Replicas != nil {
		cur = *d.facts.Replicas
	}
	next, why := d.p.scaleTo(cur, f)
	if why != "" {
		d.reason("%s: %s", d.t, why)
		return false
	}
	in := d.intent(patchers.KindScale, "", patchers.ScaleParams{Replicas: &next})
	d.add(candidate{Proposal: Proposal{
		Intent: in,
		Rationale: fmt.Sprintf("Container %s of %s is at its CPU limit across its %d replicas (%s) while the request rate rose %.1fx (%s): the load per replica is too high. Scale from %d to %d replicas (%.1fx the load, at most %gx and %d); no HPA targets %s.",
			c.Name, d.t, cur, anoms[0].Summary, f, lastSummary(anoms), cur, next, f, d.cfg.MaxScaleFactor, d.cfg.MaxReplicas, d.t),
		Confidence: confScale,
		Source:     "playbook/" + RuleScaleOut,
		Evidence:   evidence(anoms),
		Rejected: []Alternative{
			{Kind: patchers.KindSetHPA, Reason: fmt.Sprintf("no HPA targets %s", d.t)},
			{Kind: patchers.KindSetResources, Reason: bumpReason},
		},
	}, fields: []string{"replicas"}})
	return true
}

func lastSummary(as []detect.Anomaly) string {
	if len(as) == 0 {
		return ""
	}
	return as[len(as)-1].Summary
}

// crash handles crash loops: a commit that changed the container's
// config, env or image just before is reverted.
func (d *decision) crash() {
	anoms := d.s.of(symCrash)
	on := onset(anoms)
	for _, name := range d.s.containers(symCrash) {
		cont := name
		if name != "" {
			c, why := d.resolveContainer(name)
			if why != "" {
				d.reason("crash loop: %s", why)
				continue
			}
			cont = c.Name
		}
		mine := forContainer(anoms, name)
		cm, causes, ok := d.culprit(onset(mine), d.cfg.ReleaseWindow, cont, lowered("limits.memory"))
		if !ok {
			d.reason("%s %s (%s) with no change to its image, env or config within %s before the onset at %s: nothing in this repository to revert (a dependency, the node, or a one-off?)", subject(d.t, cont), crashVerb(mine), mine[0].Summary, brief(d.cfg.ReleaseWindow), on.UTC().Format(time.RFC3339))
			d.reject(patchers.KindRevertCommit, nil, "no commit touched %s within %s before the crash loop", subject(d.t, cont), brief(d.cfg.ReleaseWindow))
			d.reject(patchers.KindRollbackImage, nil, "no release preceded the crash loop: rolling back a victim is unsafe")
			continue
		}
		rule := RuleReleaseRegression
		for _, ch := range causes {
			if ch.Area != AreaImage {
				rule = RuleCrashLoopConfig
			}
		}
		scope := scopeOf(causes)
		if cont != "" {
			scope = []string{cont}
		}
		d.release(cm, causes, rule, "the crash loop of "+subject(d.t, cont), mine, scope)
	}
}

// crashVerb says what the crash anomalies show: one restart is not a crash
// loop.
func crashVerb(as []detect.Anomaly) string {
	n := 0.0
	for _, a := range as {
		if a.Kind != detect.KindEvent || a.Signal != "k8s.container.restarts" {
			return "crash-loops"
		}
		n += a.Observed
	}
	if n <= 1 {
		return "restarted once"
	}
	return "restarted"
}

// scopeOf lists the containers changes touch; nil (all) when one of them
// is workload-wide.
func scopeOf(chs []FieldChange) []string {
	var out []string
	for _, ch := range chs {
		if ch.Container == "" {
			return nil
		}
		if !slices.Contains(out, ch.Container) {
			out = append(out, ch.Container)
		}
	}
	return out
}

func subject(t patchers.Target, container string) string {
	if container == "" {
		return t.String()
	}
	return "container " + container + " of " + t.String()
}

// service handles latency and error regressions of the workload.
func (d *decision) service() {
	anoms := d.s.of(symLatency, symErrors)
	on := onset(anoms)
	cause := func(ch FieldChange) bool { return lowered("limits.")(ch) || lowerCount(ch) }
	if cm, causes, ok := d.culprit(on, d.cfg.ReleaseWindow, "", cause); ok {
		d.release(cm, causes, RuleReleaseRegression, "the latency or error regression of "+d.t.String(), anoms, scopeOf(causes),
			Alternative{Kind: patchers.KindScale, Reason: "more replicas of a regressed release multiply the regression"})
		return
	}
	if d.s.has(symCPULimit, symThrottling) {
		return // the CPU rule answered it
	}
	d.reason("latency or errors of %s rose (%s) with no commit touching it within %s before the onset at %s and no resource of it at its limit: the cause lies outside this repository (a dependency?)",
		d.t, anoms[0].Summary, brief(d.cfg.ReleaseWindow), on.UTC().Format(time.RFC3339))
	d.reject(patchers.KindRollbackImage, nil, "no release preceded the regression: rolling back a victim is unsafe")
	d.reject(patchers.KindScale, nil, "no resource of %s is saturated: more replicas of a victim do not help", d.t)
}

// culprit is the newest commit that landed before on (plus the slack),
// at most window before it, with a change that can cause the symptom of
// container (every container when ""): its image, env or config, another
// part of the pod, or a change cause accepts. The commit that created the
// target is no culprit.
func (d *decision) culprit(on time.Time, window time.Duration, container string, cause func(FieldChange) bool) (Commit, []FieldChange, bool) {
	for _, c := range d.commits {
		if c.Time.After(on.Add(d.cfg.OnsetSlack)) {
			continue
		}
		if on.Sub(c.Time) > window {
			continue // commit times need not fall along first-parent order
		}
		if c.Touches(AreaCreated, "") {
			continue
		}
		var causes []FieldChange
		for _, ch := range c.Changes {
			mine := container == "" || ch.Container == "" || ch.Container == container
			switch ch.Area {
			case AreaImage, AreaEnv:
				if mine {
					causes = append(causes, ch)
				}
			case AreaOther:
				// The workload's own metadata (labels, annotations
				// outside the pod template) changes nothing that runs.
				if mine && !strings.HasPrefix(ch.Field, "metadata.") {
					causes = append(causes, ch)
				}
			case AreaConfig:
				causes = append(causes, ch)
			default:
				if mine && cause(ch) {
					causes = append(causes, ch)
				}
			}
		}
		if len(causes) > 0 {
			return c, causes, true
		}
	}
	return Commit{}, nil, false
}

// lowered accepts a resource change of a field with prefix that lowers
// (or removes none of) a quantity.
func lowered(prefix string) func(FieldChange) bool {
	return func(ch FieldChange) bool {
		if ch.Area != AreaResources || !strings.HasPrefix(ch.Field, prefix) || ch.Before == "" || ch.After == "" {
			return false
		}
		b, e1 := resource.ParseQuantity(ch.Before)
		a, e2 := resource.ParseQuantity(ch.After)
		return e1 == nil && e2 == nil && a.Cmp(b) < 0
	}
}

// lowerCount accepts fewer replicas or a lower HPA maximum.
func lowerCount(ch FieldChange) bool {
	if ch.Area != AreaReplicas && !(ch.Area == AreaHPA && ch.Field == "maxReplicas") {
		return false
	}
	var b, a int
	_, e1 := fmt.Sscan(ch.Before, &b)
	_, e2 := fmt.Sscan(ch.After, &a)
	return e1 == nil && e2 == nil && a < b
}

// release proposes undoing commit c, whose causes explain what (the
// symptom, for the rationale): rollback_image previous when it changed
// only one container's image, else revert_commit. scope names the
// containers whose symptoms it explains (nil: all).
func (d *decision) release(c Commit, causes []FieldChange, rule, what string, anoms []detect.Anomaly, scope []string, also ...Alternative) {
	on := onset(anoms)
	ev := append(evidence(anoms), fmt.Sprintf("commit %s at %s %q: %s", c.Short(), c.Time.UTC().Format(time.RFC3339), c.Subject, describeChanges(c.Changes)))
	base := fmt.Sprintf("%s began at %s, %s after commit %s %q (%s) changed %s.",
		capitalize(what), on.UTC().Format(time.RFC3339), since(c.Time, on), c.Short(), c.Subject, c.Time.UTC().Format(time.RFC3339), describeChanges(causes))
	if rule == RuleMemoryLeak {
		base += " Memory that fills up after a release touching the container is the release's doing (a leak): raising the limit would only postpone the kill."
	}
	rejected := slices.Clone(also)
	img, only := onlyImage(causes)
	if only && img.Before != "" {
		var params patchers.RollbackImageParams
		how := "previous image"
		if d.imageChangedAfter(c, img.Container) {
			params.Image = img.Before
			how = fmt.Sprintf("image %s (a later commit changed the image again, so \"previous\" would not reach it)", img.Before)
		} else {
			params.Previous = true
		}
		in := d.intent(patchers.KindRollbackImage, img.Container, params)
		rejected = append(rejected, Alternative{Kind: patchers.KindRevertCommit, Reason: fmt.Sprintf("commit %s changed only the image of container %s: rollback_image is narrower than undoing the whole commit", c.Short(), img.Container)})
		d.add(candidate{Proposal: Proposal{
			Intent:     in,
			Rationale:  fmt.Sprintf("%s Roll container %s back to the %s, %s.", base, img.Container, how, img.Before),
			Confidence: confRollback,
			Source:     "playbook/" + rule,
			Evidence:   ev,
			Rejected:   rejected,
		}, fields: []string{img.Container + ".image"}, release: true, scope: scope})
		return
	}
	why := fmt.Sprintf("commit %s changed more than one container's image", c.Short())
	if !hasArea(causes, AreaImage) {
		why = fmt.Sprintf("commit %s changed no image", c.Short())
	} else if only {
		why = fmt.Sprintf("commit %s added the image: there is no earlier one", c.Short())
	} else if !onlyArea(causes, AreaImage) {
		why = fmt.Sprintf("commit %s changed more than the image (%s)", c.Short(), describeChanges(causes))
	}
	rejected = append(rejected, Alternative{Kind: patchers.KindRollbackImage, Reason: why + ": only reverting the commit undoes it"})
	in := d.intent(patchers.KindRevertCommit, "", patchers.RevertCommitParams{Commit: c.Hash})
	conf := confRevert
	if rule == RuleCrashLoopConfig {
		conf = confRollback
	}
	d.add(candidate{Proposal: Proposal{
		Intent:     in,
		Rationale:  fmt.Sprintf("%s Revert commit %s.", base, c.Short()),
		Confidence: conf,
		Source:     "playbook/" + rule,
		Evidence:   ev,
		Rejected:   rejected,
	}, fields: changeFields(c.Changes), release: true, scope: scope})
}

// imageChangedAfter reports whether a commit newer than c changed the
// image of container.
func (d *decision) imageChangedAfter(c Commit, container string) bool {
	for _, n := range d.commits {
		if n.Hash == c.Hash {
			return false
		}
		if n.Touches(AreaImage, container) {
			return true
		}
	}
	return false
}

func onlyImage(causes []FieldChange) (FieldChange, bool) {
	var img FieldChange
	for _, ch := range causes {
		if ch.Area != AreaImage || (img.Container != "" && ch.Container != img.Container) {
			return FieldChange{}, false
		}
		img = ch
	}
	return img, img.Area == AreaImage
}

func hasArea(chs []FieldChange, a Area) bool {
	return slices.ContainsFunc(chs, func(c FieldChange) bool { return c.Area == a })
}

func onlyArea(chs []FieldChange, a Area) bool {
	return !slices.ContainsFunc(chs, func(c FieldChange) bool { return c.Area != a })
}

// describeChanges lists changes briefly; environment variables and config
// objects by name only.
func describeChanges(chs []FieldChange) string {
	parts := make([]string, 0, len(chs))
	for _, ch := range chs {
		s := string(ch.Area)
		if ch.Field != "" && ch.Field != string(ch.Area) {
			s += " " + ch.Field
		}
		if ch.Container != "" {
			s += " of " + ch.Container
		}
		if ch.Before != "" || ch.After != "" {
			if ch.Area == AreaEnv {
				s += " (" + map[bool]string{true: "set", false: "unset"}[ch.After != ""] + ")"
			} else {
				s += " " + orNone(ch.Before) + " -> " + orNone(ch.After)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// since is how long after t the onset on was, briefly.
func since(t, on time.Time) string { return brief(max(on.Sub(t), 0)) }

// brief prints a duration without zero tails: 45s, 10m, 1h5m, 6h.
func brief(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// peak is the highest saturation ratio of as, as a percentage.
func peak(as []detect.Anomaly) string {
	r := 0.0
	for _, a := range as {
		if a.Kind == detect.KindSaturation {
			r = max(r, a.Observed)
		}
	}
	return fmt.Sprintf("%.0f%%", r*100)
}

// intent builds an intent on the target (and container) with params.
func (d *decision) intent(kind, container string, params any) patchers.Intent {
	b, err := json.Marshal(params)
	if err != nil {
		panic(err) // params are the patchers' own types
	}
	t := d.t
	t.Container = container
	return patchers.Intent{Kind: kind, Target: t, Params: b}
}

// add keeps a candidate whose intent is valid; an invalid one (a value
// from the repository that is not a valid parameter) is rejected.
func (d *decision) add(c candidate) {
	if err := c.Intent.Validate(); err != nil {
		d.reject(c.Intent.Kind, &c.Intent, "the computed intent is invalid: %v", err)
		return
	}
	d.cands = append(d.cands, c)
}

// Resource units steps are rounded to.
const (
	memUnit = 1 << 20 // 1Mi, in bytes
	cpuUnit = 50      // 50m, in millicores
)

// step is limit times factor, rounded up to unit (bytes for memory,
// millicores for CPU), bounded by MaxResourceFactor and max; why says why
// there is no step.
func (p *Playbook) step(limit string, factor float64, maxQ resource.Quantity, unit int64) (string, string) {
	q, err := resource.ParseQuantity(limit)
	if err != nil || q.Sign() <= 0 {
		return "", fmt.Sprintf("limit %q is not a positive quantity", limit)
	}
	cur, top := q.Value(), maxQ.Value()
	if unit == cpuUnit {
		cur, top = q.MilliValue(), maxQ.MilliValue()
	}
	want := int64(math.Ceil(float64(cur)*factor/float64(unit))) * unit
	bound := int64(math.Floor(float64(cur) * p.cfg.MaxResourceFactor))
	want = min(want, bound, top)
	if want <= cur {
		return "", fmt.Sprintf("limit %s is already at the cap %s", limit, maxQ.String())
	}
	if unit == cpuUnit {
		if want%1000 == 0 {
			return fmt.Sprint(want / 1000), ""
		}
		return fmt.Sprintf("%dm", want), ""
	}
	switch {
	case want%(1<<30) == 0:
		return fmt.Sprintf("%dGi", want>>30), ""
	case want%(1<<20) == 0:
		return fmt.Sprintf("%dMi", want>>20), ""
	}
	return fmt.Sprint(want), ""
}

// scaleTo is cur grown for a load rise of f: at least one more, at most
// MaxScaleFactor times and MaxReplicas.
func (p *Playbook) scaleTo(cur int32, f float64) (int32, string) {
	cur = max(cur, 1)
	next := int32(math.Ceil(float64(cur) * f))
	next = max(next, cur+1)
	next = min(next, int32(math.Floor(float64(cur)*p.cfg.MaxScaleFactor)), p.cfg.MaxReplicas)
	if next <= cur {
		return 0, fmt.Sprintf("%d replicas is already at the cap (max_replicas %d, max_scale_factor %g)", cur, p.cfg.MaxReplicas, p.cfg.MaxScaleFactor)
	}
	return next, ""
}

func resourceFields(container, side string, keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = container + "." + side + "." + k
	}
	return out
}

// changeFields are the fields a revert of changes sets.
func changeFields(chs []FieldChange) []string {
	var out []string
	for _, ch := range chs {
		var f string
		switch ch.Area {
		case AreaImage:
			f = ch.Container + ".image"
		case AreaResources:
			f = ch.Container + "." + ch.Field
		case AreaReplicas:
			f = "replicas"
		case AreaHPA:
			f = "hpa." + ch.Field
		default:
			f = string(ch.Area) + ":" + ch.Container + ":" + ch.Field
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// resolve drops duplicate intents, turns symptom bumps that a release
// explains into rejected alternatives, and keeps, of proposals that set
// one field, the first (release rollbacks come before bumps).
func (d *decision) resolve() []Proposal {
	var kept []candidate
	releases := slices.DeleteFunc(slices.Clone(d.cands), func(c candidate) bool { return !c.release })
	ordered := append(releases, slices.DeleteFunc(slices.Clone(d.cands), func(c candidate) bool { return c.release })...)
next:
	for _, c := range ordered {
		for i, k := range kept {
			if sameIntent(k.Intent, c.Intent) {
				kept[i].Evidence = appendNew(kept[i].Evidence, c.Evidence...)
				continue next
			}
		}
		if !c.release {
			for _, r := range releases {
				if r.explains(c) {
					d.rejectCand(c, "%s (%s) explains the symptom: a bump would hide a release regression", r.Source, describeIntent(r.Intent))
					continue next
				}
			}
		}
		for _, k := range kept {
			if f := shared(k.fields, c.fields); f != "" {
				d.rejectCand(c, "it would set %s, which %s (%s) already sets: two proposals must not fight over one field", f, k.Source, describeIntent(k.Intent))
				continue next
			}
		}
		kept = append(kept, c)
	}
	out := make([]Proposal, len(kept))
	for i, k := range kept {
		out[i] = k.Proposal
	}
	// Alternatives rejected at the incident level belong to every
	// proposal's record too.
	if len(out) > 0 {
		out[0].Rejected = append(out[0].Rejected, d.rejected...)
	}
	return out
}

func (d *decision) rejectCand(c candidate, format string, args ...any) {
	in := c.Intent
	d.rejected = append(d.rejected, Alternative{Kind: in.Kind, Intent: &in, Reason: fmt.Sprintf(format, args...)})
}

// explains reports whether release r accounts for bump c: a workload-wide
// bump (scale, set_hpa), or one on a container r's scope holds.
func (r candidate) explains(c candidate) bool {
	if r.scope == nil || c.Intent.Target.Container == "" {
		return true
	}
	return slices.Contains(r.scope, c.Intent.Target.Container)
}

func sameIntent(a, b patchers.Intent) bool {
	return a.Kind == b.Kind && a.Target == b.Target && string(a.Params) == string(b.Params)
}

func describeIntent(in patchers.Intent) string {
	return in.Kind + " " + in.Target.String() + " " + string(in.Params)
}

func shared(a, b []string) string {
	for _, x := range a {
		if slices.Contains(b, x) {
			return x
		}
	}
	return ""
}

func appendNew(dst []string, src ...string) []string {
	for _, s := range src {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}
