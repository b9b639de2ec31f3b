package kustomize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrNotSupported is wrapped for intents that need the repository's git
// history, which this patcher does not read yet. It is
// patchers.ErrNotSupported, so callers can test for either.
var ErrNotSupported = patchers.ErrNotSupported

var _ patchers.TargetRenderer = Patcher{}

// Patcher plans changes in kustomize repositories. It is stateless and
// safe for concurrent use. The zero Patcher renders with
// render.DefaultLimits.
type Patcher struct {
	limits render.Limits
}

// New returns the kustomize patcher, rendering with render.DefaultLimits.
func New() patchers.Patcher { return Patcher{} }

// NewWithLimits returns the kustomize patcher, every kustomize build
// bounded by limits.
func NewWithLimits(limits render.Limits) patchers.Patcher { return Patcher{limits: limits} }

// renderLimits are p's limits, the defaults when unset.
func (p Patcher) renderLimits() render.Limits {
	if p.limits == (render.Limits{}) {
		return render.DefaultLimits()
	}
	return p.limits
}

// Name is "kustomize".
func (Patcher) Name() string { return "kustomize" }

// Detect reports whether repo holds a kustomization file.
func (Patcher) Detect(repo fs.FS) bool {
	dirs, err := kustomizationDirs(repo)
	return err == nil && len(dirs) > 0
}

// RenderTarget implements patchers.TargetRenderer: the overlay directory
// that renders t (found as Plan finds it: ErrNotFound when no root
// kustomization renders it, ErrAmbiguous when several do) and that
// overlay's kustomize build output.
func (p Patcher) RenderTarget(ctx context.Context, repo fs.FS, t patchers.Target) (string, []byte, error) {
	l, err := locate(ctx, p.renderLimits(), repo, t)
	if err != nil {
		return "", nil, err
	}
	return l.dir, l.rendered, nil
}

// check is one rendered field the plan must leave with a value.
type check struct {
	obj   patchers.Object
	path  string
	want  string
	quant bool // compare as Kubernetes quantities
}

// plan is what one intent kind decided: checks, summary parts, the objects
// allowed to change.
type plan struct {
	checks  []check
	parts   []string
	allowed []patchers.Object
	noop    []string
}

