package render

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
)

// Doc is one object of a rendered stream: its identity and its canonical
// YAML (mapping keys sorted, comments and quoting styles dropped, aliases
// expanded, two-space indentation), so that two Docs with equal YAML have
// equal content.
type Doc struct {
	Object patchers.Object
	YAML   []byte
}

// Manifests concatenates every *.yaml and *.yml document under dir
// (recursively, in lexical path order), skipping kustomization files and
// hidden files and folders (.git, .github, .gitlab-ci.yml: not manifests).
// Each non-empty document is written as "---", a "# Source: <path>"
// comment and the document's text without leading blank lines.
func Manifests(repo fs.FS, dir string) ([]byte, error) {
	dir = cleanDir(dir)
	var out bytes.Buffer
	err := fs.WalkDir(repo, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := p != dir && strings.HasPrefix(d.Name(), ".")
		if d.IsDir() {
			if hidden {
				return fs.SkipDir
			}
			return nil
		}
		ext := path.Ext(p)
		if hidden {
			return nil
		}
		if (ext != ".yaml" && ext != ".yml") || IsKustomization(p) {
			return nil
		}
		real := p
		if d.Type()&fs.ModeSymlink != 0 {
			r, fi, err := resolve(repo, p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return nil // a linked folder is not walked, as no folder link is
			}
			real = r
		}
		data, err := fs.ReadFile(repo, real)
		if err != nil {
			return err
		}
		if err := CheckYAML(p, data); err != nil {
			return err
		}
		for _, doc := range splitDocs(data) {
			if isEmptyDoc(doc) {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n", p)
			out.Write(trimDoc(doc))
			out.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifests %s: %w", dir, err)
	}
	return out.Bytes(), nil
}

// splitDocs splits a YAML stream at its "---" separator lines. A separator
// at column 0 always ends a document: block scalars are indented. The
// separator lines themselves are dropped; a "%YAML" directive is kept with
// its document.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if end >= 0 {
			next = i + end + 1
		}
		line := bytes.TrimRight(data[i:next], "\r\n")
		if isSeparator(line) {
			docs = append(docs, data[start:i])
			start = next
		}
		i = next
	}
	return append(docs, data[start:])
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	if len(rest) == 0 {
		return true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return false
	}
	rest = bytes.TrimSpace(rest)
	// "--- # comment" separates; "--- !tag" or "--- value" starts a
	// document on the same line, which rendered manifests never do.
	return len(rest) == 0 || rest[0] == '#'
}

// trimDoc drops a document's leading blank lines and trailing whitespace.
func trimDoc(doc []byte) []byte {
	for {
		i := bytes.IndexByte(doc, '\n')
		if i < 0 || len(bytes.TrimSpace(doc[:i])) > 0 {
			break
		}
		doc = doc[i+1:]
	}
	return bytes.TrimRight(doc, " \t\r\n")
}

// isEmptyDoc reports whether doc holds only blank lines and comments.
func isEmptyDoc(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("...")) {
			return false
		}
	}
	return true
}

// docSource returns the "# Source: x" comment at the top of a document.
func docSource(doc []byte) string {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if s, ok := bytes.CutPrefix(line, []byte("# Source: ")); ok {
			return string(s)
		}
		if len(line) > 0 && line[0] != '#' {
			break
		}
	}
	return ""
}

