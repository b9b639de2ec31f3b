package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"testing/fstest"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrRefused is wrapped when the rendered result of an edit does not say
// what the intent asked, or changes more than its target: the plan is
// refused and nothing is to be written.
var ErrRefused = patchers.ErrRefused

func fileDiff(p string, a, b []byte) string {
	return render.UnifiedDiff(p, p, a, b)
}

// verify renders the repository before and after the edits, fills the
// Change's rendered diff and changed objects, and checks that the target
// field has the intended value and that nothing but the target (and its
// HorizontalPodAutoscaler) changed.
func verify(ctx context.Context, repo fs.FS, newFiles map[string][]byte, in patchers.Intent, pl *plan, ch *patchers.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A plain folder renders as its files, and only the edited files can
	// differ: rendering those (before and after) is the whole difference,
	// and other YAML of the repo (CI workflows, configs of other tools) is
	// not asked to parse as Kubernetes objects.
	edited := fstest.MapFS{}
	for p := range newFiles {
		b, err := fs.ReadFile(repo, p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if err == nil {
			edited[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		}
	}
	before, err := render.Manifests(edited, ".")
	if err != nil {
		return fmt.Errorf("render before: %w", err)
	}
	after, err := render.Manifests(render.Overlay(edited, newFiles), ".")
	if err != nil {
		return fmt.Errorf("render after: %w", err)
	}
	changed, err := render.Changed(before, after)
	if err != nil {
		return fmt.Errorf("compare renders: %w", err)
	}
	ch.RenderedDiff = render.UnifiedDiff("manifests (rendered, before)", "manifests (rendered, after)", before, after)
	ch.ChangedObjects = []patchers.Object{}
	allowed := []*doc{pl.target}
	if pl.hpa != nil {
		allowed = append(allowed, pl.hpa)
	}
	for _, o := range changed {
		var match *doc
		for _, d := range allowed {
			if sameObject(o, d) {
				match = d
			}
		}
		if match == nil {
			return fmt.Errorf("%w: %s changed too", ErrRefused, objString(o))
		}
		// An object without a namespace is reported in the namespace its
		// folder gives it (see the package doc).
		o.Namespace = match.namespace
		ch.ChangedObjects = append(ch.ChangedObjects, o)
	}
	main := pl.target
	if in.Kind == patchers.KindSetHPA {
		main = pl.hpa
	}
	hit := false
	for _, o := range changed {
		hit = hit || sameObject(o, main)
	}
	if !hit {
		return fmt.Errorf("%w: the rendered %s did not change", ErrRefused, main.object().Name)
	}
	for _, c := range fieldChecks(in, pl) {
		obj := pl.target.object()
		if c.hpa {
			obj = pl.hpa.object()
		}
		got, found, err := render.Field(after, objectAsRendered(obj, changed), c.path)
		if err != nil {
			return fmt.Errorf("%w: read %s: %v", ErrRefused, c.path, err)
		}
		if !found || !c.eq(got) {
			return fmt.Errorf("%w: rendered %s is %q, want %q", ErrRefused, c.path, got, c.want)
		}
	}
	return nil
}

// objectAsRendered is obj as the renderer names it (a document without a
// namespace renders without one).
func objectAsRendered(obj patchers.Object, changed []patchers.Object) patchers.Object {
	for _, o := range changed {
		if o.Kind == obj.Kind && o.Name == obj.Name && (o.Namespace == obj.Namespace || o.Namespace == "") {
			return o
		}
	}
	return obj
}

// sameObject matches a rendered object to a document; a rendered object
// without a namespace gets the document's folder rule.
func sameObject(o patchers.Object, d *doc) bool {
	if o.Kind != d.kind || o.Name != d.name {
		return false
	}
	return o.Namespace == d.namespace || (o.Namespace == "" && scalar(d.root, "metadata", "namespace") == "")
}

type fieldCheck struct {
	hpa  bool
	path string
	want string
	eq   func(got string) bool
}

func fieldChecks(in patchers.Intent, pl *plan) []fieldCheck {
	ctr := "spec.template.spec.containers"
	if c := in.Target.Container; c != "" {
		ctr += "[name=" + c + "]"
	} else {
		ctr += "[0]"
	}
	str := func(want string) func(string) bool { return func(got string) bool { return got == want } }
	qty := func(want string) func(string) bool {
		return func(got string) bool {
			a, e1 := resource.ParseQuantity(got)
			b, e2 := resource.ParseQuantity(want)
			return got == want || (e1 == nil && e2 == nil && a.Cmp(b) == 0)
		}
	}
	var out []fieldCheck
	switch in.Kind {
	case patchers.KindSetResources:
		var p patchers.ResourcesParams
		_ = json.Unmarshal(in.Params, &p)
		for side, m := range map[string]map[string]string{"limits": p.Limits, "requests": p.Requests} {
			for res, q := range m {
				out = append(out, fieldCheck{path: ctr + ".resources." + side + "." + res, want: q, eq: qty(q)})
			}
		}
	case patchers.KindScale:
		var p patchers.ScaleParams
		_ = json.Unmarshal(in.Params, &p)
		v := strconv.Itoa(int(*p.Replicas))
		out = append(out, fieldCheck{path: "spec.replicas", want: v, eq: str(v)})
	case patchers.KindRollbackImage:
		var p patchers.RollbackImageParams
		_ = json.Unmarshal(in.Params, &p)
		out = append(out, fieldCheck{path: ctr + ".image", want: p.Image, eq: str(p.Image)})
	case patchers.KindSetEnv:
		var p patchers.SetEnvParams
		_ = json.Unmarshal(in.Params, &p)
		out = append(out, fieldCheck{path: ctr + ".env[name=" + p.Name + "].value", want: *p.Value, eq: str(*p.Value)})
	case patchers.KindSetHPA:
		var p patchers.HPAParams
		_ = json.Unmarshal(in.Params, &p)
		for name, v := range map[string]*int32{"spec.minReplicas": p.MinReplicas, "spec.maxReplicas": p.MaxReplicas} {
			if v != nil {
				s := strconv.Itoa(int(*v))
				out = append(out, fieldCheck{hpa: true, path: name, want: s, eq: str(s)})
			}
		}
		if c := p.TargetCPUUtilizationPercentage; c != nil && pl.hpa != nil {
			s := strconv.Itoa(int(*c))
			if pl.hpa.apiVersion == "autoscaling/v1" {
				out = append(out, fieldCheck{hpa: true, path: "spec.targetCPUUtilizationPercentage", want: s, eq: str(s)})
			} else {
				// autoscaling/v2: the Resource cpu metric of the list.
				out = append(out, fieldCheck{hpa: true, path: "spec.metrics", want: "a cpu metric at " + s, eq: cpuMetricIs(*c)})
			}
		}
	}
	return out
}

// objString is "namespace/Kind/name", or "Kind/name" without a namespace.
func objString(o patchers.Object) string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Namespace + "/" + o.Kind + "/" + o.Name
}

// cpuMetricIs reports whether an autoscaling/v2 metrics list (as YAML) has
// a Resource cpu metric whose averageUtilization is want.
func cpuMetricIs(want int32) func(string) bool {
	return func(got string) bool {
		var metrics []struct {
			Type     string `yaml:"type"`
			Resource struct {
				Name   string `yaml:"name"`
				Target struct {
					AverageUtilization *int32 `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		}
		if err := yaml.Unmarshal([]byte(got), &metrics); err != nil {
			return false
		}
		for _, m := range metrics {
			if m.Type == "Resource" && m.Resource.Name == "cpu" {
				u := m.Resource.Target.AverageUtilization
				return u != nil && *u == want
			}
		}
		return false
	}
}
