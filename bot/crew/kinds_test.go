package crew

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// patcherKinds reads the intent kinds the patchers package declares: its
// exported string constants named Kind*, from the package source, so a kind
// added there is seen here without a list to keep in step.
func patcherKinds(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../patchers/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Kind") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						kinds = append(kinds, v)
					}
				}
			}
		}
	}
	slices.Sort(kinds)
	return kinds
}

// TestEveryKindHasPlaybookHandling fails when an intent kind is neither
// emitted by a playbook rule nor listed in NeverProposed with its reason.
// TestPlaybook checks that every kind a rule declares is emitted by a case.
func TestEveryKindHasPlaybookHandling(t *testing.T) {
	kinds := patcherKinds(t)
	if len(kinds) < 6 {
		t.Fatalf("found only %d intent kinds in patchers: %v", len(kinds), kinds)
	}
	emitted := map[string]bool{}
	for _, ks := range ruleKinds {
		for _, k := range ks {
			emitted[k] = true
		}
	}
	for _, k := range kinds {
		why, never := NeverProposed[k]
		switch {
		case emitted[k] && never:
			t.Errorf("kind %s is emitted by a rule and listed as never proposed", k)
		case !emitted[k] && !never:
			t.Errorf("kind %s has no playbook handling: emit it from a rule (ruleKinds) or list it in NeverProposed with the reason", k)
		case never && why == "":
			t.Errorf("kind %s is never proposed without a reason", k)
		}
	}
	for k := range emitted {
		if !slices.Contains(kinds, k) {
			t.Errorf("a rule emits %s, which patchers does not declare", k)
		}
	}
	for k := range NeverProposed {
		if !slices.Contains(kinds, k) {
			t.Errorf("NeverProposed lists %s, which patchers does not declare", k)
		}
	}
}
