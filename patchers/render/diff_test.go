package render

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name byte for byte, or rewrites it
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s\nwant:\n%s", p, got, want)
	}
}

func TestUnifiedDiffGolden(t *testing.T) {
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	plain := func(i int) string { return "line " + strconv.Itoa(i) }
	tests := []struct {
		name string
		a, b string
	}{
		{"empty-to-text", "", "a\nb\n"},
		{"text-to-empty", "a\nb\n", ""},
		{"one-line-changed", "a\nb\nc\n", "a\nB\nc\n"},
		{"no-newline-added", "a\nb", "a\nb\n"},
		{"no-newline-removed", "a\nb\n", "a\nb"},
		{"no-newline-both", "a\nb", "a\nc"},
		{"no-newline-context", "a\nb\nc\nd\ne", "A\nb\nc\nd\ne"},
		{"insert-at-start", "b\nc\n", "a\nb\nc\n"},
		{"append-at-end", "a\nb\n", "a\nb\nc\n"},
		{"two-hunks", lines(30, plain), lines(30, func(i int) string {
			if i == 5 || i == 25 {
				return "changed " + strconv.Itoa(i)
			}
			return plain(i)
		})},
		{"merged-hunk", lines(20, plain), lines(20, func(i int) string {
			if i == 5 || i == 11 {
				return "changed " + strconv.Itoa(i)
			}
			return plain(i)
		})},
		{"gap-6-merged", lines(20, plain), lines(20, func(i int) string {
			if i == 5 || i == 12 {
				return "changed " + strconv.Itoa(i)
			}
			return plain(i)
		})},
		{"gap-7-split", lines(20, plain), lines(20, func(i int) string {
			if i == 5 || i == 13 {
				return "changed " + strconv.Itoa(i)
			}
			return plain(i)
		})},
		{"manifest", "spec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits:\n            memory: 256Mi\n",
			"spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits:\n            memory: 512Mi\n            cpu: 500m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UnifiedDiff("f.yaml", "f.yaml", []byte(tt.a), []byte(tt.b))
			golden(t, "diff/"+tt.name+".diff", []byte(got))
			// git names the files a/a/f.yaml and b/b/f.yaml; compare
			// from the first hunk on.
			if g, ok := gitDiff(t, tt.a, tt.b); ok && hunks(g) != hunks(got) {
				t.Errorf("git diff prints\n%s\nUnifiedDiff\n%s", g, got)
			}
			if back := applyDiff(t, tt.a, got); back != tt.b {
				t.Errorf("applying the diff gives %q, want %q", back, tt.b)
			}
		})
	}
}

func hunks(diff string) string {
	if i := strings.Index(diff, "\n@@ "); i >= 0 {
		return diff[i+1:]
	}
	return diff
}

// gitDiff returns what git diff --no-index prints for a and b from its
// "---" line on, or ok false when git is not installed.
func gitDiff(t *testing.T, a, b string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return "", false
	}
	dir := t.TempDir()
	for name, data := range map[string]string{"a/f.yaml": a, "b/f.yaml": b} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "-c", "diff.noprefix=false", "diff", "--no-index", "--no-color", "--no-ext-diff", "-U3", "--diff-algorithm=myers", "a/f.yaml", "b/f.yaml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, _ := cmd.Output() // exit status 1 means "differs"
	s := string(out)
	i := strings.Index(s, "--- ")
	if i < 0 {
		return "", true
	}
	return s[i:], true
}

func TestUnifiedDiffEqual(t *testing.T) {
	for _, s := range []string{"", "a\n", "a\nb", "x\ny\nz\n"} {
		if d := UnifiedDiff("a", "b", []byte(s), []byte(s)); d != "" {
			t.Errorf("UnifiedDiff(%q, %q) = %q, want empty", s, s, d)
		}
	}
	if d := UnifiedDiff("a", "b", nil, []byte{}); d != "" {
		t.Errorf("nil vs empty: %q", d)
	}
}

