package patcherstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
)

// Run checks p against the contract on repo, where target (with its
// container) is a workload repo defines:
//
//   - an unknown intent kind is rejected before any file is read;
//   - Plan never changes the repository, and concurrent Plans agree;
//   - a valid set_resources gives files whose diffs apply to the original
//     files to give their Content, and changed objects that include the
//     target;
//   - planning the same intent on the patched repository is a no-op: NoOp
//     set, no files;
//   - the Change's JSON form has exactly the keys files, rendered_diff,
//     changed_objects and summary, plus no_op when it is true.
func Run(t *testing.T, p patchers.Patcher, repo fs.FS, target patchers.Target) {
	t.Helper()
	ctx := context.Background()
	setMemory := func(q string) patchers.Intent {
		return patchers.Intent{Kind: patchers.KindSetResources, Target: target,
			Params: json.RawMessage(`{"limits":{"memory":"` + q + `"}}`)}
	}

	t.Run("UnknownKindRejectedBeforeReading", func(t *testing.T) {
		for _, kind := range []string{"delete_namespace", "", "SCALE"} {
			spy := &spyFS{FS: repo}
			ch, err := p.Plan(ctx, spy, patchers.Intent{Kind: kind, Target: target, Params: json.RawMessage(`{"replicas":1}`)})
			if err == nil {
				t.Errorf("kind %q: Plan succeeded", kind)
			}
			if len(ch.Files) > 0 {
				t.Errorf("kind %q: files with an error", kind)
			}
			if n := spy.opens(); n > 0 {
				t.Errorf("kind %q: %d files opened before rejecting", kind, n)
			}
		}
	})

	t.Run("Detect", func(t *testing.T) {
		if !p.Detect(repo) {
			t.Errorf("%s does not detect its own fixture", p.Name())
		}
	})

	var planned patchers.Change
	t.Run("SetResources", func(t *testing.T) {
		before := snapshot(t, repo)
		var wg sync.WaitGroup
		changes := make([]patchers.Change, 3)
		errs := make([]error, 3)
		for i := range changes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				changes[i], errs[i] = p.Plan(ctx, repo, setMemory("777Mi"))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Plan %d: %v", i, err)
			}
		}
		for i := 1; i < len(changes); i++ {
			if !reflect.DeepEqual(changes[0], changes[i]) {
				t.Errorf("concurrent Plans disagree:\n%+v\n%+v", changes[0], changes[i])
			}
		}
		if after := snapshot(t, repo); !reflect.DeepEqual(before, after) {
			t.Fatal("Plan changed the repository")
		}
		ch := changes[0]
		planned = ch
		if ch.NoOp || len(ch.Files) == 0 {
			t.Fatalf("no files for a change: %+v", ch)
		}
		if ch.Summary == "" || ch.RenderedDiff == "" {
			t.Errorf("summary %q, rendered diff %q: want both", ch.Summary, ch.RenderedDiff)
		}
		for _, f := range ch.Files {
			orig, err := fs.ReadFile(repo, f.Path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("read %s: %v", f.Path, err)
			}
			got, err := Apply(orig, f.Diff)
			if err != nil {
				t.Errorf("%s: diff does not apply: %v\n%s", f.Path, err, f.Diff)
				continue
			}
			if !bytes.Equal(got, f.Content) {
				t.Errorf("%s: the diff applied gives\n%s\nnot the Content\n%s", f.Path, got, f.Content)
			}
		}
		found := false
		for _, o := range ch.ChangedObjects {
			found = found || (o.Kind == target.Kind && o.Name == target.Name && (o.Namespace == target.Namespace || o.Namespace == ""))
		}
		if !found {
			t.Errorf("changed objects %v do not include %s", ch.ChangedObjects, target)
		}
		checkJSON(t, ch)
	})

	t.Run("NoOp", func(t *testing.T) {
		if len(planned.Files) == 0 {
			t.Skip("SetResources gave no files")
		}
		patched := copyFS(t, repo)
		for _, f := range planned.Files {
			patched[f.Path] = &fstest.MapFile{Data: f.Content, Mode: 0o644}
		}
		ch, err := p.Plan(ctx, patched, setMemory("777Mi"))
		if err != nil {
			t.Fatalf("Plan on the patched repo: %v", err)
		}
		if !ch.NoOp || len(ch.Files) != 0 {
			t.Errorf("the same intent again: want NoOp and no files, got %+v", ch)
		}
		if ch.Summary == "" {
			t.Error("a no-op without a summary")
		}
		checkJSON(t, ch)
	})
}

