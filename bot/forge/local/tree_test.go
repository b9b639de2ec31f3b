package local

import (
	"errors"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
)

// buildTree writes files (path to content) as a tree; an "x:" prefix on the
// content makes the file executable.
func buildTree(t *testing.T, s *memory.Storage, files map[string]string) *object.Tree {
	t.Helper()
	edits := map[string]*blobEntry{}
	for p, c := range files {
		mode := filemode.Regular
		if len(c) > 2 && c[:2] == "x:" {
			mode, c = filemode.Executable, c[2:]
		}
		h, err := writeBlob(s, []byte(c))
		if err != nil {
			t.Fatal(err)
		}
		edits[p] = &blobEntry{h, mode}
	}
	h, err := editTree(s, plumbing.ZeroHash, edits)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := object.GetTree(s, h)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func treeFiles(t *testing.T, s *memory.Storage, h plumbing.Hash) map[string]string {
	t.Helper()
	tr, err := object.GetTree(s, h)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = tr.Files().ForEach(func(f *object.File) error {
		c, err := f.Contents()
		if f.Mode == filemode.Executable {
			c = "x:" + c
		}
		out[f.Name] = c
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEditTree(t *testing.T) {
	s := memory.NewStorage()
	root := buildTree(t, s, map[string]string{"a/b/c.yaml": "c\n", "a/run.sh": "x:echo\n", "top.md": "top\n"})
	run, _ := writeBlob(s, []byte("echo hi\n"))
	h, err := editTree(s, root.Hash, map[string]*blobEntry{
		"a/b/c.yaml": nil,         // leaves a/b empty: dropped
		"a/run.sh":   {hash: run}, // keeps the executable mode
		"n/e/w.yaml": {hash: run}, // new directories
		"top.md":     {hash: run, mode: filemode.Regular},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := treeFiles(t, s, h)
	want := map[string]string{"a/run.sh": "x:echo hi\n", "n/e/w.yaml": "echo hi\n", "top.md": "echo hi\n"}
	if len(got) != len(want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s = %q, want %q", p, got[p], c)
		}
	}
	if tr, _ := object.GetTree(s, h); tr != nil {
		if _, err := tr.FindEntry("a/b"); err == nil {
			t.Error("the emptied directory a/b is still in the tree")
		}
	}

	for _, bad := range []map[string]*blobEntry{
		{"top.md/x": {hash: run}}, // through a file
		{"a": {hash: run}},        // over a directory
		{"nope.yaml": nil},        // delete what is not there
	} {
		if _, err := editTree(s, root.Hash, bad); !asErrPath(err) {
			t.Errorf("editTree(%v): %v, want a path error", bad, err)
		}
	}
}

func TestMergeTrees(t *testing.T) {
	cases := []struct {
		name               string
		base, ours, theirs map[string]string
		want               map[string]string // nil: a conflict
	}{
		{name: "each side its own files",
			base:   map[string]string{"a": "1\n", "b": "2\n"},
			ours:   map[string]string{"a": "1a\n", "b": "2\n", "c": "3\n"},
			theirs: map[string]string{"a": "1\n", "b": "2b\n"},
			want:   map[string]string{"a": "1a\n", "b": "2b\n", "c": "3\n"}},
		{name: "deleted on one side, kept on the other",
			base:   map[string]string{"a": "1\n", "b": "2\n"},
			ours:   map[string]string{"a": "1\n"},
			theirs: map[string]string{"a": "1\n", "b": "2\n", "d/e": "new\n"},
			want:   map[string]string{"a": "1\n", "d/e": "new\n"}},
		{name: "deleted and changed", base: map[string]string{"a": "1\n", "b": "2\n"},
			ours: map[string]string{"a": "1\n"}, theirs: map[string]string{"a": "1\n", "b": "2b\n"}},
		{name: "file against directory", base: map[string]string{"a": "1\n"},
			ours: map[string]string{"a": "1\n", "d": "file\n"}, theirs: map[string]string{"a": "1\n", "d/x": "dir\n"}},
		{name: "mode change and content change",
			base:   map[string]string{"s.sh": "one\ntwo\nthree\n"},
			ours:   map[string]string{"s.sh": "x:one\ntwo\nthree\n"},
			theirs: map[string]string{"s.sh": "one\ntwo\nTHREE\n"},
			want:   map[string]string{"s.sh": "x:one\ntwo\nTHREE\n"}},
		{name: "binary changed on both", base: map[string]string{"b.bin": "\x00a\n"},
			ours: map[string]string{"b.bin": "\x00a\nb\n"}, theirs: map[string]string{"b.bin": "c\n\x00a\n"}},
		{name: "added on both the same", base: map[string]string{},
			ours: map[string]string{"n": "x\n"}, theirs: map[string]string{"n": "x\n"}, want: map[string]string{"n": "x\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := memory.NewStorage()
			h, err := mergeTrees(t.Context(), s, buildTree(t, s, c.base), buildTree(t, s, c.ours), buildTree(t, s, c.theirs))
			if c.want == nil {
				if !errors.Is(err, forge.ErrConflict) {
					t.Fatalf("mergeTrees: %v, want ErrConflict", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := treeFiles(t, s, h)
			if len(got) != len(c.want) {
				t.Fatalf("merged %v, want %v", got, c.want)
			}
			for p, w := range c.want {
				if got[p] != w {
					t.Errorf("%s = %q, want %q", p, got[p], w)
				}
			}
		})
	}
}

// TestSetBranchCompareAndSwap: a branch that moved since it was read is
// not overwritten.
func TestSetBranchCompareAndSwap(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := editTree(repo.Storer, plumbing.ZeroHash, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	c1, _ := writeCommit(repo.Storer, empty, nil, DefaultAuthor, now, "one\n")
	c2, _ := writeCommit(repo.Storer, empty, []plumbing.Hash{c1}, DefaultAuthor, now, "two\n")
	c3, _ := writeCommit(repo.Storer, empty, []plumbing.Hash{c1}, DefaultAuthor, now, "three\n")

	f, err := New(Config{Dir: dir, Repo: forge.Repo{Owner: "a", Name: "b"}, Records: forgetest.NewMemoryRecords()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.setBranch("main", c1, nil); err != nil {
		t.Fatal(err)
	}
	stale, _, err := f.branchHead("main")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.setBranch("main", c2, stale); err != nil {
		t.Fatal(err)
	}
	// Someone moved main to c2 after we read c1: c3 must not land.
	err = f.setBranch("main", c3, stale)
	if !errors.Is(err, forge.ErrNotReady) {
		t.Fatalf("setBranch over a moved branch: %v, want ErrNotReady", err)
	}
	if cur, _, _ := f.branchHead("main"); cur.Hash() != c2 {
		t.Errorf("main is at %s, want %s", cur.Hash(), c2)
	}
}
