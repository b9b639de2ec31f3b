package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// resolve finds the commit a full or unique abbreviated hash names.
func (w *wrapped) resolve(hash string) (*object.Commit, error) {
	if len(hash) == 40 {
		c, err := w.repo.CommitObject(plumbing.NewHash(hash))
		if err != nil {
			return nil, fmt.Errorf("revert_commit: commit %s: %w", hash, err)
		}
		return c, nil
	}
	iter, err := w.repo.CommitObjects()
	if err != nil {
		return nil, fmt.Errorf("revert_commit: list commits: %w", err)
	}
	defer iter.Close()
	var all []*object.Commit
	err = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), hash) {
			all = append(all, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revert_commit: list commits: %w", err)
	}
	return pick(hash, all)
}

// pick is the one commit of found (those whose hash starts with hash), or
// an error naming hash: not found, or ambiguous with every match listed.
func pick(hash string, found []*object.Commit) (*object.Commit, error) {
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("revert_commit: commit %s not found in the repository", hash)
	case 1:
		return found[0], nil
	}
	var names []string
	for _, c := range found {
		names = append(names, c.Hash.String())
	}
	slices.Sort(names)
	return nil, fmt.Errorf("revert_commit: commit %s is ambiguous: it abbreviates %s", hash, strings.Join(names, ", "))
}

// revert plans undoing commit hash's diff on the files of repo.
func (w *wrapped) revert(ctx context.Context, tr patchers.TargetRenderer, repo fs.FS, t patchers.Target, hash string) (patchers.Change, error) {
	c, err := w.resolve(hash)
	if err != nil {
		return patchers.Change{}, err
	}
	name := fmt.Sprintf("%s %q", short(c.Hash), subject(c))
	switch c.NumParents() {
	case 0:
		return patchers.Change{}, fmt.Errorf("revert_commit: commit %s is the repository's first commit: reverting it would remove everything it added", name)
	case 1:
	default:
		return patchers.Change{}, fmt.Errorf("revert_commit: commit %s is a merge commit (%d parents): reverting it needs a choice of mainline; revert the commits it merged instead", name, c.NumParents())
	}
	parent, err := c.Parent(0)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: read parent of %s: %w", name, err)
	}
	from, err := parent.Tree()
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: read tree of %s: %w", short(parent.Hash), err)
	}
	to, err := c.Tree()
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: read tree of %s: %w", name, err)
	}
	changes, err := object.DiffTreeWithOptions(ctx, from, to, nil)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: diff %s: %w", name, err)
	}
	oldFS, oerr := w.treeFSOrEmpty(from)
	newFS, nerr := w.treeFSOrEmpty(to)
	if err := errors.Join(oerr, nerr); err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: %w", err)
	}

	var files []patchers.FileChange
	edits := map[string][]byte{}
	var removed []string
	inDir := 0 // files the commit changed under the Plan repo's folder
	for _, chg := range changes {
		paths := []string{chg.From.Name, chg.To.Name}
		for _, p := range slices.Compact(paths) {
			if w.dir != "." {
				rel, ok := strings.CutPrefix(p, w.dir+"/")
				if !ok {
					continue // outside the Plan repo's folder
				}
				p = rel
			}
			if p == "" {
				continue
			}
			inDir++
			old, oerr := readOpt(oldFS, p)
			neu, nerr := readOpt(newFS, p)
			if err := errors.Join(oerr, nerr); err != nil {
				return patchers.Change{}, fmt.Errorf("revert_commit: %s: %w", p, err)
			}
			cur, err := readOpt(repo, p)
			if err != nil {
				return patchers.Change{}, fmt.Errorf("revert_commit: %s: %w", p, err)
			}
			res, err := revertFile(p, old, neu, cur)
			if err != nil {
				return patchers.Change{}, fmt.Errorf("revert_commit %s: %w", name, err)
			}
			if bytes.Equal(res, cur) && (res == nil) == (cur == nil) {
				continue // already undone
			}
			if res == nil {
				removed = append(removed, p)
				files = append(files, patchers.FileChange{Path: p, Diff: render.UnifiedDiff(p, "/dev/null", cur, nil), Deleted: true})
				continue
			}
			aName := p
			if cur == nil {
				aName = "/dev/null"
			}
			edits[p] = res
			files = append(files, patchers.FileChange{Path: p, Diff: render.UnifiedDiff(aName, p, cur, res), Content: res})
		}
	}
	slices.SortFunc(files, func(a, b patchers.FileChange) int { return strings.Compare(a.Path, b.Path) })
	if inDir == 0 {
		return patchers.Change{}, fmt.Errorf("revert_commit: commit %s changed nothing under %s", name, w.dir)
	}
	if len(files) == 0 {
		return patchers.Change{NoOp: true, Summary: fmt.Sprintf("revert %s: already undone, nothing to change", name)}, nil
	}

	dir, before, err := tr.RenderTarget(ctx, repo, t)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: render before: %w", err)
	}
	after := render.Remove(render.Overlay(repo, edits), removed...)
	_, rendered, err := tr.RenderTarget(ctx, after, t)
	if errors.Is(err, patchers.ErrNotFound) {
		return patchers.Change{}, fmt.Errorf("revert_commit %s: %w: reverting it removes %s altogether (%v)", name, patchers.ErrRefused, t, err)
	}
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit %s: render after the revert: %w", name, err)
	}
	objs, err := render.Changed(before, rendered)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("revert_commit: compare renders: %w", err)
	}
	if !slices.ContainsFunc(objs, func(o patchers.Object) bool {
		return o.Kind == t.Kind && o.Name == t.Name && (o.Namespace == t.Namespace || o.Namespace == "")
	}) {
		return patchers.Change{}, fmt.Errorf("revert_commit %s: %w: reverting it does not change %s (the commit did not touch it)", name, patchers.ErrRefused, t)
	}
	var paths []string
	for _, f := range files {
		verb := "edit "
		switch {
		case f.Deleted:
			verb = "delete "
		case strings.HasPrefix(f.Diff, "--- /dev/null"):
			verb = "restore "
		}
		paths = append(paths, verb+f.Path)
	}
	return patchers.Change{
		Files:          files,
		RenderedDiff:   render.UnifiedDiff(dir+" (rendered, before)", dir+" (rendered, after)", before, rendered),
		ChangedObjects: objs,
		Summary:        fmt.Sprintf("revert %s %s: %s", short(c.Hash), subject(c), strings.Join(paths, ", ")),
	}, nil
}

