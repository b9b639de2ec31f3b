package local

import (
	"bytes"
	"slices"
)

// hunk is one difference between an original and a new list of lines:
// original lines [oLo, oHi) became new lines [nLo, nHi). oLo == oHi is a
// pure insertion before original line oLo.
type hunk struct{ oLo, oHi, nLo, nHi int }

// splitLines splits b after every newline; a last line without one is kept.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// diffLines returns the hunks that turn a into b, in order, computed with
// Myers' O(ND) algorithm on the lines between their common prefix and
// suffix. Hunks are separated by at least one unchanged line.
func diffLines(a, b []int) []hunk {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	matches := myers(ma, mb)
	// Turn the matched pairs, plus a sentinel at the end, into the gaps
	// between them.
	matches = append(matches, [2]int{len(ma), len(mb)})
	var hs []hunk
	x, y := 0, 0
	for _, m := range matches {
		if m[0] > x || m[1] > y {
			hs = append(hs, hunk{pre + x, pre + m[0], pre + y, pre + m[1]})
		}
		x, y = m[0]+1, m[1]+1
	}
	return hs
}

// maxEdits bounds the edit distance myers searches: its trace takes
// (D+1)² ints. Past it the inputs are treated as wholly different, a
// valid if coarse diff that can only make a merge conflict sooner.
const maxEdits = 1000

// myers returns the pairs (i, j) with a[i] == b[j] of a longest common
// subsequence of a and b, in order; none when a and b are more than
// maxEdits edits apart.
func myers(a, b []int) [][2]int {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return nil
	}
	// trace[d] holds V after step d for diagonals -d..d (index k+d).
	var trace [][]int
	get := func(v []int, d, k int) int {
		if k < -d || k > d {
			return -1
		}
		return v[k+d]
	}
	var prev []int
	end := -1
	for d := 0; d <= n+m && end < 0; d++ {
		if d > maxEdits {
			return nil
		}
		v := make([]int, 2*d+1)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && get(prev, d-1, k-1) < get(prev, d-1, k+1)) {
				x = get(prev, d-1, k+1) // down: an insertion from b
			} else {
				x = get(prev, d-1, k-1) + 1 // right: a deletion from a
			}
			if d == 0 {
				x = 0
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[k+d] = x
			if x >= n && y >= m {
				end = d
			}
		}
		trace = append(trace, v)
		prev = v
	}
	var out [][2]int
	x, y := n, m
	for d := end; d > 0; d-- {
		pv := trace[d-1]
		k := x - y
		var pk int
		if k == -d || (k != d && get(pv, d-1, k-1) < get(pv, d-1, k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := get(pv, d-1, pk)
		py := px - pk
		// The snake after the move ends at (x, y); it starts one step
		// from (px, py).
		sx, sy := px, py+1
		if pk == k-1 {
			sx, sy = px+1, py
		}
		for x > sx && y > sy {
			x--
			y--
			out = append(out, [2]int{x, y})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x--
		y--
		out = append(out, [2]int{x, y})
	}
	slices.Reverse(out)
	return out
}

// merge3 merges the changes from base to ours and from base to theirs,
// line by line. Changes that touch different lines of base combine;
// identical changes are taken once. conflict is true, and the result nil,
// when the two sides change overlapping lines differently (an insertion
// touching the other side's change counts as overlapping, since their order
// would be a guess).
func merge3(base, ours, theirs []byte) (merged []byte, conflict bool) {
	ids := map[string]int{}
	intern := func(ls [][]byte) []int {
		out := make([]int, len(ls))
		for i, l := range ls {
			id, ok := ids[string(l)]
			if !ok {
				id = len(ids)
				ids[string(l)] = id
			}
			out[i] = id
		}
		return out
	}
	o, a, b := splitLines(base), splitLines(ours), splitLines(theirs)
	ha, hb := diffLines(intern(o), intern(a)), diffLines(intern(o), intern(b))

	var out bytes.Buffer
	pos := 0 // next base line to copy
	for len(ha) > 0 || len(hb) > 0 {
		// Start a region at the earliest hunk and grow it while a hunk
		// of either side touches it.
		var ra, rb []hunk
		first := func() (h hunk, fromA bool) {
			if len(hb) == 0 || (len(ha) > 0 && ha[0].oLo <= hb[0].oLo) {
				return ha[0], true
			}
			return hb[0], false
		}
		h, fromA := first()
		lo, hi := h.oLo, h.oHi
		for {
			if fromA {
				ra, ha = append(ra, h), ha[1:]
			} else {
				rb, hb = append(rb, h), hb[1:]
			}
			hi = max(hi, h.oHi)
			if len(ha) == 0 && len(hb) == 0 {
				break
			}
			h, fromA = first()
			if !touches(lo, hi, h) {
				break
			}
		}
		for _, l := range o[pos:lo] {
			out.Write(l)
		}
		ta, tb := side(a, o, lo, hi, ra), side(b, o, lo, hi, rb)
		switch {
		case len(rb) == 0:
			writeLines(&out, ta)
		case len(ra) == 0:
			writeLines(&out, tb)
		case slices.EqualFunc(ta, tb, bytes.Equal):
			writeLines(&out, ta)
		default:
			return nil, true
		}
		pos = hi
	}
	for _, l := range o[pos:] {
		out.Write(l)
	}
	return out.Bytes(), false
}

// touches reports whether h overlaps the base region [lo, hi): they share
// a line, or one of them is an insertion at the other's edge or inside it.
func touches(lo, hi int, h hunk) bool {
	if h.oLo < hi {
		return true
	}
	return h.oLo == hi && (h.oLo == h.oHi || lo == hi)
}

// side is one side's lines for the base region [lo, hi), given the side's
// hunks inside it (none: the base lines unchanged).
func side(lines, base [][]byte, lo, hi int, hs []hunk) [][]byte {
	if len(hs) == 0 {
		return base[lo:hi]
	}
	first, last := hs[0], hs[len(hs)-1]
	return lines[first.nLo-(first.oLo-lo) : last.nHi+(hi-last.oHi)]
}

func writeLines(w *bytes.Buffer, ls [][]byte) {
	for _, l := range ls {
		w.Write(l)
	}
}
