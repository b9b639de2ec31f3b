package crew

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/detect"
)

// Config configures the crew package: the playbook's rules and the repo
// view's history walk.
type Config struct {
	Playbook PlaybookConfig `yaml:"playbook"`
	History  HistoryConfig  `yaml:"history"`
}

// DefaultConfig is DefaultPlaybookConfig and DefaultHistoryConfig.
func DefaultConfig() Config {
	return Config{Playbook: DefaultPlaybookConfig(), History: DefaultHistoryConfig()}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	return errors.Join(c.Playbook.Validate(), c.History.Validate())
}

// PlaybookConfig configures the playbook crew. The resource caps mirror
// the default policy's (policy/bundle: max_resource_factor, max_memory,
// max_cpu, max_replicas), so that a playbook proposal stays within what
// the policy merges on its own; set them alike when the policy's differ.
type PlaybookConfig struct {
	// Signals say which anomaly signals are which symptom.
	Signals Signals `yaml:"signals"`
	// MemoryStep and CPUStep multiply the current limit when it is too
	// small (the observed use is censored by the limit, so the step
	// starts from the limit, not from the peak).
	MemoryStep float64 `yaml:"memory_step"`
	CPUStep    float64 `yaml:"cpu_step"`
	// MaxResourceFactor bounds a new limit to this times the old.
	MaxResourceFactor float64 `yaml:"max_resource_factor"`
	// MaxMemory and MaxCPU cap a new limit (Kubernetes quantities).
	MaxMemory string `yaml:"max_memory"`
	MaxCPU    string `yaml:"max_cpu"`
	// MaxReplicas caps replicas and an HPA's maxReplicas.
	MaxReplicas int32 `yaml:"max_replicas"`
	// MaxScaleFactor bounds a scale (or an HPA maximum) to this times the
	// current count.
	MaxScaleFactor float64 `yaml:"max_scale_factor"`
	// MinLoadFactor is how many times its baseline the request rate must
	// reach to count as a rise in load.
	MinLoadFactor float64 `yaml:"min_load_factor"`
	// ReleaseWindow is how long after a commit touching the target a
	// regression (latency, errors, crash loop, CPU saturation) is blamed
	// on it; LeakWindow the same for memory growth, OOM kills and memory
	// at its limit, which a leak reaches hours after its release.
	ReleaseWindow time.Duration `yaml:"release_window"`
	LeakWindow    time.Duration `yaml:"leak_window"`
	// OnsetSlack lets a commit land this long after a detector's onset
	// estimate and still count as before it (onsets are estimated from
	// windows of data).
	OnsetSlack time.Duration `yaml:"onset_slack"`
	// Commits is how many commits touching the target are read.
	Commits int `yaml:"commits"`
}

// Signals map anomaly signal names (path.Match patterns) to symptoms.
type Signals struct {
	// OOM are OOM kill events.
	OOM []string `yaml:"oom"`
	// MemoryLimit are memory saturation signals (use against the limit).
	MemoryLimit []string `yaml:"memory_limit"`
	// MemoryGrowth are memory use signals whose rise (a score anomaly
	// above its baseline) is growth.
	MemoryGrowth []string `yaml:"memory_growth"`
	// CPULimit are CPU saturation signals; Throttling CFS throttling.
	CPULimit   []string `yaml:"cpu_limit"`
	Throttling []string `yaml:"throttling"`
	// Latency and Errors are request latency and error signals (SLO burn,
	// or a score anomaly above the baseline).
	Latency []string `yaml:"latency"`
	Errors  []string `yaml:"errors"`
	// Load is the request rate.
	Load []string `yaml:"load"`
	// Crash are crash loop, failing probe and restart signals.
	Crash []string `yaml:"crash"`
	// NodePressure are evictions and scheduling failures: the node, not
	// the workload, is short.
	NodePressure []string `yaml:"node_pressure"`
}

