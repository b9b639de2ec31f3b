package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/redact"
	"github.com/medic-bot/medic/patchers/history"
)

// Repo is the local clone of one remote repository. Its methods are safe
// for concurrent use: they take turns.
type Repo struct {
	url  string
	name string // owner/name, for errors
	now  func() time.Time
	// mu serialises every use of repo and remote: go-git's repositories
	// are not safe for concurrent use.
	mu     sync.Mutex
	repo   *git.Repository
	remote *git.Remote
	// beforeSend, when set by a test, runs between Push's lease check
	// and its send.
	beforeSend func()
}

// Name is the repository's owner/name.
func (r *Repo) Name() string { return r.name }

// URL is the repository's clone URL.
func (r *Repo) URL() string { return r.url }

// Fetch fetches branch's head commit, shallow (depth 1: its tree, not its
// history), telling the server which commits the clone has so that only
// new objects come over the wire (as a thin pack). It updates
// refs/remotes/origin/<branch> and returns the commit's id. A branch that
// does not exist fails with an error wrapping forge.ErrNotFound.
func (r *Repo) Fetch(ctx context.Context, auth Auth, branch string) (string, error) {
	op := "fetch " + branch + " of"
	if err := checkBranch(branch); err != nil {
		return "", r.fail(op, auth, forge.Permanent(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sess, ar, err := r.uploadPack(ctx, auth)
	if err != nil {
		return "", r.fail(op, auth, err)
	}
	defer sess.Close()
	head, err := advertised(ar, plumbing.NewBranchReferenceName(branch))
	if err != nil {
		return "", r.fail(op, auth, err)
	}
	if head.IsZero() {
		return "", r.fail(op, auth, fmt.Errorf("no branch %s: %w", branch, forge.ErrNotFound))
	}
	if err := r.fetchShallow(ctx, sess, ar, head); err != nil {
		return "", r.fail(op, auth, err)
	}
	local := plumbing.NewHashReference(plumbing.NewRemoteReferenceName(remoteName, branch), head)
	if err := r.repo.Storer.SetReference(local); err != nil {
		return "", r.fail(op, auth, err)
	}
	return head.String(), nil
}

// fetchedRef is where FetchCommit keeps the last commit it fetched by id,
// so that later fetches count it among the commits the clone has.
const fetchedRef = plumbing.ReferenceName("refs/medic/fetched")

// deepenSteps are the depths FetchCommit deepens the fetched branches to
// when the server will not send a commit by id.
var deepenSteps = []int{50, 500}

// FetchCommit makes sure the commit sha, typically an older commit a
// change was planned on, is in the clone with its tree. It does nothing
// when the commit is already there; otherwise it asks the server for that
// commit by id (depth 1), and when the server does not allow that, it
// deepens the branches fetched so far until the commit turns up. A commit
// the server cannot provide fails with an error wrapping
// forge.ErrNotFound.
func (r *Repo) FetchCommit(ctx context.Context, auth Auth, sha string) error {
	op := "fetch commit " + sha + " of"
	h, err := parseHash(sha)
	if err != nil {
		return r.fail(op, auth, forge.Permanent(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hasCommit(h) {
		return nil
	}
	sess, ar, err := r.uploadPack(ctx, auth)
	if err != nil {
		return r.fail(op, auth, err)
	}
	defer sess.Close()
	if !ar.Capabilities.Supports(capability.AllowReachableSHA1InWant) {
		if err := r.deepen(ctx, auth, ar, h); err != nil {
			return r.fail(op, auth, err)
		}
		return nil
	}
	if err := r.fetchShallow(ctx, sess, ar, h); err != nil {
		if refusedWant(err) {
			err = fmt.Errorf("the server has no such commit, or none reachable from its branches: %w (%w)", forge.ErrNotFound, err)
		}
		return r.fail(op, auth, err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(fetchedRef, h)); err != nil {
		return r.fail(op, auth, err)
	}
	return nil
}

// session is what upload-pack and receive-pack sessions share.
type session interface {
	AdvertisedReferencesContext(context.Context) (*packp.AdvRefs, error)
	Close() error
}

// openSession opens a session of the kind open makes with the remote's
// transport client and reads the server's refs.
func openSession[S session](ctx context.Context, url string, auth Auth,
	open func(transport.Transport, *transport.Endpoint, transport.AuthMethod) (S, error)) (S, *packp.AdvRefs, error) {
	var zero S
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return zero, nil, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return zero, nil, err
	}
	sess, err := open(cl, ep, auth.method())
	if err != nil {
		return zero, nil, err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return zero, nil, err
	}
	return sess, ar, nil
}

// uploadPack opens an upload-pack (fetch) session and reads the server's
// refs.
func (r *Repo) uploadPack(ctx context.Context, auth Auth) (transport.UploadPackSession, *packp.AdvRefs, error) {
	return openSession(ctx, r.url, auth, transport.Transport.NewUploadPackSession)
}

// fetchShallow fetches commit want with depth 1 unless the clone has it.
//
// It asks for a thin pack: without one, git's upload-pack answers a
// shallow request with the commit's whole tree even when the clone has
// most of it. A thin pack's deltas may refer to objects the clone already
// has, so it is not kept as a pack (go-git cannot complete one) but
// resolved into objects against the clone's storage; the first fetch,
// with nothing to refer to, is kept as a pack.
func (r *Repo) fetchShallow(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, want plumbing.Hash) error {
	if r.hasCommit(want) {
		return nil
	}
	if !ar.Capabilities.Supports(capability.Shallow) {
		return forge.Permanent(errors.New("the server does not support shallow fetches"))
	}
	s := r.repo.Storer
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	// go-git drops thin-pack from every advertisement, as its own
	// fetch cannot store thin packs; git's upload-pack (GitHub's
	// included) always offers it.
	if err := req.Capabilities.Set(capability.ThinPack); err != nil {
		return err
	}
	for _, c := range []capability.Capability{capability.Shallow, capability.NoProgress} {
		if ar.Capabilities.Supports(c) {
			if err := req.Capabilities.Set(c); err != nil {
				return err
			}
		}
	}
	req.Depth = packp.DepthCommits(1)
	shallow, err := s.Shallow()
	if err != nil {
		return err
	}
	req.Shallows = shallow
	req.Wants = []plumbing.Hash{want}
	req.Haves, err = r.haves()
	if err != nil {
		return err
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Close()
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if len(req.Haves) == 0 {
		err = packfile.UpdateObjectStorage(s, pack)
	} else {
		var p *packfile.Parser
		p, err = packfile.NewParserWithStorage(packfile.NewScanner(pack), s)
		if err == nil {
			_, err = p.Parse()
		}
	}
	if err != nil {
		return fmt.Errorf("read pack: %w", err)
	}
	if err := r.updateShallow(shallow, resp.ShallowUpdate); err != nil {
		return err
	}
	if !r.hasCommit(want) {
		return fmt.Errorf("the server did not send commit %s", want)
	}
	return nil
}

// haves are the commits the clone has at its refs and shallow boundary.
func (r *Repo) haves() ([]plumbing.Hash, error) {
	s := r.repo.Storer
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(h plumbing.Hash) {
		if !seen[h] && r.hasCommit(h) {
			seen[h] = true
			out = append(out, h)
		}
	}
	refs, err := s.IterReferences()
	if err != nil {
		return nil, err
	}
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			add(ref.Hash())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	shallow, err := s.Shallow()
	if err != nil {
		return nil, err
	}
	for _, h := range shallow {
		add(h)
	}
	return out, nil
}

// updateShallow records the server's new shallow boundary.
func (r *Repo) updateShallow(before []plumbing.Hash, upd packp.ShallowUpdate) error {
	if len(upd.Shallows) == 0 && len(upd.Unshallows) == 0 {
		return nil
	}
	gone := map[plumbing.Hash]bool{}
	for _, h := range upd.Unshallows {
		gone[h] = true
	}
	var after []plumbing.Hash
	have := map[plumbing.Hash]bool{}
	for _, h := range append(slices.Clone(before), upd.Shallows...) {
		if !gone[h] && !have[h] {
			have[h] = true
			after = append(after, h)
		}
	}
	return r.repo.Storer.SetShallow(after)
}

// deepen fetches the branches fetched so far (the default branch when
// there are none) with more and more history until commit h is among them.
func (r *Repo) deepen(ctx context.Context, auth Auth, ar *packp.AdvRefs, h plumbing.Hash) error {
	refs, err := r.repo.Storer.IterReferences()
	if err != nil {
		return err
	}
	var specs []config.RefSpec
	prefix := "refs/remotes/" + remoteName + "/"
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if b, ok := strings.CutPrefix(ref.Name().String(), prefix); ok && ref.Type() == plumbing.HashReference {
			specs = append(specs, config.RefSpec("+refs/heads/"+b+":"+ref.Name().String()))
		}
		return nil
	})
	if len(specs) == 0 {
		for _, v := range ar.Capabilities.Get(capability.SymRef) {
			if target, ok := strings.CutPrefix(v, "HEAD:refs/heads/"); ok && checkBranch(target) == nil {
				local := plumbing.NewRemoteReferenceName(remoteName, target)
				specs = append(specs, config.RefSpec("+refs/heads/"+target+":"+local.String()))
			}
		}
	}
	if len(specs) == 0 {
		return fmt.Errorf("the server does not send commits by id and has no default branch to deepen: %w", forge.ErrNotFound)
	}
	for _, depth := range deepenSteps {
		err := r.remote.FetchContext(ctx, &git.FetchOptions{
			RefSpecs: specs,
			Depth:    depth,
			Auth:     auth.method(),
			Tags:     git.NoTags,
			Force:    true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return fmt.Errorf("deepen to %d commits: %w", depth, err)
		}
		if r.hasCommit(h) {
			return nil
		}
	}
	return fmt.Errorf("the server does not send commits by id and it is not within the last %d commits of the fetched branches: %w",
		deepenSteps[len(deepenSteps)-1], forge.ErrNotFound)
}

// hasCommit reports whether the clone has commit h and its tree.
func (r *Repo) hasCommit(h plumbing.Hash) bool {
	c, err := object.GetCommit(r.repo.Storer, h)
	if err != nil {
		return false
	}
	_, err = object.GetTree(r.repo.Storer, c.TreeHash)
	return err == nil
}

// HasCommit reports whether the commit sha and its tree are in the clone.
func (r *Repo) HasCommit(sha string) bool {
	h, err := parseHash(sha)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hasCommit(h)
}

// Tree returns the repository's files at the fetched commit sha as a
// read-only fs.FS, read lazily from the clone (see history.TreeFS: a
// symbolic link is followed only inside the tree; one that leaves it is an
// error). The FS is safe for concurrent use, also with the Repo's other methods.
// A commit not in the clone fails with ErrNotFetched.
func (r *Repo) Tree(ctx context.Context, sha string) (fs.FS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	op := "read tree " + sha + " of"
	h, err := parseHash(sha)
	if err != nil {
		return nil, r.fail(op, Auth{}, forge.Permanent(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tree, err := r.commitTree(h)
	if err != nil {
		return nil, r.fail(op, Auth{}, err)
	}
	return &lockedFS{mu: &r.mu, fsys: history.TreeFS(tree)}, nil
}

// commitTree is commit h's tree; ErrNotFetched when the clone lacks it.
func (r *Repo) commitTree(h plumbing.Hash) (*object.Tree, error) {
	c, err := object.GetCommit(r.repo.Storer, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("commit %s: %w", h, ErrNotFetched)
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	t, err := c.Tree()
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("tree of commit %s: %w", h, ErrNotFetched)
	}
	if err != nil {
		return nil, fmt.Errorf("tree of commit %s: %w", h, err)
	}
	return t, nil
}

// RemoteBranch asks the server where branch is now (git ls-remote); ok
// is false when it does not exist.
func (r *Repo) RemoteBranch(ctx context.Context, auth Auth, branch string) (sha string, ok bool, err error) {
	op := "look up branch " + branch + " of"
	if err := checkBranch(branch); err != nil {
		return "", false, r.fail(op, auth, forge.Permanent(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: auth.method()})
	if err != nil {
		return "", false, r.fail(op, auth, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want && ref.Type() == plumbing.HashReference {
			return ref.Hash().String(), true, nil
		}
	}
	return "", false, nil
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func parseHash(sha string) (plumbing.Hash, error) {
	if !hashRE.MatchString(sha) {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a full commit id", sha)
	}
	return plumbing.NewHash(sha), nil
}

// checkBranch refuses branch names git would refuse.
func checkBranch(b string) error {
	bad := b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.Contains(b, "/.") || strings.HasPrefix(b, ".") ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f")
	for _, c := range b {
		if c < 0x20 {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	return nil
}

// refusedWant reports the server's answer to a fetch of a commit it does
// not have or will not send: git's upload-pack (and GitHub's) answers
// "ERR upload-pack: not our ref <id>", which go-git reports as text only.
func refusedWant(err error) bool {
	var line *pktline.ErrorLine
	return errors.As(err, &line) && strings.Contains(line.Text, "not our ref") ||
		strings.Contains(err.Error(), "upload-pack: not our ref")
}

// fail wraps err with the operation and the repository, marks what
// retrying cannot fix as permanent, and keeps auth's token out of the
// message.
func (r *Repo) fail(op string, auth Auth, err error) error {
	var sentinel error
	for _, s := range []error{transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, transport.ErrInvalidAuthMethod, transport.ErrRepositoryNotFound} {
		if errors.Is(err, s) {
			sentinel = s
			break
		}
	}
	if auth.Token != "" && strings.Contains(err.Error(), auth.Token) {
		// Keep the classification, drop the chain that holds the token.
		msg := strings.ReplaceAll(err.Error(), auth.Token, "[token]")
		if sentinel != nil {
			err = fmt.Errorf("%w (%s)", sentinel, msg)
		} else {
			err = errors.New(msg)
		}
	}
	// A git server's answer may echo other credentials too.
	err = redact.Error(err)
	switch sentinel {
	case nil:
		return fmt.Errorf("%s %s: %w", op, r.name, err)
	case transport.ErrRepositoryNotFound:
		return fmt.Errorf("%s %s: %w: %w", op, r.name, forge.ErrNotFound, err)
	default:
		return forge.Permanent(fmt.Errorf("%s %s: %w", op, r.name, err))
	}
}

// lockedFS serialises every call into a TreeFS with its Repo's
// operations: both read the same go-git object storage.
type lockedFS struct {
	mu   *sync.Mutex
	fsys fs.FS
}

var (
	_ fs.ReadFileFS = (*lockedFS)(nil)
	_ fs.ReadDirFS  = (*lockedFS)(nil)
	_ fs.StatFS     = (*lockedFS)(nil)
	_ fs.ReadLinkFS = (*lockedFS)(nil)
)

func (l *lockedFS) Open(name string) (fs.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// TreeFS reads a file or folder whole on Open: the returned File
	// does not touch the storage again.
	return l.fsys.Open(name)
}

func (l *lockedFS) ReadFile(name string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadFile(l.fsys, name)
}

func (l *lockedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadDir(l.fsys, name)
}

func (l *lockedFS) Stat(name string) (fs.FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.Stat(l.fsys, name)
}

func (l *lockedFS) Lstat(name string) (fs.FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.Lstat(l.fsys, name)
}

func (l *lockedFS) ReadLink(name string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadLink(l.fsys, name)
}
