package helm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrNotSupported is wrapped by intents this patcher cannot plan yet. It
// is patchers.ErrNotSupported, so callers can test for either.
var ErrNotSupported = patchers.ErrNotSupported

var _ patchers.TargetRenderer = patcher{}

// ErrNoValuesKey is wrapped when no values key controls the field an
// intent changes (the chart hard-codes it, or derives it from several
// keys).
var ErrNoValuesKey = errors.New("no values key controls the field")

// maxProbes bounds the renders spent looking for one field's key.
const maxProbes = 400

type patcher struct {
	limits render.Limits
}

// New returns the Helm patcher, rendering with render.DefaultLimits.
func New() patchers.Patcher { return patcher{limits: render.DefaultLimits()} }

// NewWithLimits returns the Helm patcher, every helm template bounded by
// limits.
func NewWithLimits(limits render.Limits) patchers.Patcher { return patcher{limits: limits} }

// Name is "helm".
func (patcher) Name() string { return "helm" }

// Detect reports whether the repository holds a Chart.yaml.
func (patcher) Detect(repo fs.FS) bool {
	dirs, err := charts(repo)
	return err == nil && len(dirs) > 0
}

// rendered is one render of the chart.
type rendered struct {
	out  []byte
	docs []doc
}

// session plans one intent against one chart environment.
type session struct {
	ctx       context.Context
	limits    render.Limits
	repo      fs.FS
	env       environment
	target    patchers.Target
	container string
	file      string // the values file edited
	orig      []byte // its content before ("" when it does not exist)
	defaults  map[string]any
	defFile   *valuesFile // the chart's values.yaml, for quoting styles
	probes    int
}

func (s *session) render(content []byte) (rendered, error) {
	r := render.Overlay(s.repo, map[string][]byte{s.file: content})
	var files []string
	if s.file != path.Join(s.env.ChartDir, "values.yaml") {
		files = []string{s.file}
	}
	out, err := s.limits.Helm(s.ctx, r, s.env.ChartDir, files, s.env.Release, s.env.Namespace)
	if err != nil {
		return rendered{}, err
	}
	docs, err := objects(out, s.env.Namespace)
	if err != nil {
		return rendered{}, fmt.Errorf("chart %s: %w", s.env.ChartDir, err)
	}
	return rendered{out: out, docs: docs}, nil
}

// find returns the target workload and the HPA that scales it.
func (s *session) find(r rendered) (target, hpa *doc) {
	for i := range r.docs {
		d := &r.docs[i]
		o := d.Object
		if o.Kind == s.target.Kind && o.Name == s.target.Name && o.Namespace == s.target.Namespace {
			target = d
		}
	}
	for i := range r.docs {
		d := &r.docs[i]
		if d.Object.Kind != "HorizontalPodAutoscaler" || d.Object.Namespace != s.target.Namespace {
			continue
		}
		k, _ := lookup(d.Value, "spec.scaleTargetRef.kind")
		n, _ := lookup(d.Value, "spec.scaleTargetRef.name")
		if scalarString(k) == s.target.Kind && scalarString(n) == s.target.Name {
			hpa = d
		}
	}
	return target, hpa
}

// want is one field to set.
type want struct {
	hpa      bool   // on the HPA rather than the workload
	path     string // field path in the object
	label    string // how the summary names it
	value    scalar
	quantity bool
	tail     []string   // the field's last keys, to guess missing values keys
	extra    [][]string // more candidate values keys
}

// Plan returns the edit to the environment's values file that makes the
// rendered target carry the intent's values.
func (p patcher) Plan(ctx context.Context, repo fs.FS, in patchers.Intent) (patchers.Change, error) {
	if err := in.Validate(); err != nil {
		return patchers.Change{}, err
	}
	if err := ctx.Err(); err != nil {
		return patchers.Change{}, err
	}
	switch in.Kind {
	case patchers.KindRevertCommit:
		return patchers.Change{}, fmt.Errorf("helm: revert_commit is %w yet", ErrNotSupported)
	case patchers.KindRollbackImage:
		var p patchers.RollbackImageParams
		_ = json.Unmarshal(in.Params, &p)
		if p.Previous {
			return patchers.Change{}, fmt.Errorf("helm: rollback_image with previous: true is %w yet; give the image", ErrNotSupported)
		}
	}
	s, base, err := findEnv(ctx, p.limits, repo, in.Target)
	if err != nil {
		return patchers.Change{}, err
	}
	return s.plan(in, base)
}

