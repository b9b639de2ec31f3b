package helm

// Rendered objects and field reading on top of package render.

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// mergeMaps merges b onto a like helm's -f: maps merge, anything else is
// replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// doc is one rendered object.
type doc struct {
	Object patchers.Object
	Value  map[string]any
	YAML   []byte
}

// objects splits rendered manifests into objects (render.Objects); an
// object without a namespace gets ns, the release's.
func objects(manifests []byte, ns string) ([]doc, error) {
	rd, err := render.Objects(manifests)
	if err != nil {
		return nil, err
	}
	docs := make([]doc, 0, len(rd))
	for _, d := range rd {
		var v map[string]any
		if err := yaml.Unmarshal(d.YAML, &v); err != nil {
			return nil, fmt.Errorf("parse rendered %s %s: %w", d.Object.Kind, d.Object.Name, err)
		}
		o := d.Object
		if o.Namespace == "" {
			o.Namespace = ns
		}
		docs = append(docs, doc{Object: o, Value: v, YAML: d.YAML})
	}
	return docs, nil
}

// changed lists the objects that differ between two sets of rendered
// documents (compared by their canonical YAML), sorted as render.Changed
// sorts them.
func changed(before, after []doc) []patchers.Object {
	bm := map[patchers.Object]string{}
	for _, d := range before {
		bm[d.Object] = string(d.YAML)
	}
	var out []patchers.Object
	seen := map[patchers.Object]bool{}
	for _, d := range after {
		seen[d.Object] = true
		if b, ok := bm[d.Object]; !ok || b != string(d.YAML) {
			out = append(out, d.Object)
		}
	}
	for _, d := range before {
		if !seen[d.Object] {
			out = append(out, d.Object)
		}
	}
	render.SortObjects(out)
	return out
}

// segment is one step of a field path: a key, optionally followed by a
// list selector [k=v] where k may be dotted.
type segment struct {
	key      string
	selKey   string
	selValue string
}

func parsePath(p string) ([]segment, error) {
	var segs []segment
	for p != "" {
		i := strings.IndexAny(p, ".[")
		var s segment
		if i < 0 {
			s.key, p = p, ""
		} else {
			s.key, p = p[:i], p[i:]
		}
		if strings.HasPrefix(p, "[") {
			j := strings.Index(p, "]")
			if j < 0 {
				return nil, fmt.Errorf("field path: unclosed [ in %q", p)
			}
			k, v, ok := strings.Cut(p[1:j], "=")
			if !ok {
				return nil, fmt.Errorf("field path: selector %q is not key=value", p[:j+1])
			}
			s.selKey, s.selValue = k, v
			p = p[j+1:]
		}
		p = strings.TrimPrefix(p, ".")
		segs = append(segs, s)
	}
	return segs, nil
}

// lookup reads a field from a decoded object.
func lookup(v any, p string) (any, bool) {
	segs, err := parsePath(p)
	if err != nil {
		return nil, false
	}
	for _, s := range segs {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.key]; !ok {
			return nil, false
		}
		if s.selKey == "" {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return nil, false
		}
		found := false
		for _, item := range list {
			if x, ok := lookup(item, s.selKey); ok && scalarString(x) == s.selValue {
				v, found = item, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return v, true
}

// scalarString is a rendered scalar's text; "" for maps and lists.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		return ""
	default:
		return fmt.Sprint(x)
	}
}
