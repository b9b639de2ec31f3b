package render

import (
	"io/fs"
	"path"
	"strings"
)

// Remove returns base without the given files: opening, reading or
// statting one of them fails with fs.ErrNotExist, and directory listings
// leave them out. Paths are slash-separated and relative to the repository
// root; invalid paths are ignored. Used with Overlay to render "after" a
// change that deletes files, without writing to disk.
func Remove(base fs.FS, paths ...string) fs.FS {
	r := &removeFS{base: base, gone: map[string]bool{}}
	for _, p := range paths {
		p = path.Clean(strings.TrimPrefix(p, "/"))
		if fs.ValidPath(p) && p != "." {
			r.gone[p] = true
		}
	}
	return r
}

type removeFS struct {
	base fs.FS
	gone map[string]bool
}

var (
	_ fs.ReadFileFS = (*removeFS)(nil)
	_ fs.ReadDirFS  = (*removeFS)(nil)
	_ fs.StatFS     = (*removeFS)(nil)
)

// removed reports whether name or a folder holding it was removed.
func (r *removeFS) removed(name string) bool {
	for p := name; p != "."; p = path.Dir(p) {
		if r.gone[p] {
			return true
		}
	}
	return false
}

func (r *removeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if r.removed(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := r.base.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil || !info.IsDir() {
		return f, err
	}
	entries, err := r.ReadDir(name)
	if err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	return &memDir{info: info, entries: entries}, nil
}

func (r *removeFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if r.removed(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return fs.ReadFile(r.base, name)
}

func (r *removeFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if r.removed(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fs.Stat(r.base, name)
}

func (r *removeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if r.removed(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	entries, err := fs.ReadDir(r.base, name)
	if err != nil {
		return nil, err
	}
	out := entries[:0:0]
	for _, e := range entries {
		if !r.gone[path.Join(name, e.Name())] {
			out = append(out, e)
		}
	}
	return out, nil
}