// RenderTarget implements patchers.TargetRenderer: the directory of the
// values file of the environment that renders t (the chart's directory
// when the chart has no per-environment files) and the helm template
// render of that environment. It finds the environment as Plan does:
// ErrNotFound when none renders t, ErrAmbiguous when several do. When the
// chart leaves the target's namespace to the release, the target's
// document is given it, so the render names the object as t does.
func (p patcher) RenderTarget(ctx context.Context, repo fs.FS, t patchers.Target) (string, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	s, base, err := findEnv(ctx, p.limits, repo, t)
	if err != nil {
		return "", nil, err
	}
	out, err := render.WithNamespace(base.out, t)
	if err != nil {
		return "", nil, fmt.Errorf("helm: %s: %w", s.env.ChartDir, err)
	}
	return path.Dir(s.file), out, nil
}

// findEnv opens the one environment that renders t, with its render.
func findEnv(ctx context.Context, limits render.Limits, repo fs.FS, t patchers.Target) (*session, rendered, error) {
	envs, err := candidates(repo, t.Namespace)
	if err != nil {
		return nil, rendered{}, fmt.Errorf("helm: %w", err)
	}
	var (
		s    *session
		base rendered
		errs []error
	)
	for _, e := range envs {
		c, r, err := open(ctx, limits, repo, e, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c == nil {
			continue
		}
		if s != nil {
			return nil, rendered{}, fmt.Errorf("helm: %w: %s is rendered by %s and %s", patchers.ErrAmbiguous, t, s.file, c.file)
		}
		s, base = c, r
	}
	if s == nil {
		if len(errs) > 0 {
			return nil, rendered{}, fmt.Errorf("helm: %w", errors.Join(errs...))
		}
		var files []string
		for _, e := range envs {
			files = append(files, e.ChartDir+" with "+e.ValuesFile)
		}
		return nil, rendered{}, fmt.Errorf("helm: %w: %s is not rendered by %s", patchers.ErrNotFound, t, strings.Join(files, "; "))
	}
	return s, base, nil
}

// open reads an environment and renders it; a nil session means the
// environment does not render the target.
func open(ctx context.Context, limits render.Limits, repo fs.FS, e environment, t patchers.Target) (*session, rendered, error) {
	s := &session{ctx: ctx, limits: limits, repo: repo, env: e, target: t, file: e.ValuesFile}
	if s.file == "" {
		s.file = path.Join(e.ChartDir, "values.yaml")
	} else {
		b, err := fs.ReadFile(repo, s.file)
		if err != nil {
			return nil, rendered{}, fmt.Errorf("read %s: %w", s.file, err)
		}
		if _, err := parseValuesFile(s.file, b); err != nil {
			return nil, rendered{}, err
		}
		s.orig = b
	}
	if b, err := fs.ReadFile(repo, path.Join(e.ChartDir, "values.yaml")); err == nil {
		if err := render.CheckYAML(path.Join(e.ChartDir, "values.yaml"), b); err != nil {
			return nil, rendered{}, err
		}
		if err := yaml.Unmarshal(b, &s.defaults); err != nil {
			return nil, rendered{}, fmt.Errorf("values file %s is not valid YAML: %w", path.Join(e.ChartDir, "values.yaml"), err)
		}
		s.defFile, _ = parseValuesFile(path.Join(e.ChartDir, "values.yaml"), b)
	}
	r, err := s.render(s.orig)
	if err != nil {
		return nil, rendered{}, err
	}
	if d, _ := s.find(r); d == nil {
		return nil, rendered{}, nil
	}
	return s, r, nil
}

func (s *session) plan(in patchers.Intent, base rendered) (patchers.Change, error) {
	tdoc, hdoc := s.find(base)
	if err := s.pickContainer(tdoc); err != nil {
		return patchers.Change{}, err
	}
	wants, err := s.wants(in, tdoc, hdoc)
	if err != nil {
		return patchers.Change{}, err
	}
	cur := s.orig
	work := base
	var keys []string

	// No-op: the rendered target already says what the intent asks.
	if in.Kind != patchers.KindSetHPA || hdoc != nil {
		noop := true
		for _, w := range wants {
			if !s.holds(work, w) {
				noop = false
				break
			}
		}
		if noop {
			return patchers.Change{NoOp: true, Summary: fmt.Sprintf("helm: %s already has %s", s.target, describe(wants))}, nil
		}
	}

	if in.Kind == patchers.KindSetHPA && hdoc == nil {
		cur, work, keys, err = s.enableHPA(cur, work)
		if err != nil {
			return patchers.Change{}, err
		}
	}
	if in.Kind == patchers.KindRollbackImage {
		var k []string
		cur, work, k, err = s.setImage(cur, work, wants[0])
		if err != nil {
			return patchers.Change{}, err
		}
		keys = append(keys, k...)
	} else {
		for _, w := range wants {
			if s.holds(work, w) {
				continue
			}
			key, err := s.locate(cur, work, w)
			if err != nil {
				return patchers.Change{}, err
			}
			vf, err := parseValuesFile(s.file, cur)
			if err != nil {
				return patchers.Change{}, err
			}
			v := w.value
			v.style = s.styleOf(key)
			if cur, err = vf.set(key, v); err != nil {
				return patchers.Change{}, err
			}
			if work, err = s.render(cur); err != nil {
				return patchers.Change{}, fmt.Errorf("helm: render after setting %s in %s: %w", keyString(key), s.file, err)
			}
			keys = append(keys, keyString(key))
		}
	}
	if err := s.verify(in, base, work, wants); err != nil {
		return patchers.Change{}, err
	}
	if err := s.othersUnchanged(cur); err != nil {
		return patchers.Change{}, err
	}
	aName := s.file
	if s.orig == nil {
		aName = "/dev/null" // a chart without values.yaml gets one
	}
	rendered := s.env.ChartDir + " (rendered as release " + s.env.Release + " in " + s.env.Namespace
	return patchers.Change{
		Files: []patchers.FileChange{{
			Path:    s.file,
			Diff:    render.UnifiedDiff(aName, s.file, s.orig, cur),
			Content: cur,
		}},
		RenderedDiff:   render.UnifiedDiff(rendered+", before)", rendered+", after)", base.out, work.out),
		ChangedObjects: changed(base.docs, work.docs),
		Summary:        fmt.Sprintf("helm: set %s of %s in %s (%s)", describe(wants), s.target, s.file, strings.Join(keys, ", ")),
	}, nil
}

func describe(ws []want) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, w.label+"="+w.value.text)
	}
	return strings.Join(parts, ", ")
}

