package helm

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers/render"
)

// valuesFile is a values file parsed to yaml.v3 nodes. Edits are made in
// the file's own bytes at the positions the nodes give, so comments, key
// order, blank lines and indentation stay as they were.
type valuesFile struct {
	name string
	src  []byte
	root *yaml.Node // the top-level mapping; nil when the file is empty
}

func parseValuesFile(name string, src []byte) (*valuesFile, error) {
	if err := render.CheckYAML(name, src); err != nil {
		return nil, err
	}
	var d yaml.Node
	if err := yaml.Unmarshal(src, &d); err != nil {
		return nil, fmt.Errorf("values file %s is not valid YAML: %w", name, err)
	}
	vf := &valuesFile{name: name, src: src}
	if d.Kind == 0 || len(d.Content) == 0 {
		return vf, nil
	}
	top := d.Content[0]
	switch {
	case top.Kind == yaml.MappingNode:
		vf.root = top
	case top.Kind == yaml.ScalarNode && top.Tag == "!!null":
	default:
		return nil, fmt.Errorf("values file %s: the top level is not a mapping", name)
	}
	// helm reads the file into map[string]any; refuse what it would refuse.
	var m map[string]any
	if err := yaml.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("values file %s is not valid YAML: %w", name, err)
	}
	return vf, nil
}

// selector parses a path segment "[name=X]": the item of a list of
// mappings whose name is X.
func selector(k string) (string, bool) {
	if strings.HasPrefix(k, "[name=") && strings.HasSuffix(k, "]") {
		return k[len("[name=") : len(k)-1], true
	}
	return "", false
}

// child is mapGet, or for a selector the list item it names (k nil).
func child(n *yaml.Node, k string) (kn, v *yaml.Node) {
	name, ok := selector(k)
	if !ok {
		return render.MapEntry(n, k)
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, nil
	}
	for _, item := range n.Content {
		if _, nv := render.MapEntry(item, "name"); nv != nil && nv.Kind == yaml.ScalarNode && nv.Value == name {
			return nil, item
		}
	}
	return nil, nil
}

// get returns the scalar at path, if any.
func (vf *valuesFile) get(path []string) (*yaml.Node, bool) {
	n := vf.root
	for _, k := range path {
		_, n = child(n, k)
		if n == nil {
			return nil, false
		}
	}
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n, n != nil
}

// scalar is a value to write: its text and whether it is a number.
type scalar struct {
	text   string
	number bool // written as is (numbers, booleans)
	// style is the quoting a new key gets (the chart's default's).
	style yaml.Style
}

// set returns the file's bytes with path set to v, adding the keys that
// are missing. It checks its work: the result must read back as the
// original values with only that key changed.
func (vf *valuesFile) set(path []string, v scalar) ([]byte, error) {
	out, err := vf.edit(path, v)
	if err != nil {
		return nil, err
	}
	var want, got map[string]any
	if err := yaml.Unmarshal(vf.src, &want); err != nil {
		return nil, fmt.Errorf("values file %s is not valid YAML: %w", vf.name, err)
	}
	var val any = v.text
	if v.number {
		if err := yaml.Unmarshal([]byte(v.text), &val); err != nil {
			return nil, fmt.Errorf("value %q: %w", v.text, err)
		}
	}
	if want == nil {
		want = map[string]any{}
	}
	if err := yaml.Unmarshal(out, &got); err != nil || !reflect.DeepEqual(setTree(want, path, val), got) {
		return nil, fmt.Errorf("values file %s: cannot set %s without disturbing the rest of the file; edit it by hand", vf.name, keyString(path))
	}
	return out, nil
}

// setTree sets path in a decoded values tree, adding what is missing.
func setTree(t any, path []string, val any) any {
	if len(path) == 0 {
		return val
	}
	if name, ok := selector(path[0]); ok {
		list, _ := t.([]any)
		for i, item := range list {
			if m, ok := item.(map[string]any); ok && m["name"] == name {
				list[i] = setTree(m, path[1:], val)
				return list
			}
		}
		return append(list, setTree(map[string]any{"name": name}, path[1:], val))
	}
	m, ok := t.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	m[path[0]] = setTree(m[path[0]], path[1:], val)
	return m
}

