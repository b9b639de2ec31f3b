package helm

// Rendering, object listing, field reading and diffing. These are local
// stand-ins with the same shapes as package patchers/render's, so that the
// patcher can move to it without changing its logic.

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/medic-bot/medic/patchers"
)

// overlayFS is base with files replaced (or added) by path.
type overlayFS struct {
	base  fs.FS
	files fstest.MapFS
}

func overlay(base fs.FS, files map[string][]byte) fs.FS {
	m := fstest.MapFS{}
	for p, b := range files {
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return overlayFS{base: base, files: m}
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if _, ok := o.files[name]; ok {
		return o.files.Open(name)
	}
	return o.base.Open(name)
}

func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if f, ok := o.files[name]; ok {
		return f.Data, nil
	}
	return fs.ReadFile(o.base, name)
}

// helmTemplate renders the chart at chartDir like `helm template release
// chartDir -n namespace -f valuesFiles...`.
func helmTemplate(repo fs.FS, chartDir string, valuesFiles []string, release, namespace string) ([]byte, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(repo, chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, chartDir+"/")
		if chartDir == "." {
			rel = p
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chart %s: %w", chartDir, err)
	}
	chrt, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	vals := map[string]any{}
	for _, vf := range valuesFiles {
		b, err := fs.ReadFile(repo, vf)
		if err != nil {
			return nil, fmt.Errorf("read values %s: %w", vf, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("parse values %s: %w", vf, err)
		}
		vals = mergeMaps(vals, m)
	}
	rv, err := chartutil.ToRenderValues(chrt, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values for chart %s: %w", chartDir, err)
	}
	out, err := engine.Render(chrt, rv)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chartDir, err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		body := strings.TrimSpace(out[n])
		// A template may emit several documents; drop empty ones.
		for _, d := range splitDocs(body) {
			fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", n, d)
		}
	}
	return buf.Bytes(), nil
}

// splitDocs splits a template's output at "---" lines and drops documents
// that hold nothing but comments and blank lines.
func splitDocs(s string) []string {
	var docs []string
	for _, part := range strings.Split("\n"+s, "\n---") {
		part = strings.TrimPrefix(part, "\n")
		keep := false
		for _, l := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				keep = true
				break
			}
		}
		if keep {
			docs = append(docs, strings.TrimRight(part, "\n "))
		}
	}
	return docs
}

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

// objects splits rendered manifests into objects; an object without a
// namespace gets ns.
func objects(manifests []byte, ns string) ([]doc, error) {
	var docs []doc
	for _, part := range strings.Split("\n"+string(manifests), "\n---\n") {
		var v map[string]any
		if err := yaml.Unmarshal([]byte(part), &v); err != nil {
			return nil, fmt.Errorf("parse rendered manifests: %w", err)
		}
		if len(v) == 0 {
			continue
		}
		o := patchers.Object{}
		o.APIVersion, _ = v["apiVersion"].(string)
		o.Kind, _ = v["kind"].(string)
		if md, ok := v["metadata"].(map[string]any); ok {
			o.Name, _ = md["name"].(string)
			o.Namespace, _ = md["namespace"].(string)
		}
		if o.Namespace == "" {
			o.Namespace = ns
		}
		docs = append(docs, doc{Object: o, Value: v, YAML: []byte(strings.TrimSpace(part) + "\n")})
	}
	return docs, nil
}

// changed lists the objects that differ between two sets of rendered
// documents, in the order they appear (after's, then removed ones).
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

// unifiedDiff is a unified diff (3 lines of context) of a and b; "" when
// they are equal.
func unifiedDiff(aName, bName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	ops := lcsOps(al, bl)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "--- %s\n+++ %s\n", aName, bName)
	const ctx = 3
	// Group ops into hunks.
	type op struct {
		kind byte // ' ', '-', '+'
		line string
		ai   int
		bi   int
	}
	var list []op
	ai, bi := 0, 0
	for _, k := range ops {
		switch k {
		case ' ':
			list = append(list, op{' ', al[ai], ai, bi})
			ai++
			bi++
		case '-':
			list = append(list, op{'-', al[ai], ai, bi})
			ai++
		case '+':
			list = append(list, op{'+', bl[bi], ai, bi})
			bi++
		}
	}
	for i := 0; i < len(list); {
		if list[i].kind == ' ' {
			i++
			continue
		}
		start := i - ctx
		if start < 0 {
			start = 0
		}
		end := i
		for j := i; j < len(list); j++ {
			if list[j].kind != ' ' {
				end = j
			} else if j-end > 2*ctx {
				break
			}
		}
		stop := end + ctx + 1
		if stop > len(list) {
			stop = len(list)
		}
		h := list[start:stop]
		na, nb := 0, 0
		for _, o := range h {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		as, bs := h[0].ai+1, h[0].bi+1
		if na == 0 {
			as--
		}
		if nb == 0 {
			bs--
		}
		fmt.Fprintf(&buf, "@@ -%d,%d +%d,%d @@\n", as, na, bs, nb)
		for _, o := range h {
			buf.WriteByte(o.kind)
			buf.WriteString(o.line)
			buf.WriteByte('\n')
		}
		i = stop
	}
	return buf.String()
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lcsOps is an edit script from a to b by longest common subsequence.
func lcsOps(a, b []string) []byte {
	n, m := len(a), len(b)
	// Trim common prefix and suffix to keep the table small.
	p := 0
	for p < n && p < m && a[p] == b[p] {
		p++
	}
	s := 0
	for s < n-p && s < m-p && a[n-1-s] == b[m-1-s] {
		s++
	}
	ca, cb := a[p:n-s], b[p:m-s]
	t := make([][]int32, len(ca)+1)
	for i := range t {
		t[i] = make([]int32, len(cb)+1)
	}
	for i := len(ca) - 1; i >= 0; i-- {
		for j := len(cb) - 1; j >= 0; j-- {
			if ca[i] == cb[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	ops := bytes.Repeat([]byte{' '}, p)
	i, j := 0, 0
	for i < len(ca) || j < len(cb) {
		switch {
		case i < len(ca) && j < len(cb) && ca[i] == cb[j]:
			ops = append(ops, ' ')
			i++
			j++
		case i < len(ca) && (j == len(cb) || t[i+1][j] >= t[i][j+1]):
			ops = append(ops, '-')
			i++
		default:
			ops = append(ops, '+')
			j++
		}
	}
	return append(ops, bytes.Repeat([]byte{' '}, s)...)
}