func (s *session) pickContainer(d *doc) error {
	cs, _ := lookup(d.Value, "spec.template.spec.containers")
	list, _ := cs.([]any)
	var names []string
	for _, c := range list {
		n, _ := lookup(c, "name")
		names = append(names, scalarString(n))
	}
	if s.target.Container != "" {
		for _, n := range names {
			if n == s.target.Container {
				s.container = n
				return nil
			}
		}
		return fmt.Errorf("helm: %w: %s has no container %q (containers: %s)", patchers.ErrNotFound, s.target, s.target.Container, strings.Join(names, ", "))
	}
	if len(names) != 1 {
		return fmt.Errorf("helm: %s has %d containers (%s); name one in target.container", s.target, len(names), strings.Join(names, ", "))
	}
	s.container = names[0]
	return nil
}

func (s *session) cpath(rest string) string {
	return "spec.template.spec.containers[name=" + s.container + "]." + rest
}

// wants turns the intent's params into fields to set.
func (s *session) wants(in patchers.Intent, tdoc, hdoc *doc) ([]want, error) {
	var ws []want
	switch in.Kind {
	case patchers.KindSetResources:
		var p patchers.ResourcesParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, err
		}
		for _, side := range []string{"requests", "limits"} {
			m := p.Requests
			if side == "limits" {
				m = p.Limits
			}
			for _, r := range []string{"cpu", "memory"} {
				if v, ok := m[r]; ok {
					ws = append(ws, want{path: s.cpath("resources." + side + "." + r), label: side + "." + r,
						value: scalar{text: v}, quantity: true, tail: []string{"resources", side, r}})
				}
			}
		}
	case patchers.KindScale:
		var p patchers.ScaleParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, err
		}
		if hdoc != nil {
			if _, ok := lookup(tdoc.Value, "spec.replicas"); !ok {
				return nil, fmt.Errorf("helm: replicas of %s are managed by HorizontalPodAutoscaler %s; use set_hpa", s.target, hdoc.Object.Name)
			}
			lo, hi := hpaBounds(hdoc)
			if int(*p.Replicas) < lo || int(*p.Replicas) > hi {
				return nil, fmt.Errorf("helm: replicas %d are outside the bounds %d..%d of HorizontalPodAutoscaler %s", *p.Replicas, lo, hi, hdoc.Object.Name)
			}
		}
		ws = append(ws, want{path: "spec.replicas", label: "replicas", value: scalar{text: fmt.Sprint(*p.Replicas), number: true},
			tail: []string{"replicas"}, extra: [][]string{{"replicaCount"}, {"replicas"}}})
	case patchers.KindSetHPA:
		var p patchers.HPAParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, err
		}
		add := func(v *int32, field, label string) {
			if v != nil {
				ws = append(ws, want{hpa: true, path: field, label: label, value: scalar{text: fmt.Sprint(*v), number: true}, tail: []string{label}})
			}
		}
		add(p.MinReplicas, "spec.minReplicas", "minReplicas")
		add(p.MaxReplicas, "spec.maxReplicas", "maxReplicas")
		cpu := "spec.metrics[resource.name=cpu].resource.target.averageUtilization"
		if hdoc != nil && strings.HasSuffix(hdoc.Object.APIVersion, "/v1") {
			cpu = "spec.targetCPUUtilizationPercentage"
		}
		add(p.TargetCPUUtilizationPercentage, cpu, "targetCPUUtilizationPercentage")
	case patchers.KindSetEnv:
		var p patchers.SetEnvParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, err
		}
		w := want{path: s.cpath("env[name=" + p.Name + "].value"), label: "env " + p.Name, value: scalar{text: *p.Value}, tail: []string{"env", p.Name}}
		// Maps that hold the container's other variables may take this one.
		envs, _ := lookup(tdoc.Value, s.cpath("env"))
		list, _ := envs.([]any)
		names := map[string]bool{}
		for _, e := range list {
			n, _ := lookup(e, "name")
			names[scalarString(n)] = true
		}
		lists := map[string][]string{}
		var lpaths [][]string
		namedLists(s.merged(s.orig), nil, lists, &lpaths)
		for _, lp := range lpaths {
			for _, n := range lists[strings.Join(lp, "\x00")] {
				if names[n] {
					w.extra = append(w.extra, append(append([]string(nil), lp...), "[name="+p.Name+"]", "value"))
					break
				}
			}
		}
		for _, m := range mapPaths(s.merged(s.orig)) {
			if mv, ok := valueAt(s.merged(s.orig), m).(map[string]any); ok {
				for k := range mv {
					if names[k] {
						w.extra = append(w.extra, append(append([]string(nil), m...), p.Name))
						break
					}
				}
			}
		}
		ws = append(ws, w)
	case patchers.KindRollbackImage:
		var p patchers.RollbackImageParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return nil, err
		}
		ws = append(ws, want{path: s.cpath("image"), label: "image", value: scalar{text: p.Image}})
	default:
		// Never a no-op: an unknown kind must not read as "already has".
		return nil, fmt.Errorf("helm: intent kind %s is %w", in.Kind, ErrNotSupported)
	}
	return ws, nil
}

