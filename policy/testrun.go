package policy

import (
	"context"
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is one Rego unit test's outcome.
type TestResult struct {
	// Name is package.rule, Location file:line.
	Name     string
	Location string
	Pass     bool
	// Err is the evaluation error of a test that did not run to the end.
	Err error
}

// RunTests runs the test_ rules of b's test modules with OPA's tester,
// against b's modules and data (for a repo folder, pass ForRepo's bundle so
// tests see the defaults the repo extends). The error is for a bundle that
// does not compile (naming file:line).
func RunTests(ctx context.Context, b Bundle) ([]TestResult, error) {
	mods := map[string]*ast.Module{}
	for k, m := range b.Modules {
		mods[k] = m
	}
	for k, m := range b.Tests {
		mods[k] = m
	}
	if err := checkModules(mods); err != nil {
		return nil, fmt.Errorf("run policy tests: %w", err)
	}
	store := inmem.New()
	if b.Data != nil {
		store = inmem.NewFromObject(b.Data)
	}
	// Tests compile with the gate's capabilities; print output is dropped.
	c := ast.NewCompiler().WithCapabilities(Capabilities()).WithEnablePrintStatements(false)
	r := tester.NewRunner().SetCompiler(c).SetStore(store).SetModules(mods)
	ch, err := r.RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("run policy tests: %w", explainRefused(err))
	}
	var out []TestResult
	for res := range ch {
		tr := TestResult{Name: res.Package + "." + res.Name, Pass: res.Pass(), Err: res.Error}
		if res.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", res.Location.File, res.Location.Row)
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
