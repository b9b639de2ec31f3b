package crew

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/registry"
)

// HistoryConfig bounds how far a RepoView reads git history.
type HistoryConfig struct {
	// MaxCommits is how many first-parent commits Commits walks back from
	// the base commit at most, listed or not: each may cost a render.
	MaxCommits int `yaml:"max_commits"`
	// MaxMessageBytes bounds the commit message a Commit carries (the
	// subject is cut to MaxSubjectBytes).
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// MaxSubjectBytes bounds a Commit's subject.
const MaxSubjectBytes = 200

// DefaultHistoryConfig walks at most 200 commits and keeps 4 KiB of each
// message.
func DefaultHistoryConfig() HistoryConfig {
	return HistoryConfig{MaxCommits: 200, MaxMessageBytes: 4096}
}

// Validate reports every problem at once.
func (c HistoryConfig) Validate() error {
	var errs []error
	if c.MaxCommits < 1 || c.MaxCommits > 100000 {
		errs = append(errs, fmt.Errorf("history.max_commits must be from 1 to 100000, got %d", c.MaxCommits))
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("history.max_message_bytes must be from 0 to 1048576, got %d", c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// ViewOptions say what a GitView reads.
type ViewOptions struct {
	// Git is the repository whose history Commits reads; nil gives a view
	// without history, whose Commits is an error.
	Git *git.Repository
	// Base is the commit proposals are planned on; zero means Git's HEAD.
	Base plumbing.Hash
	// FS is the repository at Base (at Dir); nil means Base's tree.
	FS fs.FS
	// Dir is the folder of Git's tree that FS is (slash-separated); "" or
	// "." for the root. Older commits are read at Dir.
	Dir string
	// Patcher renders targets; it must implement patchers.TargetRenderer.
	// Nil picks one with registry.For(FS, ".").
	Patcher patchers.Patcher
	// History bounds the history walk; the zero value means
	// DefaultHistoryConfig.
	History HistoryConfig
}

// GitView is the RepoView of a repository folder at a base commit, with
// its go-git history. It is safe for concurrent use: reads take one lock
// (go-git's repository is not safe for concurrent use), and renders are
// cached per tree, so a tree that many commits share renders once.
type GitView struct {
	fsys     fs.FS
	git      *git.Repository
	base     *object.Commit
	dir      string
	renderer patchers.TargetRenderer
	cfg      HistoryConfig

	mu      sync.Mutex
	targets map[patchers.Target]factsResult
	trees   map[treeKey]factsResult
}

type treeKey struct {
	tree   plumbing.Hash
	target patchers.Target
}

type factsResult struct {
	p   parsedTarget
	err error
}

// errAbsent marks a commit whose tree lacks the view's folder.
var errAbsent = errors.New("folder absent")

// NewRepoView builds the view o describes. An error names what is missing:
// no base commit, no patcher for the layout, a patcher that cannot render
// targets.
func NewRepoView(o ViewOptions) (*GitView, error) {
	v := &GitView{git: o.Git, fsys: o.FS, cfg: o.History, targets: map[patchers.Target]factsResult{}, trees: map[treeKey]factsResult{}}
	if v.cfg == (HistoryConfig{}) {
		v.cfg = DefaultHistoryConfig()
	}
	if err := v.cfg.Validate(); err != nil {
		return nil, err
	}
	v.dir = path.Clean(strings.Trim(o.Dir, "/"))
	if v.dir == "" || !fs.ValidPath(v.dir) {
		return nil, fmt.Errorf("repo view: folder %q is not a path inside the repository", o.Dir)
	}
	if o.Git != nil {
		h := o.Base
		if h.IsZero() {
			ref, err := o.Git.Head()
			if err != nil {
				return nil, fmt.Errorf("repo view: read HEAD: %w", err)
			}
			h = ref.Hash()
		}
		c, err := o.Git.CommitObject(h)
		if err != nil {
			return nil, fmt.Errorf("repo view: read base commit %s: %w", h, err)
		}
		v.base = c
	}
	if v.fsys == nil {
		if v.base == nil {
			return nil, errors.New("repo view: neither FS nor a git repository to read")
		}
		f, err := v.treeFS(v.base)
		if err != nil {
			return nil, fmt.Errorf("repo view: base commit %s: %w", v.base.Hash, err)
		}
		v.fsys = f
	}
	p := o.Patcher
	if p == nil {
		var err error
		if p, err = registry.For(v.fsys, "."); err != nil {
			return nil, fmt.Errorf("repo view: %w", err)
		}
	}
	tr, ok := p.(patchers.TargetRenderer)
	if !ok {
		return nil, fmt.Errorf("repo view: the %s patcher cannot render targets: %w", p.Name(), patchers.ErrNotSupported)
	}
	v.renderer = tr
	return v, nil
}

// FS implements RepoView.
func (v *GitView) FS() fs.FS { return v.fsys }

// Base is the base commit's hash, "" for a view without history.
func (v *GitView) Base() string {
	if v.base == nil {
		return ""
	}
	return v.base.Hash.String()
}

// Target implements RepoView.
func (v *GitView) Target(ctx context.Context, t patchers.Target) (TargetFacts, error) {
	t.Container = ""
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.targets[t]
	if !ok {
		r.p, r.err = v.render(ctx, v.fsys, t)
		if ctx.Err() == nil {
			if len(v.targets) >= 4*v.cfg.MaxCommits {
				clear(v.targets)
			}
			v.targets[t] = r
		}
	}
	return r.p.facts, r.err
}

func (v *GitView) render(ctx context.Context, fsys fs.FS, t patchers.Target) (parsedTarget, error) {
	dir, m, err := v.renderer.RenderTarget(ctx, fsys, t)
	if err != nil {
		return parsedTarget{}, fmt.Errorf("render %s: %w", t, err)
	}
	return factsOf(m, t, dir)
}

// Commits implements RepoView.
func (v *GitView) Commits(ctx context.Context, t patchers.Target, until time.Time, n int) ([]Commit, error) {
	if v.base == nil {
		return nil, errors.New("commits: the repository view has no git history")
	}
	t.Container = ""
	if n <= 0 {
		return nil, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.base
	cur := v.factsAt(ctx, c, t)
	if cur.err != nil {
		return nil, fmt.Errorf("commits: at base %s: %w", c.Hash.String()[:7], cur.err)
	}
	var out []Commit
	for walked := 0; walked < v.cfg.MaxCommits && len(out) < n; walked++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var changes []FieldChange
		var parent *object.Commit
		if c.NumParents() > 0 {
			p, err := c.Parent(0)
			if err != nil {
				return nil, fmt.Errorf("commits: read parent of %s: %w", c.Hash.String()[:7], err)
			}
			parent = p
		}
		var prev factsResult
		if parent != nil {
			prev = v.factsAt(ctx, parent, t)
		}
		gone := parent == nil || missing(prev.err)
		switch {
		case missing(cur.err):
			// Not at this commit either: nothing older can have
			// touched the target we see at the base.
			return out, nil
		case gone:
			changes = []FieldChange{{Area: AreaCreated}}
		case cur.err != nil || prev.err != nil:
			changes = []FieldChange{{Area: AreaOther, Field: "render failed on one side"}}
		default:
			changes = diffFacts(prev.p, cur.p)
		}
		if len(changes) > 0 && (until.IsZero() || c.Committer.When.Before(until)) {
			out = append(out, v.commit(c, changes))
		}
		if gone {
			break
		}
		c, cur = parent, prev
	}
	return out, nil
}

// missing reports whether err says the target (or the folder) is absent.
func missing(err error) bool {
	return errors.Is(err, patchers.ErrNotFound) || errors.Is(err, errAbsent) || errors.Is(err, fs.ErrNotExist)
}

func (v *GitView) commit(c *object.Commit, changes []FieldChange) Commit {
	msg := strings.TrimSpace(c.Message)
	subject, _, _ := strings.Cut(msg, "\n")
	return Commit{
		Hash:    c.Hash.String(),
		Time:    c.Committer.When.UTC(),
		Subject: clip(strings.TrimSpace(subject), MaxSubjectBytes),
		Message: clip(msg, v.cfg.MaxMessageBytes),
		Changes: changes,
	}
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// factsAt renders t in commit c's tree, once per tree.
func (v *GitView) factsAt(ctx context.Context, c *object.Commit, t patchers.Target) factsResult {
	tree, err := v.folder(c)
	if err != nil {
		return factsResult{err: err}
	}
	k := treeKey{tree.Hash, t}
	if r, ok := v.trees[k]; ok {
		return r
	}
	var r factsResult
	r.p, r.err = v.render(ctx, history.TreeFS(tree), t)
	if ctx.Err() == nil {
		if len(v.trees) >= 4*v.cfg.MaxCommits {
			clear(v.trees) // bounded: a long-lived view forgets old trees
		}
		v.trees[k] = r
	}
	return r
}

// folder is c's tree at the view's folder.
func (v *GitView) folder(c *object.Commit) (*object.Tree, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", c.Hash.String()[:7], err)
	}
	if v.dir == "." {
		return tree, nil
	}
	sub, err := tree.Tree(v.dir)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s at %s: %w", v.dir, c.Hash.String()[:7], errAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", v.dir, c.Hash.String()[:7], err)
	}
	return sub, nil
}

func (v *GitView) treeFS(c *object.Commit) (fs.FS, error) {
	tree, err := v.folder(c)
	if err != nil {
		return nil, err
	}
	return history.TreeFS(tree), nil
}
