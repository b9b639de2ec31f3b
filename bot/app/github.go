package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/medic-bot/medic/bot/forge"
	ghforge "github.com/medic-bot/medic/bot/forge/github"
	"github.com/medic-bot/medic/bot/store"
)

// StoreConfig names medic's durable store.
type StoreConfig struct {
	// DSN is sqlite:PATH (one replica) or postgres://... (replicas sharing
	// state). Empty keeps pull-request records, webhook delivery ids and
	// accepted webhook events in memory only: fine for a trial, lost on
	// restart.
	DSN string `yaml:"dsn"`
	// Retention is how long handled webhook events and delivery ids are
	// kept (a redelivery older than this is handled again); default 7
	// days. Forgetting runs at start and hourly.
	Retention time.Duration `yaml:"retention"`
	// WebhookLease is how long a replica holds a webhook event it saved
	// or claimed from the outbox; it renews the lease every third of it
	// while the event waits in its queue or is handled, so this is about
	// how long a crashed replica's events wait before another replica (or
	// the restarted one) takes them. Default 1m, at least 3s.
	WebhookLease time.Duration `yaml:"webhook_lease"`
}

// Validate reports a retention too short to catch GitHub's redeliveries,
// and a lease too short to renew.
func (c StoreConfig) Validate() error {
	var errs []error
	if c.Retention != 0 && c.Retention < time.Hour {
		errs = append(errs, fmt.Errorf("store.retention %s: keep deliveries at least an hour", c.Retention))
	}
	if c.WebhookLease < 0 || (c.WebhookLease != 0 && c.WebhookLease < ghforge.MinOutboxLease) {
		errs = append(errs, fmt.Errorf("store.webhook_lease %s: must be at least %s", c.WebhookLease, ghforge.MinOutboxLease))
	}
	return errors.Join(errs...)
}

// githubStage is the GitHub App: the forge, its webhook receiver and the
// event handler between them.
type githubStage struct {
	app     *ghforge.App
	forge   *ghforge.Forge
	webhook *ghforge.WebhookHandler
	store   store.Store
	cron    *cron.Cron
	now     func() time.Time
	keep    time.Duration
	logger  *slog.Logger
}

