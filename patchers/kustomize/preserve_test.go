package kustomize

import (
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestEncodeKeepsFormatting(t *testing.T) {
	tests := []struct {
		name, orig string
		edit       func(*yaml.RNode) error
		want       string
	}{
		{"blank lines and comment spacing around an edited value",
			"# head\n\na: 1\n\nb: 2    # two\n\nc: [x, y]   # flow\n",
			func(n *yaml.RNode) error { return setScalar(n, "b", "3", yaml.NodeTagInt) },
			"# head\n\na: 1\n\nb: 3    # two\n\nc: [x, y]   # flow\n"},
		{"insertion before dropped blank lines",
			"a:\n  x: 1\n\nb: 2\n",
			func(n *yaml.RNode) error {
				m, err := mapAt(n, "a")
				if err != nil {
					return err
				}
				return setScalar(m, "y", "2", yaml.NodeTagInt)
			},
			"a:\n  x: 1\n  y: 2\n\nb: 2\n"},
		{"leading separator and a second document",
			"---\n# one\nkind: A\n---\nkind: B\n",
			func(n *yaml.RNode) error { return setScalar(n, "kind", "C", yaml.NodeTagString) },
			"---\n# one\nkind: C\n---\nkind: B\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := readNodes([]byte(tt.orig))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(nodes[0]); err != nil {
				t.Fatal(err)
			}
			got, err := encode([]byte(tt.orig), nodes)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("# head\n\na: 1\n\nb: 2    # two\n"))
	f.Add([]byte("---\nkind: A\n---\nkind: B\n"))
	f.Add([]byte("a:\n  - x: 1\n\n  - y: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := readNodes(data)
		if err != nil || len(nodes) == 0 || nodes[0].YNode().Kind != yaml.MappingNode {
			return
		}
		if err := setScalar(nodes[0], "fuzz", "1", yaml.NodeTagInt); err != nil {
			return
		}
		want, err := writeNodes(data, nodes)
		if err != nil {
			return
		}
		got, err := encode(data, nodes)
		if err != nil {
			return
		}
		if !sameYAML(got, want) {
			t.Errorf("encode changed the meaning:\n%s\nwant\n%s", got, want)
		}
	})
}
