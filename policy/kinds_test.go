package policy

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/medic-bot/medic/patchers"
)

// bundleSet evaluates a set of strings of the default bundle, e.g.
// data.medic.auto_kinds.
func bundleSet(t *testing.T, query string) []string {
	t.Helper()
	args := []func(*rego.Rego){rego.Query(query)}
	for _, m := range Default().Modules {
		args = append(args, rego.ParsedModule(m))
	}
	rs, err := rego.New(args...).Eval(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		t.Fatalf("%s is undefined in the default bundle", query)
	}
	vs, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		t.Fatalf("%s = %v, want a set", query, rs[0].Expressions[0].Value)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.(string))
	}
	sort.Strings(out)
	return out
}

// TestBundleDecidesEveryKind fails when an intent kind of the catalogue is
// neither one medic merges on its own (auto_kinds) nor one a human always
// merges (review_kinds) in the default policy, or is both, or when the
// policy names a kind the catalogue does not have (a rename).
func TestBundleDecidesEveryKind(t *testing.T) {
	auto := bundleSet(t, "data.medic.auto_kinds")
	review := bundleSet(t, "data.medic.review_kinds")
	for _, k := range patchers.KindNames() {
		a, r := slices.Contains(auto, k), slices.Contains(review, k)
		switch {
		case a && r:
			t.Errorf("%s is in both auto_kinds and review_kinds", k)
		case !a && !r:
			t.Errorf("intent kind %s has no decision in the default policy (policy/bundle/medic.rego): put it in auto_kinds, with safe_intent and not_auto rules, or in review_kinds", k)
		}
	}
	for _, k := range append(auto, review...) {
		if _, ok := patchers.LookupKind(k); !ok {
			t.Errorf("the default policy names %s, which is not an intent kind", k)
		}
	}
}

// TestBundleKindLiterals: every comparison of intent.kind with a string in
// the default bundle names a kind of the catalogue, so renaming a kind
// cannot leave a rule that never fires.
func TestBundleKindLiterals(t *testing.T) {
	seen := 0
	for name, m := range Default().Modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			terms, ok := e.Terms.([]*ast.Term)
			if !ok || len(terms) != 3 || !strings.HasSuffix(terms[0].String(), "equal") {
				return false
			}
			a, b := terms[1], terms[2]
			if b.String() == "intent.kind" {
				a, b = b, a
			}
			if a.String() != "intent.kind" {
				return false
			}
			s, ok := b.Value.(ast.String)
			if !ok {
				return false
			}
			seen++
			if _, ok := patchers.LookupKind(string(s)); !ok {
				t.Errorf("%s:%d compares intent.kind with %q, which is not an intent kind", name, e.Location.Row, string(s))
			}
			return false
		})
	}
	if seen == 0 {
		t.Fatal("found no intent.kind comparison in the default bundle: the walk is broken")
	}
}

// TestDefaultPolicyOnEveryKind runs the default policy on every example of
// every kind: the input is valid against input.schema.json, the policy
// allows the proposal, labels it with its kind, and reviews a review kind
// with a reason that names it.
func TestDefaultPolicyOnEveryKind(t *testing.T) {
	s := inputSchema(t)
	g := defaultGate(t)
	review := bundleSet(t, "data.medic.review_kinds")
	for _, k := range patchers.Kinds() {
		for _, ex := range k.Examples {
			in := memInput("staging", "512Mi", "768Mi")
			in.Proposal.Intent = patchers.Intent{Kind: k.Name, Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "cart"}, Params: ex}
			in.Change.Summary = k.Name + " shop/Deployment/cart[cart]"
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s %s: the policy input does not validate against input.schema.json: %v", k.Name, ex, err)
			}
			d, err := g.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("%s %s: %v", k.Name, ex, err)
			}
			if !d.Allow || !slices.Contains(d.Labels, "medic/"+k.Name) {
				t.Errorf("%s %s: decision %+v, want allowed with label medic/%s", k.Name, ex, d, k.Name)
			}
			for _, r := range d.Reasons {
				if strings.Contains(r, "does not know") {
					t.Errorf("%s %s: %q", k.Name, ex, r)
				}
			}
			if slices.Contains(review, k.Name) {
				want := k.Name + " is not one of the intent kinds medic merges on its own"
				if d.Automerge || !slices.ContainsFunc(d.Reasons, func(r string) bool { return strings.HasPrefix(r, want) }) {
					t.Errorf("%s %s: decision %+v, want a review saying %q", k.Name, ex, d, want)
				}
			}
		}
	}
}

// TestUnknownKindIsReviewed: a kind the policy does not know is never
// merged, and the review says so.
func TestUnknownKindIsReviewed(t *testing.T) {
	in := memInput("staging", "512Mi", "768Mi")
	in.Proposal.Intent.Kind = "restart"
	d, err := defaultGate(t).Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Automerge || !slices.Contains(d.Reasons, "restart is an intent kind this policy does not know") {
		t.Errorf("decision %+v", d)
	}
}

// TestInputSchemaKindsAreCatalogue: input.schema.json's intent kinds are
// exactly the catalogue's.
func TestInputSchemaKindsAreCatalogue(t *testing.T) {
	var sch struct {
		Properties struct {
			Proposal struct {
				Properties struct {
					Intent struct {
						Properties struct {
							Kind struct {
								Enum []string `json:"enum"`
							} `json:"kind"`
						} `json:"properties"`
					} `json:"intent"`
				} `json:"properties"`
			} `json:"proposal"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(InputSchema, &sch); err != nil {
		t.Fatal(err)
	}
	got := sch.Properties.Proposal.Properties.Intent.Properties.Kind.Enum
	if !slices.Equal(got, patchers.KindNames()) {
		t.Errorf("input.schema.json intent kinds %v, want the catalogue's %v", got, patchers.KindNames())
	}
}
