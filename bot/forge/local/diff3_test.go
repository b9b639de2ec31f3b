package local

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMerge3(t *testing.T) {
	const base = "a\nb\nc\nd\ne\n"
	cases := []struct {
		name           string
		base, ours, th string
		want           string // ignored when conflict
		conflict       bool
	}{
		{name: "nothing changed", base: base, ours: base, th: base, want: base},
		{name: "ours only", base: base, ours: "a\nB\nc\nd\ne\n", th: base, want: "a\nB\nc\nd\ne\n"},
		{name: "theirs only", base: base, ours: base, th: "a\nb\nc\nD\ne\n", want: "a\nb\nc\nD\ne\n"},
		{name: "separate lines", base: base, ours: "a\nB\nc\nd\ne\n", th: "a\nb\nc\nD\ne\n", want: "a\nB\nc\nD\ne\n"},
		{name: "adjacent lines", base: base, ours: "a\nB\nc\nd\ne\n", th: "a\nb\nC\nd\ne\n", want: "a\nB\nC\nd\ne\n"},
		{name: "same change", base: base, ours: "a\nB\nc\nd\ne\n", th: "a\nB\nc\nd\ne\n", want: "a\nB\nc\nd\ne\n"},
		{name: "same line differently", base: base, ours: "a\nB\nc\nd\ne\n", th: "a\nBB\nc\nd\ne\n", conflict: true},
		{name: "overlapping ranges", base: base, ours: "a\nX\nY\nd\ne\n", th: "a\nb\nZ\nW\ne\n", conflict: true},
		{name: "delete and change", base: base, ours: "a\nc\nd\ne\n", th: "a\nBB\nc\nd\ne\n", conflict: true},
		{name: "both delete the same", base: base, ours: "a\nc\nd\ne\n", th: "a\nc\nd\ne\n", want: "a\nc\nd\ne\n"},
		{name: "inserts at one place", base: base, ours: "a\nx\nb\nc\nd\ne\n", th: "a\ny\nb\nc\nd\ne\n", conflict: true},
		{name: "same insert at one place", base: base, ours: "a\nx\nb\nc\nd\ne\n", th: "a\nx\nb\nc\nd\ne\n", want: "a\nx\nb\nc\nd\ne\n"},
		{name: "insert next to a change", base: base, ours: "a\nx\nb\nc\nd\ne\n", th: "a\nB\nc\nd\ne\n", conflict: true},
		{name: "inserts apart", base: base, ours: "x\na\nb\nc\nd\ne\n", th: "a\nb\nc\nd\ne\ny\n", want: "x\na\nb\nc\nd\ne\ny\n"},
		{name: "newline at end added", base: "a\nb\nc", ours: "a\nb\nc\n", th: "A\nb\nc", want: "A\nb\nc\n"},
		{name: "last line without newline changed both ways", base: "a\nb\nc", ours: "a\nb\nc\n", th: "a\nb\nC", conflict: true},
		{name: "empty base, same content", base: "", ours: "x\n", th: "x\n", want: "x\n"},
		{name: "empty base, different content", base: "", ours: "x\n", th: "y\n", conflict: true},
		{name: "everything deleted and an edit", base: base, ours: "", th: "a\nb\nC\nd\ne\n", conflict: true},
		{name: "crlf lines", base: "a\r\nb\r\nc\r\nd\r\n", ours: "A\r\nb\r\nc\r\nd\r\n", th: "a\r\nb\r\nc\r\nD\r\n", want: "A\r\nb\r\nc\r\nD\r\n"},
		{name: "yaml limits", base: "resources:\n  requests:\n    cpu: 500m\n    memory: 384Mi\n  limits:\n    memory: 512Mi\n",
			ours: "resources:\n  requests:\n    cpu: 750m\n    memory: 384Mi\n  limits:\n    memory: 512Mi\n",
			th:   "resources:\n  requests:\n    cpu: 500m\n    memory: 384Mi\n  limits:\n    memory: 768Mi\n",
			want: "resources:\n  requests:\n    cpu: 750m\n    memory: 384Mi\n  limits:\n    memory: 768Mi\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, conflict := merge3([]byte(c.base), []byte(c.ours), []byte(c.th))
			if conflict != c.conflict {
				t.Fatalf("conflict = %v, want %v (merged %q)", conflict, c.conflict, got)
			}
			if !c.conflict && string(got) != c.want {
				t.Errorf("merged %q, want %q", got, c.want)
			}
			// Merging is symmetric.
			got2, conflict2 := merge3([]byte(c.base), []byte(c.th), []byte(c.ours))
			if conflict2 != conflict || string(got2) != string(got) {
				t.Errorf("swapped sides: %q %v, want %q %v", got2, conflict2, got, conflict)
			}
		})
	}
}

