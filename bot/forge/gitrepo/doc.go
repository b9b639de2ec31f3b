// Package gitrepo is medic's go-git workspace for the GitHub forge: it
// fetches a branch with the installation token (shallow, into a local
// clone cached per repository), lets the patchers read any fetched commit
// as an fs.FS, commits a Change on top of the commit it was planned on
// (in memory, with no worktree), and pushes the result to medic's branch
// under a lease, so that two medic replicas never overwrite each other's
// push.
//
// A Cache holds one bare clone per remote repository under its directory
// and hands out one *Repo per clone; a Repo serialises its own operations
// (go-git repositories are not safe for concurrent use), so any number of
// goroutines may share a Cache and its Repos. One process owns a Cache's
// directory at a time.
//
// Credentials are passed to each network call (Auth), because
// installation tokens expire every hour; they are sent as HTTP Basic auth
// (username x-access-token) and never stored or written into an error.
// Errors name the operation and the repository (owner/name); those that
// retrying cannot fix — refused credentials, a repository or branch that
// does not exist — are marked with forge.Permanent or wrap
// forge.ErrNotFound.
package gitrepo
