package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/medic-bot/medic/bot/forge"
)

// Push sets refs/heads/<branch> on the server to the commit sha, whatever
// it pointed at before (a forced push), but only when it currently points
// at expect ("" meaning the branch must not exist): a lease, so that a
// push by another medic replica, or a human's commit on medic's branch, is
// never overwritten. On a mismatch nothing is pushed and the error wraps
// ErrStale. A branch already at sha is left as it is and Push returns nil:
// with deterministic commits, that is the same change pushed twice.
//
// The lease holds on the server, not only in this process: the update
// command carries expect as the ref's old value, and git's receive-pack
// (GitHub's too; it is what makes `git push --force-with-lease` safe)
// applies it only if the ref still has that value, under the ref's lock.
// The check against the advertisement before sending only saves sending
// a pack that would be refused. go-git has no such lease of its own (its
// ForceWithLease compares the advertisement and then sends whatever old
// value it saw), which is why Push builds the update itself. A server that
// ignored old values would leave a window between the check and the
// update.
//
// Only the objects the server lacks are sent: everything reachable from
// the advertised refs and from the clone's shallow boundary is left out,
// so pushing from a shallow clone works.
func (r *Repo) Push(ctx context.Context, auth Auth, sha, branch, expect string) error {
	op := "push " + branch + " to"
	h, err := parseHash(sha)
	if err != nil {
		return r.fail(op, auth, forge.Permanent(err))
	}
	old := plumbing.ZeroHash
	if expect != "" {
		if old, err = parseHash(expect); err != nil {
			return r.fail(op, auth, forge.Permanent(fmt.Errorf("expected value: %w", err)))
		}
	}
	if err := checkBranch(branch); err != nil {
		return r.fail(op, auth, forge.Permanent(err))
	}
	name := plumbing.NewBranchReferenceName(branch)

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.hasCommit(h) {
		return r.fail(op, auth, fmt.Errorf("commit %s: %w", sha, ErrNotFetched))
	}
	sess, ar, err := r.receivePack(ctx, auth)
	if err != nil {
		return r.fail(op, auth, err)
	}
	defer sess.Close()
	cur, err := advertised(ar, name)
	if err != nil {
		return r.fail(op, auth, err)
	}
	if cur == h {
		return nil
	}
	if cur != old {
		return r.fail(op, auth, stale(name, old, cur))
	}
	if r.beforeSend != nil {
		r.beforeSend()
	}

	haves, err := remoteHashes(ar)
	if err != nil {
		return r.fail(op, auth, err)
	}
	shallow, err := r.repo.Storer.Shallow()
	if err != nil {
		return r.fail(op, auth, err)
	}
	haves = append(haves, shallow...)
	objects, err := revlist.Objects(r.repo.Storer, []plumbing.Hash{h}, haves)
	if err != nil {
		return r.fail(op, auth, fmt.Errorf("list objects to send: %w", err))
	}

	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: old, New: h}}
	pr, pw := io.Pipe()
	req.Packfile = pr
	encoded := make(chan error, 1)
	go func() {
		cfg, err := r.repo.Storer.Config()
		window := uint(10)
		if err == nil {
			window = cfg.Pack.Window
		}
		e := packfile.NewEncoder(pw, r.repo.Storer, !ar.Capabilities.Supports(capability.OFSDelta))
		_, err = e.Encode(objects, window)
		pw.CloseWithError(err) // nil: the pack ends
		encoded <- err
	}()
	report, err := sess.ReceivePack(ctx, req)
	pr.Close() // unblock the encoder if ReceivePack stopped reading
	encErr := <-encoded
	if err == nil && report != nil {
		err = report.Error()
	}
	if err == nil {
		err = encErr
	}
	if err != nil {
		err = r.explainRefused(ctx, auth, name, old, h, err)
	}
	if err != nil {
		return r.fail(op, auth, err)
	}
	return nil
}

// DeleteBranch deletes refs/heads/<branch> on the server; a branch that
// does not exist is not an error.
func (r *Repo) DeleteBranch(ctx context.Context, auth Auth, branch string) error {
	op := "delete branch " + branch + " of"
	if err := checkBranch(branch); err != nil {
		return r.fail(op, auth, forge.Permanent(err))
	}
	name := plumbing.NewBranchReferenceName(branch)
	r.mu.Lock()
	defer r.mu.Unlock()
	sess, ar, err := r.receivePack(ctx, auth)
	if err != nil {
		return r.fail(op, auth, err)
	}
	defer sess.Close()
	cur, err := advertised(ar, name)
	if err != nil {
		return r.fail(op, auth, err)
	}
	if cur.IsZero() {
		return nil
	}
	if !ar.Capabilities.Supports(capability.DeleteRefs) {
		return r.fail(op, auth, forge.Permanent(errors.New("the server does not allow deleting branches")))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: cur, New: plumbing.ZeroHash}}
	report, err := sess.ReceivePack(ctx, req)
	if err == nil && report != nil {
		err = report.Error()
	}
	if err != nil {
		return r.fail(op, auth, err)
	}
	return nil
}

// receivePack opens a receive-pack session and reads the server's refs.
func (r *Repo) receivePack(ctx context.Context, auth Auth) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	return openSession(ctx, r.url, auth, transport.Transport.NewReceivePackSession)
}

// advertised is name's value in the server's advertisement, or the zero
// hash when it does not exist.
func advertised(ar *packp.AdvRefs, name plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := ar.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ref, err := refs.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// remoteHashes are the commits the server advertised.
func remoteHashes(ar *packp.AdvRefs) ([]plumbing.Hash, error) {
	refs, err := ar.AllReferences()
	if err != nil {
		return nil, err
	}
	var hs []plumbing.Hash
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference {
			hs = append(hs, ref.Hash())
		}
	}
	return hs, nil
}

func stale(name plumbing.ReferenceName, want, got plumbing.Hash) error {
	show := func(h plumbing.Hash) string {
		if h.IsZero() {
			return "absent"
		}
		return h.String()
	}
	return fmt.Errorf("%w: %s is %s, expected %s", ErrStale, name.Short(), show(got), show(want))
}

// explainRefused looks at the branch after the server refused an update:
// when it moved away from the expected value while the pack was on its way
// (the server's old-value check refused it) the error wraps ErrStale, and
// when it is at the commit being pushed (another replica pushed the same
// commit) there is no error.
func (r *Repo) explainRefused(ctx context.Context, auth Auth, name plumbing.ReferenceName, want, pushed plumbing.Hash, err error) error {
	if ctx.Err() != nil {
		return err
	}
	sess, ar, lerr := r.receivePack(ctx, auth)
	if lerr != nil {
		return err
	}
	defer sess.Close()
	cur, lerr := advertised(ar, name)
	if lerr != nil || cur == want {
		return err
	}
	if cur == pushed {
		return nil
	}
	return fmt.Errorf("%w (the server refused the update: %v)", stale(name, want, cur), err)
}
