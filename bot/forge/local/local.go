package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"

	"github.com/medic-bot/medic/bot/forge"
)

// Signature is a git identity.
type Signature struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// DefaultAuthor is the identity of the local forge's commits when
// Config.Author is empty.
var DefaultAuthor = Signature{Name: "medic[bot]", Email: "medic[bot]@users.noreply.local"}

// Config configures a local forge.
type Config struct {
	// Dir is a local git repository: a checkout or a bare repository.
	Dir string `yaml:"dir"`
	// Repo is the name the forge answers to; requests and pull requests
	// for any other repository are not found.
	Repo forge.Repo `yaml:"repo"`
	// Records keeps the pull requests; the local forge has no other copy.
	Records forge.Records `yaml:"-"`
	// Now is the clock of commits and records; nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// Author signs the forge's commits; empty fields take DefaultAuthor's.
	Author Signature `yaml:"author"`
	// Logger receives one line per pull request opened, updated, merged
	// or closed; nil discards.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig is the configuration New completes an empty one with: the
// DefaultAuthor, time.Now and no logging. Dir, Repo and Records have no
// default.
func DefaultConfig() Config {
	return Config{Author: DefaultAuthor, Now: time.Now}
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is empty"))
	}
	if err := c.Repo.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Records == nil {
		errs = append(errs, errors.New("records are missing"))
	}
	return errors.Join(errs...)
}

// Forge keeps pull requests as branches of a local git repository and
// records in Config.Records, and merges them as merge commits. It never
// touches the checkout's working tree or index except when a merge lands
// on the checked-out branch (see Merge). Safe for concurrent use; forges
// of one process opened on the same repository share a lock.
type Forge struct {
	cfg  Config
	repo *git.Repository
	wt   *git.Worktree // nil for a bare repository
	mu   *sync.Mutex
	log  *slog.Logger
}

var _ forge.Forge = (*Forge)(nil)

// repoLocks holds one mutex per repository directory: go-git is not safe
// for concurrent use, and two forges on one repository must not interleave
// ref updates.
var repoLocks sync.Map // absolute git dir -> *sync.Mutex

// New opens the repository in cfg.Dir.
func New(cfg Config) (*Forge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("local forge config: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Author.Name == "" {
		cfg.Author.Name = DefaultAuthor.Name
	}
	if cfg.Author.Email == "" {
		cfg.Author.Email = DefaultAuthor.Email
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	repo, err := git.PlainOpenWithOptions(cfg.Dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", cfg.Dir, err)
	}
	f := &Forge{cfg: cfg, repo: repo, log: cfg.Logger.With("component", "forge_local", "repo", cfg.Repo.String())}
	wt, err := repo.Worktree()
	switch {
	case errors.Is(err, git.ErrIsBareRepository):
	case err != nil:
		return nil, fmt.Errorf("open repository %s: %w", cfg.Dir, err)
	default:
		f.wt = wt
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", cfg.Dir, err)
	}
	mu, _ := repoLocks.LoadOrStore(filepath.Clean(abs), &sync.Mutex{})
	f.mu = mu.(*sync.Mutex)
	return f, nil
}

// Log keys.
const (
	keyIncident = "incident_id"
	keyPR       = "pr_num"
	keyBranch   = "branch"
	keyHead     = "head"
)

// DefaultBranch is the branch HEAD names, or main when HEAD is detached or
// unreadable.
func (f *Forge) DefaultBranch() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.defaultBranch()
}

func (f *Forge) defaultBranch() string {
	head, err := f.repo.Storer.Reference(plumbing.HEAD)
	if err == nil && head.Type() == plumbing.SymbolicReference && head.Target().IsBranch() {
		return head.Target().Short()
	}
	return "main"
}

// checkedOut reports whether branch is the branch of the checkout's HEAD.
func (f *Forge) checkedOut(branch string) bool {
	if f.wt == nil {
		return false
	}
	head, err := f.repo.Storer.Reference(plumbing.HEAD)
	return err == nil && head.Type() == plumbing.SymbolicReference && head.Target() == plumbing.NewBranchReferenceName(branch)
}

