package render

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestRemove(t *testing.T) {
	base := fstest.MapFS{
		"a.yaml":       {Data: []byte("a")},
		"dir/b.yaml":   {Data: []byte("b")},
		"dir/c.yaml":   {Data: []byte("c")},
		"gone/d.yaml":  {Data: []byte("d")},
		"keep/e.yaml":  {Data: []byte("e")},
		"keep/f/g.yml": {Data: []byte("g")},
	}
	r := Remove(base, "dir/b.yaml", "gone", "/a.yaml", "../bad", "missing.yaml")
	for _, name := range []string{"a.yaml", "dir/b.yaml", "gone", "gone/d.yaml"} {
		if _, err := fs.ReadFile(r, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s) = %v, want not exist", name, err)
		}
		if _, err := fs.Stat(r, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want not exist", name, err)
		}
	}
	if b, err := fs.ReadFile(r, "dir/c.yaml"); err != nil || string(b) != "c" {
		t.Errorf("ReadFile(dir/c.yaml) = %q, %v", b, err)
	}
	if err := fstest.TestFS(r, "dir/c.yaml", "keep/e.yaml", "keep/f/g.yml"); err != nil {
		t.Fatal(err)
	}
	// Removing a file from an overlay that added it.
	o := Remove(Overlay(base, map[string][]byte{"new/x.yaml": []byte("x")}), "new/x.yaml")
	if _, err := fs.Stat(o, "new/x.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(new/x.yaml) = %v, want not exist", err)
	}
}