// Plan implements patchers.Patcher.
func (p Patcher) Plan(ctx context.Context, repo fs.FS, in patchers.Intent) (patchers.Change, error) {
	if err := in.Validate(); err != nil {
		return patchers.Change{}, err
	}
	switch in.Kind {
	case patchers.KindRevertCommit:
		return patchers.Change{}, fmt.Errorf("revert_commit: %w yet: it needs the repository's git history", ErrNotSupported)
	case patchers.KindRollbackImage:
		var rp patchers.RollbackImageParams
		_ = json.Unmarshal(in.Params, &rp)
		if rp.Previous {
			return patchers.Change{}, fmt.Errorf("rollback_image with previous: %w yet: it needs the repository's git history", ErrNotSupported)
		}
	}
	l, err := locate(ctx, p.renderLimits(), repo, in.Target)
	if err != nil {
		return patchers.Change{}, err
	}
	e := &edits{repo: repo, files: map[string][]byte{}}
	var pl *plan
	switch in.Kind {
	case patchers.KindSetResources:
		pl, err = setResources(l, e, in)
	case patchers.KindScale:
		pl, err = scale(l, e, in)
	case patchers.KindSetEnv:
		pl, err = setEnv(l, e, in)
	case patchers.KindRollbackImage:
		pl, err = rollbackImage(l, e, in)
	case patchers.KindSetHPA:
		pl, err = setHPA(l, e, in)
	default:
		err = fmt.Errorf("kustomize: intent kind %s is %w", in.Kind, ErrNotSupported)
	}
	if err != nil {
		return patchers.Change{}, err
	}
	label := in.Target.String()
	if in.Target.Container == "" {
		label = objString(l.obj)
	}
	if len(pl.parts) == 0 {
		return patchers.Change{NoOp: true, Summary: fmt.Sprintf("%s: %s (%s)", label, strings.Join(pl.noop, ", "), l.dir)}, nil
	}
	if err := ctx.Err(); err != nil {
		return patchers.Change{}, err
	}
	after, err := p.renderLimits().Kustomize(ctx, render.Overlay(repo, e.files), l.dir)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("the edited overlay does not build: %w", err)
	}
	changed, err := render.Changed(l.rendered, after)
	if err != nil {
		return patchers.Change{}, err
	}
	if err := verify(after, pl, changed, l); err != nil {
		return patchers.Change{}, fmt.Errorf("%w: refuse the change to %s: %w", patchers.ErrRefused, l.dir, err)
	}
	// Files may be shared: no other environment may render differently.
	for _, dir := range slices.Sorted(maps.Keys(l.renders)) {
		if dir == l.dir || !l.reaches(dir, e.order) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return patchers.Change{}, err
		}
		other, err := p.renderLimits().Kustomize(ctx, render.Overlay(repo, e.files), dir)
		if err != nil {
			return patchers.Change{}, fmt.Errorf("%w: refuse the change to %s: it breaks %s: %w", patchers.ErrRefused, l.dir, dir, err)
		}
		if !bytes.Equal(other, l.renders[dir]) {
			return patchers.Change{}, fmt.Errorf("%w: refuse the change to %s: it would also change the render of %s", patchers.ErrRefused, l.dir, dir)
		}
	}
	ch := patchers.Change{
		RenderedDiff:   render.UnifiedDiff(l.dir+" (rendered, before)", l.dir+" (rendered, after)", l.rendered, after),
		ChangedObjects: changed,
		Summary:        fmt.Sprintf("%s: %s (%s)", label, strings.Join(pl.parts, ", "), l.dir),
	}
	for _, f := range e.order {
		old, err := fs.ReadFile(repo, f)
		aName := f
		if errors.Is(err, fs.ErrNotExist) {
			aName, old = "/dev/null", nil
		} else if err != nil {
			return patchers.Change{}, fmt.Errorf("read %s: %w", f, err)
		}
		ch.Files = append(ch.Files, patchers.FileChange{Path: f, Diff: render.UnifiedDiff(aName, f, old, e.files[f]), Content: e.files[f]})
	}
	return ch, nil
}

// verify checks the rendered result: every intended field has its value,
// and nothing but the allowed objects changed.
func verify(after []byte, pl *plan, changed []patchers.Object, l *located) error {
	for _, c := range pl.checks {
		got, ok, err := render.Field(after, c.obj, c.path)
		if err != nil {
			return fmt.Errorf("read %s %s: %w", objString(c.obj), c.path, err)
		}
		if !ok || !equalValue(got, c.want, c.quant) {
			return fmt.Errorf("after the edit %s %s is %q, want %q", objString(c.obj), c.path, got, c.want)
		}
	}
	if !slices.Contains(changed, pl.allowed[0]) {
		return fmt.Errorf("the edit does not change %s", objString(pl.allowed[0]))
	}
	for _, o := range changed {
		if !slices.Contains(pl.allowed, o) {
			return fmt.Errorf("the edit would also change %s", objString(o))
		}
	}
	return nil
}

func equalValue(got, want string, quant bool) bool {
	if got == want {
		return true
	}
	if quant {
		g, e1 := resource.ParseQuantity(got)
		w, e2 := resource.ParseQuantity(want)
		return e1 == nil && e2 == nil && g.Cmp(w) == 0
	}
	return false
}

func containerPath(c string) string {
	return "spec.template.spec.containers[name=" + c + "]"
}