func (f *Forge) checkRepo(repo forge.Repo) error {
	if repo != f.cfg.Repo {
		return forge.Permanent(fmt.Errorf("repository %s: %w (this local forge is %s)", repo, forge.ErrNotFound, f.cfg.Repo))
	}
	return nil
}

// branchHead returns the commit a branch points at; ok false when it does
// not exist.
func (f *Forge) branchHead(branch string) (*plumbing.Reference, bool, error) {
	ref, err := f.repo.Storer.Reference(plumbing.NewBranchReferenceName(branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read branch %s: %w", branch, err)
	}
	return ref, true, nil
}

// setBranch points branch at h if it still points where old says (nil:
// it does not exist).
func (f *Forge) setBranch(branch string, h plumbing.Hash, old *plumbing.Reference) error {
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)
	if err := f.repo.Storer.CheckAndSetReference(ref, old); err != nil {
		if errors.Is(err, storage.ErrReferenceHasChanged) {
			return fmt.Errorf("update branch %s: %w: it moved meanwhile", branch, forge.ErrNotReady)
		}
		return fmt.Errorf("update branch %s: %w", branch, err)
	}
	return nil
}

// Propose commits the request's change on its base commit (r.BaseCommit,
// or the base branch's head) and points the incident's branch at it:
// medic/<incident>-<intent>, or the branch of the incident's open pull
// request, whose record it then updates. The commit is built from the
// parent's tree in memory; the working tree and index are not touched.
func (f *Forge) Propose(ctx context.Context, r forge.Request) (forge.PullRequest, error) {
	if err := r.Validate(); err != nil {
		return forge.PullRequest{}, fmt.Errorf("propose: %w", err)
	}
	if err := f.checkRepo(r.Repo); err != nil {
		return forge.PullRequest{}, fmt.Errorf("propose: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return forge.PullRequest{}, err
	}

	base := r.Base
	if base == "" {
		base = f.defaultBranch()
	}
	commit, err := f.commitChange(r, base)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("propose for incident %s: %w", r.Incident.ID, err)
	}
	now := f.cfg.Now().UTC()
	pr := forge.PullRequest{
		Repo:       f.cfg.Repo,
		Title:      forge.Title(r),
		Body:       renderBody(r),
		Branch:     r.Branch(),
		Base:       base,
		Head:       commit.String(),
		IncidentID: r.Incident.ID,
		Intent:     r.Proposal.Intent.Kind,
		State:      forge.StateOpen,
		Automerge:  r.Decision.Automerge,
		Labels:     r.AllLabels(),
		Reviewers:  r.Reviewers,
		Created:    now,
		Updated:    now,
	}
	// Two tries: when another replica sharing the records opens the
	// incident's pull request between our look-up and CreatePR, the second
	// try updates it.
	for range 2 {
		open, err := f.cfg.Records.OpenPRForIncident(ctx, f.cfg.Repo, r.Incident.ID)
		if err == nil {
			// A pull request merged or closed by hand is finished: its
			// record stays as it is and the change gets a new one.
			if open, err = f.reconcile(ctx, open); err == nil && open.State != forge.StateOpen {
				err = forge.ErrNotFound
			}
		}
		switch {
		case err == nil:
			return f.update(ctx, open, pr)
		case !errors.Is(err, forge.ErrNotFound):
			return forge.PullRequest{}, fmt.Errorf("propose for incident %s: %w", r.Incident.ID, err)
		}
		created, raced, err := f.open(ctx, pr)
		if raced {
			continue
		}
		return created, err
	}
	return forge.PullRequest{}, fmt.Errorf("propose for incident %s: %w: its pull request keeps changing", r.Incident.ID, forge.ErrNotReady)
}