// TestDiffLinesApplies checks on random inputs that the hunks turn a into
// b, are ordered and separated by unchanged lines, and that merging a
// change with no change on the other side gives the change.
func TestDiffLinesApplies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() []int {
		s := make([]int, rng.IntN(30))
		for i := range s {
			s[i] = rng.IntN(5)
		}
		return s
	}
	for range 3000 {
		a, b := random(), random()
		hs := diffLines(a, b)
		var out []int
		pos := 0
		for i, h := range hs {
			if h.oLo < pos || (i > 0 && h.oLo == pos) || h.oHi < h.oLo || h.nHi < h.nLo {
				t.Fatalf("diff(%v, %v): bad hunks %v", a, b, hs)
			}
			out = append(out, a[pos:h.oLo]...)
			out = append(out, b[h.nLo:h.nHi]...)
			pos = h.oHi
		}
		out = append(out, a[pos:]...)
		if len(out) != len(b) {
			t.Fatalf("diff(%v, %v) = %v rebuilds %v", a, b, hs, out)
		}
		for i := range out {
			if out[i] != b[i] {
				t.Fatalf("diff(%v, %v) = %v rebuilds %v", a, b, hs, out)
			}
		}
		// Myers is minimal: the edit count is at most len(a)+len(b) minus
		// twice any common subsequence, e.g. the LCS by dynamic programming.
		edits := 0
		for _, h := range hs {
			edits += h.oHi - h.oLo + h.nHi - h.nLo
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("diff(%v, %v) makes %d edits, the minimum is %d", a, b, edits, want)
		}
	}
}

func lcs(a, b []int) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func TestMerge3OneSide(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"a\n", "b\n", "c\n", "d"}
	random := func() string {
		var s strings.Builder
		for range rng.IntN(20) {
			s.WriteString(words[rng.IntN(3)])
		}
		return s.String()
	}
	for range 1000 {
		o, a := random(), random()
		if got, conflict := merge3([]byte(o), []byte(a), []byte(o)); conflict || string(got) != a {
			t.Fatalf("merge3(%q, %q, base) = %q %v, want ours", o, a, got, conflict)
		}
		if got, conflict := merge3([]byte(o), []byte(o), []byte(a)); conflict || string(got) != a {
			t.Fatalf("merge3(%q, base, %q) = %q %v, want theirs", o, a, got, conflict)
		}
	}
}

// TestDiffLinesTooDifferent: inputs more than maxEdits apart become one
// hunk, still a correct diff.
func TestDiffLinesTooDifferent(t *testing.T) {
	a, b := make([]int, 2*maxEdits), make([]int, 2*maxEdits)
	for i := range a {
		a[i], b[i] = 2*i, 2*i+1
	}
	a[len(a)/2], b[len(b)/2] = -1, -1 // one common line, too far in
	hs := diffLines(a, b)
	if len(hs) != 1 || hs[0] != (hunk{0, len(a), 0, len(b)}) {
		t.Errorf("diff of very different inputs = %v, want one hunk over both", hs)
	}
	if _, conflict := merge3([]byte("x\n"), []byte("y\n"), []byte("z\n")); !conflict {
		t.Error("no conflict")
	}
}
