package gitrepo

import (
	"context"

	"github.com/go-git/go-git/v5"
)

// WithGit runs fn with the clone's go-git repository, under the Repo's
// lock, for work that reads the clone's history (such as planning a
// revert with patchers/history). Everything fn does with the repository,
// and with any TreeFS it makes from it, must finish before fn returns:
// go-git repositories are not safe for concurrent use. fn must not call
// the Repo's own methods (they take the same lock), nor read an fs.FS
// from Tree. WithGit returns fn's error as it is, or ctx's error without
// calling fn when ctx is already done.
func (r *Repo) WithGit(ctx context.Context, fn func(*git.Repository) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.repo)
}
