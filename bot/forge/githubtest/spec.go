package githubtest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The double checks traffic against the subset of GitHub's OpenAPI
// description that medic uses (testdata/openapi-subset.json, derived from
// testdata/api.github.com.json.gz by TestSubsetUpToDate).
//
// The validator is written here on top of github.com/santhosh-tekuri/jsonschema/v6
// rather than kin-openapi's openapi3filter: kin-openapi v0.153.0 needs
// go.yaml.in/yaml/v4, which the module's go.sum does not hold. The
// OpenAPI 3.0 schemas are turned into JSON Schema 2020-12 (nullable
// becomes a "null" type), parameters are decoded by their schema type and
// bodies are validated with formats asserted.
//
//go:embed testdata/openapi-subset.json
var embeddedSubset []byte

// apiVersion is the only X-GitHub-Api-Version the description describes.
const apiVersion = "2022-11-28"

// greedyParams lists the path parameters that may hold slashes. GitHub's
// description declares them as one path segment, yet clients send file
// paths (contents/{path}) and refs (git/refs/{ref}, commits/{ref}/...)
// with their slashes unescaped, as go-github does (it escapes each
// segment and keeps the slashes) and as GitHub accepts. Exception:
// these parameters match one or more segments.
var greedyParams = map[string]string{
	"/repos/{owner}/{repo}/contents/{path}":          "path",
	"/repos/{owner}/{repo}/git/refs/{ref}":           "ref",
	"/repos/{owner}/{repo}/commits/{ref}/check-runs": "ref",
	"/repos/{owner}/{repo}/commits/{ref}/status":     "ref",
}

// nullBodyOK lists operations whose optional JSON body may be the literal
// null. Exception: go-github and ghinstallation send "null" when creating
// an installation token without options; GitHub treats it as no body.
var nullBodyOK = map[string]bool{
	"POST /app/installations/{installation_id}/access_tokens": true,
}

// bareArrayBody lists operations whose body may be a bare JSON array,
// validated as the value of the named property. Exception: the labels
// endpoint's description says "You can also pass an array of labels
// directly" but its schema only has the object form; go-github v66's
// AddLabelsToIssue sends the bare array.
var bareArrayBody = map[string]string{
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels": "labels",
}

type operation struct {
	method   string
	template string
	key      string // "METHOD template"
	re       *regexp.Regexp
	names    []string
	literal  int
	params   []*param
	body     *jsonschema.Schema
	bodyReq  bool
	hasBody  bool
	raw      map[string]any
}

type param struct {
	name     string
	in       string
	required bool
	typ      string // schema type: string, integer, boolean, array
	itemTyp  string
	schema   *jsonschema.Schema
}

type spec struct {
	doc        map[string]any
	ops        []*operation
	compiler   *jsonschema.Compiler
	basicError *jsonschema.Schema

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema // compiled response schemas by location
	conv    map[string]any                // the JSON Schema resource
}

var (
	specOnce sync.Once
	theSpec  *spec
	specErr  error
)

// loadSpec parses and compiles the embedded subset once per process.
func loadSpec() (*spec, error) {
	specOnce.Do(func() { theSpec, specErr = newSpec(embeddedSubset) })
	return theSpec, specErr
}

const resourceURL = "mem:///github-openapi-subset.json"

