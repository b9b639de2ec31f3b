package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/bot/forge"
)

// checkClean refuses a merge onto the checked-out branch when a path the
// merge writes or removes is not as the checked-out commit has it: staged
// or unstaged changes to it, an untracked or ignored file where the merge
// writes one, or either of those below or above it (a file giving way to
// a directory or the reverse). Dirty files the merge does not touch do not
// block it and are left as they are. head is the checked-out commit's
// tree, merged the merge's.
func (f *Forge) checkClean(ctx context.Context, head, merged *object.Tree) error {
	changes, err := object.DiffTreeContext(ctx, head, merged)
	if err != nil {
		return fmt.Errorf("diff the checkout and the merge: %w", err)
	}
	touched := map[string]bool{}
	for _, c := range changes {
		for _, p := range []string{c.From.Name, c.To.Name} {
			if p != "" {
				touched[p] = true
			}
		}
	}
	if len(touched) == 0 {
		return nil
	}
	st, err := f.wt.Status()
	if err != nil {
		return fmt.Errorf("read the checkout's status: %w", err)
	}
	var dirty []string
	for p, s := range st {
		if s.Staging == git.Unmodified && s.Worktree == git.Unmodified || !overlaps(p, touched) {
			continue
		}
		if s.Staging == git.Untracked {
			p += " (untracked)"
		}
		dirty = append(dirty, p)
	}
	// Ignored files are not in the status: any file on disk where the
	// merge adds one that the checked-out commit does not have is in the
	// way.
	root := f.wt.Filesystem.Root()
	for _, c := range changes {
		if _, listed := st[c.To.Name]; c.From.Name != "" || c.To.Name == "" || listed {
			continue
		}
		full, err := diskPath(root, c.To.Name)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(full); err == nil {
			dirty = append(dirty, c.To.Name+" (ignored)")
		}
	}
	if len(dirty) > 0 {
		sort.Strings(dirty)
		return fmt.Errorf("%w: the checkout %s has uncommitted changes the merge would overwrite or hide: %s", forge.ErrConflict, root, strings.Join(dirty, ", "))
	}
	return nil
}

// overlaps reports whether p is one of the paths, or a file or directory
// above or below one.
func overlaps(p string, paths map[string]bool) bool {
	if paths[p] {
		return true
	}
	for q := range paths {
		if strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// checkout updates the files that differ between the clean checkout's tree
// head and merged in the working tree and the index. Other files, ignored
// and untracked ones included, are left alone.
func (f *Forge) checkout(ctx context.Context, head, merged *object.Tree) error {
	changes, err := object.DiffTreeContext(ctx, head, merged)
	if err != nil {
		return fmt.Errorf("diff the checkout and the merge: %w", err)
	}
	idx, err := f.repo.Storer.Index()
	if err != nil {
		return fmt.Errorf("read the index: %w", err)
	}
	root := f.wt.Filesystem.Root()
	// Removals first: a file may give way to a directory or the reverse.
	for _, c := range changes {
		if c.From.Name != "" && c.From.Name != c.To.Name {
			if err := removeFile(root, c.From.Name); err != nil {
				return err
			}
			_, _ = idx.Remove(c.From.Name)
		}
	}
	for _, c := range changes {
		if c.To.Name == "" {
			continue
		}
		e, err := writeFile(f, root, c.To.Name, c.To.TreeEntry.Hash, c.To.TreeEntry.Mode)
		if err != nil {
			return err
		}
		_, _ = idx.Remove(c.To.Name)
		idx.Entries = append(idx.Entries, e)
	}
	if err := f.repo.Storer.SetIndex(idx); err != nil {
		return fmt.Errorf("write the index: %w", err)
	}
	return nil
}

// diskPath is a tree path's place in the working tree, refusing paths that
// could leave it.
func diskPath(root, p string) (string, error) {
	if err := forge.CheckPath(p); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(p)), nil
}

// removeFile deletes a file of the working tree and the directories it
// leaves empty.
func removeFile(root, p string) error {
	full, err := diskPath(root, p)
	if err != nil {
		return err
	}
	if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	for dir := filepath.Dir(full); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or gone
		}
	}
	return nil
}

// writeFile writes a blob to the working tree and returns its index entry.
func writeFile(f *Forge, root, p string, h plumbing.Hash, mode filemode.FileMode) (*index.Entry, error) {
	full, err := diskPath(root, p)
	if err != nil {
		return nil, err
	}
	e := &index.Entry{Name: p, Hash: h, Mode: mode}
	if mode == filemode.Submodule {
		if err := os.MkdirAll(full, 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		return e, nil
	}
	content, err := readBlob(f.repo.Storer, h)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, fmt.Errorf("write %s: %w", p, err)
	}
	if mode == filemode.Symlink {
		_ = os.Remove(full)
		if err := os.Symlink(string(content), full); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	} else {
		perm := os.FileMode(0o644)
		if mode == filemode.Executable {
			perm = 0o755
		}
		tmp, err := os.CreateTemp(filepath.Dir(full), ".medic-*")
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		_, werr := tmp.Write(content)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), perm)); err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.Rename(tmp.Name(), full); err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", p, err)
	}
	e.Size = uint32(fi.Size())
	e.ModifiedAt = fi.ModTime()
	fillStat(e, fi)
	return e, nil
}
