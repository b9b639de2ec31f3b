package kustomize

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// kustomizationDirs lists the directories of repo holding a kustomization
// file, sorted.
func kustomizationDirs(repo fs.FS) ([]string, error) {
	var dirs []string
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if render.IsKustomization(p) {
			dir := path.Dir(p)
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list kustomizations: %w", err)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// roots are the kustomization directories no other kustomization of the
// repository includes: the environments that get deployed.
// It also returns, for every kustomization directory, the directories it
// includes.
func roots(repo fs.FS) ([]string, map[string][]string, error) {
	dirs, err := kustomizationDirs(repo)
	if err != nil {
		return nil, nil, err
	}
	graph := map[string][]string{}
	included := map[string]bool{}
	components := map[string]bool{} // kind: Component builds only inside another kustomization
	for _, dir := range dirs {
		file, _ := render.KustomizationFile(repo, dir)
		data, err := fs.ReadFile(repo, file)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", file, err)
		}
		if err := render.CheckYAML(file, data); err != nil {
			return nil, nil, err
		}
		k, err := yaml.Parse(string(data))
		if err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", file, err)
		}
		if k.GetKind() == "Component" {
			components[dir] = true
		}
		for _, p := range patchFiles(dir, k) {
			data, err := fs.ReadFile(repo, p)
			if err != nil {
				return nil, nil, fmt.Errorf("read patch %s (listed in %s): %w", p, file, err)
			}
			if _, err := readNodes(data); err != nil {
				return nil, nil, fmt.Errorf("parse patch %s (listed in %s): %w", p, file, err)
			}
		}
		for _, field := range []string{"resources", "bases", "components"} {
			list, err := k.Pipe(yaml.Lookup(field))
			if err != nil || list == nil {
				continue
			}
			for _, item := range list.Content() {
				if item.Kind != yaml.ScalarNode {
					continue
				}
				ref := path.Clean(path.Join(dir, item.Value))
				included[ref] = true
				graph[dir] = append(graph[dir], ref)
			}
		}
	}
	var out []string
	for _, dir := range dirs {
		if !included[dir] && !components[dir] {
			out = append(out, dir)
		}
	}
	return out, graph, nil
}

// located is the overlay that renders the target and its render.
type located struct {
	dir      string // the overlay directory
	kfile    string // its kustomization file
	rendered []byte
	docs     []render.Doc
	obj      patchers.Object
	node     *yaml.RNode         // the rendered target
	renders  map[string][]byte   // every root's render, by directory
	graph    map[string][]string // kustomization directory -> the directories it includes
}

// reaches reports whether the kustomization in root, or one it includes,
// can load one of files: with kustomize's root-only load restrictions a
// kustomization loads files from its own directory tree only.
func (l *located) reaches(root string, files []string) bool {
	seen := map[string]bool{}
	todo := []string{root}
	for len(todo) > 0 {
		dir := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[dir] {
			continue
		}
		seen[dir] = true
		for _, f := range files {
			if inside(dir, f) {
				return true
			}
		}
		todo = append(todo, l.graph[dir]...)
	}
	return false
}

// locate builds every root kustomization and finds the one rendering the
// target. Any root that does not build is an error: it might define the
// target too.
func locate(ctx context.Context, limits render.Limits, repo fs.FS, t patchers.Target) (*located, error) {
	dirs, graph, err := roots(repo)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s: %w: the repository has no kustomization file", t, patchers.ErrNotFound)
	}
	var hits []*located
	renders := map[string][]byte{}
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, err := limits.Kustomize(ctx, repo, dir)
		if err != nil {
			return nil, err
		}
		renders[dir] = out
		docs, err := render.Objects(out)
		if err != nil {
			return nil, fmt.Errorf("read the render of %s: %w", dir, err)
		}
		for _, d := range docs {
			o := d.Object
			if o.Kind == t.Kind && o.Name == t.Name && o.Namespace == t.Namespace {
				n, err := yaml.Parse(string(d.YAML))
				if err != nil {
					return nil, fmt.Errorf("read the render of %s: %w", dir, err)
				}
				kfile, _ := render.KustomizationFile(repo, dir)
				hits = append(hits, &located{dir: dir, kfile: kfile, rendered: out, docs: docs, obj: o, node: n})
			}
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("%s/%s/%s: %w in the renders of %s", t.Namespace, t.Kind, t.Name, patchers.ErrNotFound, strings.Join(dirs, ", "))
	case 1:
		hits[0].renders = renders
		hits[0].graph = graph
		return hits[0], nil
	}
	var names []string
	for _, h := range hits {
		names = append(names, h.dir)
	}
	return nil, fmt.Errorf("%s/%s/%s: %w: rendered by %s", t.Namespace, t.Kind, t.Name, patchers.ErrAmbiguous, strings.Join(names, " and "))
}