func newSpec(data []byte) (*spec, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode openapi subset: %w", err)
	}
	s := &spec{doc: doc, schemas: map[string]*jsonschema.Schema{}}
	// The JSON Schema resource: converted component schemas plus, under
	// "x-ops", the converted inline schemas of each operation.
	comps, _ := doc["components"].(map[string]any)
	rawSchemas, _ := comps["schemas"].(map[string]any)
	convSchemas := map[string]any{}
	for name, sch := range rawSchemas {
		convSchemas[name] = toJSONSchema(sch)
	}
	xops := map[string]any{}
	s.conv = map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"components": map[string]any{"schemas": convSchemas},
		"x-ops":      xops,
	}
	paths, _ := doc["paths"].(map[string]any)
	tmpls := make([]string, 0, len(paths))
	for p := range paths {
		tmpls = append(tmpls, p)
	}
	sort.Strings(tmpls)
	type pending struct {
		p   *param
		loc string
	}
	var todo []pending
	var bodies []*operation
	for _, tmpl := range tmpls {
		item, _ := paths[tmpl].(map[string]any)
		for _, m := range []string{"get", "put", "post", "patch", "delete"} {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			op := &operation{method: strings.ToUpper(m), template: tmpl, raw: o}
			op.key = op.method + " " + tmpl
			if err := op.compilePath(); err != nil {
				return nil, err
			}
			idx := strconv.Itoa(len(s.ops))
			opConv := map[string]any{}
			xops[idx] = opConv
			var params []any
			if pp, ok := item["parameters"].([]any); ok {
				params = append(params, pp...)
			}
			if pp, ok := o["parameters"].([]any); ok {
				params = append(params, pp...)
			}
			convParams := []any{}
			for _, pr := range params {
				pm, _ := s.resolve(pr).(map[string]any)
				if pm == nil {
					return nil, fmt.Errorf("%s: bad parameter", op.key)
				}
				p := &param{name: str(pm["name"]), in: str(pm["in"])}
				p.required, _ = pm["required"].(bool)
				sch, _ := s.resolve(pm["schema"]).(map[string]any)
				p.typ = str(sch["type"])
				if it, ok := s.resolve(sch["items"]).(map[string]any); ok {
					p.itemTyp = str(it["type"])
				}
				todo = append(todo, pending{p, fmt.Sprintf("#/x-ops/%s/params/%d", idx, len(convParams))})
				convParams = append(convParams, toJSONSchema(sch))
				op.params = append(op.params, p)
			}
			opConv["params"] = convParams
			if rb, ok := s.resolve(o["requestBody"]).(map[string]any); ok {
				op.hasBody = true
				op.bodyReq, _ = rb["required"].(bool)
				content, _ := rb["content"].(map[string]any)
				mt, _ := content["application/json"].(map[string]any)
				if mt == nil {
					return nil, fmt.Errorf("%s: request body is not application/json", op.key)
				}
				opConv["body"] = toJSONSchema(mt["schema"])
				bodies = append(bodies, op)
			}
			opConv["responses"] = map[string]any{}
			s.ops = append(s.ops, op)
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(resourceURL, s.conv); err != nil {
		return nil, fmt.Errorf("add openapi subset: %w", err)
	}
	s.compiler = c
	for _, pd := range todo {
		sch, err := c.Compile(resourceURL + pd.loc)
		if err != nil {
			return nil, fmt.Errorf("compile parameter %s: %w", pd.p.name, err)
		}
		pd.p.schema = sch
	}
	for i, op := range s.ops {
		if !op.hasBody {
			continue
		}
		sch, err := c.Compile(fmt.Sprintf("%s#/x-ops/%d/body", resourceURL, i))
		if err != nil {
			return nil, fmt.Errorf("compile %s body: %w", op.key, err)
		}
		op.body = sch
	}
	be, err := c.Compile(resourceURL + "#/components/schemas/basic-error")
	if err != nil {
		return nil, fmt.Errorf("compile basic-error: %w", err)
	}
	s.basicError = be
	return s, nil
}

func str(v any) string { s, _ := v.(string); return s }

// resolve follows a local "$ref" (one hop chain) in the raw document.
func (s *spec) resolve(v any) any {
	for i := 0; i < 8; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		v = s.pointer(ref)
	}
	return v
}

func (s *spec) pointer(ref string) any {
	var cur any = s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	return cur
}

