package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrNotSupported is wrapped for intents that need the repository's git
// history (rollback_image with previous, revert_commit). It is
// patchers.ErrNotSupported, so callers can test for either.
var ErrNotSupported = patchers.ErrNotSupported

// New returns the plain-manifest patcher. It is safe for concurrent use.
func New() patchers.Patcher { return patcher{} }

type patcher struct{}

// Name is "manifest".
func (patcher) Name() string { return "manifest" }

// Detect reports whether repo holds YAML files and neither a kustomization
// nor a Helm chart.
func (patcher) Detect(repo fs.FS) bool {
	yamls, other := 0, false
	_ = fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case "kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml":
			other = true
			return fs.SkipAll
		}
		if isYAML(p) {
			yamls++
		}
		return nil
	})
	return !other && yamls > 0
}

func isYAML(p string) bool {
	return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")
}

// doc is one Kubernetes object document of the repository.
type doc struct {
	file                              *file
	index                             int // chunk index in file
	root                              *yaml.Node
	apiVersion, kind, namespace, name string
}

// where is "path:line" of the document's first key.
func (d *doc) where() string {
	return fmt.Sprintf("%s:%d", d.file.path, d.file.chunks[d.index].line+d.root.Line-1)
}

func (d *doc) object() patchers.Object {
	return patchers.Object{APIVersion: d.apiVersion, Kind: d.kind, Namespace: d.namespace, Name: d.name}
}

type file struct {
	path   string
	orig   []byte
	chunks []chunk
}

// load parses every YAML file of repo. Invalid YAML is an error naming the
// file and line.
func load(ctx context.Context, repo fs.FS) ([]*doc, map[string]*file, error) {
	var docs []*doc
	files := map[string]*file{}
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !isYAML(p) {
			return nil
		}
		real := p
		if d.Type()&fs.ModeSymlink != 0 {
			r, fi, err := render.ResolveLink(repo, p)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return nil // a linked folder is not walked, as no folder link is
			}
			real = r
		} else if !d.Type().IsRegular() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := fs.ReadFile(repo, real)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if err := render.CheckYAML(p, b); err != nil {
			return err
		}
		f := &file{path: p, orig: b, chunks: splitDocs(b)}
		files[p] = f
		for i, c := range f.chunks {
			root, err := parseDoc(c.body, c.line-1)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if root == nil || root.Kind != yaml.MappingNode {
				continue
			}
			d := &doc{file: f, index: i, root: root}
			d.apiVersion = scalar(root, "apiVersion")
			d.kind = scalar(root, "kind")
			d.name = scalar(root, "metadata", "name")
			d.namespace = scalar(root, "metadata", "namespace")
			if d.kind == "" || d.name == "" {
				continue
			}
			if d.namespace == "" {
				d.namespace = defaultNamespace(p)
			}
			docs = append(docs, d)
		}
		return nil
	})
	return docs, files, err
}

// defaultNamespace is the namespace of a document that names none: the
// first folder of its path, or "default" at the repository root.
func defaultNamespace(p string) string {
	if i := strings.IndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "default"
}

