package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxLinks bounds the symlinks followed to resolve one path, as the
// kernel's ELOOP does.
const maxLinks = 40

// collect returns the files under root in repo (.git folders excluded),
// their total size bounded by l.MaxInputBytes. A symlink is followed only
// when it resolves inside the repository: one that points outside it, that
// dangles or that loops is an error naming it, never skipped and never
// read. A link to a folder is copied as that folder. Only repo is read.
func (l Limits) collect(repo fs.FS, root string) ([]repoFile, error) {
	c := collector{repo: repo, budget: l.MaxInputBytes, limit: l.MaxInputBytes}
	if err := c.walk(root, root, 0); err != nil {
		return nil, err
	}
	return c.files, nil
}

// collectReferenced is collect for a render that reads only the files it
// references (krusty): a symlink that leaves the repository, dangles or
// loops is not an error here but returned in unreadable, by its path,
// with the reason; reading it in the child is then the error. One bad
// link elsewhere in the repository does not stop every render.
func (l Limits) collectReferenced(repo fs.FS, root string) (files []repoFile, unreadable map[string]string, err error) {
	c := collector{repo: repo, budget: l.MaxInputBytes, limit: l.MaxInputBytes, unreadable: map[string]string{}}
	if err := c.walk(root, root, 0); err != nil {
		return nil, nil, err
	}
	return c.files, c.unreadable, nil
}

type collector struct {
	repo   fs.FS
	files  []repoFile
	budget int64
	limit  int64
	// unreadable, when not nil, collects bad links instead of failing.
	unreadable map[string]string
}

// walk copies the tree at real (a path with no symlink in it) as if it
// were at name.
func (c *collector) walk(real, name string, depth int) error {
	if depth > maxLinks {
		return fmt.Errorf("symlink %s: too many levels of links", name)
	}
	return fs.WalkDir(c.repo, real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		as := path.Join(name, strings.TrimPrefix(strings.TrimPrefix(p, real), "/"))
		if real == "." && p != "." {
			as = path.Join(name, p)
		}
		switch {
		case d.IsDir():
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, fi, err := resolve(c.repo, p)
			if err != nil {
				if c.unreadable != nil && !errors.Is(err, fs.ErrPermission) {
					c.unreadable[as] = err.Error()
					return nil
				}
				return err
			}
			if fi.IsDir() {
				return c.walk(target, as, depth+1)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("symlink %s: %s is not a regular file", p, target)
			}
			return c.add(target, as, fi.Size())
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return c.add(p, as, fi.Size())
		}
		return nil // sockets, devices: not repository content
	})
}

func (c *collector) add(real, as string, size int64) error {
	if size > c.budget {
		return limitError("read "+as, "max_input_bytes", c.limit)
	}
	data, err := fs.ReadFile(c.repo, real)
	if err != nil {
		return err
	}
	if c.budget -= int64(len(data)); c.budget < 0 {
		return limitError("read "+as, "max_input_bytes", c.limit)
	}
	c.files = append(c.files, repoFile{Name: as, Data: data})
	return nil
}

var errOutside = errors.New("points outside the repository")

// ResolveLink follows the symlink at p in repo and returns the path, free
// of links, it resolves to inside the repository and that file's info. A
// link that leaves the repository, dangles or loops is an error naming p.
func ResolveLink(repo fs.FS, p string) (string, fs.FileInfo, error) { return resolve(repo, p) }

// resolve follows the symlink at p and returns the path it resolves to
// inside repo, without links, and that file's info. When repo can read
// links (fs.ReadLinkFS) every link on the way is resolved here and must
// stay inside the repository; otherwise repo itself follows it (medic's
// repository filesystems refuse links that leave the repository).
func resolve(repo fs.FS, p string) (string, fs.FileInfo, error) {
	if _, ok := repo.(fs.ReadLinkFS); !ok {
		fi, err := fs.Stat(repo, p)
		if err != nil {
			return "", nil, fmt.Errorf("symlink %s: %w", p, err)
		}
		return p, fi, nil
	}
	real, err := realPath(repo, p)
	if err != nil {
		return "", nil, fmt.Errorf("symlink %s: %w", p, err)
	}
	fi, err := fs.Stat(repo, real)
	if err != nil {
		return "", nil, fmt.Errorf("symlink %s: %w", p, err)
	}
	return real, fi, nil
}

// realPath resolves every symlink in p, lexically, inside repo.
func realPath(repo fs.FS, p string) (string, error) {
	done := "."
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		next := path.Join(done, rest[0])
		rest = rest[1:]
		fi, err := fs.Lstat(repo, next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", errors.New("too many levels of links")
		}
		target, err := fs.ReadLink(repo, next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", fmt.Errorf("%w (%s)", errOutside, target)
		}
		joined := path.Join(done, target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", fmt.Errorf("%w (%s)", errOutside, target)
		}
		rest = append(strings.Split(joined, "/"), rest...)
		done = "."
	}
	return done, nil
}
