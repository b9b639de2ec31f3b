// Package gittest runs a real git smart-HTTP server on loopback for tests.
//
// NewServer starts the machine's `git http-backend` behind net/http/cgi in
// an httptest.Server. It serves the bare repositories it holds at
// <URL>/<owner>/<name>.git, accepts fetches and pushes (receive-pack is
// enabled), and, when given WithAuth or WithToken, demands HTTP Basic
// credentials the way GitHub does for a GitHub App: username
// x-access-token, password the installation token. Missing or refused
// credentials get 401 with a WWW-Authenticate challenge, so git and go-git
// report an authentication error; WithWriteCheck answers 403 to pushes
// with a token that may only read.
//
// The Server's other methods play the forge and the rest of the team:
// CreateRepo and CreateRepoFromDir seed repositories, Commit adds someone
// else's commit to a branch, Merge and SquashMerge merge a pull request's
// head the way GitHub's merge button does, and Head, ReadFile, Parents,
// Message and Resolve read what is there. Every git command runs with a
// clean environment (no system or global configuration, a temporary HOME,
// a fixed identity and clock), so the host's git configuration never
// matters and commit ids are stable from run to run.
//
// The server needs git 2.38 or later (merges use `git merge-tree
// --write-tree`); NewServer skips the test when git is missing or older.
package gittest
