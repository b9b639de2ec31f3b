package crew

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// maxOtherPaths bounds how many paths of "other" changes one commit lists
// per object.
const maxOtherPaths = 5

// parsedTarget is TargetFacts with the parts kept for comparison.
type parsedTarget struct {
	facts      TargetFacts
	rest       map[string]any            // the target without the fields facts holds
	containers map[string]map[string]any // each container without them
}

// factsOf reads t's facts from rendered manifests.
func factsOf(manifests []byte, t patchers.Target, dir string) (parsedTarget, error) {
	docs, err := render.Objects(manifests)
	if err != nil {
		return parsedTarget{}, fmt.Errorf("read rendered manifests: %w", err)
	}
	t.Container = ""
	var obj map[string]any
	byName := map[string][]byte{} // "Kind/name" of ConfigMaps and Secrets
	var hpas []render.Doc
	for _, d := range docs {
		o := d.Object
		sameNS := o.Namespace == "" || o.Namespace == t.Namespace
		switch {
		case o.Kind == t.Kind && o.Name == t.Name && sameNS:
			if obj != nil {
				return parsedTarget{}, fmt.Errorf("%s: %w in the rendered manifests", t, patchers.ErrAmbiguous)
			}
			if err := yaml.Unmarshal(d.YAML, &obj); err != nil {
				return parsedTarget{}, fmt.Errorf("read %s: %w", t, err)
			}
		case (o.Kind == "ConfigMap" || o.Kind == "Secret") && sameNS:
			byName[o.Kind+"/"+o.Name] = d.YAML
		case o.Kind == "HorizontalPodAutoscaler" && sameNS:
			hpas = append(hpas, d)
		}
	}
	if obj == nil {
		return parsedTarget{}, fmt.Errorf("%s: %w in the rendered manifests of %s", t, patchers.ErrNotFound, dir)
	}
	p := parsedTarget{facts: TargetFacts{Target: t, Dir: dir}, containers: map[string]map[string]any{}}
	rest := deepCopy(obj).(map[string]any)
	spec, _ := rest["spec"].(map[string]any)
	if r, ok := intOf(spec["replicas"]); ok {
		p.facts.Replicas = &r
	}
	delete(spec, "replicas")
	podSpec := mapAt(spec, "template", "spec")
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := podSpec[key].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			c, crest := container(m, key == "initContainers")
			p.facts.Containers = append(p.facts.Containers, c)
			p.containers[c.Name] = crest
		}
		delete(podSpec, key)
	}
	for _, ref := range configRefs(mapAt(obj, "spec", "template", "spec")) {
		if y, ok := byName[ref.Kind+"/"+ref.Name]; ok {
			sum := sha256.Sum256(y)
			ref.digest = hex.EncodeToString(sum[:])
			p.facts.Config = append(p.facts.Config, ref)
		}
	}
	p.facts.HPA = hpaFor(hpas, t)
	p.rest = rest
	return p, nil
}

// container splits one container into its facts and the rest.
func container(m map[string]any, init bool) (Container, map[string]any) {
	rest := deepCopy(m).(map[string]any)
	c := Container{Init: init}
	c.Name, _ = m["name"].(string)
	c.Image = scalar(m["image"])
	res, _ := m["resources"].(map[string]any)
	c.Limits = quantities(res["limits"])
	c.Requests = quantities(res["requests"])
	env, _ := m["env"].([]any)
	for _, e := range env {
		em, _ := e.(map[string]any)
		v := EnvVar{}
		v.Name, _ = em["name"].(string)
		if from, ok := em["valueFrom"].(map[string]any); ok {
			for k := range from {
				v.From = k
			}
			b, _ := yaml.Marshal(from)
			v.value = string(b)
		} else {
			v.value = scalar(em["value"])
		}
		c.Env = append(c.Env, v)
	}
	for _, k := range []string{"name", "image", "resources", "env"} {
		delete(rest, k)
	}
	return c, rest
}

func quantities(v any) map[string]string {
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, q := range m {
		out[k] = scalar(q)
	}
	return out
}