func (vf *valuesFile) edit(path []string, v scalar) ([]byte, error) {
	lines := strings.SplitAfter(string(vf.src), "\n")
	step := vf.indentStep()
	keyStr := keyString(path)
	parent := vf.root
	for i, k := range path {
		kn, n := child(parent, k)
		if n == nil {
			if name, ok := selector(k); ok {
				return vf.appendItem(lines, parent, name, path[i+1:], v)
			}
			for _, rest := range path[i:] {
				if _, ok := selector(rest); ok {
					return nil, fmt.Errorf("values file %s: %s would need a new list; not edited", vf.name, keyStr)
				}
			}
			return vf.insert(lines, parent, path[i:], v, step)
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			return nil, fmt.Errorf("values file %s: %s goes through a YAML anchor or alias; not edited", vf.name, keyStr)
		}
		if i == len(path)-1 {
			if n.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("values file %s: %s is a map or list, not a value", vf.name, keyStr)
			}
			return vf.replace(lines, n, v)
		}
		if _, ok := selector(path[i+1]); ok {
			if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || n.Style&yaml.FlowStyle != 0 {
				return nil, fmt.Errorf("values file %s: %s is not a block list; not edited", vf.name, keyString(path[:i+1]))
			}
			parent = n
			continue
		}
		switch {
		case n.Kind == yaml.MappingNode && len(n.Content) > 0 && n.Style&yaml.FlowStyle != 0:
			return nil, fmt.Errorf("values file %s: %s is a flow mapping; not edited", vf.name, keyString(path[:i+1]))
		case n.Kind == yaml.MappingNode && len(n.Content) > 0:
		case n.Kind == yaml.MappingNode || (n.Kind == yaml.ScalarNode && n.Tag == "!!null"):
			// key: {} or key: (null): drop the value, then add below.
			ln := kn.Line - 1
			line := lines[ln]
			c := strings.Index(line[kn.Column-1:], ":")
			if c < 0 {
				return nil, fmt.Errorf("values file %s: cannot find the colon after %s", vf.name, k)
			}
			end := kn.Column - 1 + c + 1
			nl := ""
			if strings.HasSuffix(line, "\n") {
				nl = "\n"
			}
			lines[ln] = line[:end] + nl
			ind := kn.Column - 1 + step
			lines = insertLines(lines, ln+1, buildLines(path[i+1:], v, ind, step))
			return []byte(strings.Join(lines, "")), nil
		default:
			return nil, fmt.Errorf("values file %s: %s is not a map", vf.name, keyString(path[:i+1]))
		}
		parent = n
	}
	return nil, errors.New("empty values path")
}

// appendItem adds "- name: X" with keys (one) set to v at the end of the
// block list seq, laid out like its first item.
func (vf *valuesFile) appendItem(lines []string, seq *yaml.Node, name string, keys []string, v scalar) ([]byte, error) {
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) == 0 || seq.Style&yaml.FlowStyle != 0 || len(keys) != 1 {
		return nil, fmt.Errorf("values file %s: cannot add list item %s", vf.name, name)
	}
	first := seq.Content[0]
	if first.Kind != yaml.MappingNode || first.Style&yaml.FlowStyle != 0 || first.Line-1 >= len(lines) {
		return nil, fmt.Errorf("values file %s: line %d: list items are not block mappings; not edited", vf.name, first.Line)
	}
	line := lines[first.Line-1]
	col := first.Column - 1
	dash := strings.LastIndex(line[:min(col, len(line))], "-")
	if dash < 0 || strings.TrimSpace(line[:dash]) != "" {
		return nil, fmt.Errorf("values file %s: line %d: cannot find the list item's dash; not edited", vf.name, first.Line)
	}
	pad := strings.Repeat(" ", col)
	add := []string{
		line[:col] + "name: " + formatScalar(scalar{text: name}, 0) + "\n",
		pad + formatKey(keys[0]) + ": " + formatScalar(v, 0) + "\n",
	}
	after := min(endLine(seq), len(lines))
	if after > 0 && !strings.HasSuffix(lines[after-1], "\n") {
		lines[after-1] += "\n"
	}
	return []byte(strings.Join(insertLines(lines, after, add), "")), nil
}