func setResources(l *located, e *edits, in patchers.Intent) (*plan, error) {
	var rp patchers.ResourcesParams
	if err := json.Unmarshal(in.Params, &rp); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	cn, cname, err := container(l, in.Target.Container)
	if err != nil {
		return nil, err
	}
	pl := &plan{allowed: []patchers.Object{l.obj}}
	// final holds the rendered resources after the change, for the
	// limit-versus-request check.
	final := map[string]map[string]string{"limits": {}, "requests": {}}
	for _, side := range []string{"limits", "requests"} {
		for _, res := range []string{"cpu", "memory"} {
			final[side][res] = str(cn, "resources", side, res)
		}
	}
	type set struct{ side, res, val string }
	var sets []set
	for _, side := range []string{"limits", "requests"} {
		m := rp.Limits
		if side == "requests" {
			m = rp.Requests
		}
		for _, res := range []string{"cpu", "memory"} {
			want, ok := m[res]
			if !ok {
				continue
			}
			cur := final[side][res]
			what := res + " " + strings.TrimSuffix(side, "s")
			if cur != "" && equalValue(cur, want, true) {
				pl.noop = append(pl.noop, fmt.Sprintf("%s already %s", what, cur))
				continue
			}
			from := cur
			if from == "" {
				from = "unset"
			}
			pl.parts = append(pl.parts, fmt.Sprintf("%s %s -> %s", what, from, want))
			pl.checks = append(pl.checks, check{obj: l.obj, path: containerPath(cname) + ".resources." + side + "." + res, want: want, quant: true})
			final[side][res] = want
			sets = append(sets, set{side, res, want})
		}
	}
	for _, res := range []string{"cpu", "memory"} {
		lim, req := final["limits"][res], final["requests"][res]
		if lim == "" || req == "" {
			continue
		}
		lq, err1 := resource.ParseQuantity(lim)
		rq, err2 := resource.ParseQuantity(req)
		if err1 == nil && err2 == nil && lq.Cmp(rq) < 0 {
			return nil, fmt.Errorf("%s: %s limit %s would be below its request %s", in.Target, res, lim, req)
		}
	}
	if len(sets) == 0 {
		return pl, nil
	}
	k, _, err := e.kustomization(l.kfile)
	if err != nil {
		return nil, err
	}
	src := sourceName(k, l.obj.Name)
	_, err = e.patchObject(l.dir, l.kfile, l.obj.APIVersion, l.obj.Kind, src, "resources", func(obj *yaml.RNode) error {
		c, err := patchContainer(obj, cname)
		if err != nil {
			return err
		}
		for _, s := range sets {
			m, err := mapAt(c, "resources", s.side)
			if err != nil {
				return err
			}
			if err := setScalar(m, s.res, s.val, yaml.NodeTagString); err != nil {
				return err
			}
		}
		return nil
	})
	return pl, err
}

func scale(l *located, e *edits, in patchers.Intent) (*plan, error) {
	var sp patchers.ScaleParams
	if err := json.Unmarshal(in.Params, &sp); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	want := strconv.Itoa(int(*sp.Replicas))
	pl := &plan{allowed: []patchers.Object{l.obj}}
	cur := str(l.node, "spec", "replicas")
	if cur == want {
		pl.noop = append(pl.noop, "replicas already "+cur)
		return pl, nil
	}
	h, hobj, err := hpa(l)
	if err != nil {
		return nil, err
	}
	if h != nil {
		lo, _ := strconv.Atoi(str(h, "spec", "minReplicas"))
		if lo == 0 {
			lo = 1
		}
		hi, _ := strconv.Atoi(str(h, "spec", "maxReplicas"))
		if r := int(*sp.Replicas); r < lo || r > hi {
			return nil, fmt.Errorf("%s: replicas %d is outside the bounds %d..%d of %s", objString(l.obj), r, lo, hi, objString(hobj))
		}
	}
	from := cur
	if from == "" {
		from = "unset"
	}
	pl.parts = append(pl.parts, fmt.Sprintf("replicas %s -> %s", from, want))
	pl.checks = append(pl.checks, check{obj: l.obj, path: "spec.replicas", want: want})
	err = e.editKustomization(l.kfile, func(k *yaml.RNode) error {
		src := sourceName(k, l.obj.Name)
		list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, "replicas"))
		if err != nil {
			return err
		}
		elems, err := list.Elements()
		if err != nil {
			return err
		}
		for _, el := range elems {
			if str(el, "name") == src {
				return setScalar(el, "count", want, yaml.NodeTagInt)
			}
		}
		el := yaml.NewMapRNode(nil)
		if err := setScalar(el, "name", src, yaml.NodeTagString); err != nil {
			return err
		}
		if err := setScalar(el, "count", want, yaml.NodeTagInt); err != nil {
			return err
		}
		return list.PipeE(yaml.Append(el.YNode()))
	})
	return pl, err
}

