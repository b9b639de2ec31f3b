package github

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// aliasBomb is a billion-laughs .medic.yaml: levels anchors, each a list
// of fan aliases of the one before, under labels, and reviewers.users an
// alias of the last. Expanded, it is fan^levels strings.
func aliasBomb(levels, fan int) string {
	var b strings.Builder
	b.WriteString("version: 1\nlabels:\n  - &l0 [" + strings.TrimSuffix(strings.Repeat("lol,", fan), ",") + "]\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), fan), ",")
		fmt.Fprintf(&b, "  - &l%d [%s]\n", i, refs)
	}
	fmt.Fprintf(&b, "reviewers:\n  users: *l%d\n", levels)
	return b.String()
}

// TestParseRepoConfigAliasBomb: an alias bomb is refused naming the line,
// having allocated a few hundred KB: nothing expanded. The payload is
// capped (10^6 strings expanded) so that a parser that did expand it would
// use a few hundred MB, not the machine.
func TestParseRepoConfigAliasBomb(t *testing.T) {
	bomb := aliasBomb(6, 10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParseRepoConfig([]byte(bomb))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases are not supported") || !strings.Contains(err.Error(), "line 11: reviewers.users") {
		t.Fatalf("err = %v, want the alias refused at line 11", err)
	}
	const bound = 2 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Fatalf("parsing a %d-byte alias bomb allocated %d bytes, above %d: aliases were expanded", len(bomb), alloc, bound)
	}
}

func TestParseRepoConfigSizeLimit(t *testing.T) {
	big := "version: 1\n" + strings.Repeat("# padding\n", MaxRepoConfigSize/10+1)
	_, err := ParseRepoConfig([]byte(big))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("above the limit of %d", MaxRepoConfigSize)) {
		t.Fatalf("err = %v, want the size limit named", err)
	}
}