// Objects parses a multi-document YAML stream into its objects, in order.
// Empty documents are skipped; a List (kind: List with items) yields its
// items. Invalid YAML, a document that is not a mapping, and an object
// without apiVersion or kind are errors naming the document index (1-based,
// counting non-empty documents) and its "# Source:" when it has one.
func Objects(manifests []byte) ([]Doc, error) {
	objs, err := parseStream(manifests)
	if err != nil {
		return nil, err
	}
	out := make([]Doc, len(objs))
	errs := make([]error, len(objs))
	parallel(len(objs), func(i int) {
		out[i].Object = objs[i].obj
		out[i].YAML, errs[i] = encodeNode(objs[i].node)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parsed is one object of a stream: its identity and normalized node.
type parsed struct {
	obj  patchers.Object
	node *yaml.Node
}

// parseStream splits and parses a stream, the documents in parallel.
func parseStream(manifests []byte) ([]parsed, error) {
	if err := CheckYAML("rendered manifests", manifests); err != nil {
		return nil, err
	}
	var raws [][]byte
	for _, raw := range splitDocs(manifests) {
		if !isEmptyDoc(raw) {
			raws = append(raws, raw)
		}
	}
	results := make([][]parsed, len(raws))
	errs := make([]error, len(raws))
	parallel(len(raws), func(i int) {
		results[i], errs[i] = parseDoc(raws[i])
	})
	var out []parsed
	for i, r := range results {
		if err := errs[i]; err != nil {
			where := fmt.Sprintf("document %d", i+1)
			if src := docSource(raws[i]); src != "" {
				where += " (" + src + ")"
			}
			return nil, fmt.Errorf("parse %s: %w", where, err)
		}
		out = append(out, r...)
	}
	return out, nil
}

// parallel calls f(0) … f(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

func parseDoc(raw []byte) ([]parsed, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, nil
	}
	node := normalize(root.Content[0])
	if node.Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping")
	}
	if scalar(node, "kind") == "List" {
		if items := child(node, "items"); items != nil && items.Kind == yaml.SequenceNode {
			var out []parsed
			for i, it := range items.Content {
				p, err := makeParsed(it)
				if err != nil {
					return nil, fmt.Errorf("items[%d]: %w", i, err)
				}
				out = append(out, p)
			}
			return out, nil
		}
	}
	p, err := makeParsed(node)
	if err != nil {
		return nil, err
	}
	return []parsed{p}, nil
}

func makeParsed(node *yaml.Node) (parsed, error) {
	if node.Kind != yaml.MappingNode {
		return parsed{}, errors.New("not a mapping")
	}
	obj := patchers.Object{
		APIVersion: scalar(node, "apiVersion"),
		Kind:       scalar(node, "kind"),
	}
	if md := child(node, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		obj.Name = scalar(md, "name")
		obj.Namespace = scalar(md, "namespace")
	}
	switch {
	case obj.APIVersion == "":
		return parsed{}, errors.New("no apiVersion: not a Kubernetes object")
	case obj.Kind == "":
		return parsed{}, errors.New("no kind: not a Kubernetes object")
	}
	return parsed{obj: obj, node: node}, nil
}

// nodeEqual reports whether two normalized nodes have the same content.
func nodeEqual(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !nodeEqual(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func encodeNode(node *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b.Bytes(), nil
}

// MapEntry returns the key and value nodes of key in mapping m; both nil
// when m is not a mapping or has no such key.
func MapEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// child returns the value of key in mapping m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	_, v := MapEntry(m, key)
	return v
}

// scalar returns the scalar value of key in mapping m, or "".
func scalar(m *yaml.Node, key string) string {
	if c := child(m, key); c != nil && c.Kind == yaml.ScalarNode && c.Tag != "!!null" {
		return c.Value
	}
	return ""
}

// normalize returns a canonical copy of n: aliases expanded, comments and
// styles dropped, mapping keys sorted, nulls spelled "null".
func normalize(n *yaml.Node) *yaml.Node {
	return normalizeDepth(n, 0)
}

func normalizeDepth(n *yaml.Node, depth int) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil && depth < 100 {
		return normalizeDepth(n.Alias, depth+1)
	}
	c := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value}
	if c.Kind == yaml.ScalarNode && c.Tag == "!!null" {
		c.Value = "null"
	}
	if c.Kind == yaml.ScalarNode && strings.HasPrefix(c.Tag, "!") && !strings.HasPrefix(c.Tag, "!!") {
		// A custom tag is content; keep it.
		c.Style = yaml.TaggedStyle
	}
	for _, k := range n.Content {
		c.Content = append(c.Content, normalizeDepth(k, depth))
	}
	if c.Kind == yaml.MappingNode {
		type pair struct{ k, v *yaml.Node }
		pairs := make([]pair, 0, len(c.Content)/2)
		for i := 0; i+1 < len(c.Content); i += 2 {
			pairs = append(pairs, pair{c.Content[i], c.Content[i+1]})
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(a.k.Value, b.k.Value) })
		c.Content = c.Content[:0]
		for _, p := range pairs {
			c.Content = append(c.Content, p.k, p.v)
		}
	}
	return c
}

// Changed compares two renders and lists the objects added, removed or
// whose content differs, sorted by namespace, kind, name and apiVersion.
// Content is compared parsed (key order, comments and quoting do not
// count; document order does not either). An object that appears more
// than once in a render (the same namespace-less manifest in two folders)
// is compared occurrence by occurrence, in order, and listed once.
func Changed(before, after []byte) ([]patchers.Object, error) {
	b, err := objectMap(before)
	if err != nil {
		return nil, fmt.Errorf("compare renders: before: %w", err)
	}
	a, err := objectMap(after)
	if err != nil {
		return nil, fmt.Errorf("compare renders: after: %w", err)
	}
	set := map[patchers.Object]bool{}
	for k, y := range b {
		if ay, ok := a[k]; !ok || !nodeEqual(y, ay) {
			set[k.obj] = true
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			set[k.obj] = true
		}
	}
	out := make([]patchers.Object, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	SortObjects(out)
	return out, nil
}

// SortObjects sorts objects by namespace, kind, name and apiVersion, the
// order Changed returns.
func SortObjects(objs []patchers.Object) {
	slices.SortFunc(objs, func(x, y patchers.Object) int {
		return cmp.Or(
			cmp.Compare(x.Namespace, y.Namespace),
			cmp.Compare(x.Kind, y.Kind),
			cmp.Compare(x.Name, y.Name),
			cmp.Compare(x.APIVersion, y.APIVersion),
		)
	})
}

// occurrence is an object's identity and which of its appearances in a
// render this is (0 for the first).
type occurrence struct {
	obj patchers.Object
	n   int
}

func objectMap(manifests []byte) (map[occurrence]*yaml.Node, error) {
	objs, err := parseStream(manifests)
	if err != nil {
		return nil, err
	}
	m := make(map[occurrence]*yaml.Node, len(objs))
	seen := make(map[patchers.Object]int, len(objs))
	for _, p := range objs {
		m[occurrence{p.obj, seen[p.obj]}] = p.node
		seen[p.obj]++
	}
	return m, nil
}

func objectString(o patchers.Object) string {
	s := o.APIVersion + " " + o.Kind + " "
	if o.Namespace != "" {
		s += o.Namespace + "/"
	}
	return s + o.Name
}
