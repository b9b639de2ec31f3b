package repofs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// MaxLinks is how many symbolic links one path may pass through before it
// is refused (Linux's own bound on a lookup).
const MaxLinks = 40

// ErrEscape is wrapped when a path leads outside the repository through a
// symbolic link.
var ErrEscape = errors.New("leads outside the repository")

// ErrTooManyLinks is wrapped when a path passes through more than
// MaxLinks symbolic links.
var ErrTooManyLinks = errors.New("too many symbolic links")

// Confine returns a read-only view of fsys in which every symbolic link
// is resolved by Confine itself, inside fsys's root, before fsys is asked
// for anything: fsys only ever sees paths without links (its Lstat and
// ReadLink are used to find them). The view implements fs.ReadFileFS,
// fs.ReadDirFS, fs.StatFS and fs.ReadLinkFS. Open, ReadFile and Stat
// follow links, Lstat and ReadLink do not. ReadDir lists a link to a file
// as that file, a link to a folder as a link (walks do not descend it),
// and a link that leaves the root or leads nowhere as a file whose Info
// fails with the reason, so that reading it fails naming it. It is safe
// for concurrent use if fsys is.
func Confine(fsys fs.ReadLinkFS) fs.FS {
	return confined{fsys}
}

type confined struct{ fsys fs.ReadLinkFS }

var (
	_ fs.ReadFileFS = confined{}
	_ fs.ReadDirFS  = confined{}
	_ fs.StatFS     = confined{}
	_ fs.ReadLinkFS = confined{}
)

// resolve returns name with every link in it replaced, as a link-free
// path inside the root. With follow false the last element is left as it
// is (Lstat, ReadLink).
func (c confined) resolve(op, name string, follow bool) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return ".", nil
	}
	todo := strings.Split(name, "/")
	if !follow {
		last := todo[len(todo)-1]
		dir, err := c.resolve(op, path.Dir(name), true)
		if err != nil {
			return "", err
		}
		return path.Join(dir, last), nil
	}
	cur, links := ".", 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				return "", &fs.PathError{Op: op, Path: name, Err: ErrEscape}
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, elem)
		info, err := c.fsys.Lstat(next)
		if err != nil {
			return "", rename(err, op, name)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > MaxLinks {
			return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w (more than %d)", ErrTooManyLinks, MaxLinks)}
		}
		target, err := c.fsys.ReadLink(next)
		if err != nil {
			return "", rename(err, op, name)
		}
		// Absolute targets (also a Windows drive or a UNC path, as git
		// may store them) name the host's files, never the repository's.
		if target == "" || path.IsAbs(target) || strings.HasPrefix(target, `\`) || len(target) > 1 && target[1] == ':' {
			return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("symbolic link %s %w", next, ErrEscape)}
		}
		rest := strings.Split(target, "/")
		for _, e := range rest {
			if e != "" && e != "." && e != ".." && !fs.ValidPath(e) {
				return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("symbolic link %s: target is not a valid path: %w", next, fs.ErrInvalid)}
			}
		}
		if escapes(cur, rest) {
			return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("symbolic link %s %w", next, ErrEscape)}
		}
		todo = append(rest, todo...)
	}
	return cur, nil
}

// escapes reports whether following elems from the folder dir climbs
// above the root.
func escapes(dir string, elems []string) bool {
	depth := 0
	if dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	for _, e := range elems {
		switch e {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// rename gives fsys's error the name the caller asked for.
func rename(err error, op, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// at resolves name (the last link too when follow) and runs f on the
// link-free path, naming name in f's error.
func at[T any](c confined, op, name string, follow bool, f func(string) (T, error)) (T, error) {
	var zero T
	p, err := c.resolve(op, name, follow)
	if err != nil {
		return zero, err
	}
	v, err := f(p)
	if err != nil {
		return zero, rename(err, op, name)
	}
	return v, nil
}

func (c confined) Open(name string) (fs.File, error) {
	return at(c, "open", name, true, c.fsys.Open)
}

func (c confined) ReadFile(name string) ([]byte, error) {
	return at(c, "read", name, true, func(p string) ([]byte, error) { return fs.ReadFile(c.fsys, p) })
}

func (c confined) Stat(name string) (fs.FileInfo, error) {
	return at(c, "stat", name, true, c.fsys.Lstat)
}

func (c confined) Lstat(name string) (fs.FileInfo, error) {
	return at(c, "lstat", name, false, c.fsys.Lstat)
}

func (c confined) ReadLink(name string) (string, error) {
	return at(c, "readlink", name, false, c.fsys.ReadLink)
}

func (c confined) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := at(c, "readdir", name, true, func(p string) ([]fs.DirEntry, error) { return fs.ReadDir(c.fsys, p) })
	if err != nil {
		return nil, err
	}
	for i, e := range es {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		full := path.Join(name, e.Name())
		target, err := c.resolve("stat", full, true)
		if err != nil {
			es[i] = linkEntry{name: e.Name(), err: err}
			continue
		}
		info, err := c.fsys.Lstat(target)
		switch {
		case err != nil:
			es[i] = linkEntry{name: e.Name(), err: rename(err, "stat", full)}
		case !info.IsDir():
			es[i] = linkEntry{name: e.Name(), info: info}
		}
	}
	return es, nil
}

// linkEntry lists a link to a file as the file it leads to, and a link
// that leads nowhere inside the root as a file whose Info fails: walkers
// that skip all but regular files read it through, or fail naming it,
// instead of leaving it out without a word. A link to a folder stays a
// link, so a walk does not descend it (it could loop).
type linkEntry struct {
	name string
	info fs.FileInfo
	err  error
}

func (e linkEntry) Name() string { return e.name }
func (e linkEntry) IsDir() bool  { return false }
func (e linkEntry) Type() fs.FileMode {
	if e.info != nil {
		return e.info.Mode().Type()
	}
	return 0
}
func (e linkEntry) Info() (fs.FileInfo, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.info, nil
}

// Dir is a repository folder on disk, opened with os.OpenRoot: besides
// Confine's own resolution, the kernel-side checks of os.Root refuse any
// path that leaves the folder, also if a link changes between the two.
type Dir struct {
	root *os.Root
	fsys fs.FS
}

// OpenDir opens the folder dir. Close it when done.
func OpenDir(dir string) (*Dir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository folder: %w", err)
	}
	rfs, ok := root.FS().(fs.ReadLinkFS)
	if !ok {
		_ = root.Close()
		return nil, fmt.Errorf("open repository folder %s: os.Root's FS cannot read links", dir)
	}
	return &Dir{root: root, fsys: Confine(rfs)}, nil
}

// FS is the folder as a read-only fs.FS confined to it (see Confine).
func (d *Dir) FS() fs.FS { return d.fsys }

// Close closes the folder; FS fails afterwards.
func (d *Dir) Close() error { return d.root.Close() }
