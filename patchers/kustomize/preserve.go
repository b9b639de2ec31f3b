package kustomize

import (
	"bytes"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// maxMergeCells bounds the line-matching table of preserve; larger files
// keep the encoder's formatting.
const maxMergeCells = 4 << 20

// encode writes the edited nodes of the file whose original text is orig,
// keeping orig's own text wherever the edit did not reach: the encoder
// drops blank lines and normalises some spacing, so the edit is carried
// over to the original as a line-level three-way merge of the original,
// the original encoded unedited, and the edited encoding.
func encode(orig []byte, edited []*yaml.RNode) ([]byte, error) {
	r1, err := writeNodes(orig, edited)
	if err != nil {
		return nil, err
	}
	nodes, err := readNodes(orig)
	if err != nil {
		return nil, err
	}
	r0, err := writeNodes(orig, nodes)
	if err != nil {
		return nil, err
	}
	merged := preserve(orig, r0, r1)
	// The merge must mean what the edited encoding means; when it does
	// not (an unusual layout), the encoder's text is the safe answer.
	if !sameYAML(merged, r1) {
		return r1, nil
	}
	return merged, nil
}

// sameYAML reports whether a and b parse to the same documents, comments
// included.
func sameYAML(a, b []byte) bool {
	na, err1 := readNodes(a)
	nb, err2 := readNodes(b)
	if err1 != nil || err2 != nil || len(na) != len(nb) {
		return false
	}
	ea, err1 := writeNodes(a, na)
	eb, err2 := writeNodes(b, nb)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// preserve merges: orig and r0 differ by formatting only (blank lines,
// spacing), r0 and r1 by the edit. Lines the edit kept are written as orig
// has them, blank lines the encoder dropped are put back, and an edited
// line keeps the spacing before its comment.
func preserve(orig, r0, r1 []byte) []byte {
	o, b, e := lines(orig), lines(r0), lines(r1)
	if len(o)*len(b) > maxMergeCells || len(b)*len(e) > maxMergeCells {
		return r1
	}
	bo := matchBy(b, o, normalize) // r0 line -> orig line, or -1
	be := matchBy(b, e, nil)       // r0 line -> r1 line, or -1
	var out bytes.Buffer
	po := 0 // next orig line not yet passed
	// pass writes the blank orig lines before orig line to and moves past it.
	pass := func(to int) {
		for ; po < to; po++ {
			if strings.TrimSpace(o[po]) == "" {
				out.WriteString(o[po])
			}
		}
		po = to + 1
	}
	i, j := 0, 0
	for i < len(b) || j < len(e) {
		switch {
		case i < len(b) && be[i] == j: // kept
			if bo[i] >= 0 {
				pass(bo[i])
				out.WriteString(o[bo[i]])
			} else {
				out.WriteString(b[i])
			}
			i, j = i+1, j+1
		case i < len(b) && be[i] < 0: // deleted, or replaced by e[j]
			if bo[i] >= 0 {
				pass(bo[i])
			}
			if j < len(e) && (i+1 >= len(b) || be[i+1] != j) && !inMatch(be, j) {
				line := e[j]
				if bo[i] >= 0 {
					line = keepCommentSpacing(o[bo[i]], line)
				}
				out.WriteString(line)
				j++
			}
			i++
		default: // inserted
			out.WriteString(e[j])
			j++
		}
	}
	pass(len(o))
	return out.Bytes()
}

// inMatch reports whether r1 line j is matched to some r0 line.
func inMatch(be []int, j int) bool {
	return slices.Contains(be, j)
}

// normalize is a line with runs of spaces after its indentation made one.
func normalize(l string) string {
	t := strings.TrimLeft(l, " ")
	return l[:len(l)-len(t)] + strings.Join(strings.Fields(t), " ")
}

func lines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

func write(out *bytes.Buffer, ls []string) {
	for _, l := range ls {
		out.WriteString(l)
	}
}

// matchBy is a longest common subsequence of a and b, lines compared by
// key (exact when nil): for each line of a, the line of b it is matched
// with, or -1.
func matchBy(a, b []string, key func(string) string) []int {
	if key != nil {
		a, b = mapLines(a, key), mapLines(b, key)
	}
	n, m := len(a), len(b)
	// t[i][j] is the LCS length of a[i:] and b[j:].
	t := make([][]int32, n+1)
	for i := range t {
		t[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i] == b[j]:
			out[i] = j
			i++
			j++
		case t[i+1][j] >= t[i][j+1]:
			i++
		default:
			j++
		}
	}
	return out
}

// keepCommentSpacing gives the edited line the original's spacing before
// an identical line comment: "count: 5 # x" edited from "count: 3    # x"
// becomes "count: 5    # x".
func keepCommentSpacing(orig, edited string) string {
	oi, ei := strings.LastIndex(orig, " #"), strings.LastIndex(edited, " #")
	if oi < 0 || ei < 0 || orig[oi:] == "" || strings.TrimLeft(orig[oi:], " ") != strings.TrimLeft(edited[ei:], " ") {
		return edited
	}
	ov := strings.TrimRight(orig[:oi+1], " ")
	pad := orig[len(ov) : oi+1]
	return strings.TrimRight(edited[:ei+1], " ") + pad + strings.TrimLeft(edited[ei:], " ")
}

func mapLines(ls []string, f func(string) string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = f(l)
	}
	return out
}