func setEnv(l *located, e *edits, in patchers.Intent) (*plan, error) {
	var ep patchers.SetEnvParams
	if err := json.Unmarshal(in.Params, &ep); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	cn, cname, err := container(l, in.Target.Container)
	if err != nil {
		return nil, err
	}
	pl := &plan{allowed: []patchers.Object{l.obj}}
	cur, found := "", false
	if list, _ := cn.Pipe(yaml.Lookup("env")); list != nil {
		elems, _ := list.Elements()
		for _, el := range elems {
			if str(el, "name") != ep.Name {
				continue
			}
			if vf, _ := el.Pipe(yaml.Lookup("valueFrom")); vf != nil {
				return nil, fmt.Errorf("%s: env %s is set with valueFrom in %s; refusing to override it with a literal value", in.Target, ep.Name, l.dir)
			}
			cur, found = str(el, "value"), true
		}
	}
	if found && cur == *ep.Value {
		pl.noop = append(pl.noop, fmt.Sprintf("env %s already %q", ep.Name, cur))
		return pl, nil
	}
	if found {
		pl.parts = append(pl.parts, fmt.Sprintf("env %s %q -> %q", ep.Name, cur, *ep.Value))
	} else {
		pl.parts = append(pl.parts, fmt.Sprintf("env %s unset -> %q", ep.Name, *ep.Value))
	}
	pl.checks = append(pl.checks, check{obj: l.obj, path: containerPath(cname) + ".env[name=" + ep.Name + "].value", want: *ep.Value})
	k, _, err := e.kustomization(l.kfile)
	if err != nil {
		return nil, err
	}
	_, err = e.patchObject(l.dir, l.kfile, l.obj.APIVersion, l.obj.Kind, sourceName(k, l.obj.Name), "env", func(obj *yaml.RNode) error {
		c, err := patchContainer(obj, cname)
		if err != nil {
			return err
		}
		list, err := c.Pipe(yaml.LookupCreate(yaml.SequenceNode, "env"))
		if err != nil {
			return err
		}
		elems, err := list.Elements()
		if err != nil {
			return err
		}
		for _, el := range elems {
			if str(el, "name") == ep.Name {
				return setScalar(el, "value", *ep.Value, yaml.NodeTagString)
			}
		}
		el := yaml.NewMapRNode(nil)
		if err := setScalar(el, "name", ep.Name, yaml.NodeTagString); err != nil {
			return err
		}
		if err := setScalar(el, "value", *ep.Value, yaml.NodeTagString); err != nil {
			return err
		}
		return list.PipeE(yaml.Append(el.YNode()))
	})
	return pl, err
}