// commitChange writes the commit of r's change on its base commit.
func (f *Forge) commitChange(r forge.Request, base string) (plumbing.Hash, error) {
	baseRef, ok, err := f.branchHead(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !ok {
		return plumbing.ZeroHash, forge.Permanent(fmt.Errorf("base branch %s: %w", base, forge.ErrNotFound))
	}
	parent, err := f.repo.CommitObject(baseRef.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", base, err)
	}
	if r.BaseCommit != "" {
		h, err := f.repo.ResolveRevision(plumbing.Revision(r.BaseCommit))
		if err != nil {
			return plumbing.ZeroHash, forge.Permanent(fmt.Errorf("base commit %s: %w: %w", r.BaseCommit, forge.ErrNotFound, err))
		}
		c, err := f.repo.CommitObject(*h)
		if err != nil {
			return plumbing.ZeroHash, forge.Permanent(fmt.Errorf("base commit %s: %w: %w", r.BaseCommit, forge.ErrNotFound, err))
		}
		if c.Hash != parent.Hash {
			anc, err := c.IsAncestor(parent)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("base commit %s: %w", r.BaseCommit, err)
			}
			if !anc {
				return plumbing.ZeroHash, fmt.Errorf("%w: base commit %s is not on %s", forge.ErrConflict, r.BaseCommit, base)
			}
		}
		parent = c
	}
	edits := map[string]*blobEntry{}
	for _, fc := range r.Change.Files {
		if fc.Deleted {
			edits[fc.Path] = nil
			continue
		}
		h, err := writeBlob(f.repo.Storer, fc.Content)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("write %s: %w", fc.Path, err)
		}
		edits[fc.Path] = &blobEntry{hash: h}
	}
	tree, err := editTree(f.repo.Storer, parent.TreeHash, edits)
	if asErrPath(err) {
		return plumbing.ZeroHash, fmt.Errorf("%w: the change does not apply to %s: %w", forge.ErrConflict, parent.Hash, err)
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if tree == parent.TreeHash {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s already holds the change", forge.ErrRefused, parent.Hash)
	}
	return writeCommit(f.repo.Storer, tree, []plumbing.Hash{parent.Hash}, f.cfg.Author, f.cfg.Now(), forge.CommitMessage(r))
}

// open points pr's branch at its head and records it. raced reports that
// the records refused it because the incident has an open pull request
// now (another replica opened it); the branch is then left as it was.
func (f *Forge) open(ctx context.Context, pr forge.PullRequest) (_ forge.PullRequest, raced bool, _ error) {
	if f.checkedOut(pr.Branch) {
		return forge.PullRequest{}, false, fmt.Errorf("open pull request: %w: branch %s is checked out in %s", forge.ErrConflict, pr.Branch, f.cfg.Dir)
	}
	old, _, err := f.branchHead(pr.Branch)
	if err != nil {
		return forge.PullRequest{}, false, err
	}
	if err := f.setBranch(pr.Branch, plumbing.NewHash(pr.Head), old); err != nil {
		return forge.PullRequest{}, false, fmt.Errorf("open pull request: %w", err)
	}
	created, err := f.cfg.Records.CreatePR(ctx, pr)
	if err != nil {
		// Leave the branch as it was, so a refused record leaves no trace.
		f.restoreBranch(pr.Branch, pr.Head, old)
		return forge.PullRequest{}, errors.Is(err, forge.ErrConflict), fmt.Errorf("open pull request: %w", err)
	}
	f.log.Info("opened pull request", keyIncident, created.IncidentID, keyPR, created.Number, keyBranch, created.Branch, keyHead, created.Head)
	return created, false, nil
}

// restoreBranch puts branch back to old (deletes it when old is nil) if it
// still points at head.
func (f *Forge) restoreBranch(branch, head string, old *plumbing.Reference) {
	name := plumbing.NewBranchReferenceName(branch)
	cur, err := f.repo.Storer.Reference(name)
	if err != nil || cur.Hash().String() != head {
		return
	}
	if old == nil {
		_ = f.repo.Storer.RemoveReference(name)
		return
	}
	_ = f.repo.Storer.CheckAndSetReference(old, cur)
}

