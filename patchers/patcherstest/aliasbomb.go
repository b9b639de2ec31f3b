package patcherstest

import (
	"fmt"
	"strings"
)

// AliasBomb returns the YAML mapping lines of a billion-laughs document:
// levels anchors l0..l(levels-1), each a list of width aliases to the one
// before, so that expanding it makes width^levels nodes. Callers prepend
// what makes it a manifest or a values file. Tests keep it to about a
// million nodes, so that a regression costs memory, not the machine.
func AliasBomb(width, levels int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [" + strings.TrimSuffix(strings.Repeat("lol,", width), ",") + "]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), width), ","))
	}
	return b.String()
}
