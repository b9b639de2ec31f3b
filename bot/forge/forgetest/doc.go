// Package forgetest holds the contract every forge.Forge passes, and what
// its tests need.
//
// Run takes a Harness (one forge plus a view of the git repository behind
// it) and checks the contract in subtests on fresh harnesses: Propose opens
// medic/<incident>-<intent> pull requests on the default branch (or on a
// request's BaseCommit), updates the incident's open pull request instead of
// opening a second one (also when proposals race), refuses invalid or
// disallowed requests without creating a branch, deletes files; Merge makes
// the change land on the default branch without losing others' commits and
// refuses closed or conflicting pull requests with forge.ErrConflict; Close
// closes, after which a new proposal opens a new pull request; Get of an
// unknown number is forge.ErrNotFound. A harness whose forge cannot produce
// merge conflicts implements NoConflicts to skip that case.
//
// NewRequest builds a valid forge.Request (an intent that validates, a
// decision that allows it, a Change with file contents and diffs, an
// incident with an anomaly and evidence). MemoryRecords is an in-memory
// forge.Records, and RunRecords is the contract every forge.Records passes.
package forgetest
