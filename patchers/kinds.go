package patchers

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// IntentSchema is intent.schema.json: the JSON Schema (draft 2020-12) of
// every intent kind, one oneOf branch per kind under $defs/<kind>. It is
// the source of Go validation (Intent.Validate validates against the
// kind's branch), of the README's table of kinds and params, and of a
// crew's output model.
//
//go:embed intent.schema.json
var IntentSchema []byte

// kinds is the intent catalogue, one row per kind: the one list of kinds
// that everything else (forge branch names, forgetest, medic patch --help,
// the README table, the policy and playbook tests) reads. Adding a kind:
//
//  1. here: a Kind constant, a params struct with a check method (and
//     needsHistory if it may read git history), and a row;
//  2. intent.schema.json: $defs/<kind> with a description, its params
//     (each named in the params' description) and examples, and a oneOf
//     reference to it; then go test ./patchers -run TestREADMEKinds -update
//     rewrites README's table;
//  3. each patcher (kustomize, helm, manifest) plans it, or returns
//     ErrNotSupported when it needs history and patchers/history carries
//     it out (patchers/registry's TestEveryKindHasPatcherSupport);
//  4. policy/bundle/medic.rego puts it in auto_kinds (with safe_intent and
//     not_auto rules) or review_kinds (policy's TestBundleDecidesEveryKind),
//     and policy/input.schema.json's kind enum lists it;
//  5. a playbook proposes it, or bot/crew lists why none does.
//
// The tests of patchers, registry, policy and bot/crew fail until each is
// done.
var kinds = []kindRow{
	{KindSetResources, func() Params { return new(ResourcesParams) }},
	{KindScale, func() Params { return new(ScaleParams) }},
	{KindSetHPA, func() Params { return new(HPAParams) }},
	{KindRollbackImage, func() Params { return new(RollbackImageParams) }},
	{KindSetEnv, func() Params { return new(SetEnvParams) }},
	{KindRevertCommit, func() Params { return new(RevertCommitParams) }},
}

type kindRow struct {
	name      string
	newParams func() Params
}

// Params is implemented by the params type of every intent kind (a
// pointer to ResourcesParams, ScaleParams, ...).
type Params interface {
	// check reports what the schema cannot say: cross-field rules and
	// values that need parsing. The schema has already passed.
	check() []error
}

// historyParams is implemented by params that may need git history.
type historyParams interface {
	needsHistory() bool
}

// KindInfo describes one intent kind.
type KindInfo struct {
	// Name is the kind, e.g. set_resources.
	Name string
	// Summary is one sentence: what the kind changes (the schema's
	// description of the kind).
	Summary string
	// ParamsDoc says what the params are (the schema's description of
	// the params).
	ParamsDoc string
	// Examples are valid params, from the schema's examples (compact
	// JSON); the first is the one to show.
	Examples []json.RawMessage
	// Params is the Go type the params decode into (a struct).
	Params reflect.Type
}

// Kinds returns the intent catalogue in its fixed order.
func Kinds() []KindInfo {
	c := catalogue()
	out := make([]KindInfo, len(kinds))
	for i, k := range kinds {
		out[i] = c.info[k.name]
		out[i].Examples = append([]json.RawMessage(nil), out[i].Examples...)
	}
	return out
}

// KindNames returns the names of every intent kind, in the catalogue's
// order.
func KindNames() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// LookupKind returns the kind called name.
func LookupKind(name string) (KindInfo, bool) {
	if _, ok := kindOf(name); !ok {
		return KindInfo{}, false
	}
	info := catalogue().info[name]
	info.Examples = append([]json.RawMessage(nil), info.Examples...)
	return info, true
}

func kindOf(name string) (kindRow, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return kindRow{}, false
}

// errUnknownKind is the error for a kind outside the catalogue.
func errUnknownKind(name string) error {
	return fmt.Errorf("kind %q is not one of %s", name, strings.Join(KindNames(), ", "))
}

