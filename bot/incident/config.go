package incident

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the Grouper. Every duration is event time.
type Config struct {
	// Window is the grouping window: an incident with nothing in flight
	// (suppressed, no_action, merged without verification) closes after
	// this much quiet, and a suppressed one this long after it was
	// suppressed. Until then its workload's anomalies join it.
	Window time.Duration `yaml:"window"`
	// Settle is how long a detected incident collects anomalies before
	// the crew is asked, so that it sees the whole picture (the OOM kill
	// and the working set at the limit). At most Window.
	Settle time.Duration `yaml:"settle"`
	// Cooldown suppresses a workload's new incidents for this long after
	// one of its pull requests merged.
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxOpenPerRepo caps the active incidents (detected to merged and
	// verification; not suppressed or no_action) of one repository; a
	// new incident over the cap is suppressed.
	MaxOpenPerRepo int `yaml:"max_open_per_repo"`
	// Flap suppresses a workload that keeps coming back.
	Flap FlapConfig `yaml:"flap"`
	// MaxAnomalies caps the anomalies kept on one incident; later ones
	// still join and are counted in DroppedAnomalies.
	MaxAnomalies int `yaml:"max_anomalies"`
	// MaxTracked caps the open incidents the grouper holds in memory,
	// across repositories; an anomaly that would open one more is
	// refused with an error.
	MaxTracked int `yaml:"max_tracked"`
}

// FlapConfig is flap suppression: when MaxIncidents incidents of one
// workload reached the crew within Window, its next one is suppressed.
type FlapConfig struct {
	MaxIncidents int           `yaml:"max_incidents"`
	Window       time.Duration `yaml:"window"`
}

// DefaultConfig groups for 10 minutes, settles for 2, cools down for 30
// after a merge, allows 5 active incidents per repository, suppresses a
// workload whose 3 incidents reached the crew within an hour, keeps 200
// anomalies per incident and tracks at most 10000 open incidents.
func DefaultConfig() Config {
	return Config{
		Window:         10 * time.Minute,
		Settle:         2 * time.Minute,
		Cooldown:       30 * time.Minute,
		MaxOpenPerRepo: 5,
		Flap:           FlapConfig{MaxIncidents: 3, Window: time.Hour},
		MaxAnomalies:   200,
		MaxTracked:     10000,
	}
}

// Validate reports every problem at once, each naming its key.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"window", c.Window},
		{"cooldown", c.Cooldown},
		{"flap.window", c.Flap.Window},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.key, d.v))
		}
	}
	if c.Settle < 0 || (c.Window > 0 && c.Settle > c.Window) {
		errs = append(errs, fmt.Errorf("settle: must be between 0 and window (%s), got %s", c.Window, c.Settle))
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_open_per_repo", c.MaxOpenPerRepo},
		{"flap.max_incidents", c.Flap.MaxIncidents},
		{"max_anomalies", c.MaxAnomalies},
		{"max_tracked", c.MaxTracked},
	} {
		if n.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %d", n.key, n.v))
		}
	}
	return errors.Join(errs...)
}

// RunCaps are a repository's pull-request caps from its .medic.yaml
// limits. They are counted through the Ledger, so they hold across
// restarts.
type RunCaps struct {
	// PRsPerHour is how many pull requests medic may open in the
	// repository in any hour (limits.prs_per_hour).
	PRsPerHour int `yaml:"prs_per_hour" json:"prs_per_hour"`
	// PRsPerWorkloadPerDay is how many it may open for one workload in
	// any 24 hours (limits.prs_per_workload_per_day).
	PRsPerWorkloadPerDay int `yaml:"prs_per_workload_per_day" json:"prs_per_workload_per_day"`
}

// Validate refuses a cap below 1: a zero cap would read as "no cap".
func (c RunCaps) Validate() error {
	var errs []error
	if c.PRsPerHour < 1 {
		errs = append(errs, fmt.Errorf("limits.prs_per_hour: must be positive, got %d", c.PRsPerHour))
	}
	if c.PRsPerWorkloadPerDay < 1 {
		errs = append(errs, fmt.Errorf("limits.prs_per_workload_per_day: must be positive, got %d", c.PRsPerWorkloadPerDay))
	}
	return errors.Join(errs...)
}
