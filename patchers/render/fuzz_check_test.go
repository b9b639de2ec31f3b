package render

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"
)

// FuzzCheckYAML: CheckYAML never panics, and when it accepts a stream the
// aliases of every document really add at most the limit (counted the
// slow way, by expanding).
func FuzzCheckYAML(f *testing.F) {
	for _, s := range []string{
		"a: 1\n", "a: &x [1, 2]\nb: *x\n", "a: &x {p: 1}\nb:\n  <<: *x\n", "a: &x [*x]\n",
		"a: &x [1]\n---\nb: &y [*x]\n", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", laughs(4, 4),
		"- &a\n  - &b [*a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := DefaultLimits()
		l.MaxYAMLAliasNodes = 50
		if err := l.CheckYAML("f.yaml", data); err != nil {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		var extra int
		for {
			var doc yaml.Node
			if dec.Decode(&doc) != nil {
				return
			}
			budget := 10_000
			expanded := expand(&doc, &budget, 0)
			extra += expanded - distinct(&doc, map[*yaml.Node]bool{})
			if budget <= 0 || int64(extra) > l.MaxYAMLAliasNodes {
				t.Fatalf("accepted %q: aliases add %d nodes (budget left %d), limit %d", data, extra, budget, l.MaxYAMLAliasNodes)
			}
		}
	})
}

// expand counts n's nodes with aliases expanded, spending budget.
func expand(n *yaml.Node, budget *int, depth int) int {
	if *budget--; *budget <= 0 || depth > 1000 {
		return 0
	}
	c := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c = expand(n.Alias, budget, depth+1)
	}
	for _, ch := range n.Content {
		c += expand(ch, budget, depth+1)
	}
	return c
}

func distinct(n *yaml.Node, seen map[*yaml.Node]bool) int {
	if seen[n] {
		return 0
	}
	seen[n] = true
	c := 1
	for _, ch := range n.Content {
		c += distinct(ch, seen)
	}
	return c
}

// FuzzKustomizationRefs feeds random kustomization files to the reference
// walk: it never panics, and when it accepts a file, no path field of it
// names a URL or a git repository.
func FuzzKustomizationRefs(f *testing.F) {
	for _, s := range []string{
		"resources: [cm.yaml]\n", "resources: [https://example.com/x.yaml]\n", "bases: [github.com/a/b?ref=v1]\n",
		"transformers: [t.yaml]\n", "transformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  path: git@github.com:a/b\n",
		"configMapGenerator:\n- name: g\n  files: [k=https://x]\n", "patches:\n- path: ssh://x/y\n", "openapi: {path: file:///x}\n",
		"patchesStrategicMerge: [cm.yaml]\n", "components: [sub]\n", "helmCharts: [{name: x}]\n", "resources: &a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		repo := fstest.MapFS{
			"k/kustomization.yaml":     {Data: data},
			"k/cm.yaml":                {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")},
			"k/t.yaml":                 {Data: []byte("apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\nfieldSpecs: [{path: metadata/labels, create: true}]\n")},
			"k/sub/kustomization.yaml": {Data: []byte("kind: Component\napiVersion: kustomize.config.k8s.io/v1alpha1\n")},
		}
		if DefaultLimits().checkLocal(repo, "k") != nil {
			return
		}
		var tree any
		if yaml.Unmarshal(data, &tree) != nil {
			return
		}
		refKeys := append(slices.Clone(pathKeys), "resources", "bases", "components", "transformers", "generators",
			"validators", "crds", "configurations", "patchesStrategicMerge")
		walkStrings(tree, "", func(key, s string) {
			if strings.Contains(s, "\n") {
				return // an inline patch or plugin configuration, not a reference
			}
			if slices.Contains(refKeys, key) && isRemote(fileSources([]string{s})[0]) {
				t.Fatalf("accepted %q, whose %s names %q", data, key, s)
			}
		})
	})
}