// toJSONSchema converts an OpenAPI 3.0 schema object to JSON Schema
// 2020-12: nullable adds the "null" type (or an anyOf with null when the
// schema has no type), example and other OpenAPI-only keywords go.
func toJSONSchema(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, val := range m {
		switch k {
		case "nullable", "example", "discriminator", "xml", "externalDocs", "deprecated":
			continue
		case "properties":
			props := map[string]any{}
			pm, _ := val.(map[string]any)
			for name, ps := range pm {
				props[name] = toJSONSchema(ps)
			}
			out[k] = props
		case "items", "additionalProperties", "not":
			out[k] = toJSONSchema(val)
		case "allOf", "anyOf", "oneOf":
			l, _ := val.([]any)
			conv := make([]any, len(l))
			for i, e := range l {
				conv[i] = toJSONSchema(e)
			}
			out[k] = conv
		default:
			out[k] = val
		}
	}
	if nullable, _ := m["nullable"].(bool); nullable {
		if t, ok := out["type"].(string); ok {
			out["type"] = []any{t, "null"}
			if enum, ok := out["enum"].([]any); ok {
				hasNull := false
				for _, e := range enum {
					hasNull = hasNull || e == nil
				}
				if !hasNull {
					out["enum"] = append(append([]any{}, enum...), nil)
				}
			}
		} else {
			return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, out}}
		}
	}
	return out
}

var paramRe = regexp.MustCompile(`\{([^}]+)\}`)

