package detect

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medic-bot/medic/detect/selfmetrics"
)

// EngineConfig configures series handling, signal derivation and which
// detectors run. The yaml form is the `detect:` section of medic.yaml.
type EngineConfig struct {
	// MaxSeries caps the active OTLP series. Points of new series past it
	// are dropped and counted (medic_series_dropped_total); series already
	// tracked keep working.
	MaxSeries int `yaml:"max_series"`
	// MaxSeriesLabelBytes caps the bytes of one series' labels (its
	// attributes' keys and values, each value kept cut at 1 KiB). A new
	// series over it is dropped and counted
	// (medic_series_dropped_total{reason="label_bytes"}), so the memory of
	// series is bounded by MaxSeries × (state + MaxSeriesLabelBytes), not
	// only by their count.
	MaxSeriesLabelBytes int `yaml:"max_series_label_bytes"`
	// MaxLabelBytes caps the labels of all series together. A new series
	// that would pass it is dropped and counted
	// (medic_series_dropped_total{reason="label_budget"}): series memory is
	// then at most MaxSeries × state + MaxLabelBytes, whatever the mix of
	// narrow and wide series.
	MaxLabelBytes int64 `yaml:"max_label_bytes"`
	// StaleAfter evicts a series that received no point for this long in
	// event time, freeing its memory and detector state.
	StaleAfter time.Duration `yaml:"stale_after"`
	// Cooldown suppresses a repeat of the same anomaly (workload, container,
	// signal, kind) until it has been quiet this long in event time.
	Cooldown time.Duration `yaml:"cooldown"`
	// Window is the length of the request (RED) and error-log windows built
	// from spans, duration histograms and logs.
	Window time.Duration `yaml:"window"`
	// Lateness is how long after a window's end data for it is still
	// accepted before the window closes.
	Lateness time.Duration `yaml:"lateness"`
	// MaxRoutes caps the routes tracked per workload; further routes are
	// summed into the route "~other".
	MaxRoutes int `yaml:"max_routes"`
	// RequestHistograms names histogram metrics that measure server request
	// durations; their points feed the request windows (rate, errors,
	// latency) like server spans do.
	RequestHistograms []string `yaml:"request_histograms"`

	Score      ScoreConfig      `yaml:"score"`
	SLO        SLOConfig        `yaml:"slo"`
	Saturation SaturationConfig `yaml:"saturation"`
	Events     EventsConfig     `yaml:"events"`
}

// DefaultEngineConfig is what medic runs with when nothing is configured.
func DefaultEngineConfig() EngineConfig {
	return EngineConfig{
		MaxSeries: 2_000_000,
		// Real series carry well under 1 KiB of labels; 4 KiB leaves room
		// for a few long values (URLs, SQL) without letting a wide-series
		// load multiply memory by 30.
		MaxSeriesLabelBytes: 4096,
		// 2M series of typical labels (~200 B) need ~400 MiB.
		MaxLabelBytes: 1 << 30,
		StaleAfter:    30 * time.Minute,
		Cooldown:      30 * time.Minute,
		Window:        time.Minute,
		Lateness:      time.Minute,
		MaxRoutes:     100,
		RequestHistograms: []string{
			"http.server.request.duration", "http.server.duration",
			"rpc.server.duration", "rpc.server.call.duration",
		},
		Score:      defaultEngineScore(),
		SLO:        DefaultSLOConfig(),
		Saturation: DefaultSaturationConfig(),
		Events:     DefaultEventsConfig(),
	}
}

// defaultEngineScore is the score detector's default with the signals other
// detectors judge better left out: request error ratios belong to the SLO
// detector, whose burn rates need a volume of requests before they speak
// (a lone failed request in a quiet minute is not an anomaly).
func defaultEngineScore() ScoreConfig {
	c := DefaultScoreConfig()
	c.Exclude = append(c.Exclude, "requests:error_ratio")
	return c
}