func scalar(n *yaml.Node, keys ...string) string {
	for _, k := range keys {
		_, n = render.MapEntry(n, k)
		if n == nil {
			return ""
		}
	}
	if n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// edit is one change to a document: it parses the editor's current text,
// makes at most one text change, and reports whether it did.
type edit struct {
	field string // what it sets, for the summary: "limits.memory"
	value string // the value it sets, for the summary
	apply func(e *editor, root *yaml.Node) (bool, error)
}

// plan is what an intent asks of which documents.
type plan struct {
	target *doc
	hpa    *doc
	edits  []edit // on target
	hedits []edit // on hpa
	check  func(e *editor) error
}

// Plan implements patchers.Patcher.
func (p patcher) Plan(ctx context.Context, repo fs.FS, in patchers.Intent) (patchers.Change, error) {
	if err := in.Validate(); err != nil {
		return patchers.Change{}, err
	}
	switch in.Kind {
	case patchers.KindRevertCommit:
		return patchers.Change{}, fmt.Errorf("manifest: revert_commit is %w yet", patchers.ErrNotSupported)
	case patchers.KindRollbackImage:
		var rp patchers.RollbackImageParams
		if err := json.Unmarshal(in.Params, &rp); err != nil {
			return patchers.Change{}, fmt.Errorf("params: %w", err)
		}
		if rp.Previous {
			return patchers.Change{}, fmt.Errorf("manifest: rollback_image with previous: true is %w yet; give image", patchers.ErrNotSupported)
		}
	}
	docs, files, err := load(ctx, repo)
	if err != nil {
		return patchers.Change{}, err
	}
	target, err := find(docs, in.Target)
	if err != nil {
		return patchers.Change{}, err
	}
	pl, err := buildPlan(in, target, docs)
	if err != nil {
		return patchers.Change{}, err
	}
	newFiles := map[string][]byte{}
	var did []string
	for _, side := range []struct {
		d     *doc
		edits []edit
	}{{pl.target, pl.edits}, {pl.hpa, pl.hedits}} {
		if side.d == nil || len(side.edits) == 0 {
			continue
		}
		c := &side.d.file.chunks[side.d.index]
		e := &editor{src: append([]byte(nil), c.body...)}
		for _, ed := range side.edits {
			root, err := e.root()
			if err != nil {
				return patchers.Change{}, fmt.Errorf("%s: %w", side.d.where(), err)
			}
			changed, err := ed.apply(e, root)
			if err != nil {
				return patchers.Change{}, fmt.Errorf("%s: %w", side.d.where(), shift(err, c.line-1))
			}
			if changed {
				did = append(did, ed.field+"="+ed.value)
			}
		}
		if side.d == pl.target && pl.check != nil {
			if err := pl.check(e); err != nil {
				return patchers.Change{}, fmt.Errorf("%s: %w", side.d.where(), err)
			}
		}
		if string(e.src) == string(c.body) {
			continue
		}
		if _, err := parseDoc(e.src, 0); err != nil {
			return patchers.Change{}, fmt.Errorf("%s: edit gave invalid YAML: %w", side.d.where(), err)
		}
		f := side.d.file
		chunks := append([]chunk(nil), f.chunks...)
		if nb, ok := newFiles[f.path]; ok { // both documents in one file
			chunks = splitDocs(nb)
		}
		chunks[side.d.index].body = e.src
		newFiles[f.path] = joinDocs(chunks)
	}
	if len(newFiles) == 0 {
		return patchers.Change{
			Files:          []patchers.FileChange{},
			ChangedObjects: []patchers.Object{},
			Summary:        fmt.Sprintf("no change: %s already has what %s asks (%s)", in.Target, in.Kind, target.where()),
			NoOp:           true,
		}, nil
	}
	var paths []string
	for p := range newFiles {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ch := patchers.Change{Files: []patchers.FileChange{}}
	for _, p := range paths {
		ch.Files = append(ch.Files, patchers.FileChange{
			Path:    p,
			Diff:    fileDiff(p, files[p].orig, newFiles[p]),
			Content: newFiles[p],
		})
	}
	if err := verify(ctx, repo, newFiles, in, pl, &ch); err != nil {
		return patchers.Change{}, err
	}
	ch.Summary = fmt.Sprintf("%s %s: %s in %s", in.Kind, in.Target, strings.Join(did, ", "), strings.Join(paths, ", "))
	return ch, nil
}

// shift moves "line N" of an editor error (relative to the document) to
// the file's numbering.
func shift(err error, offset int) error {
	if offset == 0 {
		return err
	}
	return errors.New(yamlLine.ReplaceAllStringFunc(err.Error(), func(s string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
		return fmt.Sprintf("line %d", n+offset)
	}))
}

// find returns the one document defining t.
func find(docs []*doc, t patchers.Target) (*doc, error) {
	var found []*doc
	for _, d := range docs {
		if d.kind == t.Kind && d.name == t.Name && d.namespace == t.Namespace {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no document defines %s/%s/%s", patchers.ErrNotFound, t.Namespace, t.Kind, t.Name)
	case 1:
		return found[0], nil
	}
	var where []string
	for _, d := range found {
		where = append(where, d.where())
	}
	return nil, fmt.Errorf("%w: %s/%s/%s is defined in %s", patchers.ErrAmbiguous, t.Namespace, t.Kind, t.Name, strings.Join(where, " and "))
}

// findHPA returns the HorizontalPodAutoscaler scaling target, nil if none.
func findHPA(docs []*doc, target *doc) (*doc, error) {
	var found []*doc
	for _, d := range docs {
		if d.kind != "HorizontalPodAutoscaler" || d.namespace != target.namespace {
			continue
		}
		if scalar(d.root, "spec", "scaleTargetRef", "kind") == target.kind && scalar(d.root, "spec", "scaleTargetRef", "name") == target.name {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	var where []string
	for _, d := range found {
		where = append(where, d.where())
	}
	return nil, fmt.Errorf("%w: more than one HorizontalPodAutoscaler scales %s/%s/%s: %s", patchers.ErrAmbiguous, target.namespace, target.kind, target.name, strings.Join(where, " and "))
}

var podSpec = []string{"spec", "template", "spec"}

// container returns the container mapping the target names (or the only
// one) and the sequence offset of the containers list.
func container(root *yaml.Node, name string) (*yaml.Node, int, error) {
	n := root
	for _, k := range podSpec {
		_, n = render.MapEntry(n, k)
	}
	ck, cs := render.MapEntry(n, "containers")
	if cs == nil || cs.Kind != yaml.SequenceNode || len(cs.Content) == 0 {
		return nil, 0, fmt.Errorf("%w: no spec.template.spec.containers", patchers.ErrNotFound)
	}
	off := cs.Content[0].Column - 3 - (ck.Column - 1)
	if off < 0 {
		off = 0
	}
	var names []string
	for _, c := range cs.Content {
		cn := scalar(c, "name")
		names = append(names, cn)
		if cn == name {
			return c, off, nil
		}
	}
	if name == "" && len(cs.Content) == 1 {
		return cs.Content[0], off, nil
	}
	if name == "" {
		return nil, 0, fmt.Errorf("target.container is needed: the pod has containers %s", strings.Join(names, ", "))
	}
	return nil, 0, fmt.Errorf("%w: container %q (the pod has %s)", patchers.ErrNotFound, name, strings.Join(names, ", "))
}

func quantityEq(want string) func(*yaml.Node) bool {
	return func(cur *yaml.Node) bool {
		if cur.Value == want {
			return true
		}
		a, e1 := resource.ParseQuantity(cur.Value)
		b, e2 := resource.ParseQuantity(want)
		return e1 == nil && e2 == nil && a.Cmp(b) == 0
	}
}

func stringEq(want string) func(*yaml.Node) bool {
	return func(cur *yaml.Node) bool { return cur.Value == want }
}

func intEq(want int32) func(*yaml.Node) bool {
	return func(cur *yaml.Node) bool {
		n, err := strconv.ParseInt(cur.Value, 10, 32)
		return err == nil && int32(n) == want
	}
}

// containerEdit sets path under the target's container.
func containerEdit(name string, path []string, value string, eq func(*yaml.Node) bool) func(*editor, *yaml.Node) (bool, error) {
	return func(e *editor, root *yaml.Node) (bool, error) {
		c, _, err := container(root, name)
		if err != nil {
			return false, err
		}
		return e.setPath(root, c, path, value, eq)
	}
}

func buildPlan(in patchers.Intent, target *doc, docs []*doc) (*plan, error) {
	pl := &plan{target: target}
	cname := in.Target.Container
	switch in.Kind {
	case patchers.KindSetResources, patchers.KindRollbackImage, patchers.KindSetEnv:
		if _, _, err := container(target.root, cname); err != nil {
			return nil, fmt.Errorf("%s: %w", target.where(), err)
		}
	}
	switch in.Kind {
	case patchers.KindSetResources:
		var p patchers.ResourcesParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		for _, side := range []struct {
			name string
			m    map[string]string
		}{{"limits", p.Limits}, {"requests", p.Requests}} {
			for _, res := range []string{"cpu", "memory"} {
				q, ok := side.m[res]
				if !ok {
					continue
				}
				pl.edits = append(pl.edits, edit{
					field: side.name + "." + res, value: q,
					apply: containerEdit(cname, []string{"resources", side.name, res}, stringText(q), quantityEq(q)),
				})
			}
		}
		pl.check = func(e *editor) error {
			root, err := e.root()
			if err != nil {
				return err
			}
			c, _, err := container(root, cname)
			if err != nil {
				return err
			}
			for _, res := range []string{"cpu", "memory"} {
				l, r := scalar(c, "resources", "limits", res), scalar(c, "resources", "requests", res)
				lq, e1 := resource.ParseQuantity(l)
				rq, e2 := resource.ParseQuantity(r)
				if l != "" && r != "" && e1 == nil && e2 == nil && lq.Cmp(rq) < 0 {
					return fmt.Errorf("the %s limit %s would be below its request %s", res, l, r)
				}
			}
			return nil
		}
	case patchers.KindScale:
		if target.kind == "DaemonSet" {
			return nil, fmt.Errorf("%s: a DaemonSet runs one pod per node and has no replicas to scale", target.where())
		}
		var p patchers.ScaleParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		hpa, err := findHPA(docs, target)
		if err != nil {
			return nil, err
		}
		if hpa != nil {
			lo, _ := strconv.Atoi(scalar(hpa.root, "spec", "minReplicas"))
			hi, _ := strconv.Atoi(scalar(hpa.root, "spec", "maxReplicas"))
			if lo == 0 {
				lo = 1
			}
			if int(*p.Replicas) < lo || (hi > 0 && int(*p.Replicas) > hi) {
				return nil, fmt.Errorf("replicas %d is outside the bounds %d..%d of the HorizontalPodAutoscaler at %s", *p.Replicas, lo, hi, hpa.where())
			}
		}
		r := *p.Replicas
		v := strconv.Itoa(int(r))
		pl.edits = append(pl.edits, edit{field: "replicas", value: v, apply: func(e *editor, root *yaml.Node) (bool, error) {
			_, spec := render.MapEntry(root, "spec")
			if spec == nil {
				return false, errors.New("no spec")
			}
			return e.setPath(root, spec, []string{"replicas"}, v, intEq(r))
		}})
	case patchers.KindRollbackImage:
		var p patchers.RollbackImageParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		pl.edits = append(pl.edits, edit{field: "image", value: p.Image,
			apply: containerEdit(cname, []string{"image"}, stringText(p.Image), stringEq(p.Image))})
	case patchers.KindSetEnv:
		var p patchers.SetEnvParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		val := *p.Value
		pl.edits = append(pl.edits, edit{field: "env." + p.Name, value: val, apply: func(e *editor, root *yaml.Node) (bool, error) {
			c, off, err := container(root, cname)
			if err != nil {
				return false, err
			}
			_, env := render.MapEntry(c, "env")
			if env != nil && env.Kind == yaml.SequenceNode {
				for _, item := range env.Content {
					if scalar(item, "name") != p.Name {
						continue
					}
					if _, vf := render.MapEntry(item, "valueFrom"); vf != nil {
						return false, fmt.Errorf("line %d: env %s is set with valueFrom; refusing to replace it", item.Line, p.Name)
					}
					return e.setPath(root, item, []string{"value"}, stringText(val), stringEq(val))
				}
			}
			return true, e.appendItem(root, c, "env", []string{"name: " + stringText(p.Name), "value: " + stringText(val)}, off)
		}})
	case patchers.KindSetHPA:
		var p patchers.HPAParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		hpa, err := findHPA(docs, target)
		if err != nil {
			return nil, err
		}
		if hpa == nil {
			return nil, fmt.Errorf("%w: no HorizontalPodAutoscaler scales %s/%s/%s", patchers.ErrNotFound, target.namespace, target.kind, target.name)
		}
		pl.hpa = hpa
		lo, hi := p.MinReplicas, p.MaxReplicas
		if lo == nil {
			if v, err := strconv.Atoi(scalar(hpa.root, "spec", "minReplicas")); err == nil {
				x := int32(v)
				lo = &x
			}
		}
		if hi == nil {
			if v, err := strconv.Atoi(scalar(hpa.root, "spec", "maxReplicas")); err == nil {
				x := int32(v)
				hi = &x
			}
		}
		if lo != nil && hi != nil && *lo > *hi {
			return nil, fmt.Errorf("minReplicas %d would be above maxReplicas %d (%s)", *lo, *hi, hpa.where())
		}
		for _, f := range []struct {
			name string
			v    *int32
		}{{"minReplicas", p.MinReplicas}, {"maxReplicas", p.MaxReplicas}} {
			if f.v == nil {
				continue
			}
			name, want := f.name, *f.v
			v := strconv.Itoa(int(want))
			pl.hedits = append(pl.hedits, edit{field: name, value: v, apply: func(e *editor, root *yaml.Node) (bool, error) {
				_, spec := render.MapEntry(root, "spec")
				if spec == nil {
					return false, errors.New("no spec")
				}
				return e.setPath(root, spec, []string{name}, v, intEq(want))
			}})
		}
		if c := p.TargetCPUUtilizationPercentage; c != nil {
			want := *c
			v := strconv.Itoa(int(want))
			pl.hedits = append(pl.hedits, edit{field: "targetCPUUtilizationPercentage", value: v, apply: func(e *editor, root *yaml.Node) (bool, error) {
				return setCPUTarget(e, root, want)
			}})
		}
	default:
		return nil, fmt.Errorf("intent kind %q is %w", in.Kind, ErrNotSupported)
	}
	return pl, nil
}

// setCPUTarget sets the HPA's CPU utilization target: the field of
// autoscaling/v1, the Resource cpu metric of autoscaling/v2.
func setCPUTarget(e *editor, root *yaml.Node, want int32) (bool, error) {
	v := strconv.Itoa(int(want))
	_, spec := render.MapEntry(root, "spec")
	if spec == nil {
		return false, errors.New("no spec")
	}
	if scalar(root, "apiVersion") == "autoscaling/v1" {
		return e.setPath(root, spec, []string{"targetCPUUtilizationPercentage"}, v, intEq(want))
	}
	mk, metrics := render.MapEntry(spec, "metrics")
	if metrics != nil && metrics.Kind == yaml.SequenceNode {
		for _, m := range metrics.Content {
			if scalar(m, "type") == "Resource" && scalar(m, "resource", "name") == "cpu" {
				_, res := render.MapEntry(m, "resource")
				return e.setPath(root, res, []string{"target", "averageUtilization"}, v, intEq(want))
			}
		}
	}
	off := 0
	if metrics != nil && metrics.Kind == yaml.SequenceNode && len(metrics.Content) > 0 {
		off = max(metrics.Content[0].Column-3-(mk.Column-1), 0)
	}
	st := step(root)
	pad := strings.Repeat(" ", st)
	return true, e.appendItem(root, spec, "metrics", []string{
		"type: Resource",
		"resource:",
		pad + "name: cpu",
		pad + "target:",
		pad + pad + "type: Utilization",
		pad + pad + "averageUtilization: " + v,
	}, off)
}
