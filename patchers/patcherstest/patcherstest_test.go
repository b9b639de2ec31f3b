package patcherstest

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers/render"
)

// TestApply: Apply undoes render.UnifiedDiff on random line edits,
// including files without a final newline.
func TestApply(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "spec:", "  x: 1", ""}
	gen := func() string {
		var lines []string
		for range r.IntN(30) {
			lines = append(lines, words[r.IntN(len(words))])
		}
		s := strings.Join(lines, "\n")
		if r.IntN(3) > 0 && s != "" {
			s += "\n"
		}
		return s
	}
	for i := range 2000 {
		a := gen()
		b := a
		if r.IntN(2) == 0 {
			b = gen()
		} else if lines := strings.SplitAfter(a, "\n"); len(lines) > 1 {
			lines[r.IntN(len(lines))] = "changed\n"
			b = strings.Join(lines, "")
		}
		d := render.UnifiedDiff("f", "f", []byte(a), []byte(b))
		got, err := Apply([]byte(a), d)
		if err != nil {
			t.Fatalf("case %d: %v\na=%q\nb=%q\n%s", i, err, a, b, d)
		}
		if string(got) != b {
			t.Fatalf("case %d: got %q, want %q\n%s", i, got, b, d)
		}
	}
}

func TestApplyRejectsMismatch(t *testing.T) {
	d := render.UnifiedDiff("f", "f", []byte("a\nb\nc\n"), []byte("a\nB\nc\n"))
	if _, err := Apply([]byte("a\nx\nc\n"), d); err == nil {
		t.Error("a diff applied to a file it does not match")
	}
}