// container returns the rendered container the intent targets: the named
// one, or the only one when the target names none.
func container(l *located, name string) (*yaml.RNode, string, error) {
	list, err := l.node.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
	if err != nil || list == nil {
		return nil, "", fmt.Errorf("%s in %s has no containers", objString(l.obj), l.dir)
	}
	elems, err := list.Elements()
	if err != nil {
		return nil, "", fmt.Errorf("%s in %s: containers: %w", objString(l.obj), l.dir, err)
	}
	if name == "" {
		if len(elems) != 1 {
			return nil, "", fmt.Errorf("%s in %s has %d containers: name one in target.container", objString(l.obj), l.dir, len(elems))
		}
		return elems[0], str(elems[0], "name"), nil
	}
	for _, e := range elems {
		if f := e.Field("name"); f != nil && yaml.GetValue(f.Value) == name {
			return e, name, nil
		}
	}
	return nil, "", fmt.Errorf("%s[%s]: %w: no container %q in the render of %s", objString(l.obj), name, patchers.ErrNotFound, name, l.dir)
}

// hpa returns the rendered HorizontalPodAutoscaler targeting the workload,
// or nil.
func hpa(l *located) (*yaml.RNode, patchers.Object, error) {
	var found []*yaml.RNode
	var objs []patchers.Object
	for _, d := range l.docs {
		if d.Object.Kind != "HorizontalPodAutoscaler" || d.Object.Namespace != l.obj.Namespace {
			continue
		}
		n, err := yaml.Parse(string(d.YAML))
		if err != nil {
			return nil, patchers.Object{}, fmt.Errorf("read the render of %s: %w", l.dir, err)
		}
		if str(n, "spec", "scaleTargetRef", "kind") == l.obj.Kind && str(n, "spec", "scaleTargetRef", "name") == l.obj.Name {
			found = append(found, n)
			objs = append(objs, d.Object)
		}
	}
	switch len(found) {
	case 0:
		return nil, patchers.Object{}, nil
	case 1:
		return found[0], objs[0], nil
	}
	return nil, patchers.Object{}, fmt.Errorf("%s: %w: %d HorizontalPodAutoscalers target it in %s", objString(l.obj), patchers.ErrAmbiguous, len(found), l.dir)
}

// str reads the scalar at fields of n, "" when absent.
func str(n *yaml.RNode, fields ...string) string {
	if n == nil {
		return ""
	}
	v, err := n.Pipe(yaml.Lookup(fields...))
	if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return v.YNode().Value
}

func objString(o patchers.Object) string {
	return o.Namespace + "/" + o.Kind + "/" + o.Name
}

// sourceName is the name the object has before the overlay's namePrefix
// and nameSuffix: the name patches and replicas: use.
func sourceName(k *yaml.RNode, rendered string) string {
	name := strings.TrimPrefix(rendered, str(k, "namePrefix"))
	return strings.TrimSuffix(name, str(k, "nameSuffix"))
}

// parseDocs reads a YAML stream keeping comments and sequence indentation.
func parseDocs(file string, data []byte) ([]*yaml.RNode, error) {
	if err := render.CheckYAML(file, data); err != nil {
		return nil, err
	}
	nodes, err := readNodes(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	return nodes, nil
}

// leadingSeparator reports whether data starts with a document separator,
// which kio drops.
func leadingSeparator(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			continue
		}
		return bytes.Equal(t, []byte("---"))
	}
	return false
}
