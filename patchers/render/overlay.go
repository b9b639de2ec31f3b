package render

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Overlay returns base with the given files replaced or added. Paths are
// slash-separated and relative to the repository root ("apps/x/kustomization.yaml");
// invalid paths (see fs.ValidPath) are ignored. Directories that hold an
// added file exist in the result even when base lacks them. files is copied:
// changing the map or its slices later does not change the result. Used to
// render "after" without writing to disk.
func Overlay(base fs.FS, files map[string][]byte) fs.FS {
	o := &overlayFS{base: base, files: map[string][]byte{}, dirs: map[string]map[string]bool{}}
	for name, data := range files {
		name = path.Clean(strings.TrimPrefix(name, "/"))
		if !fs.ValidPath(name) || name == "." {
			continue
		}
		o.files[name] = bytes.Clone(data)
		for child, dir := name, path.Dir(name); ; child, dir = dir, path.Dir(dir) {
			if o.dirs[dir] == nil {
				o.dirs[dir] = map[string]bool{}
			}
			o.dirs[dir][path.Base(child)] = true
			if dir == "." {
				break
			}
		}
	}
	return o
}

type overlayFS struct {
	base  fs.FS
	files map[string][]byte
	// dirs maps each directory that holds an overlaid file (at any depth)
	// to the names of its overlaid children.
	dirs map[string]map[string]bool
}

var (
	_ fs.ReadFileFS = (*overlayFS)(nil)
	_ fs.ReadDirFS  = (*overlayFS)(nil)
	_ fs.StatFS     = (*overlayFS)(nil)
)

func (o *overlayFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := o.files[name]; ok {
		return &memFile{info: memInfo{name: path.Base(name), size: int64(len(data))}, r: bytes.NewReader(data)}, nil
	}
	if _, ok := o.dirs[name]; ok {
		entries, err := o.ReadDir(name)
		if err != nil {
			return nil, err
		}
		info, err := o.Stat(name)
		if err != nil {
			return nil, err
		}
		return &memDir{info: info, entries: entries}, nil
	}
	return o.base.Open(name)
}

func (o *overlayFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := o.files[name]; ok {
		return bytes.Clone(data), nil
	}
	return fs.ReadFile(o.base, name)
}

func (o *overlayFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := o.files[name]; ok {
		return memInfo{name: path.Base(name), size: int64(len(data))}, nil
	}
	if _, ok := o.dirs[name]; ok {
		if fi, err := fs.Stat(o.base, name); err == nil && fi.IsDir() {
			return fi, nil
		}
		return memInfo{name: path.Base(name), dir: true}, nil
	}
	return fs.Stat(o.base, name)
}

func (o *overlayFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	added, ok := o.dirs[name]
	if !ok {
		return fs.ReadDir(o.base, name)
	}
	var out []fs.DirEntry
	baseEntries, err := fs.ReadDir(o.base, name)
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	for _, e := range baseEntries {
		_, replaced := o.files[path.Join(name, e.Name())]
		if !added[e.Name()] || (e.IsDir() && !replaced) {
			out = append(out, e)
		}
	}
	for child := range added {
		full := path.Join(name, child)
		if data, ok := o.files[full]; ok {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: child, size: int64(len(data))}))
		} else if !slices.ContainsFunc(baseEntries, func(e fs.DirEntry) bool { return e.Name() == child && e.IsDir() }) {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: child, dir: true}))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type memFile struct {
	info memInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

type memDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}
func (d *memDir) Close() error { return nil }
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}
