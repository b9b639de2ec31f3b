package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
)

// Field reads one field of one rendered object: the value at path of the
// object in manifests that matches obj, as a string. A scalar gives its
// value ("768Mi", "3", "true"); a mapping or list gives its canonical YAML.
// ok is false when the object exists but the path does not (or ends in
// null).
//
// obj matches an object when kind and name are equal, and namespace and
// apiVersion are equal or empty in obj. No match is an error wrapping
// patchers.ErrNotFound, more than one an error wrapping
// patchers.ErrAmbiguous.
//
// path is dot-separated keys with list selectors:
//
//	spec.replicas
//	spec.template.spec.containers[name=app].resources.limits.memory
//	spec.template.spec.containers[0].image
//	metadata.annotations[app.kubernetes.io/name]
//
// [key=value] picks the list item (a mapping) whose key is value, [N] the
// Nth item, and [text] the mapping key text (for keys holding dots).
func Field(manifests []byte, obj patchers.Object, path string) (value string, ok bool, err error) {
	steps, err := parseFieldPath(path)
	if err != nil {
		return "", false, err
	}
	objs, err := parseStream(manifests)
	if err != nil {
		return "", false, fmt.Errorf("read field %s: %w", path, err)
	}
	var found *parsed
	for i := range objs {
		o := objs[i].obj
		if o.Kind != obj.Kind || o.Name != obj.Name ||
			(obj.Namespace != "" && o.Namespace != obj.Namespace) ||
			(obj.APIVersion != "" && o.APIVersion != obj.APIVersion) {
			continue
		}
		if found != nil {
			return "", false, fmt.Errorf("read field %s of %s: %w", path, objectString(obj), patchers.ErrAmbiguous)
		}
		found = &objs[i]
	}
	if found == nil {
		return "", false, fmt.Errorf("read field %s of %s: %w", path, objectString(obj), patchers.ErrNotFound)
	}
	n := found.node
	for _, s := range steps {
		n = s.apply(n)
		if n == nil {
			return "", false, nil
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", false, nil
		}
		return n.Value, true, nil
	default:
		y, err := encodeNode(n)
		if err != nil {
			return "", false, err
		}
		return strings.TrimSuffix(string(y), "\n"), true, nil
	}
}

// fieldStep is one step of a field path.
type fieldStep struct {
	key        string // mapping key, when not a selector
	index      int    // list index, when isIndex
	isIndex    bool
	selKey     string // [selKey=selValue]
	selValue   string
	isSelector bool
}

func (s fieldStep) apply(n *yaml.Node) *yaml.Node {
	switch {
	case s.isIndex:
		if n.Kind != yaml.SequenceNode || s.index >= len(n.Content) {
			return nil
		}
		return n.Content[s.index]
	case s.isSelector:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, it := range n.Content {
			if c := child(it, s.selKey); c != nil && c.Kind == yaml.ScalarNode && c.Value == s.selValue {
				return it
			}
		}
		return nil
	default:
		return child(n, s.key)
	}
}

func parseFieldPath(p string) ([]fieldStep, error) {
	bad := func(why string) error { return fmt.Errorf("field path %q: %s", p, why) }
	if p == "" {
		return nil, bad("empty")
	}
	var steps []fieldStep
	rest := p
	for len(rest) > 0 {
		switch rest[0] {
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, bad("unclosed [")
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			switch k, v, hasEq := strings.Cut(inner, "="); {
			case inner == "":
				return nil, bad("empty []")
			case hasEq:
				if k == "" {
					return nil, bad("selector [" + inner + "] has no key")
				}
				steps = append(steps, fieldStep{selKey: k, selValue: v, isSelector: true})
			default:
				if i, err := strconv.Atoi(inner); err == nil {
					if i < 0 {
						return nil, bad("negative index")
					}
					steps = append(steps, fieldStep{index: i, isIndex: true})
				} else {
					steps = append(steps, fieldStep{key: inner})
				}
			}
			if len(rest) > 0 {
				if rest[0] != '.' && rest[0] != '[' {
					return nil, bad("expected . or [ after ]")
				}
				if rest[0] == '.' {
					rest = rest[1:]
					if rest == "" {
						return nil, bad("ends with .")
					}
				}
			}
		case '.':
			return nil, bad("empty key")
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			steps = append(steps, fieldStep{key: rest[:end]})
			rest = rest[end:]
			if strings.HasPrefix(rest, ".") {
				rest = rest[1:]
				if rest == "" {
					return nil, bad("ends with .")
				}
			}
		}
	}
	if len(steps) == 0 {
		return nil, errors.New("field path is empty")
	}
	return steps, nil
}
