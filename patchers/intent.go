package patchers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Intent kinds: what a crew may ask for. Anything else is rejected before a
// file is read.
const (
	KindSetResources  = "set_resources"
	KindScale         = "scale"
	KindSetHPA        = "set_hpa"
	KindRollbackImage = "rollback_image"
	KindSetEnv        = "set_env"
	KindRevertCommit  = "revert_commit"
)

// Target names the container of a workload an intent changes.
type Target struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Container string `json:"container,omitempty"`
}

// String is "namespace/Kind/name[container]".
func (t Target) String() string {
	s := t.Namespace + "/" + t.Kind + "/" + t.Name
	if t.Container != "" {
		s += "[" + t.Container + "]"
	}
	return s
}

// Intent is a typed remediation request, the crew's output and the
// patchers' input. Its JSON form is ARCHITECTURE.md's:
//
//	{"kind": "set_resources", "target": {...}, "params": {"limits": {"memory": "768Mi"}}}
type Intent struct {
	Kind   string          `json:"kind"`
	Target Target          `json:"target"`
	Params json.RawMessage `json:"params"`
}

// ResourcesParams are set_resources' params: only listed fields change.
type ResourcesParams struct {
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
}

// ScaleParams are scale's params.
type ScaleParams struct {
	Replicas *int32 `json:"replicas"`
}

