package repofs_test

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers/repofs"
)

// strict fails the test when Confine hands it a path that is not a valid,
// link-free fs path.
type strict struct {
	t *testing.T
	fstest.MapFS
}

func (s strict) check(name string) {
	if !fs.ValidPath(name) || strings.Contains(name, "..") && strings.Contains("/"+name+"/", "/../") {
		s.t.Fatalf("Confine asked for %q", name)
	}
}
func (s strict) Open(name string) (fs.File, error)      { s.check(name); return s.MapFS.Open(name) }
func (s strict) Lstat(name string) (fs.FileInfo, error) { s.check(name); return s.MapFS.Lstat(name) }
func (s strict) ReadLink(name string) (string, error)   { s.check(name); return s.MapFS.ReadLink(name) }

// FuzzConfine: whatever two links say, a read through Confine asks the
// underlying FS only for valid paths and returns only the repository's
// own files.
func FuzzConfine(f *testing.F) {
	f.Add("../x", "b", "a/l1")
	f.Add("../../etc/passwd", "l1", "a/l2")
	f.Add("/etc/passwd", "a/../c", "a/l1/x")
	f.Add("l2", "l1", "a/l1")
	f.Add("b", "../a/l1", "l2")
	f.Fuzz(func(t *testing.T, t1, t2, name string) {
		m := fstest.MapFS{
			"a/b":  {Data: []byte("B")},
			"c":    {Data: []byte("C")},
			"a/l1": {Data: []byte(t1), Mode: fs.ModeSymlink},
			"l2":   {Data: []byte(t2), Mode: fs.ModeSymlink},
		}
		b, err := fs.ReadFile(repofs.Confine(strict{t, m}), name)
		if err == nil && string(b) != "B" && string(b) != "C" {
			t.Fatalf("read %q = %q", name, b)
		}
	})
}
