package patchers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Intent kinds: what a crew may ask for, each a row of the catalogue
// (kinds.go) and a branch of intent.schema.json. Anything else is rejected
// before a file is read.
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
	// The document as written, not as re-encoded, meets the schema: a
	// null the Go types would read as "" is refused as the schema says.
	if _, errs := in.decodeDoc(b); len(errs) > 0 {
		return Intent{}, fmt.Errorf("invalid intent: %w", errors.Join(errs...))
	}
	return in, nil
}

// Validate checks the intent against its kind's branch of IntentSchema,
// then what the schema cannot say (Params.check), and reports every
// problem at once.
func (in Intent) Validate() error {
	_, errs := in.decode()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid intent: %w", err)
	}
	return nil
}

// DecodeParams validates the intent and returns its params as the kind's
// Go type: *ResourcesParams, *ScaleParams, *HPAParams,
// *RollbackImageParams, *SetEnvParams or *RevertCommitParams.
func (in Intent) DecodeParams() (Params, error) {
	p, errs := in.decode()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid intent: %w", err)
	}
	return p, nil
}

// NeedsHistory reports whether carrying out the intent reads the
// repository's git history (rollback_image with previous: true,
// revert_commit). An invalid intent needs nothing.
func (in Intent) NeedsHistory() bool {
	p, errs := in.decode()
	if len(errs) > 0 {
		return false
	}
	h, ok := p.(historyParams)
	return ok && h.needsHistory()
}

// decode validates in's JSON form against the schema and decodes its
// params.
func (in Intent) decode() (Params, []error) {
	if _, ok := kindOf(in.Kind); !ok {
		return nil, []error{errUnknownKind(in.Kind)}
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, []error{fmt.Errorf("params are not valid JSON: %w", err)}
	}
	return in.decodeDoc(b)
}

// decodeDoc validates b, the JSON document of in, against in's kind's
// schema branch, decodes in's params and checks what the schema cannot.
func (in Intent) decodeDoc(b []byte) (Params, []error) {
	k, ok := kindOf(in.Kind)
	if !ok {
		return nil, []error{errUnknownKind(in.Kind)}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, []error{fmt.Errorf("params are not valid JSON: %w", err)}
	}
	c := catalogue()
	if err := c.branch[k.name].Validate(doc); err != nil {
		return nil, c.schemaErrors(err)
	}
	p := k.newParams()
	dec := json.NewDecoder(bytes.NewReader(in.Params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		// The schema passed, so the Go type disagrees with it: a defect
		// that TestSchemaMatchesParams catches; still refuse.
		return nil, []error{fmt.Errorf("params: %w", err)}
	}
	if errs := p.check(); len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func (p *ScaleParams) check() []error         { return nil }
func (p *SetEnvParams) check() []error        { return nil }
func (p *RevertCommitParams) check() []error  { return nil }
func (p *RollbackImageParams) check() []error { return nil }

func (p *RollbackImageParams) needsHistory() bool { return p.Previous }
func (p *RevertCommitParams) needsHistory() bool  { return true }

func (p *HPAParams) check() []error {
	if p.MinReplicas != nil && p.MaxReplicas != nil && *p.MinReplicas > *p.MaxReplicas {
		return []error{fmt.Errorf("params.minReplicas %d is above params.maxReplicas %d", *p.MinReplicas, *p.MaxReplicas)}
	}
	return nil
}

func (p *ResourcesParams) check() []error {
	var errs []error
	for _, side := range []struct {
		name string
		m    map[string]string
	}{{"limits", p.Limits}, {"requests", p.Requests}} {
		for _, k := range []string{"cpu", "memory"} {
			v, ok := side.m[k]
			if !ok {
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
	for _, k := range []string{"cpu", "memory"} {
		lim, okl := p.Limits[k]
		if req, ok := p.Requests[k]; ok && okl {
			l, e1 := resource.ParseQuantity(lim)
			r, e2 := resource.ParseQuantity(req)
			if e1 == nil && e2 == nil && l.Cmp(r) < 0 {
				errs = append(errs, fmt.Errorf("params: %s limit %s is below its request %s", k, lim, req))
			}
		}
	}
	return errs
}