func (op *operation) compilePath() error {
	var b strings.Builder
	b.WriteString("^")
	rest := op.template
	for {
		loc := paramRe.FindStringSubmatchIndex(rest)
		if loc == nil {
			b.WriteString(regexp.QuoteMeta(rest))
			op.literal += len(rest)
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
		op.literal += loc[0]
		name := rest[loc[2]:loc[3]]
		op.names = append(op.names, name)
		if greedyParams[op.template] == name {
			b.WriteString("(.+?)")
		} else {
			b.WriteString("([^/]+)")
		}
		rest = rest[loc[1]:]
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return fmt.Errorf("route %s: %w", op.key, err)
	}
	op.re = re
	return nil
}

// route finds the operation for a method and an escaped path (below the
// REST root). It returns nil when no operation's path matches, and the
// operation with methodOK false when the path matches another method.
func (s *spec) route(method, escapedPath string) (op *operation, params map[string]string, pathMatched bool) {
	for _, o := range s.ops {
		m := o.re.FindStringSubmatch(escapedPath)
		if m == nil {
			continue
		}
		pathMatched = true
		if o.method != method {
			continue
		}
		if op != nil && op.literal >= o.literal {
			continue
		}
		ps := map[string]string{}
		ok := true
		for i, name := range o.names {
			v, err := url.PathUnescape(m[i+1])
			if err != nil {
				ok = false
				break
			}
			ps[name] = v
		}
		if ok {
			op, params = o, ps
		}
	}
	return op, params, pathMatched
}

// decodeParam turns a raw parameter string into the JSON value its schema
// describes; it fails when the text is not of that type.
func decodeParam(typ, itemTyp, raw string) (any, error) {
	switch typ {
	case "integer":
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return nil, fmt.Errorf("%q is not an integer", raw)
		}
		return json.Number(raw), nil
	case "number":
		if _, err := strconv.ParseFloat(raw, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", raw)
		}
		return json.Number(raw), nil
	case "boolean":
		switch raw {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", raw)
	case "array":
		var out []any
		for _, part := range strings.Split(raw, ",") {
			v, err := decodeParam(itemTyp, "", part)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return raw, nil
}

// validateRequest checks a request's parameters, API version header and
// body against op. body is the raw request body.
func (s *spec) validateRequest(op *operation, pathParams map[string]string, query url.Values, header map[string][]string, contentType string, body []byte) error {
	var errs []error
	declared := map[string]bool{}
	for _, p := range op.params {
		var raw string
		var present bool
		switch p.in {
		case "path":
			raw, present = pathParams[p.name]
		case "query":
			declared[p.name] = true
			if vs, ok := query[p.name]; ok {
				raw, present = strings.Join(vs, ","), true
			}
		case "header":
			if vs := headerValues(header, p.name); len(vs) > 0 {
				raw, present = vs[0], true
			}
		default:
			continue
		}
		if !present {
			if p.required {
				errs = append(errs, fmt.Errorf("%s parameter %q is required", p.in, p.name))
			}
			continue
		}
		v, err := decodeParam(p.typ, p.itemTyp, raw)
		if err == nil {
			err = p.schema.Validate(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s parameter %q: %w", p.in, p.name, err))
		}
	}
	for name := range query {
		if !declared[name] {
			errs = append(errs, fmt.Errorf("query parameter %q is not described", name))
		}
	}
	if vs := headerValues(header, "X-GitHub-Api-Version"); len(vs) > 0 && vs[0] != apiVersion {
		errs = append(errs, fmt.Errorf("X-GitHub-Api-Version %q is not %s", vs[0], apiVersion))
	}
	trimmed := bytes.TrimSpace(body)
	if nullBodyOK[op.key] && string(trimmed) == "null" {
		trimmed = nil
	}
	switch {
	case len(trimmed) == 0:
		if op.bodyReq {
			errs = append(errs, errors.New("request body is required"))
		}
	case !op.hasBody:
		errs = append(errs, errors.New("operation takes no request body"))
	default:
		if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
			errs = append(errs, fmt.Errorf("request Content-Type %q is not application/json", contentType))
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
		if arr, ok := v.([]any); ok && bareArrayBody[op.key] != "" {
			v = map[string]any{bareArrayBody[op.key]: arr}
		}
		if err == nil {
			err = op.body.Validate(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("request body: %w", err))
		}
	}
	return errors.Join(errs...)
}

func headerValues(h map[string][]string, name string) []string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// responseSchema returns the raw (OpenAPI) schema the description gives
// for op's status with a JSON body, or nil when that response has no body.
// undocumented is true when the description has no such status.
func (s *spec) responseSchema(op *operation, status int) (loc string, raw map[string]any, undocumented bool) {
	responses, _ := op.raw["responses"].(map[string]any)
	code := strconv.Itoa(status)
	r, ok := responses[code]
	if !ok {
		r, ok = responses["default"]
		code = "default"
	}
	if !ok {
		return "", nil, true
	}
	resp, _ := s.resolve(r).(map[string]any)
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		return "", nil, false
	}
	mt, _ := content["application/json"].(map[string]any)
	if mt == nil {
		return "", nil, false
	}
	sch, _ := mt["schema"].(map[string]any)
	return op.key + " " + code, sch, false
}

// compiled returns the compiled JSON Schema for a response schema, adding
// it to the resource on first use.
func (s *spec) compiled(loc string, raw map[string]any) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[loc]; ok {
		return sch, nil
	}
	// Compiling from a fresh compiler keeps the shared resource immutable:
	// a standalone resource per response that refers to the components.
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	res := map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"components": s.conv["components"],
		"x-response": toJSONSchema(raw),
	}
	if err := c.AddResource(resourceURL, res); err != nil {
		return nil, err
	}
	sch, err := c.Compile(resourceURL + "#/x-response")
	if err != nil {
		return nil, fmt.Errorf("compile response schema of %s: %w", loc, err)
	}
	s.schemas[loc] = sch
	return sch, nil
}

// validateResponse checks a response the double produced against op.
// Exception: GitHub answers 401, 403, 404, 422, 429 and 5xx on any
// operation although the description lists only some of them per
// operation; such undocumented error statuses, and documented ones
// without a body schema, must carry a basic-error body.
func (s *spec) validateResponse(op *operation, status int, body []byte) error {
	loc, raw, undocumented := s.responseSchema(op, status)
	trimmed := bytes.TrimSpace(body)
	if raw == nil {
		switch {
		case status >= 400:
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
			if err == nil {
				err = s.basicError.Validate(v)
			}
			if err != nil {
				return fmt.Errorf("error response %d: %w", status, err)
			}
			return nil
		case undocumented:
			return fmt.Errorf("status %d is not a documented response of %s", status, op.key)
		case len(trimmed) > 0:
			return fmt.Errorf("response %d has a body, the description gives none", status)
		}
		return nil
	}
	sch, err := s.compiled(loc, raw)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
	if err != nil {
		return fmt.Errorf("response %d body is not JSON: %w", status, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("response %d body: %w", status, err)
	}
	return nil
}