// HPAParams are set_hpa's params: any of the three.
type HPAParams struct {
	MinReplicas                    *int32 `json:"minReplicas,omitempty"`
	MaxReplicas                    *int32 `json:"maxReplicas,omitempty"`
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// RollbackImageParams are rollback_image's params: an image reference, or
// previous: the value before the last change in git history.
type RollbackImageParams struct {
	Image    string `json:"image,omitempty"`
	Previous bool   `json:"previous,omitempty"`
}

// SetEnvParams are set_env's params.
type SetEnvParams struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// RevertCommitParams are revert_commit's params.
type RevertCommitParams struct {
	Commit string `json:"commit"`
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSub     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envName    = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	commitHash = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
	imageRef   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$`)
)

// workloadKinds are the kinds an intent may target.
var workloadKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true}

// ParseIntent decodes and validates an intent's JSON strictly: unknown
// fields, unknown kinds and invalid values are errors naming what is wrong.
func ParseIntent(b []byte) (Intent, error) {
	var in Intent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Intent{}, fmt.Errorf("parse intent: %w", err)
	}
	if dec.More() {
		return Intent{}, errors.New("parse intent: trailing data after the JSON object")
	}
	if err := in.Validate(); err != nil {
		return Intent{}, err
	}
	return in, nil
}

// decodeParams decodes p strictly into v.
func decodeParams(p json.RawMessage, v any) error {
	if len(bytes.TrimSpace(p)) == 0 || string(bytes.TrimSpace(p)) == "null" {
		return errors.New("params are missing")
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return nil
}

// Validate checks the target and the params of the intent's kind, and
// reports every problem at once.
func (in Intent) Validate() error {
	var errs []error
	t := in.Target
	if !dnsLabel.MatchString(t.Namespace) || len(t.Namespace) > 63 {
		errs = append(errs, fmt.Errorf("target.namespace %q is not a Kubernetes namespace name", t.Namespace))
	}
	if !workloadKinds[t.Kind] {
		errs = append(errs, fmt.Errorf("target.kind %q: want Deployment, StatefulSet or DaemonSet", t.Kind))
	}
	if !dnsSub.MatchString(t.Name) || len(t.Name) > 253 {
		errs = append(errs, fmt.Errorf("target.name %q is not a Kubernetes object name", t.Name))
	}
	if t.Container != "" && (!dnsLabel.MatchString(t.Container) || len(t.Container) > 63) {
		errs = append(errs, fmt.Errorf("target.container %q is not a container name", t.Container))
	}
	switch in.Kind {
	case KindSetResources:
		var p ResourcesParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
			break
		}
		errs = append(errs, p.validate()...)
	case KindScale:
		var p ScaleParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
		} else if p.Replicas == nil || *p.Replicas < 0 || *p.Replicas > 10000 {
			errs = append(errs, errors.New("params.replicas must be a number from 0 to 10000"))
		}
	case KindSetHPA:
		var p HPAParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
			break
		}
		if p.MinReplicas == nil && p.MaxReplicas == nil && p.TargetCPUUtilizationPercentage == nil {
			errs = append(errs, errors.New("params: set_hpa needs minReplicas, maxReplicas or targetCPUUtilizationPercentage"))
		}
		if p.MinReplicas != nil && (*p.MinReplicas < 1 || *p.MinReplicas > 10000) {
			errs = append(errs, errors.New("params.minReplicas must be from 1 to 10000"))
		}
		if p.MaxReplicas != nil && (*p.MaxReplicas < 1 || *p.MaxReplicas > 10000) {
			errs = append(errs, errors.New("params.maxReplicas must be from 1 to 10000"))
		}
		if p.MinReplicas != nil && p.MaxReplicas != nil && *p.MinReplicas > *p.MaxReplicas {
			errs = append(errs, errors.New("params.minReplicas is above params.maxReplicas"))
		}
		if c := p.TargetCPUUtilizationPercentage; c != nil && (*c < 1 || *c > 100) {
			errs = append(errs, errors.New("params.targetCPUUtilizationPercentage must be from 1 to 100"))
		}
	case KindRollbackImage:
		var p RollbackImageParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
			break
		}
		switch {
		case p.Image != "" && p.Previous:
			errs = append(errs, errors.New("params: give image or previous, not both"))
		case p.Image == "" && !p.Previous:
			errs = append(errs, errors.New("params: rollback_image needs image or previous: true"))
		case p.Image != "" && (!imageRef.MatchString(p.Image) || len(p.Image) > 512):
			errs = append(errs, fmt.Errorf("params.image %q is not an image reference", p.Image))
		}
	case KindSetEnv:
		var p SetEnvParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
			break
		}
		if !envName.MatchString(p.Name) {
			errs = append(errs, fmt.Errorf("params.name %q is not an environment variable name", p.Name))
		}
		if p.Value == nil {
			errs = append(errs, errors.New("params.value is missing"))
		}
	case KindRevertCommit:
		var p RevertCommitParams
		if err := decodeParams(in.Params, &p); err != nil {
			errs = append(errs, err)
		} else if !commitHash.MatchString(strings.ToLower(p.Commit)) {
			errs = append(errs, fmt.Errorf("params.commit %q is not a commit hash", p.Commit))
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q is not one of set_resources, scale, set_hpa, rollback_image, set_env, revert_commit", in.Kind))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid intent: %w", err)
	}
	return nil
}

func (p ResourcesParams) validate() []error {
	var errs []error
	if len(p.Limits) == 0 && len(p.Requests) == 0 {
		errs = append(errs, errors.New("params: set_resources needs limits or requests"))
	}
	for _, side := range []struct {
		name string
		m    map[string]string
	}{{"limits", p.Limits}, {"requests", p.Requests}} {
		for k, v := range side.m {
			if k != "cpu" && k != "memory" {
				errs = append(errs, fmt.Errorf("params.%s.%s: only cpu and memory can be set", side.name, k))
				continue
			}
			q, err := resource.ParseQuantity(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("params.%s.%s %q is not a Kubernetes quantity", side.name, k, v))
				continue
			}
			if q.Sign() <= 0 {
				errs = append(errs, fmt.Errorf("params.%s.%s %q must be above zero", side.name, k, v))
			}
		}
	}
	for k, lim := range p.Limits {
		if req, ok := p.Requests[k]; ok {
			l, e1 := resource.ParseQuantity(lim)
			r, e2 := resource.ParseQuantity(req)
			if e1 == nil && e2 == nil && l.Cmp(r) < 0 {
				errs = append(errs, fmt.Errorf("params: %s limit %s is below its request %s", k, lim, req))
			}
		}
	}
	return errs
}
