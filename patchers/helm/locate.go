package helm

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/patchers"
)

// Probe values: unlikely to appear in a chart by accident.
const (
	sentinelText   = "medic-probe-48611"
	sentinelNumber = "48611"
)

// merged is the chart's defaults with the environment file content over
// them: the values tree the candidates come from.
func (s *session) merged(content []byte) map[string]any {
	var env map[string]any
	_ = yaml.Unmarshal(content, &env)
	if s.file == "" || len(s.defaults) == 0 {
		return mergeMaps(map[string]any{}, env)
	}
	return mergeMaps(s.defaults, env)
}

type leaf struct {
	path  []string
	value any
}

// leaves walks the values tree's scalars in key order.
func leaves(m map[string]any, prefix []string, out *[]leaf) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := append(append([]string(nil), prefix...), k)
		switch v := m[k].(type) {
		case map[string]any:
			leaves(v, p, out)
		case []any:
			// Lists of named mappings (env: [{name, value}]) are
			// addressed by name.
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					if n, ok := im["name"].(string); ok {
						leaves(im, append(append([]string(nil), p...), "[name="+n+"]"), out)
					}
				}
			}
		default:
			*out = append(*out, leaf{path: p, value: v})
		}
	}
}

// namedLists lists the paths of the values tree's lists of named
// mappings, with the names each holds.
func namedLists(m map[string]any, prefix []string, out map[string][]string, paths *[][]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := append(append([]string(nil), prefix...), k)
		switch v := m[k].(type) {
		case map[string]any:
			namedLists(v, p, out, paths)
		case []any:
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					if n, ok := im["name"].(string); ok {
						key := strings.Join(p, "\x00")
						if _, seen := out[key]; !seen {
							*paths = append(*paths, p)
						}
						out[key] = append(out[key], n)
					}
				}
			}
		}
	}
}

// mapPaths lists the paths of the values tree's maps, the root first.
func mapPaths(m map[string]any) [][]string {
	out := [][]string{nil}
	var walk func(m map[string]any, prefix []string)
	walk = func(m map[string]any, prefix []string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if sub, ok := m[k].(map[string]any); ok {
				p := append(append([]string(nil), prefix...), k)
				out = append(out, p)
				walk(sub, p)
			}
		}
	}
	walk(m, nil)
	return out
}

