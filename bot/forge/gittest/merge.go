package gittest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUpToDate is returned by Merge and SquashMerge when the head commit is
// already part of the base branch.
var ErrUpToDate = errors.New("already merged")

// Merge merges the commit headSHA into branch base of owner/name with a
// merge commit (never a fast-forward) whose first parent is base's head,
// its second headSHA, and whose message is message; it moves base to the
// merge commit and returns its id. It fails with an error wrapping
// ErrConflict when the merge does not apply cleanly (naming the
// conflicting paths), ErrNotFound when the repository, branch or commit
// does not exist, and ErrUpToDate when headSHA is already in base.
// Nothing changes on failure. No worktree is used: the merge is `git
// merge-tree --write-tree`, git's own merge machinery.
func (s *Server) Merge(owner, name, headSHA, base, message string) (string, error) {
	return s.merge(owner, name, headSHA, base, message, false)
}

// SquashMerge is Merge making a single-parent commit on base with the
// merged tree, as GitHub's "squash and merge" does.
func (s *Server) SquashMerge(owner, name, headSHA, base, message string) (string, error) {
	return s.merge(owner, name, headSHA, base, message, true)
}

func (s *Server) merge(owner, name, headSHA, base, message string, squash bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("merge %s into %s/%s %s: %w", headSHA, owner, name, base, err)
	}
	dir, err := s.existing(owner, name)
	if err != nil {
		return fail(err)
	}
	if err := checkBranch(base); err != nil {
		return fail(fmt.Errorf("%w: %w", err, ErrNotFound))
	}
	baseSHA, err := s.resolve(dir, "refs/heads/"+base)
	if err != nil {
		return fail(err)
	}
	head, err := s.resolve(dir, headSHA)
	if err != nil {
		return fail(err)
	}
	if _, err := s.git(dir, nil, nil, "merge-base", "--is-ancestor", head, baseSHA); err == nil {
		return fail(ErrUpToDate)
	} else if exitCode(err) != 1 {
		return fail(err)
	}
	out, err := s.git(dir, nil, nil, "merge-tree", "--write-tree", "--name-only", "--no-messages", baseSHA, head)
	switch {
	case err == nil:
	case exitCode(err) == 1:
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return fail(fmt.Errorf("%w in %s", ErrConflict, strings.Join(lines[1:], ", ")))
	default:
		return fail(err)
	}
	tree, _, _ := strings.Cut(out, "\n")
	args := []string{"commit-tree", strings.TrimSpace(tree), "-p", baseSHA}
	if !squash {
		args = append(args, "-p", head)
	}
	args = append(args, "-F", "-")
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	out, err = s.git(dir, []byte(message), s.identity(), args...)
	if err != nil {
		return fail(err)
	}
	merged := strings.TrimSpace(out)
	// The old value makes the update fail, rather than lose a push,
	// when base moved since it was read.
	if _, err := s.git(dir, nil, nil, "update-ref", "refs/heads/"+base, merged, baseSHA); err != nil {
		return fail(err)
	}
	return merged, nil
}

// Mergeable reports whether headSHA merges into branch base of owner/name
// without conflicts (a trial `git merge-tree`; nothing is written to any
// ref). It is what a GitHub double reports as a pull request's mergeable.
func (s *Server) Mergeable(owner, name, headSHA, base string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, err := s.existing(owner, name)
	if err != nil {
		return false, err
	}
	baseSHA, err := s.resolve(dir, "refs/heads/"+base)
	if err != nil {
		return false, err
	}
	head, err := s.resolve(dir, headSHA)
	if err != nil {
		return false, err
	}
	_, err = s.git(dir, nil, nil, "merge-tree", "--write-tree", "--name-only", "--no-messages", baseSHA, head)
	switch {
	case err == nil:
		return true, nil
	case exitCode(err) == 1:
		return false, nil
	}
	return false, err
}