func (vf *valuesFile) replace(lines []string, n *yaml.Node, v scalar) ([]byte, error) {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, fmt.Errorf("values file %s: line %d is a block scalar; not edited", vf.name, n.Line)
	}
	ln := n.Line - 1
	if ln < 0 || ln >= len(lines) {
		return nil, fmt.Errorf("values file %s: line %d out of range", vf.name, n.Line)
	}
	line := lines[ln]
	start := n.Column - 1
	if start > len(line) {
		return nil, fmt.Errorf("values file %s: column %d out of range on line %d", vf.name, n.Column, n.Line)
	}
	rest := line[start:]
	var end int
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end = closingQuote(rest, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		end = closingQuote(rest, '\'')
	case n.Tag == "!!null" && (rest == "" || rest == "\n" || strings.HasPrefix(rest, "#")):
		end = 0
	default:
		end = len(strings.TrimRight(strings.SplitN(strings.TrimRight(rest, "\n"), " #", 2)[0], " \t"))
		if n.Style&yaml.FlowStyle == 0 && end < len(n.Value) {
			end = -1
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("values file %s: the value on line %d spans several lines; not edited", vf.name, n.Line)
	}
	text := formatScalar(v, n.Style)
	if end == 0 && !strings.HasSuffix(line[:start], " ") {
		text = " " + text
	}
	lines[ln] = line[:start] + text + rest[end:]
	return []byte(strings.Join(lines, "")), nil
}

// closingQuote is the index just past the quote closing s's opening one,
// or -1.
func closingQuote(s string, q byte) int {
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\n':
			return -1
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return -1
}

// insert adds keys (the missing tail of a path) into mapping parent.
func (vf *valuesFile) insert(lines []string, parent *yaml.Node, keys []string, v scalar, step int) ([]byte, error) {
	if parent == nil {
		// An empty file.
		src := string(vf.src)
		if src != "" && !strings.HasSuffix(src, "\n") {
			src += "\n"
		}
		return []byte(src + strings.Join(buildLines(keys, v, 0, step), "")), nil
	}
	if parent.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("values file %s: line %d is a flow mapping; not edited", vf.name, parent.Line)
	}
	ind := parent.Content[0].Column - 1
	after := endLine(parent) // 1-based: insert after this line
	if after > len(lines) {
		after = len(lines)
	}
	if after > 0 && !strings.HasSuffix(lines[after-1], "\n") {
		lines[after-1] += "\n"
	}
	lines = insertLines(lines, after, buildLines(keys, v, ind, step))
	return []byte(strings.Join(lines, "")), nil
}

func insertLines(lines []string, at int, add []string) []string {
	out := make([]string, 0, len(lines)+len(add))
	out = append(out, lines[:at]...)
	out = append(out, add...)
	return append(out, lines[at:]...)
}

func buildLines(keys []string, v scalar, ind, step int) []string {
	var out []string
	for i, k := range keys {
		pad := strings.Repeat(" ", ind+i*step)
		if i == len(keys)-1 {
			out = append(out, pad+formatKey(k)+": "+formatScalar(v, v.style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle))+"\n")
		} else {
			out = append(out, pad+formatKey(k)+":\n")
		}
	}
	return out
}

// endLine is the last line a node's content occupies.
func endLine(n *yaml.Node) int {
	last := n.Line
	if n.Kind == yaml.ScalarNode {
		last += strings.Count(n.Value, "\n")
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 && strings.HasSuffix(n.Value, "\n") {
			last--
		}
	}
	for _, c := range n.Content {
		if l := endLine(c); l > last {
			last = l
		}
	}
	return last
}

// indentStep is the file's indentation step (2 when it cannot tell).
func (vf *valuesFile) indentStep() int {
	best := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				if d := v.Content[0].Column - k.Column; d > 0 && (best == 0 || d < best) {
					best = d
				}
				walk(v)
			}
		}
	}
	walk(vf.root)
	if best == 0 {
		return 2
	}
	return best
}

func formatKey(k string) string {
	if plainStringOK(k) {
		return k
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// formatScalar renders v in the style of the scalar it replaces.
func formatScalar(v scalar, style yaml.Style) string {
	if v.number {
		return v.text
	}
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		b, _ := json.Marshal(v.text)
		return string(b)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v.text, "'", "''") + "'"
	case plainStringOK(v.text):
		return v.text
	default:
		b, _ := json.Marshal(v.text)
		return string(b)
	}
}

// plainStringOK reports whether s, written plain, reads back as the same
// string.
func plainStringOK(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n#\"'{}[],&*!|>%@`") || strings.TrimSpace(s) != s {
		return false
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte("k: "+s), &m); err != nil {
		return false
	}
	got, ok := m["k"].(string)
	return ok && got == s
}

// keyString writes a values path as a.b[name=X].c.
func keyString(path []string) string {
	var b strings.Builder
	for i, k := range path {
		if _, sel := selector(k); i > 0 && !sel {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}