func TestUnifiedDiffDevNull(t *testing.T) {
	got := UnifiedDiff("/dev/null", "new.yaml", nil, []byte("a\n"))
	want := "--- /dev/null\n+++ b/new.yaml\n@@ -0,0 +1 @@\n+a\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestUnifiedDiffMinimal checks on random inputs that the diff applies and
// that its edit count is the shortest, by a quadratic LCS.
func TestUnifiedDiffMinimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		a := randLines(r, r.IntN(25), 1+r.IntN(4))
		b := randLines(r, r.IntN(25), 1+r.IntN(4))
		if r.IntN(3) == 0 {
			b = mutate(r, a)
		}
		as, bs := strings.Join(a, ""), strings.Join(b, "")
		d := UnifiedDiff("f", "f", []byte(as), []byte(bs))
		if as == bs {
			if d != "" {
				t.Fatalf("case %d: equal inputs gave a diff", iter)
			}
			continue
		}
		if back := applyDiff(t, as, d); back != bs {
			t.Fatalf("case %d: a=%q b=%q: diff\n%s\napplies to %q", iter, as, bs, d, back)
		}
		edits := 0
		for _, l := range strings.Split(d, "\n") {
			if (strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "--- ")) || (strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++ ")) {
				edits++
			}
		}
		al, bl := splitLines(as), splitLines(bs)
		if want := len(al) + len(bl) - 2*lcs(al, bl); edits != want {
			t.Fatalf("case %d: a=%q b=%q: %d edits, shortest is %d\n%s", iter, as, bs, edits, want, d)
		}
	}
}

func randLines(r *rand.Rand, n, alphabet int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a'+r.IntN(alphabet))) + "\n"
	}
	if n > 0 && r.IntN(4) == 0 {
		out[n-1] = strings.TrimSuffix(out[n-1], "\n")
	}
	return out
}

func mutate(r *rand.Rand, a []string) []string {
	b := append([]string(nil), a...)
	for range 1 + r.IntN(3) {
		i := r.IntN(len(b) + 1)
		switch r.IntN(3) {
		case 0:
			b = append(b[:i], append([]string{"new\n"}, b[i:]...)...)
		case 1:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		default:
			if i < len(b) {
				b[i] = "changed\n"
			}
		}
	}
	return b
}

func lcs(a, b []string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// applyDiff applies a unified diff made by UnifiedDiff to a, checking the
// hunk headers' line numbers and counts on the way.
func applyDiff(t *testing.T, a, diff string) string {
	t.Helper()
	if diff == "" {
		return a
	}
	src := splitLines(a)
	var out []string
	dl := strings.SplitAfter(diff, "\n")
	if !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		t.Fatalf("bad headers in\n%s", diff)
	}
	pos := 0
	for i := 2; i < len(dl) && dl[i] != ""; {
		var as, ac, bs, bc int
		h := dl[i]
		fields := strings.Fields(h)
		if len(fields) < 4 || fields[0] != "@@" || fields[3] != "@@" || fields[1][0] != '-' || fields[2][0] != '+' {
			t.Fatalf("bad hunk header %q", h)
		}
		as, ac = parseRange(t, fields[1][1:])
		bs, bc = parseRange(t, fields[2][1:])
		start := as - 1
		if ac == 0 {
			start = as
		}
		out = append(out, src[pos:start]...)
		pos = start
		if wantB := len(out) + 1; bc > 0 && bs != wantB || bc == 0 && bs != len(out) {
			t.Fatalf("hunk %q: new start %d, want %d", h, bs, wantB)
		}
		i++
		na, nb := 0, 0
		for i < len(dl) && dl[i] != "" && !strings.HasPrefix(dl[i], "@@") {
			l := dl[i]
			i++
			text := l[1:]
			if i < len(dl) && strings.HasPrefix(dl[i], `\ No newline`) {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch l[0] {
			case ' ':
				if src[pos] != text {
					t.Fatalf("context %q does not match %q", text, src[pos])
				}
				out = append(out, text)
				pos++
				na++
				nb++
			case '-':
				if src[pos] != text {
					t.Fatalf("deleted %q does not match %q", text, src[pos])
				}
				pos++
				na++
			case '+':
				out = append(out, text)
				nb++
			default:
				t.Fatalf("bad diff line %q", l)
			}
		}
		if na != ac || nb != bc {
			t.Fatalf("hunk %q has %d/%d lines", h, na, nb)
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, "")
}

func parseRange(t *testing.T, s string) (start, n int) {
	t.Helper()
	a, b, ok := strings.Cut(s, ",")
	start, err := strconv.Atoi(a)
	if err != nil {
		t.Fatalf("bad range %q", s)
	}
	if !ok {
		return start, 1
	}
	n, err = strconv.Atoi(b)
	if err != nil {
		t.Fatalf("bad range %q", s)
	}
	return start, n
}
