// Package policy is medic's gate: it decides, with Rego policies, whether a
// planned Change may be proposed at all (allow), and whether medic may merge
// it without a human (automerge).
//
// # Input
//
// The input document is Input's JSON form, described by input.schema.json
// (embedded as InputSchema): {"incident", "proposal", "change", "repo",
// "now"}. "change" is exactly what `medic patch --json` prints; "now" is
// RFC 3339 and is also the evaluation time (time.now_ns()).
//
// # Rule conventions
//
// Policies live in package medic and use the conftest / Gatekeeper style:
//
//	deny contains msg if { ... }     # the change must not be proposed
//	review contains msg if { ... }   # propose it, but a human merges
//	automerge if { ... }             # medic may merge it on its own
//	labels contains l if { ... }     # pull request labels
//
// The decision is allow = no deny; automerge = allow, no review and
// automerge true; reasons = deny messages then review messages (sorted).
// A policy may instead define a complete rule
//
//	decision := {"allow": ..., "automerge": ..., "reasons": [...], "labels": [...]}
//
// which is then used as is (every key required, nothing else).
// Configuration is read from data.medic.config (see bundle/medic.rego for
// the keys and their defaults).
//
// # Repo-owned policies
//
// LoadDir reads a repository's policy folder (.medic/policy by convention):
// its .rego modules (files ending in _test.rego are tests, not loaded into
// the gate) and its .json/.yaml data files, each a document merged at the
// data root (so a file sets {"medic": {"config": {...}}}). When a repo
// module in package medic defines automerge or decision, the repo policy
// replaces the default bundle; otherwise its rules extend it (deny, review
// and labels add to the defaults'). A parse or compile error is returned
// naming file:line; NewRepoGate then returns a gate that fails closed so
// the repo gets no automerge. Cache keeps one compiled gate per repo and
// recompiles it only when the folder's policy files change.
//
// # What policies may not use
//
// A policy is repo content, so untrusted: its decision may depend on the
// input, its own data and input.now, and on nothing else. Every policy, the
// default bundle's included, is compiled (for the gate and for RunTests)
// with Capabilities: this OPA version's builtins without those that reach
// the network, read the state of medic's host (files, environment, host
// clock) or act outside the evaluation (RefusedBuiltins lists them and
// why: http.send, every net.*, opa.runtime, json.match_schema,
// json.verify_schema, crypto.x509.parse_and_verify_certificates*), and
// without any builtin OPA marks nondeterministic that is not on an allow
// list (time.now_ns, which returns input.now; io.jwt.decode_verify and
// encode_sign*; rand.intn; uuid.rfc4122), so a newer OPA's nondeterministic
// builtin is refused until reviewed. allow_net is empty. A call to a
// refused builtin fails to compile with file:line and "NAME is not allowed
// in medic policies: why"; a METADATA schemas annotation is refused the same
// way (a schema's $ref would read host files while type checking). print
// calls are compiled out, so a policy's text never reaches medic's logs.
//
// # Tests and tools
//
// RunTests runs a bundle's _test.rego files with OPA's tester (what `medic
// policy test` prints); ParseInput strictly decodes an input document (what
// `medic policy eval --input` reads).
//
// # Failing closed
//
// Decide never lets an error turn into a merge: an evaluation error, a
// timeout (Options.Timeout, default 100ms), an undefined result or a result
// not of the decision's shape yields Decision{Allow: false, Automerge:
// false} with the reason ("policy evaluation failed: ...") in Reasons and the
// label "medic/policy-error", and a nil error, so the decision is recorded
// like any other. OPAGate is safe for concurrent use.
package policy
