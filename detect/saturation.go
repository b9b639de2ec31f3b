package detect

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// SaturationConfig configures the saturation detector: memory and CPU usage
// against their limits, and CPU throttling, per container of each pod.
//
// Usage and limit come from different receivers (kubeletstats reports what a
// container uses, k8s_cluster what its spec allows), so they arrive as
// different signals; the detector pairs them by namespace, pod and container.
type SaturationConfig struct {
	// Memory compares the working set (bytes) with the memory limit.
	Memory SaturationResource `yaml:"memory"`
	// CPU compares CPU usage (cores) with the CPU limit.
	CPU SaturationResource `yaml:"cpu"`
	// Throttling compares throttled CFS periods with all CFS periods
	// (both per second).
	Throttling SaturationResource `yaml:"throttling"`
	// Margin is how far below its threshold a ratio must fall before the
	// resource can raise again.
	Margin float64 `yaml:"margin"`
}

// SaturationResource names the signals of one resource and when its use is
// too close to the limit: Usage / Limit, or a ready-made Ratio, at or above
// Threshold continuously for For (event time).
type SaturationResource struct {
	// Disabled turns the resource off.
	Disabled bool `yaml:"disabled"`
	// Usage names the signals of what is used (bytes, cores, throttled
	// periods per second).
	Usage []string `yaml:"usage"`
	// Limit names the signals of what is allowed (bytes, cores, periods per
	// second).
	Limit []string `yaml:"limit"`
	// Ratio names signals that already are usage/limit (0..1), used when no
	// usage and limit pair is known.
	Ratio []string `yaml:"ratio"`
	// Threshold is the ratio (0..1] at which the resource is saturated.
	Threshold float64 `yaml:"threshold"`
	// For is how long, in event time, the ratio must stay at or above the
	// threshold before an anomaly is raised.
	For time.Duration `yaml:"for"`
}

// DefaultSaturationConfig reads the metric names of the Collector's
// kubeletstats (container.memory.working_set, container.cpu.usage,
// container.cpu.time, and the optional k8s.container.*_limit_utilization
// ratios), k8s_cluster (k8s.container.memory_limit, k8s.container.cpu_limit)
// and docker_stats receivers (container.cpu.throttling_data.*), and
// cAdvisor's throttling counters scraped by the prometheus receiver.
// kubeletstats itself reports no throttling.
func DefaultSaturationConfig() SaturationConfig {
	return SaturationConfig{
		Memory: SaturationResource{
			Usage:     []string{"container.memory.working_set"},
			Limit:     []string{"k8s.container.memory_limit"},
			Ratio:     []string{"k8s.container.memory_limit_utilization"},
			Threshold: 0.9,
			For:       2 * time.Minute,
		},
		CPU: SaturationResource{
			Usage:     []string{"container.cpu.usage", "container.cpu.time:rate"},
			Limit:     []string{"k8s.container.cpu_limit"},
			Ratio:     []string{"k8s.container.cpu_limit_utilization"},
			Threshold: 0.9,
			For:       2 * time.Minute,
		},
		Throttling: SaturationResource{
			Usage: []string{
				"container.cpu.cfs.throttled_periods:rate",
				"container.cpu.throttling_data.throttled_periods:rate",
				"container_cpu_cfs_throttled_periods_total:rate",
				"container_cpu_cfs_throttled_periods:rate",
			},
			Limit: []string{
				"container.cpu.cfs.periods:rate",
				"container.cpu.throttling_data.periods:rate",
				"container_cpu_cfs_periods_total:rate",
				"container_cpu_cfs_periods:rate",
			},
			Threshold: 0.25,
			For:       2 * time.Minute,
		},
		Margin: 0.05,
	}
}

// Validate reports every problem with the configuration at once.
func (c SaturationConfig) Validate() error {
	var errs []error
	seen := map[string]string{}
	for _, r := range []struct {
		name string
		res  SaturationResource
	}{{"memory", c.Memory}, {"cpu", c.CPU}, {"throttling", c.Throttling}} {
		if r.res.Disabled {
			continue
		}
		if !(r.res.Threshold > 0 && r.res.Threshold <= 1) {
			errs = append(errs, fmt.Errorf("%s: threshold must be in (0,1], got %v", r.name, r.res.Threshold))
		} else if c.Margin >= r.res.Threshold {
			errs = append(errs, fmt.Errorf("%s: margin %v must be below the threshold %v", r.name, c.Margin, r.res.Threshold))
		}
		if r.res.For < 0 {
			errs = append(errs, fmt.Errorf("%s: for must not be negative, got %s", r.name, r.res.For))
		}
		if len(r.res.Ratio) == 0 && (len(r.res.Usage) == 0 || len(r.res.Limit) == 0) {
			errs = append(errs, fmt.Errorf("%s: needs usage and limit signals, or ratio signals", r.name))
		}
		for _, list := range [][]string{r.res.Usage, r.res.Limit, r.res.Ratio} {
			for _, n := range list {
				if n == "" {
					errs = append(errs, fmt.Errorf("%s: empty signal name", r.name))
				} else if prev, dup := seen[n]; dup {
					errs = append(errs, fmt.Errorf("%s: signal %q is already used by %s", r.name, n, prev))
				}
				seen[n] = r.name
			}
		}
	}
	if !(c.Margin >= 0 && c.Margin < 1) {
		errs = append(errs, fmt.Errorf("margin must be in [0,1), got %v", c.Margin))
	}
	return errors.Join(errs...)
}

