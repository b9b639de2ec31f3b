package local

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/medic-bot/medic/bot/forge"
)

// sides is what one path holds in the merge base and on one side; nil for
// absent.
type sides struct{ base, side *blobEntry }

// changedPaths lists the files that differ between two trees, with what
// each holds on both.
func changedPaths(ctx context.Context, from, to *object.Tree) (map[string]sides, error) {
	changes, err := object.DiffTreeContext(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := map[string]sides{}
	for _, c := range changes {
		var s sides
		name := c.To.Name
		if c.From.Name != "" {
			name = c.From.Name
			s.base = &blobEntry{c.From.TreeEntry.Hash, c.From.TreeEntry.Mode}
		}
		if c.To.Name != "" {
			s.side = &blobEntry{c.To.TreeEntry.Hash, c.To.TreeEntry.Mode}
		}
		if c.From.Name != "" && c.To.Name != "" && c.From.Name != c.To.Name {
			return nil, fmt.Errorf("unexpected rename %s -> %s", c.From.Name, c.To.Name)
		}
		out[name] = s
	}
	return out, nil
}

func sameEntry(a, b *blobEntry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func isFile(m filemode.FileMode) bool { return m == filemode.Regular || m == filemode.Executable }

// mergeTrees merges the changes from base to theirs into ours and returns
// the merged tree. A path changed on one side takes that side; a path
// changed the same way on both is fine; a file changed differently on both
// is merged line by line (merge3). Anything else (a file deleted on one
// side and changed on the other, overlapping line changes, binary files,
// symlinks or submodules changed on both, a file where the other side
// needs a directory) is a conflict: the error wraps forge.ErrConflict and
// names the paths.
func mergeTrees(ctx context.Context, s storer.EncodedObjectStorer, base, ours, theirs *object.Tree) (plumbing.Hash, error) {
	changedOurs, err := changedPaths(ctx, base, ours)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("diff base and ours: %w", err)
	}
	changedTheirs, err := changedPaths(ctx, base, theirs)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("diff base and theirs: %w", err)
	}
	edits := map[string]*blobEntry{}
	var conflicts []string
	for p, t := range changedTheirs {
		o, both := changedOurs[p]
		if !both {
			edits[p] = t.side
			continue
		}
		if sameEntry(o.side, t.side) {
			continue
		}
		merged, ok, err := mergeFile(s, t.base, o.side, t.side)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("merge %s: %w", p, err)
		}
		if !ok {
			conflicts = append(conflicts, p)
			continue
		}
		edits[p] = merged
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return plumbing.ZeroHash, fmt.Errorf("%w: both sides changed %s", forge.ErrConflict, strings.Join(conflicts, ", "))
	}
	h, err := editTree(s, ours.Hash, edits)
	if asErrPath(err) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %w", forge.ErrConflict, err)
	}
	return h, err
}

// mergeFile merges one path that both sides changed differently; ok false
// is a conflict.
func mergeFile(s storer.EncodedObjectStorer, base, ours, theirs *blobEntry) (*blobEntry, bool, error) {
	if ours == nil || theirs == nil {
		return nil, false, nil // deleted on one side, changed on the other
	}
	if !isFile(ours.mode) || !isFile(theirs.mode) || (base != nil && !isFile(base.mode)) {
		return nil, false, nil
	}
	mode := ours.mode
	switch {
	case base == nil || base.mode == ours.mode:
		mode = theirs.mode
		if base == nil && ours.mode != theirs.mode {
			return nil, false, nil
		}
	case base.mode == theirs.mode:
	default:
		if ours.mode != theirs.mode {
			return nil, false, nil
		}
	}
	if ours.hash == theirs.hash {
		return &blobEntry{ours.hash, mode}, true, nil
	}
	var o []byte
	if base != nil {
		var err error
		if o, err = readBlob(s, base.hash); err != nil {
			return nil, false, err
		}
	}
	a, err := readBlob(s, ours.hash)
	if err != nil {
		return nil, false, err
	}
	b, err := readBlob(s, theirs.hash)
	if err != nil {
		return nil, false, err
	}
	if isBinary(o) || isBinary(a) || isBinary(b) {
		return nil, false, nil
	}
	merged, conflict := merge3(o, a, b)
	if conflict {
		return nil, false, nil
	}
	h, err := writeBlob(s, merged)
	if err != nil {
		return nil, false, err
	}
	return &blobEntry{h, mode}, true, nil
}

// isBinary is git's test: a NUL byte in the first 8000 bytes.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}