func valueAt(m map[string]any, p []string) any {
	var v any = m
	for _, k := range p {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// affinity ranks a values path by how much it names the target: keys
// under the workload's own name come first.
func (s *session) affinity(p []string) int {
	n := 0
	for _, k := range p {
		switch {
		case k == s.target.Name:
			n += 4
		case k == s.container:
			n++
		case strings.Contains(strings.ToLower(k), s.target.Name):
			n += 2
		}
	}
	return n
}

// candidates orders the values keys to probe for a field whose rendered
// value is cur: keys that hold cur now, then keys the field's name
// suggests (which may not exist yet), then every other key.
func (s *session) candidates(content []byte, cur string, hasCur bool, w want) [][]string {
	tree := s.merged(content)
	var ls []leaf
	leaves(tree, nil, &ls)
	sort.SliceStable(ls, func(i, j int) bool { return s.affinity(ls[i].path) > s.affinity(ls[j].path) })
	seen := map[string]bool{}
	var out [][]string
	add := func(p []string) {
		k := strings.Join(p, "\x00")
		if !seen[k] && len(p) > 0 {
			seen[k] = true
			out = append(out, p)
		}
	}
	if hasCur && cur != "" {
		for _, l := range ls {
			if scalarString(l.value) == cur {
				add(l.path)
			}
		}
	}
	var guesses [][]string
	guesses = append(guesses, w.extra...)
	for _, mp := range mapPaths(tree) {
		for k := 0; k+1 < len(w.tail); k++ {
			if len(mp) > 0 && mp[len(mp)-1] == w.tail[k] {
				guesses = append(guesses, append(append([]string(nil), mp...), w.tail[k+1:]...))
			}
		}
	}
	sort.SliceStable(guesses, func(i, j int) bool { return s.affinity(guesses[i]) > s.affinity(guesses[j]) })
	for _, g := range guesses {
		add(g)
	}
	for _, l := range ls {
		add(l.path)
	}
	return out
}

// probe sets key to v in content and renders.
func (s *session) probe(content []byte, key []string, v scalar) ([]byte, rendered, bool) {
	if s.probes >= maxProbes || s.ctx.Err() != nil {
		return nil, rendered{}, false
	}
	s.probes++
	vf, err := parseValuesFile(s.file, content)
	if err != nil {
		return nil, rendered{}, false
	}
	edited, err := vf.set(key, v)
	if err != nil {
		return nil, rendered{}, false
	}
	r, err := s.render(edited)
	if err != nil {
		return nil, rendered{}, false
	}
	return edited, r, true
}

// outside lists the objects a render changed besides the target and its
// HPA.
func (s *session) outside(before, after rendered) []patchers.Object {
	var out []patchers.Object
	for _, o := range changed(before.docs, after.docs) {
		if o.Namespace == s.target.Namespace && o.Name == s.target.Name && (o.Kind == s.target.Kind || o.Kind == "HorizontalPodAutoscaler") {
			continue
		}
		out = append(out, o)
	}
	return out
}

func objectList(os []patchers.Object) string {
	var parts []string
	for _, o := range os {
		parts = append(parts, o.Kind+" "+o.Namespace+"/"+o.Name)
	}
	return strings.Join(parts, ", ")
}

// locate finds the values key that controls a want's field: the first
// candidate that, set to a sentinel, moves the field to the sentinel and
// changes nothing but the target.
func (s *session) locate(content []byte, base rendered, w want) ([]string, error) {
	cur, hasCur := s.field(base, w)
	sent := scalar{text: sentinelText}
	if w.value.number {
		sent = scalar{text: sentinelNumber, number: true}
	}
	var shared []string
	var sharedWith []patchers.Object
	for _, key := range s.candidates(content, cur, hasCur, w) {
		_, r, ok := s.probe(content, key, sent)
		if !ok {
			continue
		}
		if got, ok := s.field(r, w); !ok || got != sent.text {
			continue
		}
		if o := s.outside(base, r); len(o) > 0 {
			if shared == nil {
				shared, sharedWith = key, o
			}
			continue
		}
		return key, nil
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if shared != nil {
		return nil, fmt.Errorf("helm: values key %s controls %s of %s but also %s; refusing to change them together", keyString(shared), w.label, s.target, objectList(sharedWith))
	}
	return nil, fmt.Errorf("helm: %w: no values key controls %s of %s (field %s) in %s", ErrNoValuesKey, w.label, s.target, w.path, s.file)
}

// enableHPA finds the boolean key that turns on an HPA for the target and
// sets it.
func (s *session) enableHPA(content []byte, base rendered) ([]byte, rendered, []string, error) {
	var ls []leaf
	leaves(s.merged(content), nil, &ls)
	sort.SliceStable(ls, func(i, j int) bool { return s.affinity(ls[i].path) > s.affinity(ls[j].path) })
	for _, l := range ls {
		if b, ok := l.value.(bool); !ok || b {
			continue
		}
		edited, r, ok := s.probe(content, l.path, scalar{text: "true", number: true})
		if !ok {
			continue
		}
		if _, h := s.find(r); h == nil || len(s.outside(base, r)) > 0 {
			continue
		}
		return edited, r, []string{keyString(l.path)}, nil
	}
	if err := s.ctx.Err(); err != nil {
		return nil, rendered{}, nil, err
	}
	return nil, rendered{}, nil, fmt.Errorf("helm: %w: %s has no HorizontalPodAutoscaler and no values key turns one on", ErrNoValuesKey, s.target)
}

// imagePart is a key that controls part of the image: the rendered image
// is pre + value + post.
type imagePart struct {
	key       []string
	pre, post string
}

// setImage sets the image through one key (the whole reference) or a
// repository key and a tag key.
func (s *session) setImage(content []byte, base rendered, w want) ([]byte, rendered, []string, error) {
	cur, _ := s.field(base, w)
	var parts []imagePart
	var full, repo, tag *imagePart
	var ls []leaf
	leaves(s.merged(content), nil, &ls)
	// Keys whose value is part of the image first.
	sort.SliceStable(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		ai := scalarString(a.value) != "" && strings.Contains(cur, scalarString(a.value))
		bi := scalarString(b.value) != "" && strings.Contains(cur, scalarString(b.value))
		if ai != bi {
			return ai
		}
		return s.affinity(a.path) > s.affinity(b.path)
	})
	keys := make([][]string, 0, len(ls))
	for _, l := range ls {
		keys = append(keys, l.path)
	}
	for _, key := range keys {
		_, r, ok := s.probe(content, key, scalar{text: sentinelText})
		if !ok {
			continue
		}
		got, ok := s.field(r, w)
		i := strings.Index(got, sentinelText)
		if !ok || i < 0 || len(s.outside(base, r)) > 0 {
			continue
		}
		parts = append(parts, imagePart{key: key, pre: got[:i], post: got[i+len(sentinelText):]})
		p := &parts[len(parts)-1]
		switch {
		case p.pre == "" && p.post == "":
			full = p
		case p.pre == "" && strings.HasPrefix(p.post, ":") && repo == nil:
			repo = p
		case strings.HasSuffix(p.pre, ":") && p.post == "" && tag == nil:
			tag = p
		}
		if full != nil || (repo != nil && tag != nil) {
			break
		}
	}
	type edit struct {
		key   []string
		value string
	}
	var edits []edit
	want := w.value.text
	switch {
	case full != nil:
		edits = []edit{{full.key, want}}
	case tag != nil:
		r, t, ok := splitImage(want)
		if !ok {
			return nil, rendered{}, nil, fmt.Errorf("helm: image %q has no tag, and the chart sets %s's image as repository:tag", want, s.target)
		}
		if tag.pre != r+":" && repo != nil {
			edits = append(edits, edit{repo.key, r})
		} else if tag.pre != r+":" {
			return nil, rendered{}, nil, fmt.Errorf("helm: %w: no values key controls the image repository of %s (rendered %q, wanted %q)", ErrNoValuesKey, s.target, cur, want)
		}
		edits = append(edits, edit{tag.key, t})
	default:
		if err := s.ctx.Err(); err != nil {
			return nil, rendered{}, nil, err
		}
		return nil, rendered{}, nil, fmt.Errorf("helm: %w: no values key controls image of %s (field %s) in %s", ErrNoValuesKey, s.target, w.path, s.file)
	}
	var names []string
	out := content
	for _, e := range edits {
		vf, err := parseValuesFile(s.file, out)
		if err != nil {
			return nil, rendered{}, nil, err
		}
		if n, ok := vf.get(e.key); ok && n.Kind == yaml.ScalarNode && n.Value == e.value {
			continue
		}
		if out, err = vf.set(e.key, scalar{text: e.value, style: s.styleOf(e.key)}); err != nil {
			return nil, rendered{}, nil, err
		}
		names = append(names, keyString(e.key))
	}
	r, err := s.render(out)
	if err != nil {
		return nil, rendered{}, nil, fmt.Errorf("helm: render after setting %s in %s: %w", strings.Join(names, ", "), s.file, err)
	}
	return out, r, names, nil
}

// splitImage splits repo:tag[@digest] into repo and tag[@digest].
func splitImage(ref string) (repo, tag string, ok bool) {
	name, digest, hasDigest := strings.Cut(ref, "@")
	slash := strings.LastIndex(name, "/")
	colon := strings.LastIndex(name, ":")
	if colon <= slash {
		return "", "", false
	}
	repo, tag = name[:colon], name[colon+1:]
	if hasDigest {
		tag += "@" + digest
	}
	return repo, tag, true
}

// verify checks the render after the edit: every field has its value,
// nothing but the target and its HPA changed, limits are not below
// requests and the HPA's bounds hold.
func (s *session) verify(in patchers.Intent, before, after rendered, ws []want) error {
	for _, w := range ws {
		if !s.holds(after, w) {
			got, _ := s.field(after, w)
			return fmt.Errorf("helm: %w: after the edit %s of %s renders as %q, not %q", patchers.ErrRefused, w.label, s.target, got, w.value.text)
		}
	}
	if o := s.outside(before, after); len(o) > 0 {
		return fmt.Errorf("helm: %w: the edit to %s also changes %s", patchers.ErrRefused, s.file, objectList(o))
	}
	t, h := s.find(after)
	if t == nil {
		return fmt.Errorf("helm: %w: %s is gone after the edit; refusing", patchers.ErrNotFound, s.target)
	}
	bt, bh := s.find(before)
	if err := s.onlyWanted(bt, t, ws, false, bh == nil && h != nil); err != nil {
		return err
	}
	if bh != nil && h != nil {
		if err := s.onlyWanted(bh, h, ws, true, false); err != nil {
			return err
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		lv, lok := lookup(t.Value, s.cpath("resources.limits."+r))
		rv, rok := lookup(t.Value, s.cpath("resources.requests."+r))
		if !lok || !rok {
			continue
		}
		l, e1 := resource.ParseQuantity(scalarString(lv))
		q, e2 := resource.ParseQuantity(scalarString(rv))
		if e1 != nil || e2 != nil {
			return fmt.Errorf("helm: %s of %s: %s limit %q or request %q is not a quantity", s.file, s.target, r, scalarString(lv), scalarString(rv))
		}
		if l.Cmp(q) < 0 {
			return fmt.Errorf("helm: %s limit %s of %s would be below its request %s; refusing", r, l.String(), s.target, q.String())
		}
	}
	if h != nil {
		lo, hi := hpaBounds(h)
		if lo > hi {
			return fmt.Errorf("helm: HorizontalPodAutoscaler %s would have minReplicas %d above maxReplicas %d; refusing", h.Object.Name, lo, hi)
		}
		if rv, ok := lookup(t.Value, "spec.replicas"); ok && in.Kind == patchers.KindScale {
			if n, ok := rv.(int); ok && (n < lo || n > hi) {
				return fmt.Errorf("helm: replicas %d of %s are outside the bounds %d..%d of HorizontalPodAutoscaler %s", n, s.target, lo, hi, h.Object.Name)
			}
		}
	}
	return nil
}

// onlyWanted refuses a change to the target (or, with hpa, its HPA) in
// any field but the wanted ones: a new list item the wanted field lives
// in, and spec.replicas when the edit turned an HPA on.
func (s *session) onlyWanted(before, after *doc, ws []want, hpa, hpaAdded bool) error {
	b, a := map[string]string{}, map[string]string{}
	flatten(before.Value, "", b)
	flatten(after.Value, "", a)
	allowed := func(p string) bool {
		if hpaAdded && !hpa && (p == "spec.replicas") {
			return true
		}
		for _, w := range ws {
			if w.hpa != hpa {
				continue
			}
			if p == w.path {
				return true
			}
			// Fields of the list item the wanted field is in (a new
			// variable's name).
			if i := strings.LastIndex(w.path, "]"); i > 0 && strings.HasPrefix(p, w.path[:i+1]+".") {
				if _, existed := b[w.path]; !existed {
					return true
				}
			}
		}
		return false
	}
	var bad []string
	for p, v := range a {
		if b[p] != v && !allowed(p) {
			bad = append(bad, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok && !allowed(p) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("helm: %w: the edit to %s also changes %s of %s %s", patchers.ErrRefused, s.file, strings.Join(bad, ", "), before.Object.Kind, before.Object.Name)
	}
	return nil
}

// flatten writes every scalar of v under its field path; list items that
// are mappings with a name are addressed [name=...], HPA metrics
// [resource.name=...], others by index.
func flatten(v any, p string, out map[string]string) {
	join := func(k string) string {
		if p == "" {
			return k
		}
		return p + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[p] = "{}"
		}
		for k, c := range x {
			flatten(c, join(k), out)
		}
	case []any:
		if len(x) == 0 {
			out[p] = "[]"
		}
		for i, c := range x {
			sel := fmt.Sprintf("[%d]", i)
			// The selectors the patcher's field paths use: containers and
			// variables by name, HPA metrics by resource name.
			if n, ok := lookup(c, "name"); ok && scalarString(n) != "" {
				sel = "[name=" + scalarString(n) + "]"
			} else if n, ok := lookup(c, "resource.name"); ok && scalarString(n) != "" {
				sel = "[resource.name=" + scalarString(n) + "]"
			}
			flatten(c, p+sel, out)
		}
	default:
		out[p] = fmt.Sprintf("%T:%v", v, v)
	}
}
