// Package local is the local git forge: pull requests as branches of a
// git repository on disk, with no network. medic demo, medic replay and
// dry runs use it in place of the GitHub forge; it passes the same
// contract (forgetest.Run).
//
// Propose builds the change's commit in memory on the request's base
// commit and points medic/<incident>-<intent> at it, without touching the
// working tree or index of a checkout; the pull request lives in a
// forge.Records. Merge makes a real merge commit with a three-way merge
// (file by file, then line by line with a diff3 of its own), refuses
// overlapping changes with forge.ErrConflict, moves the base branch by
// compare-and-swap, and keeps a clean checkout of the base branch in step
// (refusing one with uncommitted changes to the paths the merge touches;
// other dirty files are left as they are).
//
// A pull request merged or deleted by hand (its branch merged into its
// base with git, or removed) is noticed on the next Propose, Get, Merge
// or Close and recorded as merged or closed; its record is never reused,
// and the incident's next change opens a pull request with a new number.
//
// DryRun is a forge that only writes the pull request it would open.
package local
