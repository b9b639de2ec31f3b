package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"path"
	"sync"
)

// Cache keeps one compiled gate per repository and recompiles it only when
// the repository's policy folder changes (by a hash of its policy files).
// It is safe for concurrent use.
type Cache struct {
	opts Options
	mu   sync.Mutex
	m    map[string]cached
}

type cached struct {
	sum  [sha256.Size]byte
	gate Gate
	err  error
}

// NewCache returns an empty cache building gates with opts.
func NewCache(opts Options) *Cache {
	return &Cache{opts: opts, m: map[string]cached{}}
}

// Gate returns the gate for repo (any stable key, e.g. owner/name) whose
// policy folder is dir in fsys, as NewRepoGate builds it: on a load or
// compile error the gate fails closed and the error is returned too (again
// on every call until the folder changes).
func (c *Cache) Gate(ctx context.Context, repo string, fsys fs.FS, dir string) (Gate, error) {
	sum, err := folderSum(fsys, dir)
	if err != nil {
		return closedGate(err), err
	}
	c.mu.Lock()
	e, ok := c.m[repo]
	c.mu.Unlock()
	if ok && e.sum == sum {
		return e.gate, e.err
	}
	g, err := NewRepoGate(ctx, fsys, dir, c.opts)
	c.mu.Lock()
	c.m[repo] = cached{sum: sum, gate: g, err: err}
	c.mu.Unlock()
	return g, err
}

// folderSum hashes the names and contents of the policy files under dir;
// a missing folder has the hash of nothing.
func folderSum(fsys fs.FS, dir string) ([sha256.Size]byte, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch path.Ext(p) {
		case ".rego", ".json", ".yaml", ".yml":
		default:
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(sum[:])
		return nil
	})
	var out [sha256.Size]byte
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return out, err
	}
	copy(out[:], h.Sum(nil))
	return out, nil
}
