package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	ghforge "github.com/medic-bot/medic/bot/forge/github"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/connlimit"
	"github.com/medic-bot/medic/detect/otlpreceiver"
	"github.com/medic-bot/medic/patchers/render"
)

// Config is medic.yaml. Every section has defaults, so an empty file (or no
// file) runs medic on its embedded defaults.
type Config struct {
	// OTLP configures the OTLP/gRPC and OTLP/HTTP receivers.
	OTLP otlpreceiver.Config `yaml:"otlp"`
	// HTTP configures the listener for /metrics, /healthz, the read-only
	// API and (later) GitHub webhooks.
	HTTP HTTPConfig `yaml:"http"`
	// Detect configures series handling and the detectors.
	Detect detect.EngineConfig `yaml:"detect"`
	// Log configures medic's own logs.
	Log LogConfig `yaml:"log"`
	// GitHub configures the GitHub App (disabled without an app_id).
	GitHub ghforge.Config `yaml:"github"`
	// Store names the database for pull-request records and webhook
	// delivery ids.
	Store StoreConfig `yaml:"store"`
	// Render bounds every kustomize build and helm template of repository
	// content (time, memory, output, input, YAML alias nodes).
	Render render.Limits `yaml:"render"`
}

// HTTPConfig configures medic's HTTP listener.
type HTTPConfig struct {
	Endpoint string `yaml:"endpoint"`
	// Conns caps the listener's open connections (max_conns; at the cap
	// the longest-idle one is closed) and bounds the server's timeouts and
	// header size, with the same mechanism as the OTLP/HTTP listener. Its
	// keys sit directly under http:. read_timeout covers a whole request;
	// a webhook body has the tighter webhook.body_timeout, and pprof
	// profiles must be shorter than write_timeout.
	Conns connlimit.Config `yaml:",inline"`
	// Webhook bounds the GitHub webhook deliveries read before their
	// signature is checked.
	Webhook ghforge.WebhookLimits `yaml:"webhook"`
	// RecentAnomalies is how many anomalies /api/anomalies keeps.
	RecentAnomalies int `yaml:"recent_anomalies"`
	// Pprof serves Go's profiler at /debug/pprof/ (off by default: it
	// exposes internals and costs CPU while profiling).
	Pprof bool `yaml:"pprof"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// DefaultConfig is medic's embedded configuration.
func DefaultConfig() Config {
	return Config{
		OTLP: otlpreceiver.DefaultConfig(),
		HTTP: HTTPConfig{
			Endpoint: "127.0.0.1:8080", RecentAnomalies: 1000,
			Conns: connlimit.Config{
				MaxConns: 1024, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
				WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10,
			},
			Webhook: ghforge.DefaultWebhookLimits(),
		},
		Detect: detect.DefaultEngineConfig(),
		Log:    LogConfig{Level: "info", Format: "text"},
		GitHub: ghforge.DefaultConfig(),
		Render: render.DefaultLimits(),
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.OTLP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("otlp: %w", err))
	}
	if c.HTTP.Endpoint != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("http.endpoint: %w", err))
		}
	}
	if c.HTTP.RecentAnomalies <= 0 {
		errs = append(errs, fmt.Errorf("http.recent_anomalies: must be positive, got %d", c.HTTP.RecentAnomalies))
	}
	if err := c.HTTP.Conns.Validate(); err != nil {
		for _, e := range joined(err) {
			errs = append(errs, fmt.Errorf("http.%w", e))
		}
	}
	if c.HTTP.Webhook.BodyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("http.webhook.body_timeout: must be positive, got %s", c.HTTP.Webhook.BodyTimeout))
	}
	if c.HTTP.Webhook.MaxBody <= 0 || c.HTTP.Webhook.MaxReaders <= 0 || c.HTTP.Webhook.BodyBudget <= 0 {
		errs = append(errs, fmt.Errorf("http.webhook: max_body, max_readers and body_budget must be positive, got %d, %d and %d",
			c.HTTP.Webhook.MaxBody, c.HTTP.Webhook.MaxReaders, c.HTTP.Webhook.BodyBudget))
	} else if err := c.HTTP.Webhook.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("http.webhook.%w", err))
	}
	if err := c.Detect.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("detect: %w", err))
	}
	if err := c.Store.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.GitHub.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Render.Validate(); err != nil {
		for _, e := range joined(err) {
			errs = append(errs, fmt.Errorf("render.%w", e))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: want debug, info, warn or error, got %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: want text or json, got %q", c.Log.Format))
	}
	return errors.Join(errs...)
}

// LoadConfig reads a medic.yaml over the defaults. Unknown keys are errors,
// and every problem is reported at once.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid config %s: %w", path, err)
	}
	return cfg, nil
}

// joined is the list of errors an errors.Join made, or err alone.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
