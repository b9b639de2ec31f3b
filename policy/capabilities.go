package policy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A policy is repo content, so untrusted: its decision may depend on the
// input, the policy's own data and input.now, and on nothing else. The
// builtins below break that rule: they reach the network, read the state of
// medic's host (files, environment, the host clock), or could act outside
// the evaluation. A name ending in "." refuses a whole namespace, so that a
// builtin a newer OPA adds there is refused too.
var refusedBuiltins = []struct{ name, why string }{
	{"http.send", "it sends requests from medic's network position (also to unix sockets) and reads TLS files and variables of medic's host"},
	{"net.", "net.* is OPA's network namespace (net.lookup_ip_addr resolves names through medic's DNS), refused as a whole"},
	{"opa.runtime", "it exposes medic's environment variables and configuration"},
	{"json.match_schema", "a schema's $ref reads files of medic's host and fetches URLs"},
	{"json.verify_schema", "a schema's $ref reads files of medic's host and fetches URLs"},
	{"crypto.x509.parse_and_verify_certificates", "it decides validity by medic's host clock, not input.now"},
	{"crypto.x509.parse_and_verify_certificates_with_options", "it decides validity by medic's host clock, not input.now"},
}

// allowedNondeterministic are the builtins OPA marks nondeterministic that
// policies may still call, each with why that is safe. Every other
// nondeterministic builtin is refused, including any a newer OPA adds, so an
// upgrade cannot bring in a network builtin unnoticed.
var allowedNondeterministic = map[string]string{
	"time.now_ns":            "the gate pins the evaluation time to input.now",
	"io.jwt.decode_verify":   "its only outside state is the clock, pinned to input.now; keys come from its arguments",
	"io.jwt.encode_sign":     "randomness in the signature only",
	"io.jwt.encode_sign_raw": "randomness in the signature only",
	"rand.intn":              "randomness only",
	"uuid.rfc4122":           "randomness only",
}

// refusal says why medic refuses the builtin b, or "" when policies may
// call it.
func refusal(b *ast.Builtin) string {
	for _, r := range refusedBuiltins {
		if b.Name == r.name || strings.HasSuffix(r.name, ".") && strings.HasPrefix(b.Name, r.name) {
			return r.why
		}
	}
	if b.IsNondeterministic() {
		if _, ok := allowedNondeterministic[b.Name]; !ok {
			return "it is nondeterministic and not on medic's allow list"
		}
	}
	return ""
}

type capabilitySet struct {
	allowed []*ast.Builtin
	refused map[string]string // builtin name -> why
}

var capabilities = sync.OnceValue(func() capabilitySet {
	s := capabilitySet{refused: map[string]string{}}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if why := refusal(b); why != "" {
			s.refused[b.Name] = why
			continue
		}
		s.allowed = append(s.allowed, b)
	}
	return s
})

// Capabilities returns the OPA capabilities medic compiles every policy
// with, the default bundle's included: this OPA version's, without the
// builtins RefusedBuiltins lists, and with no host open to network access
// (allow_net empty, which also stops a JSON schema from fetching a $ref).
// Each call returns a fresh value.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.Clone(capabilities().allowed)
	c.AllowNet = []string{}
	return c
}

// RefusedBuiltins returns the builtins of this OPA version that policies
// may not call, mapped to why.
func RefusedBuiltins() map[string]string {
	out := make(map[string]string, len(capabilities().refused))
	for k, v := range capabilities().refused {
		out[k] = v
	}
	return out
}

// explainRefused rewrites the compiler's "undefined function NAME" for a
// builtin medic refuses into "NAME is not allowed in medic policies: why",
// keeping the error's file:line. It returns the compiler's errors
// themselves: a wrapping error's text was fixed when it was made.
func explainRefused(err error) error {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		name, ok := strings.CutPrefix(e.Message, "undefined function ")
		if why := capabilities().refused[name]; ok && why != "" {
			e.Message = fmt.Sprintf("%s is not allowed in medic policies: %s", name, why)
		}
	}
	return errs
}

// checkModules refuses what the capabilities cannot express: a METADATA
// schemas annotation, whose $ref the compiler would resolve against files
// of medic's host while type checking. (LoadDir does not process
// annotations; this holds for bundles built any other way too.)
func checkModules(mods ...map[string]*ast.Module) error {
	var errs ast.Errors
	for _, m := range mods {
		for _, mod := range m {
			for _, a := range mod.Annotations {
				if len(a.Schemas) > 0 {
					errs = append(errs, ast.NewError(ast.CompileErr, a.Location,
						"METADATA schemas are not allowed in medic policies: a schema's $ref reads files of medic's host"))
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Location.Compare(errs[j].Location) < 0 })
	return errs
}