// Saturation resources and the roles of their signals.
const (
	satMemory = iota
	satCPU
	satThrottling
	satResources
)

const (
	satUsage = iota + 1
	satLimit
	satRatio
)

// satStale is how old the usage side of a ratio may be when a limit point
// triggers an evaluation.
const satStale = int64(5 * time.Minute)

// satRole says what a signal name is to the detector.
type satRole struct{ res, role uint8 }

// satKey identifies one container of one pod.
type satKey struct{ namespace, pod, container string }

// satPair is what is known about one container: the latest value of each
// role of each resource, and each resource's alert state.
type satPair struct {
	key  satKey
	refs int // signals attached
	res  [satResources]satRes
}

type satRes struct {
	usage, limit, ratio    float64
	usageT, limitT, ratioT int64 // 0: unknown
	usageSig, ratioSig     *Signal
	since                  int64 // first event time at or above the threshold; 0 below
	raised                 bool
}

// satSlot is the per-signal state.
type satSlot struct {
	pair *satPair
	r    satRole
}

// SaturationDetector raises KindSaturation anomalies when a container's
// memory or CPU use stays close to its limit, or its CPU is throttled in too
// many scheduling periods, for a configured time. It raises once per
// episode and re-arms when the ratio falls below threshold minus margin.
// Its state is one 16-byte slot per wanted signal (a map: the few wanted
// signals must not cost every signal of the shard) plus one record per
// container.
type SaturationDetector struct {
	cfg   SaturationConfig
	res   [satResources]SaturationResource
	roles map[string]satRole
	slots map[uint32]satSlot
	pairs map[satKey]*satPair
}

// NewSaturationDetector builds the saturation detector from a (validated)
// config.
func NewSaturationDetector(cfg SaturationConfig) Detector {
	d := &SaturationDetector{
		cfg:   cfg,
		res:   [satResources]SaturationResource{cfg.Memory, cfg.CPU, cfg.Throttling},
		roles: map[string]satRole{},
		slots: map[uint32]satSlot{},
		pairs: map[satKey]*satPair{},
	}
	for i, r := range d.res {
		if r.Disabled {
			continue
		}
		for role, names := range map[uint8][]string{satUsage: r.Usage, satLimit: r.Limit, satRatio: r.Ratio} {
			for _, n := range names {
				d.roles[n] = satRole{uint8(i), role}
			}
		}
	}
	return d
}

// Name is "saturation".
func (d *SaturationDetector) Name() string { return "saturation" }

// Wants reports whether sig is a configured usage, limit or ratio signal.
func (d *SaturationDetector) Wants(sig *Signal) bool {
	_, ok := d.roles[sig.Name]
	return ok
}

// satKeyOf names the container a signal is about. The pod name with its
// namespace identifies a pod whichever receiver reported it (they may derive
// different workloads for one pod); without one, the workload and instance
// do. cAdvisor series scraped by the prometheus receiver carry the pod and
// container as the point labels pod, container and namespace.
func satKeyOf(sig *Signal) satKey {
	var k satKey
	if w := sig.Workload; w != nil {
		k.namespace, k.container = w.Namespace, w.Container
	}
	label := func(keys ...string) string {
		for _, key := range keys {
			if v, ok := sig.Labels.Get(key); ok && v != "" {
				return v
			}
		}
		return ""
	}
	if k.container == "" {
		k.container = label(AttrContainer, "container")
	}
	if k.namespace == "" {
		k.namespace = label(AttrNamespace, "namespace")
	}
	if k.pod = label(AttrPod, "pod"); k.pod != "" {
		return k
	}
	wk := ""
	if sig.Workload != nil {
		wk = sig.Workload.Key()
	}
	k.pod = wk + "\x00" + label("service.instance.id")
	return k
}