// splitImage splits an image reference into its name, tag and digest.
func splitImage(ref string) (name, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

func rollbackImage(l *located, e *edits, in patchers.Intent) (*plan, error) {
	var rp patchers.RollbackImageParams
	if err := json.Unmarshal(in.Params, &rp); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	cn, cname, err := container(l, in.Target.Container)
	if err != nil {
		return nil, err
	}
	pl := &plan{allowed: []patchers.Object{l.obj}}
	cur := str(cn, "image")
	if cur == rp.Image {
		pl.noop = append(pl.noop, "image already "+cur)
		return pl, nil
	}
	pl.parts = append(pl.parts, fmt.Sprintf("image %s -> %s", cur, rp.Image))
	pl.checks = append(pl.checks, check{obj: l.obj, path: containerPath(cname) + ".image", want: rp.Image})
	curName, _, _ := splitImage(cur)
	name, tag, digest := splitImage(rp.Image)
	err = e.editKustomization(l.kfile, func(k *yaml.RNode) error {
		list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, "images"))
		if err != nil {
			return err
		}
		elems, err := list.Elements()
		if err != nil {
			return err
		}
		var entry *yaml.RNode
		for _, el := range elems {
			if nn := str(el, "newName"); nn == curName || (nn == "" && str(el, "name") == curName) {
				entry = el
				break
			}
		}
		if entry == nil {
			entry = yaml.NewMapRNode(nil)
			if err := setScalar(entry, "name", curName, yaml.NodeTagString); err != nil {
				return err
			}
			if err := list.PipeE(yaml.Append(entry.YNode())); err != nil {
				return err
			}
		}
		if name != str(entry, "name") {
			if err := setScalar(entry, "newName", name, yaml.NodeTagString); err != nil {
				return err
			}
		} else if err := entry.PipeE(yaml.Clear("newName")); err != nil {
			return err
		}
		for _, f := range []struct{ key, val string }{{"newTag", tag}, {"digest", digest}} {
			if f.val == "" {
				if err := entry.PipeE(yaml.Clear(f.key)); err != nil {
					return err
				}
				continue
			}
			if err := setScalar(entry, f.key, f.val, yaml.NodeTagString); err != nil {
				return err
			}
		}
		return nil
	})
	return pl, err
}

