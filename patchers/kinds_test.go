package patchers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// rawSchema is the embedded schema as plain JSON values.
func rawSchema(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(IntentSchema, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// rootSchema compiles the whole schema, oneOf and all, as a crew or
// another tool would use it.
func rootSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(IntentSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func obj(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, v)
	}
	return m
}

// paramsSchema is $defs/<kind>/properties/params.
func paramsSchema(t *testing.T, kind string) map[string]any {
	t.Helper()
	defs := obj(t, rawSchema(t)["$defs"], "$defs")
	def := obj(t, defs[kind], "$defs/"+kind)
	return obj(t, obj(t, def["properties"], "$defs/"+kind+"/properties")["params"], "$defs/"+kind+"/properties/params")
}

// TestSchemaCoversCatalogue fails when a kind of the catalogue has no
// schema branch, or the schema has a branch for no kind: the oneOf lists
// exactly $defs/<kind> for every kind, in the catalogue's order, and each
// branch pins its kind, documents itself and its params, and has examples.
func TestSchemaCoversCatalogue(t *testing.T) {
	m := rawSchema(t)
	if m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", m["$schema"])
	}
	var refs []string
	for _, b := range m["oneOf"].([]any) {
		refs = append(refs, obj(t, b, "oneOf branch")["$ref"].(string))
	}
	var want []string
	for _, k := range KindNames() {
		want = append(want, "#/$defs/"+k)
	}
	if !slices.Equal(refs, want) {
		t.Errorf("oneOf = %v, want %v (one branch per kind of patchers.Kinds, in order)", refs, want)
	}
	defs := obj(t, m["$defs"], "$defs")
	for _, k := range KindNames() {
		def := obj(t, defs[k], "$defs/"+k)
		props := obj(t, def["properties"], k+" properties")
		if c := obj(t, props["kind"], k+" kind")["const"]; c != k {
			t.Errorf("$defs/%s: kind const %v, want %q", k, c, k)
		}
		if def["additionalProperties"] != false {
			t.Errorf("$defs/%s: additionalProperties must be false", k)
		}
		if got := def["required"]; !reflect.DeepEqual(got, []any{"kind", "target", "params"}) {
			t.Errorf("$defs/%s: required %v, want kind, target, params", k, got)
		}
		if obj(t, props["target"], k+" target")["$ref"] != "#/$defs/target" {
			t.Errorf("$defs/%s: target must be #/$defs/target", k)
		}
		p := paramsSchema(t, k)
		if p["additionalProperties"] != false {
			t.Errorf("$defs/%s: params must have additionalProperties false", k)
		}
		info, ok := LookupKind(k)
		if !ok {
			t.Fatalf("LookupKind(%q) failed", k)
		}
		if info.Summary == "" || info.ParamsDoc == "" || len(info.Examples) == 0 {
			t.Errorf("%s: want a description of the kind and of its params, and examples: %+v", k, info)
		}
		// The params' description is the README's params column: it must
		// name every param.
		for name := range obj(t, p["properties"], k+" params properties") {
			if !strings.Contains(info.ParamsDoc, "`"+name) {
				t.Errorf("%s: the params description %q does not name `%s`", k, info.ParamsDoc, name)
			}
		}
	}
	if len(defs) != len(KindNames())+4 { // target, quantity, resources, replicas
		t.Errorf("$defs has %d entries; a new shared definition or a branch for no kind?", len(defs))
	}
}

// TestCompileSchemaNamesMissingKind: a schema without a kind's branch does
// not load, and the error names the kind.
func TestCompileSchemaNamesMissingKind(t *testing.T) {
	m := rawSchema(t)
	delete(obj(t, m["$defs"], "$defs"), KindScale)
	m["oneOf"] = slices.DeleteFunc(m["oneOf"].([]any), func(b any) bool { return b.(map[string]any)["$ref"] == "#/$defs/scale" })
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileSchema(b); err == nil || !strings.Contains(err.Error(), "$defs/scale") {
		t.Fatalf("compileSchema without scale: %v, want an error naming $defs/scale", err)
	}
	if _, err := compileSchema(IntentSchema); err != nil {
		t.Fatalf("the embedded schema: %v", err)
	}
}

