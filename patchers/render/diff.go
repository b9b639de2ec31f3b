package render

import (
	"fmt"
	"strings"
)

// contextLines is the number of unchanged lines shown around each change.
const contextLines = 3

// UnifiedDiff returns the unified diff of a and b as git diff prints it:
// "--- a/<aName>" and "+++ b/<bName>" headers (a name of "/dev/null" is
// printed as is), then "@@ -l,s +l,s @@ heading" hunks with 3 lines of
// context, and "\ No newline at end of file" after a last line without a
// newline. The heading is git's default: the nearest line above the hunk
// that starts with a letter, "_" or "$" (for manifests, the top-level key).
// It returns "" when a and b are equal. The line diff is Myers' O(ND)
// algorithm in linear space, so its cost grows with the size of the
// change, not the product of the sizes.
func UnifiedDiff(aName, bName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitLines(string(a)), splitLines(string(b))
	ids := make(map[string]int, max(len(al), len(bl)))
	ai, bi := intern(al, ids), intern(bl, ids)
	d := &differ{a: ai, b: bi, delA: make([]bool, len(ai)), insB: make([]bool, len(bi))}
	size := (len(ai)+len(bi)+1)/2 + 2
	d.vf, d.vb = make([]int, 2*size+1), make([]int, 2*size+1)
	d.compare(0, len(ai), 0, len(bi))

	ops := d.ops()
	var sb strings.Builder
	sb.WriteString("--- " + diffName("a/", aName) + "\n")
	sb.WriteString("+++ " + diffName("b/", bName) + "\n")
	for start := 0; start < len(ops); {
		// Find the next change, then the hunk it opens: changes closer
		// than 2*contextLines equal lines share one.
		first := start
		for first < len(ops) && ops[first].kind == opEqual {
			first++
		}
		if first == len(ops) {
			break
		}
		last := first
		for k := first + 1; k < len(ops); k++ {
			if ops[k].kind == opEqual {
				continue
			}
			if k-last-1 > 2*contextLines {
				break
			}
			last = k
		}
		lo, hi := max(first-contextLines, 0), min(last+contextLines+1, len(ops))
		writeHunk(&sb, ops[lo:hi], al, bl)
		start = hi
	}
	return sb.String()
}

func diffName(prefix, name string) string {
	if name == "/dev/null" {
		return name
	}
	return prefix + name
}

