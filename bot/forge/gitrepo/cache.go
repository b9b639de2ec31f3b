package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/medic-bot/medic/bot/forge"
)

// TokenUsername is the HTTP Basic username GitHub expects with an
// installation token.
const TokenUsername = "x-access-token"

// Errors the package returns; test with errors.Is.
var (
	// ErrStale: Push found the remote branch somewhere other than the
	// caller expected (another replica pushed, or someone edited medic's
	// branch); nothing was pushed.
	ErrStale = errors.New("remote branch moved")
	// ErrNotFetched: the commit is not in the local clone; Fetch or
	// FetchCommit it first.
	ErrNotFetched = errors.New("commit not fetched")
	// ErrNoChange: the edits leave the parent's tree as it is, so there
	// is nothing to commit.
	ErrNoChange = errors.New("the change leaves every file as it is")
)

// Auth is the credential of one network call: a GitHub App installation
// token, sent as HTTP Basic auth with username x-access-token. An empty
// Token means anonymous access.
type Auth struct {
	Token string
}

// String hides the token, so an Auth printed by mistake leaks nothing.
func (a Auth) String() string {
	if a.Token == "" {
		return "Auth{anonymous}"
	}
	return "Auth{token}"
}

// GoString hides the token from %#v too.
func (a Auth) GoString() string { return "gitrepo." + a.String() }

func (a Auth) method() transport.AuthMethod {
	if a.Token == "" {
		return nil
	}
	return &githttp.BasicAuth{Username: TokenUsername, Password: a.Token}
}

// Options configures a Cache.
type Options struct {
	// Now is the clock of commits whose CommitRequest.When is zero;
	// time.Now when nil.
	Now func() time.Time
}

// Cache keeps one local bare clone per remote repository under a
// directory. It is safe for concurrent use.
type Cache struct {
	dir   string
	now   func() time.Time
	mu    sync.Mutex
	repos map[string]*Repo
}

// NewCache returns a Cache of clones under dir, creating dir if needed.
// Clones already there from an earlier run are reused.
func NewCache(dir string, opts Options) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("git cache: no directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Cache{dir: abs, now: now, repos: map[string]*Repo{}}, nil
}

// Dir is the folder holding the clones.
func (c *Cache) Dir() string { return c.dir }

// Open returns the local clone of the repository at cloneURL (an http or
// https URL ending in /<owner>/<name> or /<owner>/<name>.git, without
// credentials), creating an empty one on first use. It does not touch the
// network; Fetch does. Every Open of the same URL returns the same *Repo.
func (c *Cache) Open(ctx context.Context, cloneURL string) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rem, err := parseURL(cloneURL)
	if err != nil {
		return nil, forge.Permanent(fmt.Errorf("open clone: %w", err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.repos[rem.key]; ok {
		return r, nil
	}
	path := filepath.Join(c.dir, rem.key)
	repo, err := git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("open clone of %s: %w", rem.name, err)
		}
		repo, err = git.PlainInit(path, true)
	}
	if err != nil {
		return nil, fmt.Errorf("open clone of %s: %w", rem.name, err)
	}
	r := &Repo{
		url:    rem.url,
		name:   rem.name,
		repo:   repo,
		remote: git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{rem.url}}),
		now:    c.now,
	}
	c.repos[rem.key] = r
	return r, nil
}

// remoteName is the name the clone gives its remote; fetched branches are
// refs/remotes/origin/<branch>.
const remoteName = "origin"

type remoteURL struct {
	url  string // normalised: scheme://host/path.git
	name string // owner/name
	key  string // the clone's folder under the cache directory
}

var (
	hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)
	partRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
)

// parseURL checks a clone URL and derives its cache key from its parts,
// each checked, so that no URL can name a folder outside the cache. Its
// errors never quote the URL, which could carry a credential.
func parseURL(raw string) (remoteURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return remoteURL{}, errors.New("clone URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return remoteURL{}, errors.New("clone URL must be http or https")
	}
	if u.User != nil {
		return remoteURL{}, errors.New("clone URL must not carry credentials; pass them as Auth")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return remoteURL{}, errors.New("clone URL must not have a query or fragment")
	}
	host := strings.ToLower(u.Host)
	if !hostRE.MatchString(host) {
		return remoteURL{}, errors.New("clone URL has an invalid host")
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	segs := strings.Split(p, "/")
	if len(segs) < 2 {
		return remoteURL{}, fmt.Errorf("clone URL path %q must end in /<owner>/<name>", u.Path)
	}
	for _, s := range segs {
		if !partRE.MatchString(s) || s == "." || s == ".." {
			return remoteURL{}, fmt.Errorf("clone URL path %q has an invalid part", u.Path)
		}
	}
	owner, name := segs[len(segs)-2], segs[len(segs)-1]
	key := append([]string{u.Scheme + "_" + strings.ReplaceAll(host, ":", "_")}, segs[:len(segs)-1]...)
	key = append(key, name+".git")
	return remoteURL{
		url:  u.Scheme + "://" + host + "/" + p + ".git",
		name: owner + "/" + name,
		key:  filepath.Join(key...),
	}, nil
}
