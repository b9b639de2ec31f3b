package crew

import (
	"context"
	"io/fs"
	"time"

	"github.com/medic-bot/medic/patchers"
)

// RepoView is read access to the infrastructure repository at the base
// commit a proposal will be planned on. Implementations are safe for
// concurrent use.
type RepoView interface {
	// FS is the repository at the base commit.
	FS() fs.FS
	// Target renders the environment holding t and returns what it says
	// about t. A target defined nowhere in the repository is an error
	// wrapping patchers.ErrNotFound. t.Container is ignored: every
	// container is described.
	Target(ctx context.Context, t patchers.Target) (TargetFacts, error)
	// Commits returns at most n commits that changed the rendered target,
	// newest first, whose commit time is before until (event time; the
	// zero time means no bound), walking first-parent history back from
	// the base commit. Each says what it changed.
	Commits(ctx context.Context, t patchers.Target, until time.Time, n int) ([]Commit, error)
}

// TargetFacts is what the rendered manifests say about a target.
type TargetFacts struct {
	Target patchers.Target `json:"target"`
	// Dir is the folder the target renders from (overlay, values
	// environment, manifests folder).
	Dir string `json:"dir"`
	// Replicas is spec.replicas, nil when the manifests leave it out.
	Replicas   *int32      `json:"replicas,omitempty"`
	Containers []Container `json:"containers"`
	// HPA is the HorizontalPodAutoscaler whose scaleTargetRef names the
	// target, nil when none does.
	HPA *HPA `json:"hpa,omitempty"`
	// Config are the ConfigMaps and Secrets the pod template refers to
	// that the same render defines.
	Config []ConfigRef `json:"config,omitempty"`

	other string // canonical YAML of the target without the fields above
}

// Container is one container of the pod template.
type Container struct {
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	Init     bool              `json:"init,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
	Env      []EnvVar          `json:"env,omitempty"`

	other string // canonical YAML of the container without the fields above
}

// EnvVar is one environment variable of a container. Its value is kept for
// comparison only: it never appears in JSON, rationales or change
// descriptions, which name the variable alone.
type EnvVar struct {
	Name string `json:"name"`
	// From is the source kind of a valueFrom (secretKeyRef,
	// configMapKeyRef, fieldRef, resourceFieldRef), "" for a literal
	// value.
	From  string `json:"from,omitempty"`
	value string // the literal value or the canonical valueFrom
}

// HPA is the autoscaler of a target.
type HPA struct {
	Name        string `json:"name"`
	MinReplicas int32  `json:"minReplicas"`
	MaxReplicas int32  `json:"maxReplicas"`
	// TargetCPUUtilizationPercentage is the CPU target, nil when the HPA
	// scales on something else.
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// ConfigRef is a ConfigMap or Secret the target refers to.
type ConfigRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`

	digest string // digest of its canonical YAML
}

// Container returns the container called name (regular or init).
func (f TargetFacts) Container(name string) (Container, bool) {
	for _, c := range f.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return Container{}, false
}

// Regular lists the regular (not init) containers.
func (f TargetFacts) Regular() []Container {
	var out []Container
	for _, c := range f.Containers {
		if !c.Init {
			out = append(out, c)
		}
	}
	return out
}

// Area is what part of the rendered target a commit changed.
type Area string

// The areas of a change.
const (
	AreaImage     Area = "image"
	AreaEnv       Area = "env"
	AreaResources Area = "resources"
	AreaReplicas  Area = "replicas"
	AreaHPA       Area = "hpa"
	// AreaConfig is a ConfigMap or Secret the target refers to.
	AreaConfig Area = "config"
	// AreaCreated marks the commit that added the target.
	AreaCreated Area = "created"
	// AreaOther is anything else of the target (command, probes, labels,
	// volumes, ...), or a render that failed on one side.
	AreaOther Area = "other"
)

// FieldChange is one change a commit made to the rendered target.
type FieldChange struct {
	Area Area `json:"area"`
	// Container is the container changed, "" for the workload.
	Container string `json:"container,omitempty"`
	// Field names what changed: "limits.memory", an environment variable's
	// name, "maxReplicas", "ConfigMap/name", a path for other changes.
	Field string `json:"field,omitempty"`
	// Before and After are the values, empty when absent on that side.
	// Environment variables and config objects leave them empty: their
	// values may be secret.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Commit is one commit that changed the rendered target.
type Commit struct {
	Hash string `json:"hash"`
	// Time is the committer time (when the change landed).
	Time    time.Time     `json:"time"`
	Subject string        `json:"subject"`
	Message string        `json:"message,omitempty"`
	Changes []FieldChange `json:"changes"`
}

// Short is the commit's abbreviated hash.
func (c Commit) Short() string {
	if len(c.Hash) > 7 {
		return c.Hash[:7]
	}
	return c.Hash
}

// Touches reports whether the commit changed area (of container, when
// container is not "": workload-level changes count for every container).
func (c Commit) Touches(area Area, container string) bool {
	for _, ch := range c.Changes {
		if ch.Area == area && (container == "" || ch.Container == "" || ch.Container == container) {
			return true
		}
	}
	return false
}
