package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers/render"
)

// chunk is one document of a file as text: the separator line before it
// (nil for the first document) and its body. A file is the concatenation of
// its chunks' sep+body, so editing one body leaves the others untouched.
type chunk struct {
	sep  []byte
	body []byte
	line int // file line (1-based) of the body's first line
}

// splitDocs splits a file into chunks at "---" separator lines.
func splitDocs(b []byte) []chunk {
	var out []chunk
	cur := chunk{line: 1}
	line := 1
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n')
		var l []byte
		if n < 0 {
			l, b = b, nil
		} else {
			l, b = b[:n+1], b[n+1:]
		}
		if isSeparator(l) {
			out = append(out, cur)
			cur = chunk{sep: l, line: line + 1}
		} else {
			cur.body = append(cur.body, l...)
		}
		line++
	}
	return append(out, cur)
}

// isSeparator reports whether l is a "---" line ending a document: alone
// or followed by a comment ("--- value" starts a document on its line, which
// manifests never do, and is left to the parser).
func isSeparator(l []byte) bool {
	l = bytes.TrimRight(l, "\r\n")
	rest, ok := bytes.CutPrefix(l, []byte("---"))
	if !ok {
		return false
	}
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

func joinDocs(cs []chunk) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c.sep...)
		b = append(b, c.body...)
	}
	return b
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseDoc parses one document body; root is its top-level node, nil when
// the document is empty. A panic of the parser on hostile input is turned
// into an error. Line numbers in errors are shifted by offset.
func parseDoc(body []byte, offset int) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: line %d: cannot parse document: %v", offset+1, r)
		}
	}()
	var d yaml.Node
	if err := yaml.Unmarshal(body, &d); err != nil {
		msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(s string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
			return fmt.Sprintf("line %d", n+offset)
		})
		return nil, errors.New(msg)
	}
	if d.Kind != yaml.DocumentNode || len(d.Content) == 0 {
		return nil, nil
	}
	return d.Content[0], nil
}

// editor edits one document's text by byte ranges located through its
// parsed nodes. Every edit method makes at most one text change; callers
// parse again (root) after each.
type editor struct {
	src []byte
}

func (e *editor) root() (*yaml.Node, error) {
	n, err := parseDoc(e.src, 0)
	if err != nil {
		return nil, err
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, errors.New("document is not a mapping")
	}
	return n, nil
}