// readOpt reads a file, nil when it does not exist.
func readOpt(fsys fs.FS, p string) ([]byte, error) {
	b, err := fs.ReadFile(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// revertFile returns the content of file p once the change old -> neu is
// undone on cur (nil: the file does not exist). A file still as the commit
// left it gets old back; otherwise the commit's hunks are applied in
// reverse with exact context, and a hunk that does not match is a conflict.
func revertFile(p string, old, neu, cur []byte) ([]byte, error) {
	if (cur == nil) == (neu == nil) && bytes.Equal(cur, neu) {
		return old, nil
	}
	if (cur == nil) == (old == nil) && bytes.Equal(cur, old) {
		return cur, nil // already undone
	}
	switch {
	case neu == nil:
		return nil, fmt.Errorf("%w: conflict in %s: the commit deleted it and it exists again", patchers.ErrRefused, p)
	case cur == nil:
		return nil, fmt.Errorf("%w: conflict in %s: the file was deleted since the commit", patchers.ErrRefused, p)
	case old == nil:
		return nil, fmt.Errorf("%w: conflict in %s: the commit added it and it changed since", patchers.ErrRefused, p)
	}
	return reverseHunks(p, old, neu, cur)
}

// reverseHunks applies the hunks of old -> neu in reverse to cur, with
// exact context, as git apply does without fuzz: a hunk that starts at the
// first line must match at the start of cur, and one without trailing
// context at its end.
func reverseHunks(p string, old, neu, cur []byte) ([]byte, error) {
	hunks, err := parseHunks(render.UnifiedDiff(p, p, old, neu))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	lines := splitLines(string(cur))
	var out []string
	at := 0     // next line of cur not yet copied
	offset := 0 // where the last hunk matched, against where it was
	for _, h := range hunks {
		// In reverse, the hunk's new side is what to find in cur and its
		// old side what to put there: at the exact place, else the
		// nearest, as patch does.
		want := max(h.newStart-1, 0) + offset
		pos := find(lines, h.newLines, at, want)
		if h.newStart <= 1 && pos != 0 || h.trailing == 0 && pos+len(h.newLines) != len(lines) {
			pos = -1
		}
		if pos < 0 {
			return nil, fmt.Errorf("%w: conflict in %s: hunk %s does not apply to the current file", patchers.ErrRefused, p, h.header)
		}
		offset = pos - max(h.newStart-1, 0)
		out = append(out, lines[at:pos]...)
		out = append(out, h.oldLines...)
		at = pos + len(h.newLines)
	}
	out = append(out, lines[at:]...)
	return []byte(strings.Join(out, "")), nil
}

// find returns the index at or after from where block appears in lines,
// the nearest to want, or -1.
func find(lines, block []string, from, want int) int {
	best := -1
	for i := from; i+len(block) <= len(lines); i++ {
		if !slices.Equal(lines[i:i+len(block)], block) {
			continue
		}
		if best < 0 || abs(i-want) < abs(best-want) {
			best = i
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

type hunk struct {
	header             string
	newStart           int
	trailing           int // context lines after the last change
	oldLines, newLines []string
}

// parseHunks reads the hunks of a unified diff as render.UnifiedDiff
// writes it; lines keep their "\n".
func parseHunks(diff string) ([]hunk, error) {
	var hs []hunk
	var last byte // the kind of the line before, for "\ No newline"
	for _, l := range splitLines(diff) {
		switch {
		case len(hs) == 0 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")):
		case strings.HasPrefix(l, "@@ "):
			hdr := strings.TrimRight(l, "\n")
			end := strings.Index(hdr[3:], " @@")
			if end < 0 {
				return nil, fmt.Errorf("bad hunk header %q", hdr)
			}
			h := hunk{header: hdr[:3+end+3]}
			for _, f := range strings.Fields(hdr[3 : 3+end]) {
				if strings.HasPrefix(f, "+") {
					n, _, _ := strings.Cut(f[1:], ",")
					v, err := strconv.Atoi(n)
					if err != nil {
						return nil, fmt.Errorf("bad hunk header %q", hdr)
					}
					h.newStart = v
				}
			}
			hs = append(hs, h)
			last = 0
		case len(hs) == 0:
			return nil, fmt.Errorf("diff line outside a hunk: %q", l)
		case strings.HasPrefix(l, `\`):
			h := &hs[len(hs)-1]
			if last == ' ' || last == '-' {
				h.oldLines[len(h.oldLines)-1] = strings.TrimSuffix(h.oldLines[len(h.oldLines)-1], "\n")
			}
			if last == ' ' || last == '+' {
				h.newLines[len(h.newLines)-1] = strings.TrimSuffix(h.newLines[len(h.newLines)-1], "\n")
			}
		default:
			h := &hs[len(hs)-1]
			text := l[1:]
			switch l[0] {
			case ' ':
				h.oldLines = append(h.oldLines, text)
				h.newLines = append(h.newLines, text)
				h.trailing++
			case '-':
				h.oldLines = append(h.oldLines, text)
				h.trailing = 0
			case '+':
				h.newLines = append(h.newLines, text)
				h.trailing = 0
			default:
				return nil, fmt.Errorf("bad diff line %q", l)
			}
			last = l[0]
		}
	}
	return hs, nil
}

// splitLines splits s after each "\n"; a last line without one is kept.
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
