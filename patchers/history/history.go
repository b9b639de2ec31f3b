package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"gopkg.in/yaml.v3"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrNoPrevious is wrapped when rollback_image with previous: true finds
// no earlier image: the image never changed within reach, or the commits
// before the target's files (or the repo folder) existed were reached.
// It is also patchers.ErrRefused (the answer is "no", not a bad input),
// but its text says "no previous image", not a failed verification.
var ErrNoPrevious error = noPrevious{}

type noPrevious struct{}

func (noPrevious) Error() string        { return "no previous image" }
func (noPrevious) Is(target error) bool { return target == patchers.ErrRefused }

// errAbsent marks a commit whose tree lacks the Plan repo's folder.
var errAbsent = errors.New("absent")

// MaxCommits is how many first-parent commits rollback_image with
// previous: true looks back before it gives up.
const MaxCommits = 500

// Wrap returns a Patcher that carries out rollback_image with previous:
// true and revert_commit from repo's git history and passes every other
// intent to inner. Name and Detect are inner's. The history intents need
// inner to implement patchers.TargetRenderer; when it does not, they fail
// with an error wrapping patchers.ErrNotSupported. The result is safe for
// concurrent use if inner is (the history intents take turns: go-git's repository is not).
func Wrap(inner patchers.Patcher, repo *git.Repository) patchers.Patcher {
	return WrapDir(inner, repo, ".")
}

// WrapDir is Wrap for a Plan repo that is the folder dir of the git
// repository (slash-separated, relative to its root): older commits are
// read at dir, and revert_commit undoes only what the commit changed under
// dir.
func WrapDir(inner patchers.Patcher, repo *git.Repository, dir string) patchers.Patcher {
	dir = path.Clean(strings.Trim(dir, "/"))
	if dir == "" {
		dir = "."
	}
	return &wrapped{inner: inner, repo: repo, dir: dir, max: MaxCommits}
}

type wrapped struct {
	// mu serialises the history intents: go-git's repository is not safe
	// for concurrent use.
	mu    sync.Mutex
	inner patchers.Patcher
	repo  *git.Repository
	dir   string // the Plan repo's folder in repo
	max   int
}

func (w *wrapped) Name() string           { return w.inner.Name() }
func (w *wrapped) Detect(repo fs.FS) bool { return w.inner.Detect(repo) }