// Validate reports every problem with the configuration at once.
func (c EngineConfig) Validate() error {
	var errs []error
	if c.MaxSeries <= 0 {
		errs = append(errs, fmt.Errorf("max_series must be positive, got %d", c.MaxSeries))
	}
	if c.MaxSeriesLabelBytes < 256 {
		errs = append(errs, fmt.Errorf("max_series_label_bytes must be at least 256, got %d", c.MaxSeriesLabelBytes))
	}
	if c.MaxLabelBytes < int64(c.MaxSeriesLabelBytes) {
		errs = append(errs, fmt.Errorf("max_label_bytes must be at least max_series_label_bytes (%d), got %d", c.MaxSeriesLabelBytes, c.MaxLabelBytes))
	}
	if c.StaleAfter <= 0 {
		errs = append(errs, fmt.Errorf("stale_after must be positive, got %s", c.StaleAfter))
	}
	if c.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("cooldown must not be negative, got %s", c.Cooldown))
	}
	if c.Window < time.Second {
		errs = append(errs, fmt.Errorf("window must be at least 1s, got %s", c.Window))
	}
	if c.Lateness < 0 {
		errs = append(errs, fmt.Errorf("lateness must not be negative, got %s", c.Lateness))
	}
	if c.MaxRoutes <= 0 {
		errs = append(errs, fmt.Errorf("max_routes must be positive, got %d", c.MaxRoutes))
	}
	if err := c.Score.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("score: %w", err))
	}
	if err := c.SLO.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("slo: %w", err))
	}
	if err := c.Saturation.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("saturation: %w", err))
	}
	if err := c.Events.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("events: %w", err))
	}
	return errors.Join(errs...)
}

// Engine ingests OTLP requests, keeps series and signals, runs detectors and
// delivers anomalies to a consumer. It implements Ingester and is safe for
// concurrent use.
//
// Work is split into shards by workload, so every signal of one Deployment
// (memory, restarts, latency, errors) lands in the same shard and its
// detectors can relate them. A request locks one shard at a time.
type Engine struct {
	cfg    EngineConfig
	logger *slog.Logger
	now    func() time.Time
	out    AnomalyConsumer

	seed      maphash.Seed
	shards    []*shard
	series    atomic.Int64 // active series, all shards
	labelSize atomic.Int64 // bytes of the active series' labels, all shards
	pool      sync.Pool    // *worker
	requestHs map[string]bool

	queue    chan Anomaly
	stop     context.CancelFunc
	done     chan struct{}
	shutdown sync.Once

	m engineMetrics
}

type engineMetrics struct {
	seriesDropped    *selfmetrics.Counter
	seriesWide       *selfmetrics.Counter
	seriesBudget     *selfmetrics.Counter
	seriesEvicted    *selfmetrics.Counter
	outOfOrder       *selfmetrics.Counter
	nonFinite        *selfmetrics.Counter
	invalid          *selfmetrics.Counter
	late             *selfmetrics.Counter
	anomalies        map[AnomalyKind]*selfmetrics.Counter
	suppressed       *selfmetrics.Counter
	anomaliesDropped *selfmetrics.Counter
	consumerErrors   *selfmetrics.Counter
}

// NewEngine builds an engine. out receives anomalies (from a goroutine the
// engine runs between Start and Shutdown); now is the clock used to close
// idle windows in live operation (nil: event time only, see Flush).
func NewEngine(cfg EngineConfig, out AnomalyConsumer, reg *selfmetrics.Registry, logger *slog.Logger, now func() time.Time) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid detect config: %w", err)
	}
	if reg == nil {
		reg = selfmetrics.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg:       cfg,
		logger:    logger.With("component", "detect"),
		now:       now,
		out:       out,
		seed:      maphash.MakeSeed(),
		requestHs: map[string]bool{},
		queue:     make(chan Anomaly, 4096),
		done:      make(chan struct{}),
	}
	for _, n := range cfg.RequestHistograms {
		e.requestHs[n] = true
	}
	n := 4 * runtime.GOMAXPROCS(0)
	for i := 0; i < n; i++ {
		e.shards = append(e.shards, newShard(e))
	}
	e.pool.New = func() any { return newWorker(e) }

	e.m = engineMetrics{
		seriesDropped: reg.Counter("medic_series_dropped_total", "Points of new series dropped, by reason.", "reason", "limit"),
		seriesWide:    reg.Counter("medic_series_dropped_total", "Points of new series dropped, by reason.", "reason", "label_bytes"),
		seriesBudget:  reg.Counter("medic_series_dropped_total", "Points of new series dropped, by reason.", "reason", "label_budget"),
		seriesEvicted: reg.Counter("medic_series_evicted_total", "Series evicted after stale_after without points."),
		outOfOrder:    reg.Counter("medic_points_dropped_total", "Data points not used, by reason.", "reason", "out_of_order"),
		nonFinite:     reg.Counter("medic_points_dropped_total", "Data points not used, by reason.", "reason", "non_finite"),
		invalid:       reg.Counter("medic_points_dropped_total", "Data points not used, by reason.", "reason", "invalid"),
		late:          reg.Counter("medic_points_dropped_total", "Data points not used, by reason.", "reason", "late"),
		anomalies:     map[AnomalyKind]*selfmetrics.Counter{},
		suppressed:    reg.Counter("medic_anomalies_suppressed_total", "Anomalies not emitted because the same problem was already raised within the cooldown."),
		anomaliesDropped: reg.Counter("medic_anomalies_dropped_total",
			"Anomalies lost because the consumer fell behind (queue full)."),
		consumerErrors: reg.Counter("medic_anomaly_consumer_errors_total", "Errors returned by the anomaly consumer."),
	}
	for _, k := range []AnomalyKind{KindScore, KindSLOBurn, KindSaturation, KindEvent} {
		e.m.anomalies[k] = reg.Counter("medic_anomalies_emitted_total", "Anomalies emitted, by kind.", "kind", string(k))
	}
	reg.GaugeFunc("medic_series_active", "OTLP series currently tracked.", func() float64 { return float64(e.series.Load()) })
	reg.GaugeFunc("medic_anomaly_queue_depth", "Anomalies waiting for the consumer.", func() float64 { return float64(len(e.queue)) })
	return e, nil
}

