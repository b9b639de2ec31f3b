package local

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// blobEntry is what a path holds in a tree: a blob (or symlink, or
// submodule commit) and its mode. A zero mode in an edit keeps the mode of
// the file it replaces (a regular file when there is none).
type blobEntry struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// errPath is a path that cannot be edited as asked: a file where a
// directory is needed or the reverse, or a deleted file that is not there.
type errPath struct{ path, why string }

func (e *errPath) Error() string { return e.path + ": " + e.why }

// writeBlob stores content as a blob.
func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// readBlob returns a blob's content.
func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(s, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

// editTree returns the tree that is root (the zero hash: an empty tree)
// with edits applied: each path (slash-separated) set to its entry, or
// removed when the entry is nil. Unchanged subtrees are shared; trees left
// empty are dropped. It fails with *errPath when a path crosses a file or
// names a directory, or a removed path does not exist.
func editTree(s storer.EncodedObjectStorer, root plumbing.Hash, edits map[string]*blobEntry) (plumbing.Hash, error) {
	h, _, err := editSubtree(s, root, "", edits)
	return h, err
}

func editSubtree(s storer.EncodedObjectStorer, h plumbing.Hash, prefix string, edits map[string]*blobEntry) (plumbing.Hash, bool, error) {
	entries := map[string]object.TreeEntry{}
	if !h.IsZero() {
		t, err := object.GetTree(s, h)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read tree %s: %w", prefix, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	subs := map[string]map[string]*blobEntry{}
	for p, e := range edits {
		dir, rest, nested := strings.Cut(p, "/")
		if nested {
			if subs[dir] == nil {
				subs[dir] = map[string]*blobEntry{}
			}
			subs[dir][rest] = e
			continue
		}
		old, exists := entries[p]
		switch {
		case exists && old.Mode == filemode.Dir:
			return plumbing.ZeroHash, false, &errPath{prefix + p, "is a directory"}
		case e == nil && !exists:
			return plumbing.ZeroHash, false, &errPath{prefix + p, "does not exist"}
		case e == nil:
			delete(entries, p)
		default:
			mode := e.mode
			if mode == 0 {
				mode = filemode.Regular
				if exists {
					mode = old.Mode
				}
			}
			entries[p] = object.TreeEntry{Name: p, Mode: mode, Hash: e.hash}
		}
	}
	for dir, sub := range subs {
		var subHash plumbing.Hash
		if old, exists := entries[dir]; exists {
			if old.Mode != filemode.Dir {
				return plumbing.ZeroHash, false, &errPath{prefix + dir, "is a file, not a directory"}
			}
			subHash = old.Hash
		}
		nh, empty, err := editSubtree(s, subHash, prefix+dir+"/", sub)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if empty {
			delete(entries, dir)
		} else {
			entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: nh}
		}
	}
	if len(entries) == 0 && prefix != "" {
		return plumbing.ZeroHash, true, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("write tree %s: %w", prefix, err)
	}
	nh, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("write tree %s: %w", prefix, err)
	}
	return nh, len(entries) == 0, nil
}

// writeCommit stores a commit of tree with parents.
func writeCommit(s storer.EncodedObjectStorer, tree plumbing.Hash, parents []plumbing.Hash, sig Signature, when time.Time, msg string) (plumbing.Hash, error) {
	who := object.Signature{Name: sig.Name, Email: sig.Email, When: when}
	c := &object.Commit{Author: who, Committer: who, Message: msg, TreeHash: tree, ParentHashes: parents}
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit: %w", err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit: %w", err)
	}
	return h, nil
}

// asErrPath reports whether err is an *errPath.
func asErrPath(err error) bool {
	var p *errPath
	return errors.As(err, &p)
}
