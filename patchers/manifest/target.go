package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

var _ patchers.TargetRenderer = patcher{}

// RenderTarget implements patchers.TargetRenderer: the folder of the file
// defining t and the rendered manifests of that file (render.Manifests).
// The target is found as Plan finds it: ErrNotFound when no document
// defines it, ErrAmbiguous when several do. A document that names no
// namespace (its folder gives it one) is rendered with metadata.namespace
// set, so the manifests name the object as t does.
func (patcher) RenderTarget(ctx context.Context, repo fs.FS, t patchers.Target) (string, []byte, error) {
	docs, _, err := load(ctx, repo)
	if err != nil {
		return "", nil, err
	}
	d, err := find(docs, t)
	if err != nil {
		return "", nil, err
	}
	f := d.file
	out, err := render.Manifests(fstest.MapFS{f.path: &fstest.MapFile{Data: f.orig, Mode: 0o644}}, ".")
	if err != nil {
		return "", nil, err
	}
	if out, err = withNamespace(out, t); err != nil {
		return "", nil, fmt.Errorf("%s: %w", d.where(), err)
	}
	return path.Dir(f.path), out, nil
}

// withNamespace returns manifests naming t's object with t's namespace: as
// they are when the object has it, or rewritten (one canonical document
// per object) with metadata.namespace added to the object's document when
// it names none.
func withNamespace(manifests []byte, t patchers.Target) ([]byte, error) {
	docs, err := render.Objects(manifests)
	if err != nil {
		return nil, err
	}
	bare := -1
	for i, d := range docs {
		o := d.Object
		if o.Kind != t.Kind || o.Name != t.Name {
			continue
		}
		if o.Namespace == t.Namespace {
			return manifests, nil
		}
		if o.Namespace == "" {
			bare = i
		}
	}
	if bare < 0 {
		return manifests, nil
	}
	var out bytes.Buffer
	for i, d := range docs {
		y := d.YAML
		if i == bare {
			if y, err = setNamespace(y, t.Namespace); err != nil {
				return nil, err
			}
		}
		out.WriteString("---\n")
		out.Write(y)
		if len(y) > 0 && y[len(y)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), nil
}

// setNamespace sets metadata.namespace of one YAML document.
func setNamespace(doc []byte, ns string) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, err
	}
	root := &n
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	_, meta := lookup(root, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("document has no metadata mapping")
	}
	meta.Content = append(meta.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "namespace"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ns})
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