// lineStarts returns the byte offset of the start of each line, plus len(src).
func (e *editor) lineStarts() []int {
	starts := []int{0}
	for i, c := range e.src {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	if starts[len(starts)-1] != len(e.src) {
		starts = append(starts, len(e.src))
	}
	return starts
}

func (e *editor) line(starts []int, l int) []byte {
	if l < 1 || l >= len(starts) {
		return nil
	}
	return e.src[starts[l-1]:starts[l]]
}

// offset is the byte offset of a node's line and (rune) column.
func (e *editor) offset(starts []int, n *yaml.Node) (int, error) {
	l := e.line(starts, n.Line)
	if l == nil {
		return 0, fmt.Errorf("line %d: out of range", n.Line)
	}
	off := 0
	for c := 1; c < n.Column; c++ {
		if off >= len(l) {
			return 0, fmt.Errorf("line %d: column %d out of range", n.Line, n.Column)
		}
		_, size := utf8.DecodeRune(l[off:])
		off += size
	}
	return starts[n.Line-1] + off, nil
}

// scalarEnd is the end offset of the single-line scalar starting at start.
func (e *editor) scalarEnd(start int, n *yaml.Node, inFlow bool) (int, error) {
	s := e.src
	eol := bytes.IndexByte(s[start:], '\n')
	if eol < 0 {
		eol = len(s)
	} else {
		eol += start
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < eol; i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < eol; i++ {
			if s[i] == '\'' {
				if i+1 < eol && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, fmt.Errorf("line %d: block scalars are not edited", n.Line)
	default:
		end := eol
		for i := start; i < eol; i++ {
			if s[i] == '#' && i > start && (s[i-1] == ' ' || s[i-1] == '\t') {
				end = i
				break
			}
			if s[i] == ':' && (i+1 == eol || s[i+1] == ' ' || s[i+1] == '\t' || s[i+1] == '\r') {
				end = i // a key's ":"
				break
			}
			if inFlow && (s[i] == ',' || s[i] == '}' || s[i] == ']') {
				end = i
				break
			}
		}
		end = start + len(bytes.TrimRight(s[start:end], " \t\r"))
		if string(s[start:end]) == n.Value {
			return end, nil
		}
	}
	return 0, fmt.Errorf("line %d: only single-line scalars are edited", n.Line)
}

func (e *editor) splice(from, to int, text string) {
	out := make([]byte, 0, len(e.src)-(to-from)+len(text))
	out = append(out, e.src[:from]...)
	out = append(out, text...)
	out = append(out, e.src[to:]...)
	e.src = out
}

// replaceScalar replaces the text of scalar n with text.
func (e *editor) replaceScalar(n *yaml.Node, inFlow bool, text string) error {
	if n.Kind != yaml.ScalarNode || n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return fmt.Errorf("line %d: only plain or quoted scalars are edited", n.Line)
	}
	starts := e.lineStarts()
	start, err := e.offset(starts, n)
	if err != nil {
		return err
	}
	end := start
	if !(n.Tag == "!!null" && n.Value == "") {
		if end, err = e.scalarEnd(start, n, inFlow); err != nil {
			return err
		}
	}
	e.splice(start, end, text)
	return nil
}

// afterColon inserts text right after the ":" that follows key k.
func (e *editor) afterColon(k *yaml.Node, inFlow bool, text string) error {
	starts := e.lineStarts()
	start, err := e.offset(starts, k)
	if err != nil {
		return err
	}
	end, err := e.scalarEnd(start, k, inFlow)
	if err != nil {
		return err
	}
	for end < len(e.src) && (e.src[end] == ' ' || e.src[end] == '\t') {
		end++
	}
	if end >= len(e.src) || e.src[end] != ':' {
		return fmt.Errorf("line %d: no \":\" after %s", k.Line, k.Value)
	}
	e.splice(end+1, end+1, text)
	return nil
}

func indentOf(l []byte) (int, bool) {
	i := 0
	for i < len(l) && l[i] == ' ' {
		i++
	}
	rest := bytes.TrimSpace(l[i:])
	return i, len(rest) > 0
}

// entryEnd is the last line of a mapping entry (key k, value v): the lines
// after the key's that are indented more than the key, or are items of a
// block sequence value written at the key's own indentation.
func (e *editor) entryEnd(starts []int, k, v *yaml.Node) int {
	k0 := k.Column - 1
	seq := v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0
	end := k.Line
	for l := k.Line + 1; l < len(starts); l++ {
		text := e.line(starts, l)
		ind, nonBlank := indentOf(text)
		if !nonBlank {
			continue
		}
		rest := text[ind:]
		if ind > k0 || (seq && ind == k0 && rest[0] == '-' && (len(rest) == 1 || rest[1] == ' ' || rest[1] == '\n' || rest[1] == '\r')) {
			end = l
			continue
		}
		break
	}
	return end
}

// insertAfterLine inserts text after line l.
func (e *editor) insertAfterLine(starts []int, l int, text string) {
	if bytes.Contains(e.src, []byte("\r\n")) { // keep Windows line endings
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	at := starts[l]
	if at == len(e.src) && (len(e.src) == 0 || e.src[len(e.src)-1] != '\n') {
		text = "\n" + text
	}
	e.splice(at, at, text)
}

// step is the document's indentation step: how much deeper a nested
// mapping's keys sit than their parent key. 2 when nothing tells.
func step(root *yaml.Node) int {
	var found int
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if found > 0 || n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line && v.Column > k.Column {
					found = v.Column - k.Column
					return
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if found <= 0 || found > 8 {
		return 2
	}
	return found
}

// block renders path as nested block mapping lines at indent, ending in
// value: YAML text on the last key's line, or, when value starts with
// "\n", lines indented one step below the last key.
func block(indent, st int, path []string, value string) string {
	var b strings.Builder
	for i, k := range path {
		b.WriteString(strings.Repeat(" ", indent+i*st))
		b.WriteString(k)
		if i == len(path)-1 {
			if strings.HasPrefix(value, "\n") {
				b.WriteString(":")
				b.WriteString(reindent(value, indent+(i+1)*st))
			} else {
				b.WriteString(": ")
				b.WriteString(value)
				b.WriteString("\n")
			}
		} else {
			b.WriteString(":\n")
		}
	}
	return b.String()
}

// reindent indents every line of a "\n"-led block by n spaces.
func reindent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimPrefix(s, "\n"), "\n")
	var b strings.Builder
	b.WriteString("\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}

// setPath sets path under mapping m to value (YAML text; a value starting
// with "\n" is a block of lines indented relative to the last key). eq
// reports whether the current scalar already means the value. It makes at
// most one text change and reports whether it made one.
func (e *editor) setPath(root, m *yaml.Node, path []string, value string, eq func(cur *yaml.Node) bool) (bool, error) {
	st := step(root)
	inFlow := m.Style&yaml.FlowStyle != 0
	k, v := render.MapEntry(m, path[0])
	starts := e.lineStarts()
	if k == nil {
		switch {
		case len(m.Content) == 0 && m.Style&yaml.FlowStyle != 0:
			// "key: {}": drop the braces and write the block below.
			start, err := e.offset(starts, m)
			if err != nil {
				return false, err
			}
			if !bytes.HasPrefix(e.src[start:], []byte("{}")) {
				return false, fmt.Errorf("line %d: cannot edit this flow mapping", m.Line)
			}
			ind, _ := indentOf(e.line(starts, m.Line))
			e.splice(start, start+2, "")
			// trailing space before a removed "{}" is harmless but untidy
			if start > 0 && e.src[start-1] == ' ' {
				e.splice(start-1, start, "")
			}
			e.insertAfterLine(e.lineStarts(), m.Line, block(ind+st, st, path, value))
			return true, nil
		case inFlow:
			return false, fmt.Errorf("line %d: cannot add %q to a flow-style mapping", m.Line, path[0])
		case len(m.Content) == 0:
			return false, fmt.Errorf("line %d: empty mapping", m.Line)
		}
		lk, lv := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
		end := e.entryEnd(starts, lk, lv)
		e.insertAfterLine(starts, end, block(m.Content[0].Column-1, st, path, value))
		return true, nil
	}
	if len(path) == 1 {
		if v.Kind != yaml.ScalarNode || strings.HasPrefix(value, "\n") {
			return false, fmt.Errorf("line %d: %s is not a single value", v.Line, path[0])
		}
		if eq(v) {
			return false, nil
		}
		if v.Tag == "!!null" && v.Value == "" { // "key:" with nothing after it
			return true, e.afterColon(k, inFlow, " "+value)
		}
		return true, e.replaceScalar(v, inFlow, restyle(value, v.Style))
	}
	switch {
	case v.Kind == yaml.MappingNode:
		return e.setPath(root, v, path[1:], value, eq)
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		if err := e.replaceScalar(v, inFlow, ""); err != nil {
			return false, err
		}
		// drop the space left after "key:"
		starts = e.lineStarts()
		l := e.line(starts, k.Line)
		trimmed := bytes.TrimRight(l, " \t\r\n")
		if !bytes.ContainsRune(trimmed, '#') {
			e.splice(starts[k.Line-1]+len(trimmed), starts[k.Line-1]+len(bytes.TrimRight(l, "\r\n")), "")
			starts = e.lineStarts()
		}
		e.insertAfterLine(starts, k.Line, block(k.Column-1+st, st, path[1:], value))
		return true, nil
	default:
		return false, fmt.Errorf("line %d: %s is not a mapping", v.Line, path[0])
	}
}

// appendItem appends a block-sequence item (lines of a mapping, without
// the dash) to the sequence value of key in mapping m, creating the key
// when missing. seqOff is how far the dashes sit right of their key when
// the sequence is new.
func (e *editor) appendItem(root, m *yaml.Node, key string, item []string, seqOff int) error {
	k, v := render.MapEntry(m, key)
	starts := e.lineStarts()
	render := func(dash int) string {
		var b strings.Builder
		for i, l := range item {
			if i == 0 {
				b.WriteString(strings.Repeat(" ", dash) + "- " + l + "\n")
			} else {
				b.WriteString(strings.Repeat(" ", dash+2) + l + "\n")
			}
		}
		return b.String()
	}
	switch {
	case k == nil:
		if len(m.Content) == 0 || m.Style&yaml.FlowStyle != 0 {
			return fmt.Errorf("line %d: cannot add %q here", m.Line, key)
		}
		ind := m.Content[0].Column - 1
		lk, lv := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
		end := e.entryEnd(starts, lk, lv)
		e.insertAfterLine(starts, end, strings.Repeat(" ", ind)+key+":\n"+render(ind+seqOff))
		return nil
	case v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0:
		first := v.Content[0]
		dash := first.Column - 1 - 2
		if l := e.line(starts, first.Line); dash < 0 || dash >= len(l) || l[dash] != '-' {
			return fmt.Errorf("line %d: cannot tell the indentation of %s", first.Line, key)
		}
		e.insertAfterLine(starts, e.entryEnd(starts, k, v), render(dash))
		return nil
	case v.Kind == yaml.SequenceNode && len(v.Content) == 0 && v.Style&yaml.FlowStyle != 0:
		start, err := e.offset(starts, v)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(e.src[start:], []byte("[]")) {
			return fmt.Errorf("line %d: cannot edit this flow sequence", v.Line)
		}
		from := start
		if from > 0 && e.src[from-1] == ' ' {
			from--
		}
		e.splice(from, start+2, "")
		e.insertAfterLine(e.lineStarts(), k.Line, render(k.Column-1+seqOff))
		return nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "":
		e.insertAfterLine(starts, k.Line, render(k.Column-1+seqOff))
		return nil
	default:
		return fmt.Errorf("line %d: %s is not a block sequence", v.Line, key)
	}
}

// restyle writes value (plain YAML text of a string or number) in the
// quoting style of the scalar it replaces.
func restyle(value string, style yaml.Style) string {
	raw := value
	if u, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
		raw = u
	}
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(raw)
	case style&yaml.SingleQuotedStyle != 0 && !strings.ContainsAny(raw, "\n\\"):
		return "'" + strings.ReplaceAll(raw, "'", "''") + "'"
	}
	return value
}

// yaml11Words are plain words a YAML 1.1 parser (Kubernetes' own, by way
// of sigs.k8s.io/yaml) reads as booleans, though YAML 1.2 reads strings.
var yaml11Words = map[string]bool{
	"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true,
	"true": true, "false": true,
}

// stringText is s as YAML text that reads back as the string s under YAML
// 1.1 and 1.2: plain when that is safe, double-quoted otherwise. Text
// without a letter is always quoted (numbers, YAML 1.1's base-60 "1:30").
func stringText(s string) string {
	if s != "" && !yaml11Words[strings.ToLower(s)] && strings.ContainsFunc(s, unicode.IsLetter) &&
		!strings.ContainsAny(s, "\n\r\t\\\"") {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+s), &n); err == nil && len(n.Content) == 1 {
			if _, v := render.MapEntry(n.Content[0], "v"); v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == s && v.Style == 0 {
				return s
			}
		}
	}
	return strconv.Quote(s)
}