// checkJSON checks the keys of the Change's JSON form.
func checkJSON(t *testing.T, ch patchers.Change) {
	t.Helper()
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"changed_objects", "files", "rendered_diff", "summary"}
	if ch.NoOp {
		want = []string{"changed_objects", "files", "no_op", "rendered_diff", "summary"}
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("JSON keys %v, want %v", keys, want)
	}
	var files []map[string]any
	if err := json.Unmarshal(m["files"], &files); err != nil {
		t.Errorf("files: %v", err)
	}
	for _, f := range files {
		if len(f) != 2 || f["path"] == nil || f["diff"] == nil {
			t.Errorf("file entry %v: want exactly path and diff", f)
		}
	}
}

// spyFS counts the files opened through it.
type spyFS struct {
	fs.FS
	mu sync.Mutex
	n  int
}

func (s *spyFS) Open(name string) (fs.File, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.FS.Open(name)
}

func (s *spyFS) opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func snapshot(t *testing.T, repo fs.FS) map[string]string {
	t.Helper()
	m := map[string]string{}
	for p, f := range copyFS(t, repo) {
		m[p] = string(f.Data)
	}
	return m
}

func copyFS(t *testing.T, repo fs.FS) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(repo, p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatalf("copy repo: %v", err)
	}
	return m
}

// Apply applies a unified diff to orig strictly: every context and removed
// line must match. It is how tests check that a FileChange's Diff and
// Content agree.
func Apply(orig []byte, diff string) ([]byte, error) {
	src := splitLines(string(orig))
	var out []string
	pos := 0 // next line of src to copy
	lines := splitLines(diff)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || !strings.HasPrefix(l, "@@ ") {
			continue
		}
		start, err := hunkStart(l)
		if err != nil {
			return nil, err
		}
		if start < pos {
			return nil, fmt.Errorf("hunk %q overlaps the one before", strings.TrimSpace(l))
		}
		if start > len(src) {
			return nil, fmt.Errorf("hunk %q starts past the end", strings.TrimSpace(l))
		}
		out = append(out, src[pos:start]...)
		pos = start
		for i+1 < len(lines) {
			h := lines[i+1]
			if h == "" || strings.HasPrefix(h, "@@ ") || strings.HasPrefix(h, "--- ") {
				break
			}
			i++
			switch h[0] {
			case ' ', '-':
				if pos >= len(src) || strings.TrimSuffix(src[pos], "\n") != strings.TrimSuffix(h[1:], "\n") {
					return nil, fmt.Errorf("line %d does not match %q", pos+1, h)
				}
				if h[0] == ' ' {
					out = append(out, src[pos])
				}
				pos++
			case '+':
				out = append(out, h[1:])
			case '\\': // "\ No newline at end of file": the line before has none
				if n := len(out); n > 0 && (i < 1 || lines[i-1][0] == '+' || lines[i-1][0] == ' ') {
					out[n-1] = strings.TrimSuffix(out[n-1], "\n")
				}
			default:
				return nil, fmt.Errorf("bad diff line %q", h)
			}
		}
	}
	out = append(out, src[pos:]...)
	return []byte(strings.Join(out, "")), nil
}

// hunkStart is the 0-based first old line of a hunk header "@@ -a,b +c,d @@".
func hunkStart(h string) (int, error) {
	f := strings.Fields(h)
	if len(f) < 3 || !strings.HasPrefix(f[1], "-") {
		return 0, fmt.Errorf("bad hunk header %q", h)
	}
	old := strings.SplitN(f[1][1:], ",", 2)
	a, err := strconv.Atoi(old[0])
	if err != nil {
		return 0, fmt.Errorf("bad hunk header %q", h)
	}
	if len(old) == 2 && old[1] == "0" {
		return a, nil // an empty old range names the line before
	}
	if a == 0 {
		return 0, nil
	}
	return a - 1, nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}
