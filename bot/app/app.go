package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/connlimit"
	"github.com/medic-bot/medic/detect/otlpreceiver"
	"github.com/medic-bot/medic/detect/selfmetrics"
)

// App is one running medic.
type App struct {
	cfg     Config
	logger  *slog.Logger
	reg     *selfmetrics.Registry
	engine  *detect.Engine
	recv    *otlpreceiver.Receiver
	recent  *recentAnomalies
	github  *githubStage
	httpSrv *http.Server
	httpLn  net.Listener

	shutdownOnce sync.Once
	shutdownErr  error
}

// Options are the parts a caller may replace (tests, demo, replay).
type Options struct {
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock for closing the windows of workloads that went
	// quiet; nil means wall-clock time.
	Now func() time.Time
	// EventTimeOnly runs detection on the data's clock alone (replay, demo):
	// windows close only as data or Engine.Flush moves event time.
	EventTimeOnly bool
	// Anomalies, when set, also receives every anomaly.
	Anomalies detect.AnomalyConsumer
	// Getenv reads MEDIC_GITHUB_* settings; os.Getenv when nil.
	Getenv func(string) string
	// HTTPTransport carries medic's requests to GitHub;
	// http.DefaultTransport when nil.
	HTTPTransport http.RoundTripper
}

func (o Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// New builds an App from a validated config. Nothing listens until Start.
func New(cfg Config, opt Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	if opt.EventTimeOnly {
		now = nil
	}
	a := &App{cfg: cfg, logger: logger, reg: selfmetrics.NewRegistry(), recent: newRecent(cfg.HTTP.RecentAnomalies)}
	out := detect.AnomalyConsumerFunc(func(ctx context.Context, as []detect.Anomaly) error {
		for _, an := range as {
			a.recent.add(an)
			a.logger.Info("anomaly", "workload", an.Workload.String(), "signal", an.Signal, "kind", string(an.Kind),
				"score", an.Score, "observed", an.Observed, "baseline", an.Baseline, "onset", an.Onset, "summary", an.Summary)
		}
		if opt.Anomalies != nil {
			return opt.Anomalies.ConsumeAnomalies(ctx, as)
		}
		return nil
	})
	eng, err := detect.NewEngine(cfg.Detect, out, a.reg, logger, now)
	if err != nil {
		return nil, err
	}
	a.engine = eng
	recv, err := otlpreceiver.New(cfg.OTLP, eng, a.reg, logger)
	if err != nil {
		return nil, fmt.Errorf("build otlp receiver: %w", err)
	}
	a.recv = recv
	a.reg.GaugeFunc("medic_up", "1 while medic runs.", func() float64 { return 1 })
	if a.github, err = a.newGitHub(context.Background(), opt); err != nil {
		return nil, err
	}
	return a, nil
}

// Engine exposes the detect engine (replay and tests feed it directly).
func (a *App) Engine() *detect.Engine { return a.engine }

// Registry exposes medic's self-metrics.
func (a *App) Registry() *selfmetrics.Registry { return a.reg }

// Receiver exposes the OTLP receiver (for its bound addresses).
func (a *App) Receiver() *otlpreceiver.Receiver { return a.recv }

// HTTPAddr is the bound address of the HTTP listener ("" before Start).
func (a *App) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// Handler is medic's HTTP API: /metrics, /healthz, /api/anomalies.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.reg.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if a.github != nil {
		a.github.handle(mux)
	}
	mux.HandleFunc("GET /api/anomalies", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"anomalies": a.recent.list()})
	})
	if a.cfg.HTTP.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Start starts every stage; a failure stops what was started.
func (a *App) Start(ctx context.Context) error {
	if err := a.engine.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("start detect engine: %w", err), a.Shutdown(ctx))
	}
	if err := a.recv.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("start otlp receiver: %w", err), a.Shutdown(ctx))
	}
	if a.github != nil {
		if err := a.github.startRetention(); err != nil {
			return errors.Join(err, a.Shutdown(ctx))
		}
		if err := a.github.webhook.Start(ctx); err != nil {
			return errors.Join(fmt.Errorf("start github webhooks: %w", err), a.Shutdown(ctx))
		}
	}
	if a.cfg.HTTP.Endpoint != "" {
		ln, err := net.Listen("tcp", a.cfg.HTTP.Endpoint)
		if err != nil {
			return errors.Join(fmt.Errorf("listen http %s: %w", a.cfg.HTTP.Endpoint, err), a.Shutdown(ctx))
		}
		cl, err := connlimit.Listen(ln, a.cfg.HTTP.Conns)
		if err != nil {
			return errors.Join(fmt.Errorf("listen http %s: %w", a.cfg.HTTP.Endpoint, errors.Join(err, ln.Close())), a.Shutdown(ctx))
		}
		a.httpLn = cl
		a.httpSrv = &http.Server{Handler: a.Handler()}
		cl.Harden(a.httpSrv)
		go func() {
			if err := a.httpSrv.Serve(cl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.logger.Error("http server stopped", "err", err)
			}
		}()
	}
	a.logger.Info("medic started", "otlp_grpc", a.recv.GRPCAddr(), "otlp_http", a.recv.HTTPAddr(), "http", a.HTTPAddr())
	return nil
}

// Shutdown stops accepting data, drains what is in flight and delivers the
// anomalies already raised. Idempotent; safe without Start.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		var errs []error
		if a.recv != nil {
			errs = append(errs, a.recv.Shutdown(ctx))
		}
		if a.httpSrv != nil {
			errs = append(errs, a.httpSrv.Shutdown(ctx))
		}
		if a.github != nil {
			errs = append(errs, a.github.webhook.Shutdown(ctx), a.github.stopRetention(ctx), a.github.close())
		}
		if a.engine != nil {
			errs = append(errs, a.engine.Shutdown(ctx))
		}
		a.shutdownErr = errors.Join(errs...)
	})
	return a.shutdownErr
}

// recentAnomalies keeps the last n anomalies for the API.
type recentAnomalies struct {
	mu   sync.Mutex
	buf  []detect.Anomaly
	next int
	full bool
}

func newRecent(n int) *recentAnomalies { return &recentAnomalies{buf: make([]detect.Anomaly, n)} }

func (r *recentAnomalies) add(a detect.Anomaly) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = a
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

func (r *recentAnomalies) list() []detect.Anomaly {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]detect.Anomaly{}, r.buf[:r.next]...)
	}
	return append(append([]detect.Anomaly{}, r.buf[r.next:]...), r.buf[:r.next]...)
}