// Plan implements patchers.Patcher.
func (w *wrapped) Plan(ctx context.Context, repo fs.FS, in patchers.Intent) (patchers.Change, error) {
	switch in.Kind {
	case patchers.KindRollbackImage:
		var p patchers.RollbackImageParams
		if err := json.Unmarshal(in.Params, &p); err != nil || !p.Previous {
			break
		}
		if err := in.Validate(); err != nil {
			return patchers.Change{}, err
		}
		tr, err := w.renderer(in)
		if err != nil {
			return patchers.Change{}, err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.previous(ctx, tr, repo, in)
	case patchers.KindRevertCommit:
		if err := in.Validate(); err != nil {
			return patchers.Change{}, err
		}
		var p patchers.RevertCommitParams
		if err := json.Unmarshal(in.Params, &p); err != nil {
			return patchers.Change{}, fmt.Errorf("params: %w", err)
		}
		tr, err := w.renderer(in)
		if err != nil {
			return patchers.Change{}, err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.revert(ctx, tr, repo, in.Target, strings.ToLower(p.Commit))
	}
	return w.inner.Plan(ctx, repo, in)
}

func (w *wrapped) renderer(in patchers.Intent) (patchers.TargetRenderer, error) {
	tr, ok := w.inner.(patchers.TargetRenderer)
	if !ok {
		return nil, fmt.Errorf("%s: %w: the %s patcher cannot render a target at older commits", in.Kind, patchers.ErrNotSupported, w.inner.Name())
	}
	return tr, nil
}

// short is a commit's abbreviated hash.
func short(h plumbing.Hash) string { return h.String()[:7] }

// subject is a commit message's first line.
func subject(c *object.Commit) string {
	s, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	return strings.TrimSpace(s)
}

func targetObject(t patchers.Target) patchers.Object {
	return patchers.Object{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}
}

// imagePath is the field path of the target container's image in
// manifests; an empty container means the only one.
func imagePath(manifests []byte, t patchers.Target) (string, error) {
	c := t.Container
	if c == "" {
		v, ok, err := render.Field(manifests, targetObject(t), "spec.template.spec.containers")
		if err != nil {
			return "", err
		}
		var list []struct {
			Name string `yaml:"name"`
		}
		if ok {
			if err := yaml.Unmarshal([]byte(v), &list); err != nil {
				return "", fmt.Errorf("read containers of %s: %w", t, err)
			}
		}
		if len(list) != 1 {
			return "", fmt.Errorf("%s has %d containers: name one in target.container", t, len(list))
		}
		c = list[0].Name
	}
	return "spec.template.spec.containers[name=" + c + "].image", nil
}

// image reads the target container's image in fsys.
func image(ctx context.Context, tr patchers.TargetRenderer, fsys fs.FS, t patchers.Target) (string, error) {
	_, m, err := tr.RenderTarget(ctx, fsys, t)
	if err != nil {
		return "", err
	}
	p, err := imagePath(m, t)
	if err != nil {
		return "", err
	}
	v, ok, err := render.Field(m, targetObject(t), p)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s has no image at %s: %w", t, p, patchers.ErrNotFound)
	}
	return v, nil
}

// previous finds the last first-parent commit that changed the target's
// image and plans rollback_image to the image before it.
func (w *wrapped) previous(ctx context.Context, tr patchers.TargetRenderer, repo fs.FS, in patchers.Intent) (patchers.Change, error) {
	t := in.Target
	cur, err := image(ctx, tr, repo, t)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("rollback_image previous: %w", err)
	}
	head, err := w.repo.Head()
	if err != nil {
		return patchers.Change{}, fmt.Errorf("rollback_image previous: the repository has no history: %w", err)
	}
	c, err := w.repo.CommitObject(head.Hash())
	if err != nil {
		return patchers.Change{}, fmt.Errorf("rollback_image previous: read HEAD: %w", err)
	}
	val, err := w.imageAt(ctx, tr, c, t)
	if err != nil {
		return patchers.Change{}, fmt.Errorf("rollback_image previous: at HEAD %s: %w", short(c.Hash), err)
	}
	var changed *object.Commit
	var prev string
	for n := 1; changed == nil; n++ {
		if err := ctx.Err(); err != nil {
			return patchers.Change{}, err
		}
		if c.NumParents() == 0 {
			return patchers.Change{}, fmt.Errorf("rollback_image previous: %w: the image of %s is %s in every commit back to the first, %s (%d commits)", ErrNoPrevious, t, val, short(c.Hash), n)
		}
		if n >= w.max {
			return patchers.Change{}, fmt.Errorf("rollback_image previous: %w within reach: the image of %s is %s in the last %d commits of first-parent history (back to %s)", ErrNoPrevious, t, val, n, short(c.Hash))
		}
		parent, err := c.Parent(0)
		if err != nil {
			return patchers.Change{}, fmt.Errorf("rollback_image previous: read parent of %s: %w", short(c.Hash), err)
		}
		pv, err := w.imageAt(ctx, tr, parent, t)
		switch {
		case errors.Is(err, errAbsent):
			return patchers.Change{}, fmt.Errorf("rollback_image previous: %w: %s does not exist at %s, before %s %q added it with %s in %s", ErrNoPrevious, w.dir, short(parent.Hash), short(c.Hash), subject(c), val, t)
		case errors.Is(err, patchers.ErrNotFound), errors.Is(err, fs.ErrNotExist):
			// A commit from before the target's files: there is no
			// earlier image to go back to.
			return patchers.Change{}, fmt.Errorf("rollback_image previous: %w: %s is absent at %s, before %s %q added it with %s", ErrNoPrevious, t, short(parent.Hash), short(c.Hash), subject(c), val)
		}
		if err != nil {
			return patchers.Change{}, fmt.Errorf("rollback_image previous: at %s: %w", short(parent.Hash), err)
		}
		if pv != val {
			changed, prev = c, pv
		}
		c = parent
	}
	params, _ := json.Marshal(patchers.RollbackImageParams{Image: prev})
	ch, err := w.inner.Plan(ctx, repo, patchers.Intent{Kind: patchers.KindRollbackImage, Target: t, Params: params})
	if err != nil {
		return ch, err
	}
	note := fmt.Sprintf("previous image %s, before %s %q set %s", prev, short(changed.Hash), subject(changed), val)
	if cur != val {
		note += fmt.Sprintf(" (the working tree has %s)", cur)
	}
	if ch.Summary == "" {
		ch.Summary = note
	} else {
		ch.Summary += " (" + note + ")"
	}
	return ch, nil
}

// imageAt reads the target's image in commit c's tree.
func (w *wrapped) imageAt(ctx context.Context, tr patchers.TargetRenderer, c *object.Commit, t patchers.Target) (string, error) {
	tree, err := c.Tree()
	if err != nil {
		return "", err
	}
	fsys, err := w.treeFS(tree)
	if err != nil {
		return "", err
	}
	return image(ctx, tr, fsys, t)
}

// treeFS is tree's fs.FS at the Plan repo's folder, rooted there: its
// links may not leave the folder, as on disk. A tree without the folder
// (a commit from before it was added) is an error wrapping errAbsent.
func (w *wrapped) treeFS(tree *object.Tree) (fs.FS, error) {
	if w.dir == "." {
		return TreeFS(tree), nil
	}
	sub, err := tree.Tree(w.dir)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("folder %s: %w", w.dir, errAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", w.dir, err)
	}
	return TreeFS(sub), nil
}

// treeFSOrEmpty is treeFS, with an empty tree for a commit without the
// folder (revert_commit: everything under it was added since).
func (w *wrapped) treeFSOrEmpty(tree *object.Tree) (fs.FS, error) {
	fsys, err := w.treeFS(tree)
	if errors.Is(err, errAbsent) {
		return TreeFS(&object.Tree{}), nil
	}
	return fsys, err
}