func hpaBounds(h *doc) (lo, hi int) {
	lo = 1
	if v, ok := lookup(h.Value, "spec.minReplicas"); ok {
		if n, ok := v.(int); ok {
			lo = n
		}
	}
	hi = 1 << 30
	if v, ok := lookup(h.Value, "spec.maxReplicas"); ok {
		if n, ok := v.(int); ok {
			hi = n
		}
	}
	return lo, hi
}

// field reads a want's field in a render.
func (s *session) field(r rendered, w want) (string, bool) {
	t, h := s.find(r)
	d := t
	if w.hpa {
		d = h
	}
	if d == nil {
		return "", false
	}
	v, ok := lookup(d.Value, w.path)
	if !ok {
		return "", false
	}
	return scalarString(v), true
}

// holds reports whether the render already has the want's value.
func (s *session) holds(r rendered, w want) bool {
	got, ok := s.field(r, w)
	if !ok {
		return false
	}
	if w.quantity {
		a, e1 := resource.ParseQuantity(got)
		b, e2 := resource.ParseQuantity(w.value.text)
		return e1 == nil && e2 == nil && a.Cmp(b) == 0
	}
	return got == w.value.text
}

// styleOf is the quoting of key's value in the chart's values.yaml, so a
// key added to an environment file reads like the default it overrides.
func (s *session) styleOf(key []string) yaml.Style {
	if s.defFile == nil {
		return 0
	}
	if n, ok := s.defFile.get(key); ok && n.Kind == yaml.ScalarNode {
		return n.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	return 0
}

// othersUnchanged renders every other chart that reads the edited values
// file (an environments/E/values.yaml shared by several charts) before and
// after the edit, and refuses when one of them changes.
func (s *session) othersUnchanged(content []byte) error {
	dirs, err := charts(s.repo)
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		if dir == s.env.ChartDir {
			continue
		}
		for _, e := range environments(s.repo, dir) {
			if e.ValuesFile != s.file {
				continue
			}
			e.Namespace = namespacesFor(e.Release, e.Name)[0]
			o := &session{ctx: s.ctx, limits: s.limits, repo: s.repo, env: e, file: s.file}
			before, err1 := o.render(s.orig)
			after, err2 := o.render(content)
			if err1 != nil {
				continue // already broken; not this edit's doing
			}
			if err2 != nil {
				return fmt.Errorf("helm: the edit to %s breaks chart %s: %w", s.file, dir, err2)
			}
			if c := changed(before.docs, after.docs); len(c) > 0 {
				return fmt.Errorf("helm: %w: the edit to %s also changes chart %s's %s", patchers.ErrRefused, s.file, dir, objectList(c))
			}
		}
	}
	return nil
}
