package patchers

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's table of intent kinds from intent.schema.json")

const (
	readmePath  = "../README.md"
	tableBegin  = "<!-- intent kinds: generated from patchers/intent.schema.json by `go test ./patchers -run TestREADMEKinds -update` -->\n"
	tableEnd    = "<!-- end of intent kinds -->\n"
	tableHeader = "| kind | what it changes | params | example params |\n|---|---|---|---|\n"
)

// kindsTable is the README's table: one row per kind of the catalogue,
// from the schema's descriptions and first example.
func kindsTable(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(tableHeader)
	for _, k := range Kinds() {
		cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		b.WriteString("| `" + k.Name + "` | " + cell(k.Summary) + " | " + cell(k.ParamsDoc) + " | `" + cell(string(k.Examples[0])) + "` |\n")
	}
	return b.String()
}

// TestREADMEKinds fails when the README's table of intent kinds is not
// the one the schema gives: a kind without its row, a row for no kind, or
// a description that changed. -update rewrites the table.
func TestREADMEKinds(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, tableBegin)
	j := strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no table of intent kinds between %q and %q", readmePath, tableBegin, tableEnd)
	}
	got := s[i+len(tableBegin) : j]
	want := kindsTable(t)
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(s[:i+len(tableBegin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's table of intent kinds is not the schema's; run go test ./patchers -run TestREADMEKinds -update\ngot:\n%s\nwant:\n%s", readmePath, got, want)
}