// Observe records p for its role and evaluates the resource.
func (d *SaturationDetector) Observe(sig *Signal, p Point, emit Emit) {
	if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.V < 0 {
		return
	}
	slot, ok := d.slots[sig.ID]
	if !ok {
		r, ok := d.roles[sig.Name]
		if !ok {
			return
		}
		key := satKeyOf(sig)
		slot = satSlot{pair: d.pairs[key], r: r}
		if slot.pair == nil {
			slot.pair = &satPair{key: key}
			d.pairs[key] = slot.pair
		}
		slot.pair.refs++
		d.slots[sig.ID] = slot
	}
	res := &slot.pair.res[slot.r.res]
	switch slot.r.role {
	case satUsage:
		res.usage, res.usageT, res.usageSig = p.V, p.T, sig
	case satLimit:
		res.limit, res.limitT = p.V, p.T
		if res.usageT == 0 || p.T-res.usageT > satStale {
			return // nothing to compare the new limit with
		}
	case satRatio:
		res.ratio, res.ratioT, res.ratioSig = p.V, p.T, sig
	}
	d.evaluate(int(slot.r.res), res, slot.pair.key.container, p.T, emit)
}

func (d *SaturationDetector) evaluate(which int, res *satRes, container string, t int64, emit Emit) {
	cfg := &d.res[which]
	ratio, sig := 0.0, res.usageSig
	switch {
	case res.usageT != 0 && res.limitT != 0 && res.limit > 0:
		ratio = res.usage / res.limit
	case res.ratioT != 0:
		ratio, sig = res.ratio, res.ratioSig
	default:
		return // no limit known: nothing is near it
	}
	if ratio < cfg.Threshold {
		res.since = 0
		if ratio < cfg.Threshold-d.cfg.Margin {
			res.raised = false
		}
		return
	}
	if res.since == 0 {
		res.since = t
	}
	if res.raised || t-res.since < int64(cfg.For) {
		return
	}
	res.raised = true
	emit(sig, d.anomaly(which, res, sig, container, ratio, t))
}

func (d *SaturationDetector) anomaly(which int, res *satRes, sig *Signal, container string, ratio float64, t int64) Anomaly {
	th := d.res[which].Threshold
	dur := fmtDuration(time.Duration(t - res.since))
	pct := strconv.FormatFloat(math.Round(ratio*100), 'f', 0, 64) + "%"
	paired := sig == res.usageSig && res.limitT != 0
	var what string
	switch which {
	case satMemory:
		what = "memory at " + pct + " of its limit"
		if paired {
			what = "memory working set at " + pct + " of its " + fmtBytes(res.limit) + " limit"
		}
	case satCPU:
		what = "CPU at " + pct + " of its limit"
		if paired {
			what = "CPU usage at " + fmtValue(res.usage) + " cores, " + pct + " of its " + fmtValue(res.limit) + "-core limit,"
		}
	case satThrottling:
		what = "CPU throttled in " + pct + " of its CFS periods"
	}
	summary := what + " for " + dur
	a := Anomaly{
		Signal:   sig.Name,
		Kind:     KindSaturation,
		Detector: d.Name(),
		Onset:    time.Unix(0, res.since).UTC(),
		At:       time.Unix(0, t).UTC(),
		Score:    0.5 + 0.5*min(1, math.Max(0, (ratio-th)/math.Max(1-th, 1e-9))),
		Observed: ratio,
		Baseline: th,
	}
	if sig.Workload != nil {
		a.Workload = *sig.Workload
	}
	if container != "" {
		summary = "container " + container + " " + summary
	}
	a.Summary = summary
	return a
}

// Forget detaches sig from its container, dropping the container's record
// when no signal of it is left.
func (d *SaturationDetector) Forget(sig *Signal) {
	slot, ok := d.slots[sig.ID]
	if !ok {
		return
	}
	delete(d.slots, sig.ID)
	res := &slot.pair.res[slot.r.res]
	switch slot.r.role {
	case satUsage:
		if res.usageSig == sig {
			res.usage, res.usageT, res.usageSig = 0, 0, nil
		}
	case satLimit:
		res.limit, res.limitT = 0, 0
	case satRatio:
		if res.ratioSig == sig {
			res.ratio, res.ratioT, res.ratioSig = 0, 0, nil
		}
	}
	if slot.pair.refs--; slot.pair.refs <= 0 {
		delete(d.pairs, slot.pair.key)
	}
}

// Advance does nothing: records live as long as their signals.
func (d *SaturationDetector) Advance(int64, Emit) {}

// Containers is the number of containers with state.
func (d *SaturationDetector) Containers() int { return len(d.pairs) }

// fmtBytes prints a byte count as Kubernetes quantities do: 512Mi, 1.5Gi.
func fmtBytes(b float64) string {
	const units = "KMGTPE"
	if b < 1024 {
		return strconv.FormatFloat(math.Round(b), 'f', -1, 64)
	}
	i := -1
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatFloat(roundSignificant(b, 3), 'f', -1, 64) + units[i:i+1] + "i"
}

// fmtDuration prints an event-time span briefly: 45s, 3m, 1h5m.
func fmtDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