// DefaultSignals names the signals detect's default configuration raises.
func DefaultSignals() Signals {
	sat := detect.DefaultSaturationConfig()
	return Signals{
		OOM:          []string{"k8s.event:oom_killed"},
		MemoryLimit:  slices.Concat(sat.Memory.Usage, sat.Memory.Ratio),
		MemoryGrowth: slices.Concat(sat.Memory.Usage, sat.Memory.Ratio, []string{"container.memory.*", "k8s.pod.memory.*"}),
		CPULimit:     slices.Concat(sat.CPU.Usage, sat.CPU.Ratio),
		Throttling:   slices.Clone(sat.Throttling.Usage),
		Latency:      []string{"requests:latency", "requests:p50", "requests:p99"},
		Errors:       []string{"requests:error_ratio", "logs.error:rate"},
		Load:         []string{"requests:rate"},
		Crash:        []string{"k8s.event:crash_loop", "k8s.event:unhealthy", "k8s.container.restarts"},
		NodePressure: []string{"k8s.event:evicted", "k8s.event:failed_scheduling", "k8s.node.*"},
	}
}

// DefaultPlaybookConfig steps limits by 1.5x within the default policy's
// 2x auto-merge bound and its caps (8Gi, 4 cores, 20 replicas), blames a
// regression on a commit up to 1h before it (memory growth: 6h).
func DefaultPlaybookConfig() PlaybookConfig {
	return PlaybookConfig{
		Signals:           DefaultSignals(),
		MemoryStep:        1.5,
		CPUStep:           1.5,
		MaxResourceFactor: 2,
		MaxMemory:         "8Gi",
		MaxCPU:            "4",
		MaxReplicas:       20,
		MaxScaleFactor:    2,
		MinLoadFactor:     1.3,
		ReleaseWindow:     time.Hour,
		LeakWindow:        6 * time.Hour,
		OnsetSlack:        5 * time.Minute,
		Commits:           20,
	}
}

// Validate reports every problem at once.
func (c PlaybookConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name  string
		v     float64
		lo    float64
		hiMax float64
	}{
		{"memory_step", c.MemoryStep, 1, 10}, {"cpu_step", c.CPUStep, 1, 10},
		{"max_resource_factor", c.MaxResourceFactor, 1, 10}, {"max_scale_factor", c.MaxScaleFactor, 1, 10},
		{"min_load_factor", c.MinLoadFactor, 1, 100},
	} {
		if !(f.v > f.lo && f.v <= f.hiMax) {
			errs = append(errs, fmt.Errorf("playbook.%s must be above %g and at most %g, got %g", f.name, f.lo, f.hiMax, f.v))
		}
	}
	if c.MemoryStep > c.MaxResourceFactor {
		errs = append(errs, fmt.Errorf("playbook.memory_step %g is above max_resource_factor %g", c.MemoryStep, c.MaxResourceFactor))
	}
	if c.CPUStep > c.MaxResourceFactor {
		errs = append(errs, fmt.Errorf("playbook.cpu_step %g is above max_resource_factor %g", c.CPUStep, c.MaxResourceFactor))
	}
	for name, q := range map[string]string{"max_memory": c.MaxMemory, "max_cpu": c.MaxCPU} {
		if v, err := resource.ParseQuantity(q); err != nil || v.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("playbook.%s %q is not a positive Kubernetes quantity", name, q))
		}
	}
	if c.MaxReplicas < 1 || c.MaxReplicas > 10000 {
		errs = append(errs, fmt.Errorf("playbook.max_replicas must be from 1 to 10000, got %d", c.MaxReplicas))
	}
	for name, d := range map[string]time.Duration{"release_window": c.ReleaseWindow, "leak_window": c.LeakWindow} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("playbook.%s must be positive, got %s", name, d))
		}
	}
	if c.OnsetSlack < 0 || c.OnsetSlack > c.ReleaseWindow {
		errs = append(errs, fmt.Errorf("playbook.onset_slack must be from 0 to release_window %s, got %s", c.ReleaseWindow, c.OnsetSlack))
	}
	if c.Commits < 1 || c.Commits > 1000 {
		errs = append(errs, fmt.Errorf("playbook.commits must be from 1 to 1000, got %d", c.Commits))
	}
	errs = append(errs, c.Signals.validate()...)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (s Signals) validate() []error {
	var errs []error
	for name, list := range s.lists() {
		for _, p := range list {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				errs = append(errs, fmt.Errorf("playbook.signals.%s: %q is not a signal pattern", name, p))
			}
		}
	}
	return errs
}

func (s Signals) lists() map[string][]string {
	return map[string][]string{
		"oom": s.OOM, "memory_limit": s.MemoryLimit, "memory_growth": s.MemoryGrowth,
		"cpu_limit": s.CPULimit, "throttling": s.Throttling, "latency": s.Latency,
		"errors": s.Errors, "load": s.Load, "crash": s.Crash, "node_pressure": s.NodePressure,
	}
}
