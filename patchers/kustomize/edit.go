package kustomize

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// readNodes parses a YAML stream into nodes that keep comments, key order
// and each document's sequence indentation.
func readNodes(data []byte) ([]*yaml.RNode, error) {
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(data), PreserveSeqIndent: true}
	return rw.Read()
}

// writeNodes encodes nodes written by readNodes, keeping a leading
// document separator the original had.
func writeNodes(orig []byte, nodes []*yaml.RNode) ([]byte, error) {
	var out bytes.Buffer
	if leadingSeparator(orig) {
		out.WriteString("---\n")
	}
	rw := &kio.ByteReadWriter{Writer: &out, PreserveSeqIndent: true}
	if err := rw.Write(nodes); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// edits is the set of files a plan changes, on top of the repository.
type edits struct {
	repo  fs.FS
	files map[string][]byte
	order []string
}

func (e *edits) read(p string) ([]byte, error) {
	if b, ok := e.files[p]; ok {
		return b, nil
	}
	return fs.ReadFile(e.repo, p)
}

func (e *edits) write(p string, b []byte) {
	if _, ok := e.files[p]; !ok {
		e.order = append(e.order, p)
	}
	e.files[p] = b
}

func (e *edits) exists(p string) bool {
	if _, ok := e.files[p]; ok {
		return true
	}
	_, err := fs.Stat(e.repo, p)
	return err == nil
}

// kustomization parses the overlay's kustomization file.
func (e *edits) kustomization(file string) (*yaml.RNode, []byte, error) {
	data, err := e.read(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", file, err)
	}
	nodes, err := parseDocs(file, data)
	if err != nil {
		return nil, nil, err
	}
	if len(nodes) != 1 {
		return nil, nil, fmt.Errorf("parse %s: want one YAML document, found %d", file, len(nodes))
	}
	return nodes[0], data, nil
}

// patchFiles lists the strategic-merge patch files the kustomization
// names (patches: entries with a path, patchesStrategicMerge:), as paths
// in the repository.
func patchFiles(dir string, k *yaml.RNode) []string {
	var out []string
	if list, err := k.Pipe(yaml.Lookup("patches")); err == nil && list != nil {
		elems, _ := list.Elements()
		for _, e := range elems {
			p := str(e, "path")
			if p == "" {
				continue
			}
			// A patch with a target selector may be JSON 6902 or apply
			// to many objects: not one to extend.
			if t, _ := e.Pipe(yaml.Lookup("target")); t != nil {
				continue
			}
			out = append(out, path.Clean(path.Join(dir, p)))
		}
	}
	if list, err := k.Pipe(yaml.Lookup("patchesStrategicMerge")); err == nil && list != nil {
		for _, item := range list.Content() {
			if item.Kind == yaml.ScalarNode && !strings.Contains(item.Value, "\n") {
				out = append(out, path.Clean(path.Join(dir, item.Value)))
			}
		}
	}
	return out
}

// patchObject extends the strategic-merge patch of the overlay that
// already patches kind/name, or adds a new patch file (named after name
// and aspect) listed under patches:. edit changes the patch document. It
// returns the patch file's path.
func (e *edits) patchObject(dir, kfile, apiVersion, kind, name, aspect string, edit func(*yaml.RNode) error) (string, error) {
	k, kdata, err := e.kustomization(kfile)
	if err != nil {
		return "", err
	}
	// An object the kustomization itself defines (the base is the only
	// definition, or the overlay adds it) is edited where it is defined.
	// Otherwise the overlay's existing patch of the object is extended.
	for _, file := range append(resourceFiles(e, dir, k), patchFiles(dir, k)...) {
		if !inside(dir, file) {
			continue // shared with other kustomizations: add a patch here instead
		}
		data, err := e.read(file)
		if err != nil {
			return "", fmt.Errorf("read patch %s (listed in %s): %w", file, kfile, err)
		}
		nodes, err := parseDocs(file, data)
		if err != nil {
			return "", err
		}
		for _, n := range nodes {
			if n.GetKind() != kind || n.GetName() != name {
				continue
			}
			if err := edit(n); err != nil {
				return "", fmt.Errorf("edit %s: %w", file, err)
			}
			out, err := encode(data, nodes)
			if err != nil {
				return "", fmt.Errorf("encode %s: %w", file, err)
			}
			e.write(file, out)
			return file, nil
		}
	}
	// A new patch file.
	base := strings.ToLower(name + "-" + aspect)
	file := path.Join(dir, base+".yaml")
	for i := 2; e.exists(file); i++ {
		file = path.Join(dir, base+"-"+strconv.Itoa(i)+".yaml")
	}
	n, err := yaml.Parse(fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name))
	if err != nil {
		return "", fmt.Errorf("new patch %s: %w", file, err)
	}
	if err := edit(n); err != nil {
		return "", fmt.Errorf("new patch %s: %w", file, err)
	}
	// Indent sequences as the overlay's kustomization does.
	if err := n.PipeE(yaml.SetAnnotation(kioutil.SeqIndentAnnotation, yaml.DeriveSeqIndentStyle(string(kdata)))); err != nil {
		return "", fmt.Errorf("new patch %s: %w", file, err)
	}
	s, err := writeNodes(nil, []*yaml.RNode{n})
	if err != nil {
		return "", fmt.Errorf("new patch %s: %w", file, err)
	}
	e.write(file, s)
	list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, "patches"))
	if err != nil {
		return "", fmt.Errorf("edit %s: patches: %w", kfile, err)
	}
	entry := yaml.NewMapRNode(nil)
	if err := entry.PipeE(yaml.SetField("path", yaml.NewStringRNode(path.Base(file)))); err != nil {
		return "", fmt.Errorf("edit %s: %w", kfile, err)
	}
	if err := list.PipeE(yaml.Append(entry.YNode())); err != nil {
		return "", fmt.Errorf("edit %s: patches: %w", kfile, err)
	}
	out, err := encode(kdata, []*yaml.RNode{k})
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", kfile, err)
	}
	e.write(kfile, out)
	return file, nil
}