// Start runs the goroutine that delivers anomalies and, when the engine has
// a clock, closes windows of workloads that went quiet.
func (e *Engine) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stop = cancel
	go e.run(ctx)
	return nil
}

func (e *Engine) run(ctx context.Context) {
	defer close(e.done)
	var tick <-chan time.Time
	if e.now != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			e.drain()
			return
		case a := <-e.queue:
			e.deliver(ctx, a)
		case <-tick:
			e.Flush(e.now().Add(-e.cfg.Lateness))
		}
	}
}

func (e *Engine) drain() {
	for {
		select {
		case a := <-e.queue:
			e.deliver(context.Background(), a)
		default:
			return
		}
	}
}

func (e *Engine) deliver(ctx context.Context, a Anomaly) {
	if e.out == nil {
		return
	}
	if err := e.out.ConsumeAnomalies(ctx, []Anomaly{a}); err != nil {
		e.m.consumerErrors.Inc()
		e.logger.Error("anomaly consumer failed", "workload", a.Workload.String(), "signal", a.Signal, "err", err)
	}
}

// Shutdown stops the delivery goroutine after handing over the anomalies
// already raised. It is idempotent and safe without Start.
func (e *Engine) Shutdown(ctx context.Context) error {
	var err error
	e.shutdown.Do(func() {
		if e.stop == nil {
			e.drain()
			return
		}
		e.stop()
		select {
		case <-e.done:
		case <-ctx.Done():
			err = fmt.Errorf("shut down detect engine: %w", ctx.Err())
		}
	})
	return err
}

// Flush advances every shard's event time to at least now: windows that
// ended before it close and detectors see the time pass. Replay calls it at
// the end of a recording; live operation calls it every second.
func (e *Engine) Flush(now time.Time) {
	t := now.UnixNano()
	for _, s := range e.shards {
		s.mu.Lock()
		if t > s.watermark {
			s.watermark = t
		}
		s.advance()
		s.mu.Unlock()
	}
}

// AddDetector adds a detector to every shard, built by newDetector once per
// shard. Call it before the engine ingests anything: signals created
// earlier are not offered to the new detector.
func (e *Engine) AddDetector(newDetector func() Detector) {
	for _, s := range e.shards {
		s.mu.Lock()
		s.addDetector(newDetector())
		s.mu.Unlock()
	}
}

// ActiveSeries reports how many OTLP series are tracked.
func (e *Engine) ActiveSeries() int64 { return e.series.Load() }

// enqueue hands an anomaly to the delivery goroutine without blocking.
func (e *Engine) enqueue(a Anomaly) {
	if c := e.m.anomalies[a.Kind]; c != nil {
		c.Inc()
	}
	if e.stop == nil && e.out != nil {
		// Not started (tests, one-shot commands): deliver in line.
		e.deliver(context.Background(), a)
		return
	}
	select {
	case e.queue <- a:
	default:
		e.m.anomaliesDropped.Inc()
		e.logger.Warn("anomaly dropped: consumer is behind", "workload", a.Workload.String(), "signal", a.Signal)
	}
}
