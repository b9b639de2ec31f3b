package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-bot/medic/bot/app"
)

func newServe() *cobra.Command {
	var configPath, grpcAddr, httpOTLP, httpAddr, logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive OTLP, detect unhealthy workloads and serve /metrics",
		Long: `serve runs medic: OTLP/gRPC and OTLP/HTTP receivers and one HTTP listener
for /metrics, /healthz, /api/anomalies and, when a GitHub App is configured,
/webhooks/github. Without --config it runs on its embedded defaults; flags
override the config file. The GitHub App comes from the config's github:
section or MEDIC_GITHUB_APP_ID, MEDIC_GITHUB_PRIVATE_KEY_FILE and
MEDIC_GITHUB_WEBHOOK_SECRET (MEDIC_GITHUB_API_URL for Enterprise Server).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(configPath)
			if err != nil {
				return usageError{err}
			}
			flags := cmd.Flags()
			if flags.Changed("otlp-grpc") {
				cfg.OTLP.GRPC.Endpoint = grpcAddr
			}
			if flags.Changed("otlp-http") {
				cfg.OTLP.HTTP.Endpoint = httpOTLP
			}
			if flags.Changed("http") {
				cfg.HTTP.Endpoint = httpAddr
			}
			if flags.Changed("log-level") {
				cfg.Log.Level = logLevel
			}
			if cfg.GitHub, err = cfg.GitHub.FromEnv(os.Getenv); err != nil {
				return usageError{err}
			}
			if cfg.GitHub.Enabled() && cfg.GitHub.CacheDir == "" {
				if dir, err := os.UserCacheDir(); err == nil {
					cfg.GitHub.CacheDir = filepath.Join(dir, "medic", "git")
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{fmt.Errorf("invalid configuration: %w", err)}
			}
			logger := newLogger(cfg.Log, cmd.ErrOrStderr())
			a, err := app.New(cfg, app.Options{Logger: logger})
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if err := a.Start(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return a.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "medic.yaml (default: embedded defaults)")
	f.StringVar(&grpcAddr, "otlp-grpc", "127.0.0.1:4317", "OTLP/gRPC listen address (empty disables)")
	f.StringVar(&httpOTLP, "otlp-http", "127.0.0.1:4318", "OTLP/HTTP listen address (empty disables)")
	f.StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP listen address for /metrics, /healthz and the API")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func newLogger(c app.LogConfig, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
