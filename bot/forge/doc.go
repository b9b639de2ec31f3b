// Package forge turns a planned Change into a pull request and merges it.
//
// Two forges implement Forge: forge/github (a GitHub App: go-git pushes a
// branch, go-github opens the pull request, GraphQL enables auto-merge) and
// forge/local (branches in a local git repository, pull-request records in
// medic's store, merges as merge commits), used by demos, replays and dry
// runs. forgetest holds the contract suite both pass.
//
// Every pull request belongs to one incident: its branch is
// medic/<incident>-<intent>, and proposing again for an incident that has an
// open pull request updates that pull request instead of opening another.
package forge
