package helm

import (
	"context"
	"os"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers/render"
)

// FuzzEnvValues feeds random bytes as the staging values file: Plan never
// panics, and when it returns a Change the edited file is valid YAML.
func FuzzEnvValues(f *testing.F) {
	for _, s := range []string{
		"", "checkout:\n  replicaCount: 1\n", "checkout: {}\n", "checkout:\n", "checkout: 3\n",
		"checkout:\n  resources:\n    limits: {memory: 1Gi}\n", "- a\n- b\n", "a: &x {b: 1}\nc: *x\n",
		"checkout:\n  resources:\n    limits:\n      memory: |\n        1Gi\n", "checkout:\n\t  replicaCount: 1\n",
		"checkout:\n  resources:\n    limits:\n      memory: '1Gi' # q\n",
	} {
		f.Add([]byte(s))
	}
	base, err := os.ReadFile(fixture + "/environments/staging/values.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	in := intent(f, "set_resources", "shop-staging", "checkout", `{"limits":{"memory":"1Gi"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		repo := render.Overlay(os.DirFS(fixture), map[string][]byte{"environments/staging/values.yaml": b})
		c, err := New().Plan(context.Background(), repo, in)
		if err != nil {
			return
		}
		for _, fc := range c.Files {
			var m map[string]any
			if err := yaml.Unmarshal(fc.Content, &m); err != nil {
				t.Fatalf("edited %s is not YAML: %v\n%s", fc.Path, err, fc.Content)
			}
		}
	})
}

// FuzzSet edits random values files: set never panics, and what it
// returns parses with the key at the value.
func FuzzSet(f *testing.F) {
	for _, s := range []string{
		"", "a:\n  b: 1\n", "a: {}\n", "a:\n", "a: 'x' # c\n", "a:\n    b:\n        c: \"q\"\n", "# only\n",
		"a: {b: 1}\n", "a:\n  b: |\n    x\n", "a: b\nc: d", "a:\n  - 1\n",
	} {
		f.Add([]byte(s), "a", "b", "v", false)
	}
	f.Add([]byte("0: 0\n 0"), "1", "0", "0", false) // a plain scalar over two lines
	f.Add([]byte("a:\n  - name: b\n    value: x\n"), "a", "b", "y", true)
	f.Add([]byte("a:\n- name: c\n  value: x\n"), "a", "b", "y", true)
	// Aliases: a small use is edited, a billion laughs is refused.
	f.Add([]byte("d: &d {b: 1}\na: *d\n"), "a", "b", "2", false)
	f.Add([]byte("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"+
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"), "a", "b", "v", false)
	f.Fuzz(func(t *testing.T, src []byte, k1, k2, v string, list bool) {
		if k1 == "" || k2 == "" || !utf8.ValidString(k1+k2+v) {
			return // keys and values come from validated intents
		}
		vf, err := parseValuesFile("f.yaml", src)
		if err != nil {
			return
		}
		path := []string{k1, k2}
		if list {
			path = []string{k1, "[name=" + k2 + "]", "value"}
		}
		out, err := vf.set(path, scalar{text: v})
		if err != nil {
			return
		}
		if list {
			var m map[string]any
			if err := yaml.Unmarshal(out, &m); err != nil {
				t.Fatalf("set(%q) on %q gave invalid YAML %q: %v", path, src, out, err)
			}
			return
		}
		var m map[string]any
		if err := yaml.Unmarshal(out, &m); err != nil {
			t.Fatalf("set(%q, %q, %q) on %q gave invalid YAML %q: %v", k1, k2, v, src, out, err)
		}
		inner, _ := m[k1].(map[string]any)
		if got, ok := inner[k2].(string); !ok || got != v {
			t.Fatalf("set(%q, %q, %q) on %q gave %q: %s.%s is %#v", k1, k2, v, src, out, k1, k2, inner[k2])
		}
	})
}