// TestSchemaMatchesParams walks each kind's params struct against its
// schema: the same field names, a required param is one without
// omitempty, and JSON types that fit the Go types.
func TestSchemaMatchesParams(t *testing.T) {
	for _, info := range Kinds() {
		t.Run(info.Name, func(t *testing.T) {
			p := paramsSchema(t, info.Name)
			props := obj(t, p["properties"], "params properties")
			required := map[string]bool{}
			if r, ok := p["required"].([]any); ok {
				for _, n := range r {
					required[n.(string)] = true
				}
			}
			if info.Params.Kind() != reflect.Struct {
				t.Fatalf("params type %v is not a struct", info.Params)
			}
			fields := map[string]bool{}
			for f := range info.Params.Fields() {
				name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "" || name == "-" {
					t.Errorf("field %s has no JSON name", f.Name)
					continue
				}
				fields[name] = true
				ps, ok := props[name].(map[string]any)
				if !ok {
					t.Errorf("field %s (%s) is not in the schema's params", f.Name, name)
					continue
				}
				if omit := strings.Contains(opts, "omitempty"); omit == required[name] {
					t.Errorf("%s: required in the schema %v, but omitempty %v in Go", name, required[name], omit)
				}
				if want, got := jsonType(f.Type), schemaType(t, ps); want != got {
					t.Errorf("%s: schema type %q, Go type %v (%q)", name, got, f.Type, want)
				}
			}
			for name := range props {
				if !fields[name] {
					t.Errorf("schema param %s has no field in %v", name, info.Params)
				}
			}
		})
	}
}

// jsonType is the JSON type a Go type decodes from.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.String()
}

