package policy

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// InputSchema is the JSON Schema of Input's JSON form.
//
//go:embed input.schema.json
var InputSchema []byte

//go:embed bundle/*.rego
var defaultBundle embed.FS

// DefaultBundle returns the policy bundle shipped in the binary: its .rego
// modules and their _test.rego unit tests at the root of the FS.
func DefaultBundle() fs.FS {
	sub, err := fs.Sub(defaultBundle, "bundle")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// Input is the document a policy decides on.
type Input struct {
	// Incident is the incident the proposal answers, as a JSON object.
	Incident map[string]any `json:"incident,omitempty"`
	Proposal Proposal       `json:"proposal"`
	// Change is the patcher's plan, in the form `medic patch --json`
	// prints.
	Change patchers.Change `json:"change"`
	Repo   Repo            `json:"repo"`
	// Now is the decision time; the policy's time.now_ns() returns it.
	Now time.Time `json:"now"`
}

// Proposal is a crew's proposal: the intent, why, and how sure.
type Proposal struct {
	Intent     patchers.Intent `json:"intent"`
	Rationale  string          `json:"rationale,omitempty"`
	Confidence float64         `json:"confidence,omitempty"`
	// Source names who proposed it: playbook, llm, history.
	Source string `json:"source"`
}

// Repo names the infrastructure repository and its environment.
type Repo struct {
	Owner         string `json:"owner"`
	Name          string `json:"name"`
	DefaultBranch string `json:"default_branch"`
	Environment   string `json:"environment"`
}

// Decision is a policy's answer.
type Decision struct {
	// Allow says the change may be proposed as a pull request.
	Allow bool `json:"allow"`
	// Automerge says medic may merge it without a human.
	Automerge bool     `json:"automerge"`
	Reasons   []string `json:"reasons"`
	Labels    []string `json:"labels"`
}

// LabelPolicyError is set on decisions made by failing closed.
const LabelPolicyError = "medic/policy-error"

// FailClosed is the decision taken when the policy cannot answer: no
// proposal, no merge, and why.
func FailClosed(err error) Decision {
	return Decision{
		Reasons: []string{"policy evaluation failed: " + err.Error()},
		Labels:  []string{LabelPolicyError},
	}
}

// Gate decides on a proposed change.
type Gate interface {
	// Decide returns the decision for in. Implementations fail closed: a
	// policy that cannot answer yields a Decision without Allow and
	// Automerge and with the reason, not an error; the error is for a
	// cancelled ctx only. Safe for concurrent use.
	Decide(ctx context.Context, in Input) (Decision, error)
}

// GateFunc adapts a function to Gate.
type GateFunc func(ctx context.Context, in Input) (Decision, error)

// Decide calls f.
func (f GateFunc) Decide(ctx context.Context, in Input) (Decision, error) { return f(ctx, in) }

// Options tune a gate.
type Options struct {
	// Timeout bounds one evaluation; zero means 100ms.
	Timeout time.Duration
	// Sandbox bounds the child process a repository's policy compiles and
	// evaluates in (NewRepoGate); zero means DefaultSandboxLimits.
	Sandbox render.Limits
}

// DefaultTimeout bounds one evaluation when Options.Timeout is zero.
const DefaultTimeout = 100 * time.Millisecond

// Bundle is a set of parsed policy modules and data, ready to compile.
type Bundle struct {
	// Modules maps file names to parsed modules (tests excluded).
	Modules map[string]*ast.Module
	// Tests maps file names to parsed _test.rego modules.
	Tests map[string]*ast.Module
	// Data is the data document, rooted at data.
	Data map[string]any
}

// OPAGate is a Gate over a compiled Rego bundle.
type OPAGate struct {
	query   rego.PreparedEvalQuery
	full    bool // the policy defines data.medic.decision
	timeout time.Duration
}

var _ Gate = (*OPAGate)(nil)

const (
	decisionQuery  = "data.medic.decision"
	assembledQuery = `deny := [m | some m in data.medic.deny]
review := [m | some m in data.medic.review]
automerge := [b | b := data.medic.automerge]
labels := [l | some l in data.medic.labels]`
)

// NewGate compiles b once and returns a gate evaluating it. The error names
// the file and line of a compile error.
func NewGate(ctx context.Context, b Bundle, opts Options) (*OPAGate, error) {
	if len(b.Modules) == 0 {
		return nil, errors.New("compile policy: no modules")
	}
	g := &OPAGate{timeout: opts.Timeout}
	if g.timeout <= 0 {
		g.timeout = DefaultTimeout
	}
	hasMedic := false
	for _, m := range b.Modules {
		if m.Package.Path.String() != "data.medic" {
			continue
		}
		hasMedic = true
		for _, r := range m.Rules {
			if r.Head.Name.String() == "decision" || r.Head.Ref().String() == "decision" {
				g.full = true
			}
		}
	}
	if !hasMedic {
		return nil, errors.New("compile policy: no module in package medic")
	}
	store := inmem.New()
	if b.Data != nil {
		store = inmem.NewFromObject(b.Data)
	}
	q := assembledQuery
	if g.full {
		q = decisionQuery
	}
	if err := checkModules(b.Modules); err != nil {
		return nil, fmt.Errorf("compile policy: %w", err)
	}
	// print output is dropped (the compiler erases print calls): a policy's
	// text never reaches medic's logs.
	args := []func(*rego.Rego){rego.Query(q), rego.Store(store),
		rego.Capabilities(Capabilities()), rego.EnablePrintStatements(false)}
	for _, m := range b.Modules {
		args = append(args, rego.ParsedModule(m))
	}
	pq, err := rego.New(args...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policy: %w", explainRefused(err))
	}
	g.query = pq
	return g, nil
}

// Decide evaluates the policy on in with in.Now as the evaluation time,
// within the gate's timeout. See the package doc for failing closed.
func (g *OPAGate) Decide(ctx context.Context, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	doc, err := inputValue(in)
	if err != nil {
		return FailClosed(err), nil
	}
	ectx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	rs, err := g.query.Eval(ectx, rego.EvalParsedInput(doc), rego.EvalTime(in.Now))
	if err != nil {
		if ctx.Err() != nil {
			return Decision{}, ctx.Err()
		}
		if ectx.Err() != nil {
			return FailClosed(fmt.Errorf("timed out after %s", g.timeout)), nil
		}
		return FailClosed(err), nil
	}
	// OPA checks the deadline only now and then: an answer that arrives
	// after it is a timeout all the same, so the bound holds exactly.
	if ectx.Err() != nil && ctx.Err() == nil {
		return FailClosed(fmt.Errorf("timed out after %s", g.timeout)), nil
	}
	var d Decision
	if g.full {
		d, err = fullDecision(rs)
	} else {
		d, err = assembled(rs)
	}
	if err != nil {
		return FailClosed(err), nil
	}
	return d, nil
}

// inputValue converts in to an AST value through its JSON form, so the
// policy sees exactly the documented document.
func inputValue(in Input) (ast.Value, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	v, err := ast.ValueFromReader(bytesReader(b))
	if err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	return v, nil
}

func fullDecision(rs rego.ResultSet) (Decision, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{}, errors.New("data.medic.decision is undefined")
	}
	if len(rs) > 1 {
		return Decision{}, errors.New("data.medic.decision has more than one value")
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("data.medic.decision is %T, want an object", rs[0].Expressions[0].Value)
	}
	var d Decision
	var errs []error
	for k, v := range obj {
		switch k {
		case "allow", "automerge":
			b, ok := v.(bool)
			if !ok {
				errs = append(errs, fmt.Errorf("decision.%s is %T, want a boolean", k, v))
			}
			if k == "allow" {
				d.Allow = b
			} else {
				d.Automerge = b
			}
		case "reasons", "labels":
			ss, err := stringList(k, v)
			errs = append(errs, err)
			if k == "reasons" {
				d.Reasons = ss
			} else {
				d.Labels = ss
			}
		default:
			errs = append(errs, fmt.Errorf("decision has unknown key %q", k))
		}
	}
	for _, k := range []string{"allow", "automerge", "reasons", "labels"} {
		if _, ok := obj[k]; !ok {
			errs = append(errs, fmt.Errorf("decision.%s is missing", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Decision{}, fmt.Errorf("decision does not match its schema: %w", err)
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	if d.Labels == nil {
		d.Labels = []string{}
	}
	if d.Automerge && !d.Allow {
		d.Automerge = false // a merge of what may not be proposed is never right
	}
	return d, nil
}

func assembled(rs rego.ResultSet) (Decision, error) {
	if len(rs) != 1 {
		return Decision{}, errors.New("data.medic rules are undefined")
	}
	b := rs[0].Bindings
	var errs []error
	deny, err := stringList("deny", b["deny"])
	errs = append(errs, err)
	review, err := stringList("review", b["review"])
	errs = append(errs, err)
	labels, err := stringList("labels", b["labels"])
	errs = append(errs, err)
	am, _ := b["automerge"].([]any)
	automerge := false
	for _, v := range am {
		bv, ok := v.(bool)
		if !ok {
			errs = append(errs, fmt.Errorf("automerge is %T, want a boolean", v))
		}
		automerge = bv
	}
	if err := errors.Join(errs...); err != nil {
		return Decision{}, fmt.Errorf("decision does not match its schema: %w", err)
	}
	sort.Strings(deny)
	sort.Strings(review)
	sort.Strings(labels)
	d := Decision{
		Allow:   len(deny) == 0,
		Reasons: append(deny, review...),
		Labels:  labels,
	}
	d.Automerge = d.Allow && len(review) == 0 && automerge
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	if d.Labels == nil {
		d.Labels = []string{}
	}
	return d, nil
}

func stringList(name string, v any) ([]string, error) {
	if v == nil {
		return []string{}, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a list of strings", name, v)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s holds %T, want strings", name, e)
		}
		out = append(out, s)
	}
	return out, nil
}
