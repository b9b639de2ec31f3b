package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/redact"
)

// Config is the GitHub App's configuration (the `github:` section of
// medic.yaml). The private key and webhook secret are read from files or
// the environment, never from the config file itself.
type Config struct {
	// AppID is the GitHub App's id (MEDIC_GITHUB_APP_ID).
	AppID int64 `yaml:"app_id"`
	// PrivateKeyFile is the App's PEM private key
	// (MEDIC_GITHUB_PRIVATE_KEY_FILE).
	PrivateKeyFile string `yaml:"private_key_file"`
	// WebhookSecretFile holds the webhook secret; MEDIC_GITHUB_WEBHOOK_SECRET
	// gives it directly.
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// APIURL is the REST API's base: https://api.github.com/ (default) or
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	APIURL string `yaml:"api_url"`
	// GraphQLURL defaults to https://api.github.com/graphql, or
	// https://HOST/api/graphql when APIURL is an Enterprise Server.
	GraphQLURL string `yaml:"graphql_url"`
	// CacheDir holds the shallow clones medic pushes from.
	CacheDir string `yaml:"cache_dir"`
	// CommitAuthor is the identity of medic's commits; GitHub shows
	// commits by "<app-slug>[bot]" with the App's avatar.
	CommitAuthor Signature   `yaml:"commit_author"`
	Retry        RetryConfig `yaml:"retry"`
}

// Signature is a commit author.
type Signature struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// DefaultConfig returns the defaults: api.github.com, no App configured.
func DefaultConfig() Config {
	return Config{
		APIURL:       "https://api.github.com/",
		CommitAuthor: Signature{Name: "medic[bot]", Email: "medic[bot]@users.noreply.github.com"},
		Retry:        DefaultRetryConfig(),
	}
}

// Enabled reports whether an App is configured.
func (c Config) Enabled() bool { return c.AppID != 0 }

// FromEnv overrides the config with MEDIC_GITHUB_APP_ID,
// MEDIC_GITHUB_PRIVATE_KEY_FILE and MEDIC_GITHUB_API_URL when they are set.
func (c Config) FromEnv(getenv func(string) string) (Config, error) {
	if v := getenv("MEDIC_GITHUB_APP_ID"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return c, fmt.Errorf("MEDIC_GITHUB_APP_ID %q is not a positive number", v)
		}
		c.AppID = id
	}
	if v := getenv("MEDIC_GITHUB_PRIVATE_KEY_FILE"); v != "" {
		c.PrivateKeyFile = v
	}
	if v := getenv("MEDIC_GITHUB_API_URL"); v != "" {
		c.APIURL = v
	}
	return c, nil
}