// update moves the open pull request's branch to next's head and stores
// next's content under the open pull request's number and branch.
func (f *Forge) update(ctx context.Context, open, next forge.PullRequest) (forge.PullRequest, error) {
	if f.checkedOut(open.Branch) {
		return forge.PullRequest{}, fmt.Errorf("update pull request #%d: %w: branch %s is checked out in %s", open.Number, forge.ErrConflict, open.Branch, f.cfg.Dir)
	}
	old, _, err := f.branchHead(open.Branch)
	if err != nil {
		return forge.PullRequest{}, err
	}
	if err := f.setBranch(open.Branch, plumbing.NewHash(next.Head), old); err != nil {
		return forge.PullRequest{}, fmt.Errorf("update pull request #%d: %w", open.Number, err)
	}
	pr := open
	pr.Title, pr.Body, pr.Base, pr.Head = next.Title, next.Body, next.Base, next.Head
	pr.Intent, pr.Automerge, pr.Labels, pr.Reviewers = next.Intent, next.Automerge, next.Labels, next.Reviewers
	pr.Updated = next.Updated
	if err := f.cfg.Records.UpdatePR(ctx, pr); err != nil {
		f.restoreBranch(open.Branch, next.Head, old)
		return forge.PullRequest{}, fmt.Errorf("update pull request #%d: %w", open.Number, err)
	}
	f.log.Info("updated pull request", keyIncident, pr.IncidentID, keyPR, pr.Number, keyBranch, pr.Branch, keyHead, pr.Head)
	pr.Reused = true
	return pr, nil
}

// record returns the stored pull request behind pr, reconciled with the
// repository (see reconcile). Callers hold f.mu.
func (f *Forge) record(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	if err := f.checkRepo(repo); err != nil {
		return forge.PullRequest{}, err
	}
	pr, err := f.cfg.Records.PR(ctx, repo, number)
	if err != nil {
		return forge.PullRequest{}, err
	}
	return f.reconcile(ctx, pr)
}

// Get returns the recorded pull request; one whose branch was merged into
// its base or deleted by hand is recorded as merged or closed first.
func (f *Forge) Get(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, err := f.record(ctx, repo, number)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("get pull request #%d: %w", number, err)
	}
	return pr, nil
}

// Close marks an open pull request closed and keeps its branch. The local
// forge has nowhere to show a comment; it is logged. Closing a closed pull
// request returns it unchanged; closing a merged one is ErrConflict.
func (f *Forge) Close(ctx context.Context, pr forge.PullRequest, comment string) (forge.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, err := f.record(ctx, pr.Repo, pr.Number)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("close pull request #%d: %w", pr.Number, err)
	}
	switch rec.State {
	case forge.StateClosed:
		return rec, nil
	case forge.StateMerged:
		return forge.PullRequest{}, fmt.Errorf("close pull request #%d: %w: it is merged", pr.Number, forge.ErrConflict)
	}
	rec.State = forge.StateClosed
	rec.Merge = forge.MergeNone
	rec.Updated = f.cfg.Now().UTC()
	if err := f.cfg.Records.UpdatePR(ctx, rec); err != nil {
		return forge.PullRequest{}, fmt.Errorf("close pull request #%d: %w", pr.Number, err)
	}
	f.log.Info("closed pull request", keyIncident, rec.IncidentID, keyPR, rec.Number, "comment", comment)
	return rec, nil
}

// Merge merges an open pull request into its base branch with a merge
// commit (never a fast-forward), merging file by file and line by line; a
// conflict is ErrConflict and changes nothing. The base branch moves by
// compare-and-swap: if it moved meanwhile, the error wraps ErrNotReady and
// a retry merges onto the new head.
//
// When the repository is a checkout whose HEAD is the base branch, Merge
// refuses (ErrConflict) if the checkout has uncommitted changes to tracked
// files or untracked files where the merge writes; otherwise it updates
// the changed files in the working tree and the index, so the checkout
// stays clean.
func (f *Forge) Merge(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, err := f.record(ctx, pr.Repo, pr.Number)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("merge pull request #%d: %w", pr.Number, err)
	}
	merged, err := f.merge(ctx, rec)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("merge pull request #%d: %w", pr.Number, err)
	}
	return merged, nil
}