// resourceFiles lists the files (not directories) the kustomization names
// under resources:, as paths in the repository.
func resourceFiles(e *edits, dir string, k *yaml.RNode) []string {
	var out []string
	list, err := k.Pipe(yaml.Lookup("resources"))
	if err != nil || list == nil {
		return nil
	}
	for _, item := range list.Content() {
		if item.Kind != yaml.ScalarNode {
			continue
		}
		p := path.Clean(path.Join(dir, item.Value))
		if fi, err := fs.Stat(e.repo, p); err == nil && !fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// editKustomization edits the overlay's kustomization file.
func (e *edits) editKustomization(kfile string, edit func(*yaml.RNode) error) error {
	k, kdata, err := e.kustomization(kfile)
	if err != nil {
		return err
	}
	if err := edit(k); err != nil {
		return fmt.Errorf("edit %s: %w", kfile, err)
	}
	out, err := encode(kdata, []*yaml.RNode{k})
	if err != nil {
		return fmt.Errorf("encode %s: %w", kfile, err)
	}
	e.write(kfile, out)
	return nil
}

// setScalar sets m's key to value in place, so that the comments around
// an existing value stay; tag is yaml.NodeTagString or yaml.NodeTagInt.
func setScalar(m *yaml.RNode, key, value, tag string) error {
	if f := m.Field(key); f != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		y := f.Value.YNode()
		y.Value = value
		y.Tag = tag
		y.Style = 0
		if tag == yaml.NodeTagString && needsQuotes(value) {
			y.Style = yaml.DoubleQuotedStyle
		}
		return nil
	}
	n := yaml.NewScalarRNode(value)
	n.YNode().Tag = tag
	if tag == yaml.NodeTagString && needsQuotes(value) {
		n.YNode().Style = yaml.DoubleQuotedStyle
	}
	return m.PipeE(yaml.SetField(key, n))
}

// needsQuotes reports whether a string would read back as another type.
func needsQuotes(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	got, ok := v.(string)
	return !ok || got != s
}

// patchContainer returns the patch's container entry, adding the path and
// the entry when absent.
func patchContainer(obj *yaml.RNode, name string) (*yaml.RNode, error) {
	list, err := obj.Pipe(yaml.LookupCreate(yaml.SequenceNode, "spec", "template", "spec", "containers"))
	if err != nil {
		return nil, err
	}
	elems, err := list.Elements()
	if err != nil {
		return nil, err
	}
	for _, c := range elems {
		if str(c, "name") == name {
			return c, nil
		}
	}
	c := yaml.NewMapRNode(nil)
	if err := setScalar(c, "name", name, yaml.NodeTagString); err != nil {
		return nil, err
	}
	if err := list.PipeE(yaml.Append(c.YNode())); err != nil {
		return nil, err
	}
	return c, nil
}

// mapAt returns the mapping at fields of n, creating it when absent.
func mapAt(n *yaml.RNode, fields ...string) (*yaml.RNode, error) {
	return n.Pipe(yaml.LookupCreate(yaml.MappingNode, fields...))
}

// inside reports whether file is in dir or below it.
func inside(dir, file string) bool {
	return dir == "." || strings.HasPrefix(file, dir+"/")
}