// schemaType is the JSON type a param's schema allows, following one
// local $ref; a const stands for its value's type.
func schemaType(t *testing.T, ps map[string]any) string {
	if ref, ok := ps["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		ps = obj(t, obj(t, rawSchema(t)["$defs"], "$defs")[name], ref)
	}
	if ty, ok := ps["type"].(string); ok {
		return ty
	}
	switch ps["const"].(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return "?"
}

// sample is one intent document and what both validators must say of it.
type sample struct {
	name string
	doc  string
	// valid is what ParseIntent says. schemaOnly marks a document the
	// schema accepts and only Go refuses, for what a schema cannot say;
	// err is the Go error's expected text then.
	valid      bool
	schemaOnly bool
	err        string
}

const tgt = `{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"}`

func intentDoc(kind, target, params string) string {
	return `{"kind":"` + kind + `","target":` + target + `,"params":` + params + `}`
}

// corpus is the agreement corpus: every example of every kind, and
// mutations of them that each kind must refuse (derived from the schema,
// so a new kind gets them too), plus hand-written cases.
func corpus(t *testing.T) []sample {
	var out []sample
	for _, info := range Kinds() {
		k := info.Name
		for i, ex := range info.Examples {
			out = append(out, sample{name: k + " example " + string(rune('0'+i)), doc: intentDoc(k, tgt, string(ex)), valid: true})
			var m map[string]any
			if err := json.Unmarshal(ex, &m); err != nil {
				t.Fatalf("%s example %s: %v", k, ex, err)
			}
			with := func(name string, v any) string {
				c := map[string]any{}
				for kk, vv := range m {
					c[kk] = vv
				}
				c[name] = v
				b, _ := json.Marshal(c)
				return string(b)
			}
			out = append(out,
				sample{name: k + " unknown param", doc: intentDoc(k, tgt, with("bogus", 1))},
				sample{name: k + " params array", doc: intentDoc(k, tgt, `[]`)},
				sample{name: k + " params null", doc: intentDoc(k, tgt, `null`)},
				sample{name: k + " target unknown field", doc: intentDoc(k, `{"namespace":"shop","kind":"Deployment","name":"x","pod":"y"}`, string(ex))},
				sample{name: k + " target kind Pod", doc: intentDoc(k, `{"namespace":"shop","kind":"Pod","name":"x"}`, string(ex))},
				sample{name: k + " target bad namespace", doc: intentDoc(k, `{"namespace":"Shop_1","kind":"Deployment","name":"x"}`, string(ex))},
				sample{name: k + " target no name", doc: intentDoc(k, `{"namespace":"shop","kind":"Deployment"}`, string(ex))},
				sample{name: k + " target long container", doc: intentDoc(k, `{"namespace":"shop","kind":"Deployment","name":"x","container":"`+strings.Repeat("c", 64)+`"}`, string(ex))},
				sample{name: k + " without container", doc: intentDoc(k, `{"namespace":"shop","kind":"Deployment","name":"x"}`, string(ex)), valid: true},
				sample{name: k + " empty container", doc: intentDoc(k, `{"namespace":"shop","kind":"StatefulSet","name":"x.y","container":""}`, string(ex)), valid: true},
			)
			for name := range m {
				out = append(out,
					sample{name: k + " " + name + " as array", doc: intentDoc(k, tgt, with(name, []any{}))},
					sample{name: k + " " + name + " as object", doc: intentDoc(k, tgt, with(name, map[string]any{"x": "1"}))},
				)
			}
		}
		req, _ := paramsSchema(t, k)["required"].([]any)
		for _, r := range req {
			ex := info.Examples[0]
			var m map[string]any
			_ = json.Unmarshal(ex, &m)
			delete(m, r.(string))
			b, _ := json.Marshal(m)
			out = append(out, sample{name: k + " without " + r.(string), doc: intentDoc(k, tgt, string(b))})
		}
	}
	hand := []sample{
		{name: "null container", doc: intentDoc(KindScale, `{"namespace":"shop","kind":"Deployment","name":"x","container":null}`, `{"replicas":1}`)},
		{name: "null namespace", doc: intentDoc(KindScale, `{"namespace":null,"kind":"Deployment","name":"x"}`, `{"replicas":1}`)},
		{name: "unknown kind", doc: intentDoc("delete_namespace", tgt, `{}`)},
		{name: "kind in capitals", doc: intentDoc("SCALE", tgt, `{"replicas":1}`)},
		{name: "empty kind", doc: intentDoc("", tgt, `{"replicas":1}`)},
		{name: "resources empty", doc: intentDoc(KindSetResources, tgt, `{}`)},
		{name: "resources empty limits", doc: intentDoc(KindSetResources, tgt, `{"limits":{}}`)},
		{name: "resources gpu", doc: intentDoc(KindSetResources, tgt, `{"limits":{"nvidia.com/gpu":"1"}}`)},
		{name: "resources not a quantity", doc: intentDoc(KindSetResources, tgt, `{"limits":{"memory":"lots"}}`)},
		{name: "resources negative", doc: intentDoc(KindSetResources, tgt, `{"limits":{"memory":"-1Gi"}}`)},
		{name: "resources number", doc: intentDoc(KindSetResources, tgt, `{"limits":{"memory":512}}`)},
		{name: "resources requests only", doc: intentDoc(KindSetResources, tgt, `{"requests":{"cpu":"250m","memory":"1.5Gi"}}`), valid: true},
		{name: "resources exponent", doc: intentDoc(KindSetResources, tgt, `{"limits":{"memory":"1e9"}}`), valid: true},
		{name: "resources zero", doc: intentDoc(KindSetResources, tgt, `{"limits":{"memory":"0"}}`), schemaOnly: true, err: "must be above zero"},
		{name: "resources limit below request", doc: intentDoc(KindSetResources, tgt, `{"limits":{"cpu":"100m"},"requests":{"cpu":"1"}}`), schemaOnly: true, err: "cpu limit 100m is below its request 1"},
		{name: "scale zero", doc: intentDoc(KindScale, tgt, `{"replicas":0}`), valid: true},
		{name: "scale negative", doc: intentDoc(KindScale, tgt, `{"replicas":-1}`)},
		{name: "scale too many", doc: intentDoc(KindScale, tgt, `{"replicas":10001}`)},
		{name: "scale fraction", doc: intentDoc(KindScale, tgt, `{"replicas":2.5}`)},
		{name: "scale string", doc: intentDoc(KindScale, tgt, `{"replicas":"3"}`)},
		{name: "hpa empty", doc: intentDoc(KindSetHPA, tgt, `{}`)},
		{name: "hpa min zero", doc: intentDoc(KindSetHPA, tgt, `{"minReplicas":0}`)},
		{name: "hpa cpu over 100", doc: intentDoc(KindSetHPA, tgt, `{"targetCPUUtilizationPercentage":101}`)},
		{name: "hpa max only", doc: intentDoc(KindSetHPA, tgt, `{"maxReplicas":10}`), valid: true},
		{name: "hpa min above max", doc: intentDoc(KindSetHPA, tgt, `{"minReplicas":5,"maxReplicas":2}`), schemaOnly: true, err: "params.minReplicas 5 is above params.maxReplicas 2"},
		{name: "rollback empty", doc: intentDoc(KindRollbackImage, tgt, `{}`)},
		{name: "rollback both", doc: intentDoc(KindRollbackImage, tgt, `{"image":"a/b:1","previous":true}`)},
		{name: "rollback previous false", doc: intentDoc(KindRollbackImage, tgt, `{"previous":false}`)},
		{name: "rollback bad image", doc: intentDoc(KindRollbackImage, tgt, `{"image":"a b"}`)},
		{name: "rollback long image", doc: intentDoc(KindRollbackImage, tgt, `{"image":"a`+strings.Repeat("b", 512)+`"}`)},
		{name: "rollback digest", doc: intentDoc(KindRollbackImage, tgt, `{"image":"ghcr.io/acme/db:1.4.2@sha256:0123"}`), valid: true},
		{name: "env bad name", doc: intentDoc(KindSetEnv, tgt, `{"name":"1X","value":"v"}`)},
		{name: "env null value", doc: intentDoc(KindSetEnv, tgt, `{"name":"X","value":null}`)},
		{name: "env empty value", doc: intentDoc(KindSetEnv, tgt, `{"name":"X","value":""}`), valid: true},
		{name: "revert short", doc: intentDoc(KindRevertCommit, tgt, `{"commit":"abc"}`)},
		{name: "revert ref", doc: intentDoc(KindRevertCommit, tgt, `{"commit":"HEAD~1"}`)},
		{name: "revert upper case", doc: intentDoc(KindRevertCommit, tgt, `{"commit":"0A1B2C3D"}`), valid: true},
	}
	return append(out, hand...)
}

// TestSchemaAgreesWithGo: the whole schema (oneOf, as a crew's output
// model uses it) and ParseIntent accept and refuse the same documents,
// except the listed ones that only Go can refuse.
func TestSchemaAgreesWithGo(t *testing.T) {
	root := rootSchema(t)
	kindsRefused := map[string]bool{}
	for _, s := range corpus(t) {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(s.doc))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		schemaErr := root.Validate(inst)
		_, goErr := ParseIntent([]byte(s.doc))
		if (goErr == nil) != s.valid {
			t.Errorf("%s: ParseIntent error %v, want valid=%v\n%s", s.name, goErr, s.valid, s.doc)
		}
		wantSchema := s.valid || s.schemaOnly
		if (schemaErr == nil) != wantSchema {
			t.Errorf("%s: schema error %v, want valid=%v\n%s", s.name, schemaErr, wantSchema, s.doc)
		}
		if s.schemaOnly && (goErr == nil || !strings.Contains(goErr.Error(), s.err)) {
			t.Errorf("%s: ParseIntent error %v, want one with %q", s.name, goErr, s.err)
		}
		if !s.valid {
			var k struct{ Kind string }
			_ = json.Unmarshal([]byte(s.doc), &k)
			kindsRefused[k.Kind] = true
		}
	}
	for _, k := range KindNames() {
		if !kindsRefused[k] {
			t.Errorf("no refused sample of %s", k)
		}
	}
}