func (f *Forge) merge(ctx context.Context, rec forge.PullRequest) (forge.PullRequest, error) {
	if rec.State != forge.StateOpen {
		return forge.PullRequest{}, fmt.Errorf("%w: it is %s", forge.ErrConflict, rec.State)
	}
	headHash := plumbing.NewHash(rec.Head)
	if ref, ok, err := f.branchHead(rec.Branch); err != nil {
		return forge.PullRequest{}, err
	} else if ok {
		headHash = ref.Hash()
	}
	baseRef, ok, err := f.branchHead(rec.Base)
	if err != nil {
		return forge.PullRequest{}, err
	}
	if !ok {
		return forge.PullRequest{}, forge.Permanent(fmt.Errorf("base branch %s: %w", rec.Base, forge.ErrNotFound))
	}
	ours, err := f.repo.CommitObject(baseRef.Hash())
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("read %s: %w", rec.Base, err)
	}
	theirs, err := f.repo.CommitObject(headHash)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("read %s: %w", rec.Branch, err)
	}
	bases, err := ours.MergeBase(theirs)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("find merge base: %w", err)
	}
	if len(bases) == 0 {
		return forge.PullRequest{}, fmt.Errorf("%w: %s and %s share no history", forge.ErrConflict, rec.Branch, rec.Base)
	}
	// With several merge bases (criss-cross history) the first one is
	// used; medic's branches have one.
	trees := make([]*object.Tree, 3)
	for i, c := range []*object.Commit{bases[0], ours, theirs} {
		if trees[i], err = c.Tree(); err != nil {
			return forge.PullRequest{}, fmt.Errorf("read tree of %s: %w", c.Hash, err)
		}
	}
	tree, err := mergeTrees(ctx, f.repo.Storer, trees[0], trees[1], trees[2])
	if err != nil {
		return forge.PullRequest{}, err
	}

	onCheckout := f.checkedOut(rec.Base)
	if onCheckout {
		mergedTree, err := object.GetTree(f.repo.Storer, tree)
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("read merged tree: %w", err)
		}
		if err := f.checkClean(ctx, trees[1], mergedTree); err != nil {
			return forge.PullRequest{}, err
		}
	}

	msg := fmt.Sprintf("Merge pull request #%d from %s\n\n%s\n", rec.Number, rec.Branch, rec.Title)
	mc, err := writeCommit(f.repo.Storer, tree, []plumbing.Hash{ours.Hash, theirs.Hash}, f.cfg.Author, f.cfg.Now(), msg)
	if err != nil {
		return forge.PullRequest{}, err
	}
	if err := f.setBranch(rec.Base, mc, baseRef); err != nil {
		return forge.PullRequest{}, err
	}
	if onCheckout {
		mergedTree, err := object.GetTree(f.repo.Storer, tree)
		if err == nil {
			err = f.checkout(ctx, trees[1], mergedTree)
		}
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("%s moved to %s but updating the checkout failed (run git reset --merge): %w", rec.Base, mc, err)
		}
	}

	rec.Head = theirs.Hash.String()
	rec.State = forge.StateMerged
	rec.Merge = forge.MergeCompleted
	rec.MergeCommit = mc.String()
	rec.Updated = f.cfg.Now().UTC()
	if err := f.cfg.Records.UpdatePR(ctx, rec); err != nil {
		return forge.PullRequest{}, fmt.Errorf("%s merged as %s but recording it failed: %w", rec.Branch, mc, err)
	}
	f.log.Info("merged pull request", keyIncident, rec.IncidentID, keyPR, rec.Number, keyBranch, rec.Branch, "merge_commit", rec.MergeCommit)
	return rec, nil
}
