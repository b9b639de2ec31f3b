package render

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
)

// WithNamespace returns manifests naming t's object with t's namespace: as
// they are when the object has it, or rewritten (one canonical document per
// object) with metadata.namespace added to the object's document when it
// names none (a chart that leaves the namespace to the release, a manifest
// applied with -n), so Field finds it by its target.
func WithNamespace(manifests []byte, t patchers.Target) ([]byte, error) {
	docs, err := Objects(manifests)
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
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("document is not a mapping")
	}
	var meta *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "metadata" {
			meta = root.Content[i+1]
		}
	}
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