// newGitHub builds the GitHub stage when an App is configured; nil when
// it is not.
func (a *App) newGitHub(ctx context.Context, opt Options) (*githubStage, error) {
	cfg := a.cfg.GitHub
	if !cfg.Enabled() {
		return nil, nil
	}
	secret, err := cfg.WebhookSecret(opt.getenv)
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	ghApp, err := ghforge.NewApp(cfg, nil, opt.HTTPTransport, opt.Now)
	if err != nil {
		return nil, err
	}
	keep := a.cfg.Store.Retention
	if keep == 0 {
		keep = 7 * 24 * time.Hour
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	st := &githubStage{app: ghApp, now: now, keep: keep, logger: a.logger.With("component", "store")}
	var (
		records    forge.Records
		deliveries ghforge.Deliveries
		outbox     ghforge.Outbox
	)
	if a.cfg.Store.DSN != "" {
		s, err := store.Open(ctx, a.cfg.Store.DSN)
		if err != nil {
			return nil, err
		}
		// The store keeps each delivery until it is handled, and drops
		// redeliveries, across restarts and replicas.
		st.store, records, outbox = s, s, s
	} else {
		deliveries = ghforge.NewMemoryDeliveries(10000)
	}
	f, err := ghforge.NewForge(ghApp, cfg.CacheDir, ghforge.Options{Records: records, Now: opt.Now, Logger: a.logger, Render: a.cfg.Render})
	if err != nil {
		return nil, errors.Join(err, st.close())
	}
	st.forge = f
	events := ghforge.NewEvents(f, ghforge.EventHooks{})
	st.webhook, err = ghforge.NewWebhookHandler(ghforge.WebhookConfig{
		Secrets: [][]byte{secret}, Deliveries: deliveries, Outbox: outbox, Handler: events, Logger: a.logger, Now: opt.Now,
		OutboxLease: a.cfg.Store.WebhookLease, WebhookLimits: a.cfg.HTTP.Webhook,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("github webhooks: %w", err), st.close())
	}
	a.registerGitHubMetrics(st)
	return st, nil
}

func (s *githubStage) close() error {
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// startRetention forgets old delivery ids and handled events now and then
// hourly (robfig/cron); stopRetention waits for a running pass.
func (s *githubStage) startRetention() error {
	if s.store == nil {
		return nil
	}
	s.forget(context.Background())
	s.cron = cron.New()
	if _, err := s.cron.AddFunc("@hourly", func() { s.forget(context.Background()) }); err != nil {
		return fmt.Errorf("schedule store retention: %w", err)
	}
	s.cron.Start()
	return nil
}

func (s *githubStage) stopRetention(ctx context.Context) error {
	if s.cron == nil {
		return nil
	}
	select {
	case <-s.cron.Stop().Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop store retention: %w", ctx.Err())
	}
}

// forget deletes what is older than the retention.
func (s *githubStage) forget(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	before := s.now().Add(-s.keep)
	d, err1 := s.store.ForgetDeliveries(ctx, before)
	e, err2 := s.store.ForgetEvents(ctx, before)
	if err := errors.Join(err1, err2); err != nil {
		s.logger.Warn("store retention failed", "error", err)
		return
	}
	s.logger.Debug("store retention", "deliveries", d, "events", e, "before", before)
}

func (a *App) registerGitHubMetrics(st *githubStage) {
	w := st.webhook
	for _, c := range []struct {
		result string
		get    func(ghforge.WebhookStats) uint64
	}{
		{"busy", func(s ghforge.WebhookStats) uint64 { return s.Busy }},
		{"unauthorized", func(s ghforge.WebhookStats) uint64 { return s.Unauthorized }},
		{"invalid", func(s ghforge.WebhookStats) uint64 { return s.Invalid }},
		{"ignored", func(s ghforge.WebhookStats) uint64 { return s.Ignored }},
		{"duplicate", func(s ghforge.WebhookStats) uint64 { return s.Duplicates }},
		{"accepted", func(s ghforge.WebhookStats) uint64 { return s.Enqueued }},
		{"dropped", func(s ghforge.WebhookStats) uint64 { return s.Dropped }},
	} {
		get := c.get
		a.reg.CounterFunc("medic_github_webhooks_total", "GitHub webhook deliveries by result.",
			func() float64 { return float64(get(w.Stats())) }, "result", c.result)
	}
	a.reg.CounterFunc("medic_github_webhook_handler_failures_total", "Webhook events whose handling failed.",
		func() float64 { return float64(w.Stats().Failed) })
	a.reg.CounterFunc("medic_github_webhook_recovered_total", "Webhook events claimed back from the store's outbox: left unhandled by a stopped replica, or retried after a failure.",
		func() float64 { return float64(w.Stats().Recovered) })
	a.reg.CounterFunc("medic_github_webhook_outbox_errors_total", "Failed claims and finishes of webhook events in the store's outbox.",
		func() float64 { return float64(w.Stats().OutboxErrors) })
	a.reg.GaugeFunc("medic_github_webhook_queue", "Webhook events waiting for a worker.",
		func() float64 { return float64(w.Stats().Queued) })
	a.reg.GaugeFunc("medic_github_webhook_readers", "Webhook deliveries being read or checked (bounded by http.webhook.max_readers).",
		func() float64 { return float64(w.Stats().Reading) })
	a.reg.GaugeFunc("medic_github_webhook_body_bytes", "Bytes of the webhook body budget (http.webhook.body_budget) held by deliveries being read.",
		func() float64 { return float64(w.Stats().BodyBytes) })
	ghApp := st.app
	a.reg.CounterFunc("medic_github_requests_total", "HTTP requests sent to GitHub, retries included.",
		func() float64 { return float64(ghApp.Stats().Requests) })
	a.reg.CounterFunc("medic_github_retries_total", "GitHub requests retried after a 5xx, a network error or a rate limit.",
		func() float64 { return float64(ghApp.Stats().Retries) })
	a.reg.CounterFunc("medic_github_rate_limited_total", "GitHub answers saying a rate limit was hit.",
		func() float64 { return float64(ghApp.Stats().RateLimited) })
	a.reg.GaugeFunc("medic_github_rate_limit_remaining", "Requests left in GitHub's core rate limit window (-1 before the first answer).",
		func() float64 {
			if l, ok := ghApp.Limits()["core"]; ok {
				return float64(l.Remaining)
			}
			return -1
		})
}

func (s *githubStage) handle(mux *http.ServeMux) {
	mux.Handle("/webhooks/github", s.webhook)
}
