package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// CheckYAML refuses data (a YAML stream read from name) whose aliases
// would expand to more than the default MaxYAMLAliasNodes extra nodes.
func CheckYAML(name string, data []byte) error {
	return DefaultLimits().CheckYAML(name, data)
}

// CheckYAML refuses data (a YAML stream read from name) whose aliases
// expand to more than l.MaxYAMLAliasNodes extra nodes, summed over its
// documents, and a document whose anchor holds an alias to itself. It must
// run before any decoder that expands aliases (kyaml's DeAnchor inside
// krusty, decoding into Go values, a walk that follows aliases) sees the
// bytes.
//
// The check parses with the parser kyaml uses, into nodes, which is linear
// in the input: an alias is a pointer to its anchor, and the expanded size
// of each node is computed once (memoised), so the check never expands
// anything. Data that does not parse is let through: every decoder medic
// hands it to uses the same parser family and fails on it too (the
// goyaml.v2 parser behind sigs.k8s.io/yaml has its own alias budget). Data
// without an '*' holds no alias and is not parsed at all.
//
// Documents are checked in the pieces both medic's splitter and kyaml's
// see, so a document that only one of them separates is still counted.
func (l Limits) CheckYAML(name string, data []byte) error {
	if bytes.IndexByte(data, '*') < 0 {
		return nil
	}
	var extra int64
	for _, piece := range splitDocs(data) {
		n, err := aliasNodes(piece)
		if err != nil && !errors.Is(err, errNotYAML) {
			return wrapYAML(name, err)
		}
		if errors.Is(err, errNotYAML) {
			// kyaml splits at every line that starts with "---".
			n = 0
			for _, sub := range bytes.Split(piece, []byte("\n---")) {
				m, err := aliasNodes(sub)
				if err != nil && !errors.Is(err, errNotYAML) {
					return wrapYAML(name, err)
				}
				n = satAdd(n, m)
			}
		}
		extra = satAdd(extra, n)
		if extra > l.MaxYAMLAliasNodes {
			return limitError(name+": YAML aliases expand to more than the limit", "max_yaml_alias_nodes", l.MaxYAMLAliasNodes)
		}
	}
	return nil
}

func wrapYAML(name string, err error) error {
	return fmt.Errorf("%s: %w", name, err)
}

var (
	errNotYAML   = errors.New("not YAML")
	errAliasLoop = errors.New("YAML anchor holds an alias to itself")
)

// aliasNodes returns how many nodes the aliases of every document in data
// add when expanded.
func aliasNodes(data []byte) (int64, error) {
	if bytes.IndexByte(data, '*') < 0 {
		return 0, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var extra int64
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return extra, nil
		}
		if err != nil {
			return extra, errNotYAML
		}
		c := counter{memo: map[*yaml.Node]int64{}}
		expanded, err := c.size(&doc)
		if err != nil {
			return 0, err
		}
		extra = satAdd(extra, expanded-c.literal)
	}
}

// counter computes expanded node counts, each node once.
type counter struct {
	memo    map[*yaml.Node]int64 // expanded size; -1 while being counted
	literal int64                // nodes as written
}

func (c *counter) size(n *yaml.Node) (int64, error) {
	if s, ok := c.memo[n]; ok {
		if s < 0 {
			return 0, errAliasLoop
		}
		return s, nil
	}
	c.memo[n] = -1
	c.literal++
	s := int64(1)
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		a, err := c.size(n.Alias)
		if err != nil {
			return 0, err
		}
		s = a
	}
	for _, ch := range n.Content {
		cs, err := c.size(ch)
		if err != nil {
			return 0, err
		}
		s = satAdd(s, cs)
	}
	c.memo[n] = s
	return s, nil
}

// satAdd adds without overflowing.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
