package render

import (
	"reflect"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers"
)

func FuzzUnifiedDiff(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\n")
	f.Add("", "x")
	f.Add("a\nb", "a\nb\n")
	f.Add("x\r\ny\n", "x\ny\r\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := UnifiedDiff("f", "f", []byte(a), []byte(b))
		if (d == "") != (a == b) {
			t.Fatalf("diff %q for a=%q b=%q", d, a, b)
		}
		if got := applyDiff(t, a, d); got != b {
			t.Fatalf("a=%q b=%q: diff\n%s\napplies to %q", a, b, d, got)
		}
	})
}

func FuzzObjects(f *testing.F) {
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\ndata: {k: \"1\"}\n")
	f.Add("---\n# Source: x\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, metadata: {name: x}}\n")
	f.Add("a: &x [1, *x]\n")
	f.Add("kind: [\n")
	f.Fuzz(func(t *testing.T, in string) {
		docs, err := Objects([]byte(in))
		if err != nil {
			return
		}
		// The canonical form parses back to the same objects and is a
		// fixed point.
		var again strings.Builder
		var objs []patchers.Object
		for _, d := range docs {
			again.WriteString("---\n")
			again.Write(d.YAML)
			objs = append(objs, d.Object)
		}
		docs2, err := Objects([]byte(again.String()))
		if err != nil {
			t.Fatalf("canonical YAML does not parse: %v\n%s", err, again.String())
		}
		if len(docs2) != len(docs) {
			t.Fatalf("%d objects, then %d", len(docs), len(docs2))
		}
		for i := range docs {
			if !reflect.DeepEqual(docs[i].Object, docs2[i].Object) || string(docs[i].YAML) != string(docs2[i].YAML) {
				t.Fatalf("object %d changed on re-parse:\n%s\n%s", i, docs[i].YAML, docs2[i].YAML)
			}
		}
		if _, err := Changed([]byte(in), []byte(in)); err == nil {
			if c, _ := Changed([]byte(in), []byte(again.String())); len(c) != 0 {
				t.Fatalf("canonical form differs from the input: %v", c)
			}
		}
	})
}

func FuzzField(f *testing.F) {
	f.Add("spec.template.spec.containers[name=app].image")
	f.Add("a[0][1].b")
	f.Add("a[x.y]")
	f.Fuzz(func(t *testing.T, path string) {
		in := []byte("apiVersion: v1\nkind: A\nmetadata: {name: a}\nspec: {x: [1, {name: app, v: 2}]}\n")
		_, _, _ = Field(in, patchers.Object{Kind: "A", Name: "a"}, path)
	})
}