// configRefs lists the ConfigMaps and Secrets a pod spec refers to, sorted,
// without repeats.
func configRefs(podSpec map[string]any) []ConfigRef {
	seen := map[ConfigRef]bool{}
	add := func(kind string, name any) {
		if s, ok := name.(string); ok && s != "" {
			seen[ConfigRef{Kind: kind, Name: s}] = true
		}
	}
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := podSpec[key].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			froms, _ := m["envFrom"].([]any)
			for _, f := range froms {
				fm, _ := f.(map[string]any)
				add("ConfigMap", mapAt(fm, "configMapRef")["name"])
				add("Secret", mapAt(fm, "secretRef")["name"])
			}
			env, _ := m["env"].([]any)
			for _, e := range env {
				em, _ := e.(map[string]any)
				add("ConfigMap", mapAt(em, "valueFrom", "configMapKeyRef")["name"])
				add("Secret", mapAt(em, "valueFrom", "secretKeyRef")["name"])
			}
		}
	}
	vols, _ := podSpec["volumes"].([]any)
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		add("ConfigMap", mapAt(vm, "configMap")["name"])
		add("Secret", mapAt(vm, "secret")["secretName"])
		srcs, _ := mapAt(vm, "projected")["sources"].([]any)
		for _, s := range srcs {
			sm, _ := s.(map[string]any)
			add("ConfigMap", mapAt(sm, "configMap")["name"])
			add("Secret", mapAt(sm, "secret")["name"])
		}
	}
	out := make([]ConfigRef, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// hpaFor is the first HPA (by name) whose scaleTargetRef names t.
func hpaFor(docs []render.Doc, t patchers.Target) *HPA {
	sort.Slice(docs, func(i, j int) bool { return docs[i].Object.Name < docs[j].Object.Name })
	for _, d := range docs {
		var m map[string]any
		if yaml.Unmarshal(d.YAML, &m) != nil {
			continue
		}
		spec := mapAt(m, "spec")
		ref := mapAt(spec, "scaleTargetRef")
		if ref["kind"] != t.Kind || ref["name"] != t.Name {
			continue
		}
		h := &HPA{Name: d.Object.Name, MinReplicas: 1}
		if v, ok := intOf(spec["minReplicas"]); ok {
			h.MinReplicas = v
		}
		h.MaxReplicas, _ = intOf(spec["maxReplicas"])
		if v, ok := intOf(spec["targetCPUUtilizationPercentage"]); ok { // autoscaling/v1
			h.TargetCPUUtilizationPercentage = &v
		}
		metrics, _ := spec["metrics"].([]any)
		for _, mt := range metrics {
			mm, _ := mt.(map[string]any)
			r := mapAt(mm, "resource")
			if mm["type"] != "Resource" || r["name"] != "cpu" {
				continue
			}
			if v, ok := intOf(mapAt(r, "target")["averageUtilization"]); ok {
				h.TargetCPUUtilizationPercentage = &v
			}
		}
		return h
	}
	return nil
}

// diffFacts lists what changed from a to b.
func diffFacts(a, b parsedTarget) []FieldChange {
	var out []FieldChange
	names := []string{}
	for _, c := range b.facts.Containers {
		names = append(names, c.Name)
	}
	for _, c := range a.facts.Containers {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	for _, n := range names {
		ca, okA := a.facts.Container(n)
		cb, okB := b.facts.Container(n)
		if !okA || !okB {
			out = append(out, FieldChange{Area: AreaOther, Container: n, Field: "container", Before: present(okA), After: present(okB)})
			continue
		}
		if ca.Image != cb.Image {
			out = append(out, FieldChange{Area: AreaImage, Container: n, Field: "image", Before: ca.Image, After: cb.Image})
		}
		out = append(out, diffQuantities(n, "limits", ca.Limits, cb.Limits)...)
		out = append(out, diffQuantities(n, "requests", ca.Requests, cb.Requests)...)
		out = append(out, diffEnv(n, ca.Env, cb.Env)...)
		for _, p := range diffPaths(a.containers[n], b.containers[n], "") {
			out = append(out, FieldChange{Area: AreaOther, Container: n, Field: p})
		}
	}
	if ra, rb := replicas(a.facts.Replicas), replicas(b.facts.Replicas); ra != rb {
		out = append(out, FieldChange{Area: AreaReplicas, Field: "replicas", Before: ra, After: rb})
	}
	out = append(out, diffHPA(a.facts.HPA, b.facts.HPA)...)
	out = append(out, diffConfig(a.facts.Config, b.facts.Config)...)
	for _, p := range diffPaths(a.rest, b.rest, "") {
		out = append(out, FieldChange{Area: AreaOther, Field: p})
	}
	return out
}

func present(ok bool) string {
	if ok {
		return "present"
	}
	return ""
}

func replicas(r *int32) string {
	if r == nil {
		return ""
	}
	return strconv.Itoa(int(*r))
}

func diffQuantities(container, side string, a, b map[string]string) []FieldChange {
	var out []FieldChange
	for _, k := range unionKeys(a, b) {
		if !sameQuantity(a[k], b[k]) {
			out = append(out, FieldChange{Area: AreaResources, Container: container, Field: side + "." + k, Before: a[k], After: b[k]})
		}
	}
	return out
}

// sameQuantity compares two quantities by value ("1" and "1000m" are
// equal), as text when either does not parse.
func sameQuantity(a, b string) bool {
	qa, e1 := resource.ParseQuantity(a)
	qb, e2 := resource.ParseQuantity(b)
	if e1 != nil || e2 != nil {
		return a == b
	}
	return qa.Cmp(qb) == 0
}

func diffEnv(container string, a, b []EnvVar) []FieldChange {
	va := map[string]string{}
	for _, e := range a {
		va[e.Name] = e.value
	}
	var out []FieldChange
	seen := map[string]bool{}
	for _, e := range b {
		seen[e.Name] = true
		if old, ok := va[e.Name]; !ok || old != e.value {
			before := "set"
			if !ok {
				before = ""
			}
			out = append(out, FieldChange{Area: AreaEnv, Container: container, Field: e.Name, Before: before, After: "set"})
		}
	}
	for _, e := range a {
		if !seen[e.Name] {
			out = append(out, FieldChange{Area: AreaEnv, Container: container, Field: e.Name, Before: "set"})
		}
	}
	return out
}

func diffHPA(a, b *HPA) []FieldChange {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []FieldChange{{Area: AreaHPA, Field: "hpa", After: b.Name}}
	case b == nil:
		return []FieldChange{{Area: AreaHPA, Field: "hpa", Before: a.Name}}
	}
	var out []FieldChange
	num := func(field string, x, y int32) {
		if x != y {
			out = append(out, FieldChange{Area: AreaHPA, Field: field, Before: strconv.Itoa(int(x)), After: strconv.Itoa(int(y))})
		}
	}
	num("minReplicas", a.MinReplicas, b.MinReplicas)
	num("maxReplicas", a.MaxReplicas, b.MaxReplicas)
	if ta, tb := replicas(a.TargetCPUUtilizationPercentage), replicas(b.TargetCPUUtilizationPercentage); ta != tb {
		out = append(out, FieldChange{Area: AreaHPA, Field: "targetCPUUtilizationPercentage", Before: ta, After: tb})
	}
	return out
}

func diffConfig(a, b []ConfigRef) []FieldChange {
	da := map[string]string{}
	for _, r := range a {
		da[r.Kind+"/"+r.Name] = r.digest
	}
	var out []FieldChange
	seen := map[string]bool{}
	for _, r := range b {
		k := r.Kind + "/" + r.Name
		seen[k] = true
		if old, ok := da[k]; !ok || old != r.digest {
			out = append(out, FieldChange{Area: AreaConfig, Field: k})
		}
	}
	for _, r := range a {
		if k := r.Kind + "/" + r.Name; !seen[k] {
			out = append(out, FieldChange{Area: AreaConfig, Field: k})
		}
	}
	return out
}

// diffPaths lists (at most maxOtherPaths) the paths where a and b differ,
// deepest first differing mapping key or list.
func diffPaths(a, b any, prefix string) []string {
	var out []string
	var walk func(a, b any, p string)
	walk = func(a, b any, p string) {
		if len(out) >= maxOtherPaths || reflect.DeepEqual(a, b) {
			return
		}
		ma, okA := a.(map[string]any)
		mb, okB := b.(map[string]any)
		if !okA || !okB {
			if p == "" {
				p = "."
			}
			out = append(out, p)
			return
		}
		for _, k := range unionKeys(ma, mb) {
			q := k
			if p != "" {
				q = p + "." + k
			}
			walk(ma[k], mb[k], q)
		}
	}
	walk(a, b, prefix)
	return out
}

// unionKeys are the keys of a and b, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// mapAt walks nested mappings; a missing step gives nil (a nil map reads
// as empty).
func mapAt(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func intOf(v any) (int32, bool) {
	switch n := v.(type) {
	case int:
		return int32(n), n >= math.MinInt32 && n <= math.MaxInt32
	case float64:
		return int32(n), n == float64(int32(n))
	case string:
		i, err := strconv.ParseInt(n, 10, 32)
		return int32(i), err == nil
	}
	return 0, false
}

func scalar(v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}