// schemas is the compiled intent schema: a branch per kind, plus what the
// catalogue reads from it.
type schemas struct {
	doc    any // the parsed schema, for descriptions in errors
	branch map[string]*jsonschema.Schema
	info   map[string]KindInfo
}

const schemaURL = "intent.schema.json"

// catalogue compiles the embedded schema once. The schema is part of the
// binary and tested, so a failure is a build defect: it panics, as
// regexp.MustCompile does.
var catalogue = sync.OnceValue(func() *schemas {
	s, err := compileSchema(IntentSchema)
	if err != nil {
		panic(fmt.Sprintf("patchers: embedded %s: %v", schemaURL, err))
	}
	return s
})

// schemaDoc is the part of the schema the catalogue reads.
type schemaDoc struct {
	Defs map[string]struct {
		Description string `json:"description"`
		Properties  struct {
			Params struct {
				Description string            `json:"description"`
				Examples    []json.RawMessage `json:"examples"`
			} `json:"params"`
		} `json:"properties"`
	} `json:"$defs"`
}

// compileSchema compiles b and checks that it has a branch for every kind
// of the catalogue.
func compileSchema(b []byte) (*schemas, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	var sd schemaDoc
	if err := json.Unmarshal(b, &sd); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	s := &schemas{doc: doc, branch: map[string]*jsonschema.Schema{}, info: map[string]KindInfo{}}
	for _, k := range kinds {
		def, ok := sd.Defs[k.name]
		if !ok {
			return nil, fmt.Errorf("no $defs/%s for intent kind %s", k.name, k.name)
		}
		sch, err := c.Compile(schemaURL + "#/$defs/" + k.name)
		if err != nil {
			return nil, fmt.Errorf("compile $defs/%s: %w", k.name, err)
		}
		s.branch[k.name] = sch
		var examples []json.RawMessage
		for _, ex := range def.Properties.Params.Examples {
			var b bytes.Buffer
			if err := json.Compact(&b, ex); err != nil {
				return nil, fmt.Errorf("$defs/%s example: %w", k.name, err)
			}
			examples = append(examples, b.Bytes())
		}
		s.info[k.name] = KindInfo{
			Name:      k.name,
			Summary:   def.Description,
			ParamsDoc: def.Properties.Params.Description,
			Examples:  examples,
			Params:    reflect.TypeOf(k.newParams()).Elem(),
		}
	}
	return s, nil
}

// schemaErrors turns a schema validation error into one error per failed
// keyword, each naming the field by its dotted path (params.replicas). A
// pattern that fails is told by the description of its schema ("'Shop!' is
// not a Kubernetes namespace name"), and a count of properties with the
// description of the object, so that neither a person nor a crew has to
// read a regular expression.
func (s *schemas) schemaErrors(err error) []error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []error{err}
	}
	var out []error
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		field := strings.Join(e.InstanceLocation, ".")
		if field == "" {
			field = "intent"
		}
		msg := "invalid"
		if u := e.BasicOutput(); u.Error != nil {
			msg = u.Error.String()
		}
		desc := strings.TrimSuffix(s.description(e.SchemaURL), ".")
		switch k := e.ErrorKind.(type) {
		case *kind.Pattern:
			if desc != "" {
				msg = fmt.Sprintf("%q is not %s", clip(k.Got, maxShown), strings.ToLower(desc[:1])+desc[1:])
			}
		case *kind.MinProperties, *kind.MaxProperties:
			if desc != "" {
				msg += ": " + desc
			}
		}
		out = append(out, fmt.Errorf("%s: %s", field, msg))
	}
	walk(ve)
	return out
}

// description is the description of the schema node at url
// (intent.schema.json#/json/pointer), or "".
func (s *schemas) description(url string) string {
	_, ptr, ok := strings.Cut(url, "#")
	if !ok {
		return ""
	}
	node := s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return ""
		}
		node = m[tok]
	}
	m, _ := node.(map[string]any)
	d, _ := m["description"].(string)
	return d
}

// maxShown is how many bytes of a refused value an error shows.
const maxShown = 80

// clip is s cut to at most n bytes on a rune boundary, with "..." when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