// splitLines splits s after each "\n"; a last line without one is kept.
func splitLines(s string) []string {
	out := make([]string, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func intern(lines []string, ids map[string]int) []int {
	out := make([]int, len(lines))
	for i, l := range lines {
		id, ok := ids[l]
		if !ok {
			id = len(ids)
			ids[l] = id
		}
		out[i] = id
	}
	return out
}

type opKind uint8

const (
	opEqual opKind = iota
	opDelete
	opInsert
)

// op is one line of the edit script; i and j are the line indexes of a
// and b before it.
type op struct {
	kind opKind
	i, j int
}

func writeHunk(sb *strings.Builder, ops []op, al, bl []string) {
	aStart, bStart := ops[0].i, ops[0].j
	aCount, bCount := 0, 0
	for _, o := range ops {
		if o.kind != opInsert {
			aCount++
		}
		if o.kind != opDelete {
			bCount++
		}
	}
	sb.WriteString("@@ -" + hunkRange(aStart, aCount) + " +" + hunkRange(bStart, bCount) + " @@")
	if f := funcLine(al, aStart); f != "" {
		sb.WriteString(" " + f)
	}
	sb.WriteByte('\n')
	for _, o := range ops {
		var line string
		switch o.kind {
		case opEqual:
			sb.WriteByte(' ')
			line = al[o.i]
		case opDelete:
			sb.WriteByte('-')
			line = al[o.i]
		case opInsert:
			sb.WriteByte('+')
			line = bl[o.j]
		}
		sb.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// funcLine returns the hunk heading git diff prints by default: the last
// line of a before line index start that begins with a letter, "_" or "$",
// cut to 80 bytes and trimmed of trailing white space. For manifests that
// is the nearest top-level key above the hunk.
func funcLine(al []string, start int) string {
	for i := min(start, len(al)) - 1; i >= 0; i-- {
		l := al[i]
		if l == "" {
			continue
		}
		if c := l[0]; c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			if len(l) > 80 {
				l = l[:80]
			}
			return strings.TrimRight(l, " \t\r\n\f\v")
		}
	}
	return ""
}

// hunkRange formats a hunk side as git does: "l,n", "l" when n is 1, and
// the line before the hunk when n is 0.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// differ marks the lines of a deleted and of b inserted by a shortest
// edit script (Myers 1986, "An O(ND) Difference Algorithm and Its
// Variations", section 4b: the linear-space middle-snake refinement).
type differ struct {
	a, b       []int
	delA, insB []bool
	vf, vb     []int
}

func (d *differ) ops() []op {
	out := make([]op, 0, max(len(d.a), len(d.b))+1)
	i, j := 0, 0
	for i < len(d.a) || j < len(d.b) {
		switch {
		case i < len(d.a) && d.delA[i]:
			out = append(out, op{opDelete, i, j})
			i++
		case j < len(d.b) && d.insB[j]:
			out = append(out, op{opInsert, i, j})
			j++
		default:
			out = append(out, op{opEqual, i, j})
			i++
			j++
		}
	}
	return out
}

// compare marks the edits that turn a[aLo:aHi] into b[bLo:bHi].
func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	for aLo < aHi && bLo < bHi && d.a[aLo] == d.b[bLo] {
		aLo++
		bLo++
	}
	for aLo < aHi && bLo < bHi && d.a[aHi-1] == d.b[bHi-1] {
		aHi--
		bHi--
	}
	switch {
	case aLo == aHi:
		for j := bLo; j < bHi; j++ {
			d.insB[j] = true
		}
		return
	case bLo == bHi:
		for i := aLo; i < aHi; i++ {
			d.delA[i] = true
		}
		return
	}
	xs, ys, xe, ye, ok := d.middleSnake(aLo, aHi, bLo, bHi)
	if !ok {
		for i := aLo; i < aHi; i++ {
			d.delA[i] = true
		}
		for j := bLo; j < bHi; j++ {
			d.insB[j] = true
		}
		return
	}
	d.compare(aLo, xs, bLo, ys)
	d.compare(xe, aHi, ye, bHi)
}

// middleSnake returns the start and end of the middle snake of an optimal
// path from (aLo, bLo) to (aHi, bHi): it runs the forward and the reverse
// search one edit at a time until they overlap on a diagonal. Diagonal k
// is x-y in forward coordinates, relative to (aLo, bLo); the reverse search
// works in coordinates (u, v) = (N-x, M-y), on diagonal kr = delta-k.
// Only moves that stay inside the N×M grid count; a diagonal no path can
// reach yet holds -1. ok is false if the searches never met, which the
// algorithm rules out; the caller then falls back to replacing the block.
func (d *differ) middleSnake(aLo, aHi, bLo, bHi int) (xs, ys, xe, ye int, ok bool) {
	n, m := aHi-aLo, bHi-bLo
	delta := n - m
	odd := delta&1 != 0
	limit := (n + m + 1) / 2
	off := limit + 1
	vf, vb := d.vf, d.vb
	// next picks the furthest in-grid start on diagonal k from the
	// (e-1)-paths on k-1 (a move right) and k+1 (a move down).
	next := func(v []int, k, e int) int {
		x := -1
		if k+1 <= e-1 || e == 0 {
			if xd := v[off+k+1]; xd >= 0 && xd-k <= m {
				x = xd
			}
		}
		if k-1 >= -(e - 1) {
			if xr := v[off+k-1]; xr >= 0 && xr+1 <= n && xr+1 > x {
				x = xr + 1
			}
		}
		return x
	}
	vf[off+1], vb[off+1] = 0, 0
	for e := 0; e <= limit; e++ {
		for k := -e; k <= e; k += 2 {
			x := next(vf, k, e)
			if x < 0 || x-k < 0 {
				vf[off+k] = -1
				continue
			}
			y := x - k
			sx, sy := x, y
			for x < n && y < m && d.a[aLo+x] == d.b[bLo+y] {
				x++
				y++
			}
			vf[off+k] = x
			if kr := delta - k; odd && kr >= -(e-1) && kr <= e-1 && vb[off+kr] >= 0 && x+vb[off+kr] >= n {
				return aLo + sx, bLo + sy, aLo + x, bLo + y, true
			}
		}
		for kr := -e; kr <= e; kr += 2 {
			u := next(vb, kr, e)
			if u < 0 || u-kr < 0 {
				vb[off+kr] = -1
				continue
			}
			v := u - kr
			su, sv := u, v
			for u < n && v < m && d.a[aHi-1-u] == d.b[bHi-1-v] {
				u++
				v++
			}
			vb[off+kr] = u
			if k := delta - kr; !odd && k >= -e && k <= e && vf[off+k] >= 0 && vf[off+k]+u >= n {
				return aHi - u, bHi - v, aHi - su, bHi - sv, true
			}
		}
	}
	return 0, 0, 0, 0, false
}
