package githubtest

import (
	"encoding/json"
	"strings"
)

// complete fills in what a response value lacks for its schema: every
// required property the double's state does not set gets a value derived
// from the schema (null when nullable, the first enum value, a valid
// placeholder for the format, zero, empty), recursively. Values the
// state sets are kept; the result is validated afterwards like any other
// response, so complete cannot hide a mistake of the double.
func (s *spec) complete(schema any, v any, ph placeholders) any {
	return s.completeDepth(schema, v, ph, 0)
}

// placeholders are the values complete uses for formatted strings.
type placeholders struct {
	url  string // for format uri and uri-template
	time string // for format date-time
}

func (s *spec) completeDepth(schema any, v any, ph placeholders, depth int) any {
	sch, _ := s.resolve(schema).(map[string]any)
	if sch == nil || depth > 40 {
		return v
	}
	if all, ok := sch["allOf"].([]any); ok {
		for _, sub := range all {
			v = s.completeDepth(sub, v, ph, depth+1)
		}
		return v
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, ok := sch[k].([]any)
		if !ok {
			continue
		}
		if v == nil {
			if nullable, _ := sch["nullable"].(bool); nullable {
				return nil
			}
		}
		for _, alt := range alts {
			a, _ := s.resolve(alt).(map[string]any)
			if v == nil && a != nil {
				if n, _ := a["nullable"].(bool); n {
					return nil
				}
			}
			if v == nil || typeMatches(str(a["type"]), v) {
				return s.completeDepth(alt, v, ph, depth+1)
			}
		}
		return v
	}
	typ := str(sch["type"])
	if v == nil {
		if nullable, _ := sch["nullable"].(bool); nullable {
			return nil
		}
		if enum, ok := sch["enum"].([]any); ok && len(enum) > 0 {
			return enum[0]
		}
		switch typ {
		case "object", "":
			if _, hasProps := sch["properties"]; !hasProps && typ == "" {
				return nil
			}
			v = map[string]any{}
		case "array":
			return []any{}
		case "string":
			switch str(sch["format"]) {
			case "uri", "uri-template":
				return ph.url
			case "date-time":
				return ph.time
			case "date":
				return ph.time[:10]
			case "email":
				return "noreply@github.invalid"
			}
			return ""
		case "integer", "number":
			if m, ok := sch["minimum"].(json.Number); ok {
				return m
			}
			return 0
		case "boolean":
			return false
		default:
			return nil
		}
	}
	switch val := v.(type) {
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		req, _ := sch["required"].([]any)
		for _, r := range req {
			name := str(r)
			if _, ok := val[name]; !ok {
				val[name] = s.completeDepth(props[name], nil, ph, depth+1)
			}
		}
		for name, pv := range val {
			if ps, ok := props[name]; ok && pv != nil {
				val[name] = s.completeDepth(ps, pv, ph, depth+1)
			}
		}
		return val
	case []any:
		for i, e := range val {
			val[i] = s.completeDepth(sch["items"], e, ph, depth+1)
		}
		return val
	case []map[string]any:
		out := make([]any, len(val))
		for i, e := range val {
			out[i] = s.completeDepth(sch["items"], e, ph, depth+1)
		}
		return out
	}
	return v
}

func typeMatches(typ string, v any) bool {
	switch v.(type) {
	case map[string]any:
		return typ == "object" || typ == ""
	case []any, []map[string]any:
		return typ == "array"
	case string:
		return typ == "string"
	case bool:
		return typ == "boolean"
	case int, int64, float64, json.Number:
		return typ == "integer" || typ == "number"
	}
	return strings.EqualFold(typ, "")
}