// TestValidateErrorsNameFields: schema errors name the field by its path,
// and a failed pattern by what the field is, never by the expression.
func TestValidateErrorsNameFields(t *testing.T) {
	_, err := ParseIntent([]byte(intentDoc(KindRollbackImage, `{"namespace":"Shop!","kind":"Deployment","name":"x"}`, `{"image":"a b"}`)))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`target.namespace: "Shop!" is not a Kubernetes namespace name`, `params.image: "a b" is not an image reference`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "^[") {
		t.Errorf("error shows a regular expression: %q", err)
	}
	long := strings.Repeat("é", 300) // refused by the pattern, not by maxLength
	_, err = ParseIntent([]byte(intentDoc(KindSetEnv, tgt, `{"name":"`+long+`","value":"v"}`)))
	if err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), `..." is not an environment variable name`) {
		t.Errorf("a long refused value: %v", err)
	}
}

func TestKindsAPI(t *testing.T) {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	if !slices.Equal(names, KindNames()) {
		t.Errorf("Kinds %v, KindNames %v", names, KindNames())
	}
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	if len(slices.Compact(sorted)) != len(names) {
		t.Errorf("duplicate kinds: %v", names)
	}
	if _, ok := LookupKind("delete_namespace"); ok {
		t.Error("LookupKind found an unknown kind")
	}
	k, _ := LookupKind(KindScale)
	k.Examples[0] = json.RawMessage(`{"replicas":-1}`)
	if k2, _ := LookupKind(KindScale); string(k2.Examples[0]) == `{"replicas":-1}` {
		t.Error("a caller changed the catalogue through Examples")
	}
}

