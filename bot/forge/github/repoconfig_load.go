package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
)

// configCache keeps each repository's parsed .medic.yaml until a push to
// its default branch (Invalidate) says it may have changed.
type configCache struct {
	mu sync.Mutex
	m  map[forge.Repo]cachedConfig
}

type cachedConfig struct {
	cfg RepoConfig
	err error
}

func newConfigCache() *configCache { return &configCache{m: map[forge.Repo]cachedConfig{}} }

// ErrInvalidConfig marks a .medic.yaml that does not validate: medic
// refuses to act on the repository until it is fixed (fail closed).
var ErrInvalidConfig = errors.New("invalid " + ConfigFile)

// RepoConfig returns repo's .medic.yaml from its default branch (defaults
// when there is none). An invalid file is an error wrapping
// ErrInvalidConfig and forge.ErrRefused, naming every problem.
func (f *Forge) RepoConfig(ctx context.Context, repo forge.Repo) (RepoConfig, error) {
	f.configs.mu.Lock()
	c, ok := f.configs.m[repo]
	f.configs.mu.Unlock()
	if ok {
		return c.cfg, c.err
	}
	cfg, err := f.loadRepoConfig(ctx, repo, "")
	if err != nil && !errors.Is(err, ErrInvalidConfig) {
		return RepoConfig{}, err // not cached: try again next time
	}
	f.configs.mu.Lock()
	f.configs.m[repo] = cachedConfig{cfg, err}
	f.configs.mu.Unlock()
	return cfg, err
}

// InvalidateRepoConfig forgets repo's cached configuration.
func (f *Forge) InvalidateRepoConfig(repo forge.Repo) {
	f.configs.mu.Lock()
	delete(f.configs.m, repo)
	f.configs.mu.Unlock()
}

// loadRepoConfig reads .medic.yaml at ref (the default branch when empty).
func (f *Forge) loadRepoConfig(ctx context.Context, repo forge.Repo, ref string) (RepoConfig, error) {
	c, err := f.app.Client(ctx, repo)
	if err != nil {
		return RepoConfig{}, err
	}
	var opts *gh.RepositoryContentGetOptions
	if ref != "" {
		opts = &gh.RepositoryContentGetOptions{Ref: ref}
	}
	file, _, _, err := c.Repositories.GetContents(ctx, repo.Owner, repo.Name, ConfigFile, opts)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return DefaultRepoConfig(), nil
		}
		return RepoConfig{}, classify("read "+ConfigFile+" of "+repo.String(), err)
	}
	if file == nil {
		return RepoConfig{}, forge.Permanent(fmt.Errorf("%w: %s in %s is a directory", ErrInvalidConfig, ConfigFile, repo))
	}
	text, err := file.GetContent()
	if err != nil {
		return RepoConfig{}, fmt.Errorf("decode %s of %s: %w", ConfigFile, repo, err)
	}
	cfg, err := ParseRepoConfig([]byte(text))
	if err != nil {
		return RepoConfig{}, fmt.Errorf("%w: %w: %s: %w", forge.ErrRefused, ErrInvalidConfig, repo, err)
	}
	return cfg, nil
}

// CheckRepoConfig validates .medic.yaml at commit sha (a push to the
// default branch) and reports the result on that commit as the
// medic/config check run: success, or failure listing every problem.
// It returns the validation error, if any.
func (f *Forge) CheckRepoConfig(ctx context.Context, repo forge.Repo, sha string) error {
	f.InvalidateRepoConfig(repo)
	_, verr := f.loadRepoConfig(ctx, repo, sha)
	if verr != nil && !errors.Is(verr, ErrInvalidConfig) {
		return verr
	}
	c, err := f.app.Client(ctx, repo)
	if err != nil {
		return err
	}
	conclusion, title, summary := "success", ConfigFile+" is valid", "medic will use this configuration."
	if verr != nil {
		conclusion, title = "failure", ConfigFile+" is invalid: medic will not act on this repository until it is fixed"
		msg := verr.Error()
		if i := strings.Index(msg, ": "+repo.String()+": "); i >= 0 {
			msg = msg[i+len(repo.String())+4:]
		}
		summary = "```\n" + msg + "\n```"
	}
	now := gh.Timestamp{Time: f.now()}
	if _, _, err := c.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, gh.CreateCheckRunOptions{
		Name: "medic/config", HeadSHA: sha, Status: gh.String("completed"), Conclusion: gh.String(conclusion),
		StartedAt: &now, CompletedAt: &now,
		Output: &gh.CheckRunOutput{Title: gh.String(title), Summary: gh.String(summary)},
	}); err != nil {
		return classify("report "+ConfigFile+" as a check run", err)
	}
	return verr
}
