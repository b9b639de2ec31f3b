// Package repofstest holds a repository layout with symbolic links that
// stay inside it and links that leave it, and the checks every confined
// view of it (disk, git tree) must pass.
package repofstest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers/repofs"
)

// Secret is the content of the file outside the repository that the
// escaping links point at: it must appear in no output.
const Secret = "SECRET-MARKER-do-not-leak"

// layout is the repository every test reads: files, and links with their
// targets. outside/ is beside the repository, not in it.
var (
	files = map[string]string{
		"base/deploy.yaml": "kind: Deployment\n",
		"values.yaml":      "tag: v1\n",
	}
	links = map[string]string{
		"in.yaml":        "values.yaml",
		"sub/in.yaml":    "../values.yaml",
		"chain.yaml":     "in.yaml",
		"basedir":        "base",
		"via/deploy":     "../basedir/deploy.yaml",
		"abs.yaml":       "/etc/passwd",
		"up.yaml":        "../outside/secret.yaml",
		"sub/up.yaml":    "../../outside/secret.yaml",
		"hop.yaml":       "sub/up.yaml",
		"sub/deep.yaml":  "../base/../../outside/secret.yaml",
		"loop.yaml":      "loop.yaml",
		"dangling.yaml":  "nothing.yaml",
		"updir":          "..",
		"sub/winabs.yml": `C:\Windows\win.ini`,
	}
	readable = map[string]string{
		"in.yaml":             "tag: v1\n",
		"sub/in.yaml":         "tag: v1\n",
		"chain.yaml":          "tag: v1\n",
		"basedir/deploy.yaml": "kind: Deployment\n",
		"via/deploy":          "kind: Deployment\n",
	}
	escaping = []string{"abs.yaml", "up.yaml", "sub/up.yaml", "hop.yaml", "sub/deep.yaml", "updir/outside/secret.yaml", "sub/winabs.yml"}
)

// Disk writes the layout into a new temporary folder and returns the
// repository's folder; outside/secret.yaml (holding Secret) is beside it.
func Disk(t testing.TB) string {
	t.Helper()
	top := t.TempDir()
	if err := os.MkdirAll(filepath.Join(top, "outside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "outside", "secret.yaml"), []byte(Secret), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(top, "repo")
	for p, c := range files {
		f := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		f := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, f); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// Map is the layout as a MapFS (without the outside file: a MapFS has no
// "above the root").
func Map() fstest.MapFS {
	m := fstest.MapFS{} // outside/ is not in a MapFS: it has no "above the root"
	for p, c := range files {
		m[p] = &fstest.MapFile{Data: []byte(c)}
	}
	for p, target := range links {
		m[p] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink}
	}
	return m
}

// Check asserts that fsys, a confined view of the layout, reads the links
// that stay inside and refuses every other, naming the file and nothing
// of the target.
func Check(t *testing.T, fsys fs.FS) {
	t.Helper()
	for p, want := range readable {
		b, err := fs.ReadFile(fsys, p)
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", p, b, err, want)
		}
	}
	for _, p := range escaping {
		for op, f := range map[string]func() error{
			"read": func() error { _, err := fs.ReadFile(fsys, p); return err },
			"open": func() error { _, err := fsys.Open(p); return err },
			"stat": func() error { _, err := fs.Stat(fsys, p); return err },
		} {
			err := f()
			if !errors.Is(err, repofs.ErrEscape) {
				t.Errorf("%s %s: err = %v, want repofs.ErrEscape", op, p, err)
				continue
			}
			if !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), Secret) || strings.Contains(err.Error(), "passwd") {
				t.Errorf("%s %s: error %q must name the file and nothing of the target", op, p, err)
			}
		}
	}
	if _, err := fs.ReadFile(fsys, "loop.yaml"); !errors.Is(err, repofs.ErrTooManyLinks) {
		t.Errorf("loop: err = %v, want repofs.ErrTooManyLinks", err)
	}
	if _, err := fs.ReadFile(fsys, "dangling.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dangling: err = %v, want ErrNotExist", err)
	}
	// A walk reads links to files through and never reads past the root.
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if strings.Contains(string(b), Secret) {
			t.Errorf("walk read the secret through %s", p)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk: %v", err)
	}
	if info, err := fs.Lstat(fsys, "up.yaml"); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(up.yaml) = %v, %v; want a link", info, err)
	}
	if info, err := fs.Stat(fsys, "basedir"); err != nil || !info.IsDir() {
		t.Errorf("Stat(basedir) = %v, %v; want a folder", info, err)
	}
}

// LinkOutside writes content into a new file outside repo (a folder on
// disk) and makes name, a slash path in repo, a relative symbolic link to
// it that climbs out with "..". It returns the outside file's path.
func LinkOutside(t testing.TB, repo, name, content string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(out, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(repo, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(link))
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(out)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, real)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, link); err != nil {
		t.Fatal(err)
	}
	return out
}
