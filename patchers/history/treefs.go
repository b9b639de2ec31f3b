package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers/repofs"
)

// TreeFS returns a read-only fs.FS over a commit's tree. Regular and
// executable files are files, subtrees are folders, and symbolic links
// (mode 120000, whose blob is the target path) are followed only inside
// the tree, by repofs.Confine: a link that leaves it is an error naming
// the file, as it is on disk. Submodules are left out. Files are read
// whole on Open. It implements fs.ReadFileFS, fs.ReadDirFS, fs.StatFS and
// fs.ReadLinkFS. Its methods are
// safe for concurrent use with each other (they take one lock: go-git's
// trees are not); two TreeFS over the same repository share its object
// storage, which go-git does not make safe for concurrent use, so callers
// that read several at once serialise them (Wrap does).
func TreeFS(tree *object.Tree) fs.FS {
	return repofs.Confine(&treeFS{root: tree})
}

// maxLinkTarget bounds the target a link's blob may hold (PATH_MAX).
const maxLinkTarget = 4096

type treeFS struct {
	mu   sync.Mutex
	root *object.Tree
}

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
)

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

// lookup finds name: a folder's tree, or a file's content (a link's
// target, for a link); with content false a file's content is not read.
// It follows no link: repofs.Confine resolves them before asking.
func (t *treeFS) lookup(op, name string, content bool) (dir *object.Tree, data []byte, info treeInfo, err error) {
	if !fs.ValidPath(name) {
		return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return t.root, nil, treeInfo{name: ".", dir: true}, nil
	}
	notExist := &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	e, err := t.root.FindEntry(name)
	if err != nil {
		return nil, nil, treeInfo{}, notExist
	}
	switch {
	case e.Mode == filemode.Dir:
		sub, err := t.root.Tree(name)
		if err != nil {
			return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return sub, nil, treeInfo{name: path.Base(name), dir: true}, nil
	case isFile(e.Mode) || e.Mode == filemode.Symlink:
		f, err := t.root.TreeEntryFile(e)
		if err != nil {
			return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		link := e.Mode == filemode.Symlink
		info := treeInfo{name: path.Base(name), size: f.Size, exec: e.Mode == filemode.Executable, link: link}
		if !content {
			return nil, nil, info, nil
		}
		r, err := f.Reader()
		if err != nil {
			return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		defer r.Close()
		if link && f.Size > maxLinkTarget {
			return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("symbolic link target of %d bytes, above %d", f.Size, maxLinkTarget)}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, nil, treeInfo{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		info.size = int64(len(b))
		return nil, b, info, nil
	}
	return nil, nil, treeInfo{}, notExist
}

func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dir, data, info, err := t.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if info.link {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errLink}
	}
	if dir != nil {
		entries, err := t.entries(dir)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{info: info, entries: entries}, nil
	}
	return &treeFile{info: info, r: bytes.NewReader(data)}, nil
}

func (t *treeFS) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dir, data, info, err := t.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	if info.link {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errLink}
	}
	if dir != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	return data, nil
}

// Stat is Lstat: links are resolved by repofs.Confine.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) { return t.Lstat(name) }

func (t *treeFS) Lstat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _, info, err := t.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (t *treeFS) ReadLink(name string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, data, info, err := t.lookup("readlink", name, true)
	if err != nil {
		return "", err
	}
	if !info.link {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return string(data), nil
}

// errLink is what the raw tree answers when asked to read through a link:
// only repofs.Confine's resolution may do that.
var errLink = errors.New("is a symbolic link")

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dir, _, _, err := t.lookup("readdir", name, false)
	if err != nil {
		return nil, err
	}
	if dir == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	entries, err := t.entries(dir)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return entries, nil
}

// entries lists a tree's files and folders sorted by name.
func (t *treeFS) entries(dir *object.Tree) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	for i := range dir.Entries {
		e := &dir.Entries[i]
		switch {
		case e.Mode == filemode.Dir:
			out = append(out, fs.FileInfoToDirEntry(treeInfo{name: e.Name, dir: true}))
		case isFile(e.Mode) || e.Mode == filemode.Symlink:
			f, err := dir.TreeEntryFile(e)
			if err != nil {
				return nil, err
			}
			out = append(out, fs.FileInfoToDirEntry(treeInfo{name: e.Name, size: f.Size, exec: e.Mode == filemode.Executable, link: e.Mode == filemode.Symlink}))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

type treeInfo struct {
	name string
	size int64
	dir  bool
	exec bool
	link bool
}

func (i treeInfo) Name() string { return i.name }
func (i treeInfo) Size() int64  { return i.size }
func (i treeInfo) Mode() fs.FileMode {
	switch {
	case i.link:
		return fs.ModeSymlink | 0o777
	case i.dir:
		return fs.ModeDir | 0o755
	case i.exec:
		return 0o755
	}
	return 0o644
}
func (i treeInfo) ModTime() time.Time { return time.Time{} }
func (i treeInfo) IsDir() bool        { return i.dir }
func (i treeInfo) Sys() any           { return nil }

type treeFile struct {
	info treeInfo
	r    *bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *treeFile) Close() error               { return nil }

type treeDir struct {
	info    treeInfo
	entries []fs.DirEntry
	off     int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: fs.ErrInvalid}
}
func (d *treeDir) Close() error { return nil }
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
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