func setHPA(l *located, e *edits, in patchers.Intent) (*plan, error) {
	var hp patchers.HPAParams
	if err := json.Unmarshal(in.Params, &hp); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	h, hobj, err := hpa(l)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%s: %w: no HorizontalPodAutoscaler targets it in the render of %s", objString(l.obj), patchers.ErrNotFound, l.dir)
	}
	pl := &plan{allowed: []patchers.Object{hobj, l.obj}}
	v2 := hobj.APIVersion != "autoscaling/v1"
	// cpuIndex is the index of the cpu Resource metric of a v2 HPA, -1
	// when it has none.
	cpuIndex := -1
	var metrics []*yaml.RNode
	if v2 {
		if list, _ := h.Pipe(yaml.Lookup("spec", "metrics")); list != nil {
			metrics, _ = list.Elements()
		}
		for i, m := range metrics {
			if str(m, "type") == "Resource" && str(m, "resource", "name") == "cpu" {
				cpuIndex = i
			}
		}
	}
	type set struct{ key, path, cur, want string }
	var sets []set
	add := func(key, path, cur string, want *int32) {
		if want == nil {
			return
		}
		w := strconv.Itoa(int(*want))
		if cur == w {
			pl.noop = append(pl.noop, fmt.Sprintf("%s already %s", key, cur))
			return
		}
		sets = append(sets, set{key, path, cur, w})
	}
	add("minReplicas", "spec.minReplicas", str(h, "spec", "minReplicas"), hp.MinReplicas)
	add("maxReplicas", "spec.maxReplicas", str(h, "spec", "maxReplicas"), hp.MaxReplicas)
	if v2 {
		cur := ""
		if cpuIndex >= 0 {
			cur = str(metrics[cpuIndex], "resource", "target", "averageUtilization")
		}
		i := cpuIndex
		if i < 0 {
			i = len(metrics)
		}
		add("targetCPUUtilizationPercentage", fmt.Sprintf("spec.metrics[%d].resource.target.averageUtilization", i), cur, hp.TargetCPUUtilizationPercentage)
	} else {
		add("targetCPUUtilizationPercentage", "spec.targetCPUUtilizationPercentage", str(h, "spec", "targetCPUUtilizationPercentage"), hp.TargetCPUUtilizationPercentage)
	}
	lo, hi := str(h, "spec", "minReplicas"), str(h, "spec", "maxReplicas")
	for _, s := range sets {
		from := s.cur
		if from == "" {
			from = "unset"
		}
		pl.parts = append(pl.parts, fmt.Sprintf("%s %s -> %s", s.key, from, s.want))
		switch s.key {
		case "minReplicas":
			lo = s.want
		case "maxReplicas":
			hi = s.want
		}
		pl.checks = append(pl.checks, check{obj: hobj, path: s.path, want: s.want})
	}
	if a, err1 := strconv.Atoi(lo); err1 == nil {
		if b, err2 := strconv.Atoi(hi); err2 == nil && a > b {
			return nil, fmt.Errorf("%s: minReplicas %d would be above maxReplicas %d", objString(hobj), a, b)
		}
	}
	if len(sets) == 0 {
		return pl, nil
	}
	k, _, err := e.kustomization(l.kfile)
	if err != nil {
		return nil, err
	}
	_, err = e.patchObject(l.dir, l.kfile, hobj.APIVersion, hobj.Kind, sourceName(k, hobj.Name), "hpa", func(obj *yaml.RNode) error {
		spec, err := mapAt(obj, "spec")
		if err != nil {
			return err
		}
		for _, s := range sets {
			switch {
			case s.key != "targetCPUUtilizationPercentage" || !v2:
				if err := setScalar(spec, s.key, s.want, yaml.NodeTagInt); err != nil {
					return err
				}
			default:
				if err := setCPUMetric(spec, metrics, cpuIndex, s.want); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return pl, err
}

// setCPUMetric writes the v2 HPA's whole metrics list (a strategic merge
// replaces the list) with the cpu utilization target set to want.
func setCPUMetric(spec *yaml.RNode, rendered []*yaml.RNode, cpuIndex int, want string) error {
	// A metrics list already in the document is the whole list (a
	// definition, or a patch that replaces it): edit it in place.
	if own, _ := spec.Pipe(yaml.Lookup("metrics")); own != nil && own.YNode().Kind == yaml.SequenceNode {
		elems, err := own.Elements()
		if err != nil {
			return err
		}
		for _, m := range elems {
			if str(m, "type") == "Resource" && str(m, "resource", "name") == "cpu" {
				t, err := mapAt(m, "resource", "target")
				if err != nil {
					return err
				}
				if err := setScalar(t, "type", "Utilization", yaml.NodeTagString); err != nil {
					return err
				}
				return setScalar(t, "averageUtilization", want, yaml.NodeTagInt)
			}
		}
		m, err := yaml.Parse("type: Resource\nresource:\n  name: cpu\n  target:\n    type: Utilization\n    averageUtilization: " + want + "\n")
		if err != nil {
			return err
		}
		return own.PipeE(yaml.Append(m.YNode()))
	}
	list := yaml.NewListRNode()
	for i, m := range rendered {
		c := m.Copy()
		typeFirst(c.YNode())
		if i == cpuIndex {
			t, err := mapAt(c, "resource", "target")
			if err != nil {
				return err
			}
			if err := setScalar(t, "type", "Utilization", yaml.NodeTagString); err != nil {
				return err
			}
			if err := setScalar(t, "averageUtilization", want, yaml.NodeTagInt); err != nil {
				return err
			}
		}
		if err := list.PipeE(yaml.Append(c.YNode())); err != nil {
			return err
		}
	}
	if cpuIndex < 0 {
		m, err := yaml.Parse("type: Resource\nresource:\n  name: cpu\n  target:\n    type: Utilization\n    averageUtilization: " + want + "\n")
		if err != nil {
			return err
		}
		if err := list.PipeE(yaml.Append(m.YNode())); err != nil {
			return err
		}
	}
	return spec.PipeE(yaml.SetField("metrics", list))
}

// typeFirst moves a mapping's type key to the front, where people write
// it: a render sorts keys, and a metric reads better as "type: Resource"
// followed by what that type means.
func typeFirst(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" && i > 0 {
			k, v := n.Content[i], n.Content[i+1]
			rest := append(n.Content[:i:i], n.Content[i+2:]...)
			n.Content = append([]*yaml.Node{k, v}, rest...)
			break
		}
	}
	for i := 1; i < len(n.Content); i += 2 {
		typeFirst(n.Content[i])
	}
}
