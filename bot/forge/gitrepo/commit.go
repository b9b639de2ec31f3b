package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/patchers"
)

// Signature is a commit's author or committer.
type Signature struct {
	Name  string
	Email string
}

// CommitRequest is one commit to make.
type CommitRequest struct {
	// Parent is the commit the change was planned on; it must be in the
	// clone (Fetch or FetchCommit it).
	Parent string
	// Files are the edits: Content replaces or creates a file (an
	// existing file keeps its mode, a new one is a regular file);
	// Deleted removes an existing file.
	Files []patchers.FileChange
	// Message is the whole commit message, trailers included (see
	// forge.CommitMessage).
	Message string
	// Author is required; Committer defaults to Author.
	Author    Signature
	Committer Signature
	// When dates the commit (to the second, in UTC); the Cache's clock
	// when zero. Equal requests with equal When make the same commit.
	When time.Time
}

// Commit writes a commit of req.Files on top of req.Parent and returns its
// id. The new tree is built in memory from the parent's tree; no worktree
// is involved and no ref moves. It checks every edit before it writes
// anything: a path that is not a clean relative path (forge.CheckPath),
// names the same file twice, is a folder, a symbolic link or a submodule,
// runs through a file, or deletes a file that does not exist is refused
// (permanent); a change that alters nothing fails with ErrNoChange; a
// parent not in the clone fails with ErrNotFetched.
func (r *Repo) Commit(ctx context.Context, req CommitRequest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	op := "commit on " + req.Parent + " in"
	parent, err := parseHash(req.Parent)
	if err != nil {
		return "", r.fail(op, Auth{}, forge.Permanent(err))
	}
	if err := checkRequest(req); err != nil {
		return "", r.fail(op, Auth{}, forge.Permanent(err))
	}
	edits, err := collectEdits(req.Files)
	if err != nil {
		return "", r.fail(op, Auth{}, forge.Permanent(err))
	}
	when := req.When
	if when.IsZero() {
		when = r.now()
	}
	when = when.UTC().Truncate(time.Second)
	committer := req.Committer
	if committer == (Signature{}) {
		committer = req.Author
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	root, err := r.commitTree(parent)
	if err != nil {
		return "", r.fail(op, Auth{}, err)
	}
	b := &treeBuilder{r: r, written: map[plumbing.Hash]bool{}}
	treeHash, empty, err := b.build(root, edits, "")
	if err != nil {
		return "", r.fail(op, Auth{}, err)
	}
	if empty {
		return "", r.fail(op, Auth{}, forge.Permanent(errors.New("the change deletes every file")))
	}
	if treeHash == root.Hash {
		return "", r.fail(op, Auth{}, ErrNoChange)
	}
	c := &object.Commit{
		Author:       object.Signature{Name: req.Author.Name, Email: req.Author.Email, When: when},
		Committer:    object.Signature{Name: committer.Name, Email: committer.Email, When: when},
		Message:      req.Message,
		TreeHash:     treeHash,
		ParentHashes: []plumbing.Hash{parent},
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return "", r.fail(op, Auth{}, err)
	}
	b.objects = append(b.objects, obj)
	// Everything is checked and encoded: only now write, children
	// before the trees and the commit that refer to them.
	for _, o := range b.objects {
		if _, err := r.repo.Storer.SetEncodedObject(o); err != nil {
			return "", r.fail(op, Auth{}, err)
		}
	}
	return obj.Hash().String(), nil
}

func checkRequest(req CommitRequest) error {
	var errs []error
	if strings.TrimSpace(req.Message) == "" {
		errs = append(errs, errors.New("the commit message is empty"))
	}
	if req.Author.Name == "" || req.Author.Email == "" {
		errs = append(errs, errors.New("the author needs a name and an email"))
	}
	for _, who := range []struct {
		role string
		sig  Signature
	}{{"author", req.Author}, {"committer", req.Committer}} {
		if strings.ContainsAny(who.sig.Name+who.sig.Email, "<>\n\x00") {
			errs = append(errs, fmt.Errorf("the %s's name or email has <, >, a newline or NUL", who.role))
		}
	}
	if len(req.Files) == 0 {
		errs = append(errs, errors.New("the change edits no file"))
	}
	return errors.Join(errs...)
}

// edit is one file's new content, or its deletion.
type edit struct {
	path    string // full path, for errors
	content []byte
	deleted bool
}

// collectEdits checks the paths and keys the edits by path.
func collectEdits(files []patchers.FileChange) (map[string]*edit, error) {
	edits := map[string]*edit{}
	var errs []error
	for _, f := range files {
		if err := forge.CheckPath(f.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := edits[f.Path]; dup {
			errs = append(errs, fmt.Errorf("the change names %s twice", f.Path))
			continue
		}
		edits[f.Path] = &edit{path: f.Path, content: f.Content, deleted: f.Deleted}
	}
	return edits, errors.Join(errs...)
}

// treeBuilder makes the new trees and blobs of a commit in memory.
type treeBuilder struct {
	r       *Repo
	objects []plumbing.EncodedObject // to write, in order
	written map[plumbing.Hash]bool
}

func (b *treeBuilder) add(o plumbing.EncodedObject) plumbing.Hash {
	h := o.Hash()
	if !b.written[h] {
		b.written[h] = true
		b.objects = append(b.objects, o)
	}
	return h
}

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

// build applies edits (keyed by path relative to tree) to tree, which is
// nil for a folder that does not exist yet, and returns the new tree's
// hash; empty is true when no entry is left (git keeps no empty folders).
// dir is tree's path with a trailing slash, for errors.
func (b *treeBuilder) build(tree *object.Tree, edits map[string]*edit, dir string) (h plumbing.Hash, empty bool, err error) {
	entries := map[string]object.TreeEntry{}
	if tree != nil {
		for _, e := range tree.Entries {
			entries[e.Name] = e
		}
	}
	here := map[string]*edit{}
	below := map[string]map[string]*edit{}
	for p, e := range edits {
		first, rest, deeper := strings.Cut(p, "/")
		if !deeper {
			here[first] = e
			continue
		}
		if below[first] == nil {
			below[first] = map[string]*edit{}
		}
		below[first][rest] = e
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(here)) {
		e := here[name]
		cur, exists := entries[name]
		switch {
		case below[name] != nil:
			errs = append(errs, fmt.Errorf("the change edits %s both as a file and as a folder", e.path))
		case exists && cur.Mode == filemode.Dir:
			errs = append(errs, fmt.Errorf("%s is a folder", e.path))
		case exists && cur.Mode == filemode.Symlink:
			errs = append(errs, fmt.Errorf("%s is a symbolic link", e.path))
		case exists && !isFile(cur.Mode):
			errs = append(errs, fmt.Errorf("%s is a submodule", e.path))
		case e.deleted && !exists:
			errs = append(errs, fmt.Errorf("cannot delete %s: no such file", e.path))
		case e.deleted:
			delete(entries, name)
		default:
			mode := filemode.Regular
			if exists && cur.Mode == filemode.Executable {
				mode = filemode.Executable
			}
			blob := &plumbing.MemoryObject{}
			blob.SetType(plumbing.BlobObject)
			if _, err := blob.Write(e.content); err != nil {
				return plumbing.ZeroHash, false, err
			}
			entries[name] = object.TreeEntry{Name: name, Mode: mode, Hash: b.add(blob)}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(below)) {
		sub := below[name]
		if here[name] != nil {
			continue // reported above
		}
		cur, exists := entries[name]
		var subtree *object.Tree
		if exists {
			if cur.Mode != filemode.Dir {
				errs = append(errs, fmt.Errorf("%s%s is not a folder", dir, name))
				continue
			}
			subtree, err = object.GetTree(b.r.repo.Storer, cur.Hash)
			if err != nil {
				return plumbing.ZeroHash, false, fmt.Errorf("read folder %s%s: %w", dir, name, err)
			}
		}
		h, empty, err := b.build(subtree, sub, dir+name+"/")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if empty {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return plumbing.ZeroHash, false, forge.Permanent(err)
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b object.TreeEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	if tree != nil && slices.Equal(list, tree.Entries) {
		return tree.Hash, false, nil
	}
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: list}).Encode(obj); err != nil {
		return plumbing.ZeroHash, false, err
	}
	return b.add(obj), false, nil
}

// sortName is the key git sorts tree entries by: a folder's name sorts
// as if it ended in a slash.
func sortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}
