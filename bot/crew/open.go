package crew

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
)

// OpenRepoView views the folder dir on disk at the HEAD commit of the git
// repository holding it (found by walking up to its .git): the view's FS
// is HEAD's tree at that folder, so uncommitted edits are not read, as a
// pull request is planned on HEAD. o's Git, Dir and FS are set from dir;
// its Base, Patcher and History are used as given. A folder outside any
// git repository is an error: without history the playbook cannot tell a
// release regression from a symptom.
func OpenRepoView(dir string, o ViewOptions) (*GitView, error) {
	gr, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	wt, err := gr.Worktree()
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	root, err1 := realPath(wt.Filesystem.Root())
	abs, err2 := realPath(dir)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("open repository %s: the folder is outside its git work tree %s", dir, root)
	}
	o.Git, o.Dir, o.FS = gr, filepath.ToSlash(rel), nil
	return NewRepoView(o)
}

// realPath is p absolute, with symbolic links resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