// Validate reports every problem at once. An App without a private key or
// cache directory is an error; no App at all is valid (GitHub disabled).
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if c.AppID < 0 {
		errs = append(errs, errors.New("github.app_id must be positive"))
	}
	if c.PrivateKeyFile == "" {
		errs = append(errs, errors.New("github.private_key_file (or MEDIC_GITHUB_PRIVATE_KEY_FILE) is required with an app_id"))
	}
	if _, err := c.apiURL(); err != nil {
		errs = append(errs, err)
	}
	if c.CacheDir == "" {
		errs = append(errs, errors.New("github.cache_dir is required with an app_id"))
	}
	if c.CommitAuthor.Name == "" || c.CommitAuthor.Email == "" {
		errs = append(errs, errors.New("github.commit_author needs a name and an email"))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("github.retry: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) apiURL() (*url.URL, error) {
	raw := c.APIURL
	if raw == "" {
		raw = "https://api.github.com/"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github.api_url %q must be an http(s) URL", raw)
	}
	if u.User != nil {
		return nil, errors.New("github.api_url must not carry credentials")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// graphQLURL derives GitHub's GraphQL endpoint from the REST base.
func (c Config) graphQLURL() (string, error) {
	if c.GraphQLURL != "" {
		return c.GraphQLURL, nil
	}
	u, err := c.apiURL()
	if err != nil {
		return "", err
	}
	if u.Host == "api.github.com" {
		return "https://api.github.com/graphql", nil
	}
	// Enterprise Server: https://HOST/api/v3/ -> https://HOST/api/graphql.
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v3")
	u.Path = strings.TrimSuffix(p, "/") + "/graphql"
	return u.String(), nil
}

// WebhookSecret reads the webhook secret from MEDIC_GITHUB_WEBHOOK_SECRET
// or WebhookSecretFile (surrounding whitespace trimmed).
func (c Config) WebhookSecret(getenv func(string) string) ([]byte, error) {
	if v := getenv("MEDIC_GITHUB_WEBHOOK_SECRET"); v != "" {
		return []byte(v), nil
	}
	if c.WebhookSecretFile == "" {
		return nil, errors.New("no webhook secret: set MEDIC_GITHUB_WEBHOOK_SECRET or github.webhook_secret_file")
	}
	b, err := os.ReadFile(c.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return nil, fmt.Errorf("webhook secret file %s is empty", c.WebhookSecretFile)
	}
	return s, nil
}

// App is an authenticated GitHub App: it finds the installation of each
// repository and keeps one token-refreshing transport per installation.
// Safe for concurrent use.
type App struct {
	cfg        Config
	api        *url.URL
	graphqlURL string
	tr         *transport
	apps       *ghinstallation.AppsTransport
	appClient  *gh.Client

	mu       sync.Mutex
	installs map[forge.Repo]int64
	tokens   map[int64]*ghinstallation.Transport
}

// NewApp builds the App from its config; the private key is read from
// PrivateKeyFile unless key is given. base is the HTTP transport under
// medic's retry layer (nil: http.DefaultTransport).
func NewApp(cfg Config, key []byte, base http.RoundTripper, now func() time.Time) (*App, error) {
	if cfg.AppID <= 0 {
		return nil, errors.New("github app: app_id is required")
	}
	if cfg.Retry == (RetryConfig{}) {
		cfg.Retry = DefaultRetryConfig()
	}
	api, err := cfg.apiURL()
	if err != nil {
		return nil, err
	}
	gql, err := cfg.graphQLURL()
	if err != nil {
		return nil, err
	}
	if key == nil {
		key, err = os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			// The path is fine to show; the key never is.
			return nil, fmt.Errorf("github app: read private key: %w", err)
		}
	}
	tr := newTransport(base, cfg.Retry, now)
	apps, err := ghinstallation.NewAppsTransport(tr, cfg.AppID, key)
	if err != nil {
		// ghinstallation's parse errors do not quote the key.
		return nil, fmt.Errorf("github app: private key in %s is not an RSA PEM key", keyName(cfg))
	}
	apps.BaseURL = strings.TrimSuffix(api.String(), "/")
	a := &App{cfg: cfg, api: api, graphqlURL: gql, tr: tr, apps: apps,
		installs: map[forge.Repo]int64{}, tokens: map[int64]*ghinstallation.Transport{}}
	a.appClient, err = a.newClient(apps)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func keyName(cfg Config) string {
	if cfg.PrivateKeyFile == "" {
		return "the given key"
	}
	return cfg.PrivateKeyFile
}

func (a *App) newClient(rt http.RoundTripper) (*gh.Client, error) {
	c := gh.NewClient(&http.Client{Transport: rt})
	if a.api.Host == "api.github.com" {
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(a.api.String(), a.api.String())
	if err != nil {
		return nil, fmt.Errorf("github app: %w", err)
	}
	return c, nil
}

// Limits returns the last rate limits GitHub reported, by resource.
func (a *App) Limits() map[string]RateLimit { return a.tr.Limits() }

// Stats returns the HTTP transport's counters.
func (a *App) Stats() TransportStats { return a.tr.Stats() }

// SetInstallation records repo's installation (from an installation
// webhook), saving a lookup.
func (a *App) SetInstallation(repo forge.Repo, id int64) {
	a.mu.Lock()
	a.installs[repo] = id
	a.mu.Unlock()
}

// ForgetInstallation drops what medic knows of an installation (it was
// deleted or suspended).
func (a *App) ForgetInstallation(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r, i := range a.installs {
		if i == id {
			delete(a.installs, r)
		}
	}
	delete(a.tokens, id)
}

func (a *App) installation(ctx context.Context, repo forge.Repo) (*ghinstallation.Transport, error) {
	a.mu.Lock()
	id, ok := a.installs[repo]
	a.mu.Unlock()
	if !ok {
		inst, _, err := a.appClient.Apps.FindRepositoryInstallation(ctx, repo.Owner, repo.Name)
		if err != nil {
			return nil, classify("find the App's installation on "+repo.String(), err)
		}
		id = inst.GetID()
		a.SetInstallation(repo, id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	itr, ok := a.tokens[id]
	if !ok {
		itr = ghinstallation.NewFromAppsTransport(a.apps, id)
		a.tokens[id] = itr
	}
	return itr, nil
}

// Client returns a go-github client acting as the installation on repo.
func (a *App) Client(ctx context.Context, repo forge.Repo) (*gh.Client, error) {
	itr, err := a.installation(ctx, repo)
	if err != nil {
		return nil, err
	}
	return a.newClient(itr)
}

// Token returns a current installation token for repo, for git over
// HTTPS. Callers must not log it.
func (a *App) Token(ctx context.Context, repo forge.Repo) (string, error) {
	itr, err := a.installation(ctx, repo)
	if err != nil {
		return "", err
	}
	tok, err := itr.Token(ctx)
	if err != nil {
		// ghinstallation's errors keep the request (with the App's JWT)
		// and the response: only the scrubbed message goes on.
		msg := redact.Scrub(err.Error())
		if tok != "" {
			msg = strings.ReplaceAll(msg, tok, redact.Marker)
		}
		return "", forge.Permanent(fmt.Errorf("get an installation token for %s: %s", repo, msg))
	}
	return tok, nil
}

// graphQLError is one entry of a GraphQL response's errors.
type graphQLError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// GraphQLError is GitHub's answer to a GraphQL request that failed. Its
// messages are scrubbed of credentials when it is decoded.
type GraphQLError struct {
	Op     string
	Errors []graphQLError
}

func (e *GraphQLError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		msgs[i] = x.Message
	}
	return e.Op + ": GitHub GraphQL: " + strings.Join(msgs, "; ")
}

// graphQL runs one GraphQL operation as the installation on repo and
// decodes data into out. go-github is REST-only; medic needs two
// mutations, typed here rather than through a GraphQL client library.
func (a *App) graphQL(ctx context.Context, repo forge.Repo, op, query string, vars map[string]any, out any) error {
	itr, err := a.installation(ctx, repo)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.graphqlURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := itr.RoundTrip(req)
	if err != nil {
		return redact.Error(fmt.Errorf("%s: %w", op, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s: GitHub GraphQL answered %d", op, resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return forge.Permanent(err)
		}
		return err
	}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []graphQLError  `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return redact.Error(fmt.Errorf("%s: GitHub GraphQL answer is not JSON: %w", op, err))
	}
	if len(env.Errors) > 0 {
		for i := range env.Errors {
			env.Errors[i].Message = redact.Scrub(env.Errors[i].Message)
			env.Errors[i].Type = redact.Scrub(env.Errors[i].Type)
		}
		return &GraphQLError{Op: op, Errors: env.Errors}
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s: decode GraphQL data: %w", op, err)
		}
	}
	return nil
}