func TestNeedsHistoryAndDecodeParams(t *testing.T) {
	cases := []struct {
		kind, params string
		want         bool
	}{
		{KindRollbackImage, `{"previous":true}`, true},
		{KindRollbackImage, `{"image":"a/b:1"}`, false},
		{KindRevertCommit, `{"commit":"0a1b2c3"}`, true},
		{KindRevertCommit, `{"commit":"no"}`, false}, // invalid: needs nothing
		{KindScale, `{"replicas":2}`, false},
		{KindSetResources, `{"limits":{"memory":"1Gi"}}`, false},
	}
	for _, c := range cases {
		in := Intent{Kind: c.kind, Target: Target{Namespace: "shop", Kind: "Deployment", Name: "x"}, Params: json.RawMessage(c.params)}
		if got := in.NeedsHistory(); got != c.want {
			t.Errorf("%s %s: NeedsHistory %v, want %v", c.kind, c.params, got, c.want)
		}
	}
	in := Intent{Kind: KindScale, Target: Target{Namespace: "shop", Kind: "Deployment", Name: "x"}, Params: json.RawMessage(`{"replicas":3}`)}
	p, err := in.DecodeParams()
	if err != nil {
		t.Fatal(err)
	}
	if sp, ok := p.(*ScaleParams); !ok || *sp.Replicas != 3 {
		t.Errorf("DecodeParams = %#v", p)
	}
	in.Params = json.RawMessage(`{"replicas":`)
	if _, err := in.DecodeParams(); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken params: %v", err)
	}
}

// BenchmarkParseIntent is the cost of parsing and validating one intent
// against its schema branch and Go checks.
func BenchmarkParseIntent(b *testing.B) {
	doc := []byte(intentDoc(KindSetResources, tgt, `{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}`))
	for b.Loop() {
		if _, err := ParseIntent(doc); err != nil {
			b.Fatal(err)
		}
	}
}
