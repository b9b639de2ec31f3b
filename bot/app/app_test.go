package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect/connlimit"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

func loopbackConfig() Config {
	cfg := DefaultConfig()
	cfg.OTLP.GRPC.Endpoint = "127.0.0.1:0"
	cfg.OTLP.HTTP.Endpoint = "127.0.0.1:0"
	cfg.HTTP.Endpoint = "127.0.0.1:0"
	return cfg
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// TestServeReceivesFromRealExporters runs the whole app on loopback and
// exports metrics to it with the OpenTelemetry Go SDK over both transports.
func TestServeReceivesFromRealExporters(t *testing.T) {
	a, err := New(loopbackConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)

	res := resource.NewSchemaless(attribute.String("service.name", "checkout"),
		attribute.String("k8s.namespace.name", "shop"), attribute.String("k8s.deployment.name", "checkout"))
	grpcExp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(a.Receiver().GRPCAddr()), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	httpExp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(a.Receiver().HTTPAddr()), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	for _, exp := range []sdkmetric.Exporter{grpcExp, httpExp} {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewManualReader()),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		m := mp.Meter("test")
		c, _ := m.Int64Counter("orders")
		c.Add(ctx, 3, metricAttr("kind", "web"))
		c.Add(ctx, 4, metricAttr("kind", "api"))
		g, _ := m.Float64Gauge("queue.depth")
		g.Record(ctx, 12)
		if err := mp.Shutdown(ctx); err != nil { // flushes the export
			t.Fatal(err)
		}
	}
	text := get(t, "http://"+a.HTTPAddr()+"/metrics")
	// Two exports of three points each.
	for _, want := range []string{`medic_otlp_received_total{signal="metrics"} 6`, "medic_series_active 3", "medic_up 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	if got := get(t, "http://"+a.HTTPAddr()+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	var body struct{ Anomalies []json.RawMessage }
	if err := json.Unmarshal([]byte(get(t, "http://"+a.HTTPAddr()+"/api/anomalies")), &body); err != nil || body.Anomalies == nil {
		t.Errorf("/api/anomalies did not answer a JSON list: %v", err)
	}
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	a, err := New(loopbackConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailsCleanlyOnATakenPort(t *testing.T) {
	first, err := New(loopbackConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown(context.Background())
	cfg := loopbackConfig()
	cfg.HTTP.Endpoint = first.HTTPAddr()
	cfg.OTLP.GRPC.Endpoint = freePort(t)
	second, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen http") {
		t.Fatalf("Start on a taken port: %v", err)
	}
	// The gRPC receiver it had started was stopped again: its port is free.
	ln, err := net.Listen("tcp", cfg.OTLP.GRPC.Endpoint)
	if err != nil {
		t.Fatalf("gRPC port still taken after a failed Start: %v", err)
	}
	ln.Close()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestLoadConfig(t *testing.T) {
	write := configWriter(t)
	cfg, err := LoadConfig("")
	if err != nil || cfg.OTLP.GRPC.Endpoint != "127.0.0.1:4317" || cfg.HTTP.Endpoint != "127.0.0.1:8080" {
		t.Fatalf("defaults: %+v %v", cfg.HTTP, err)
	}
	cfg, err = LoadConfig(write("ok.yaml", "http:\n  endpoint: 127.0.0.1:9090\ndetect:\n  window: 30s\n"))
	if err != nil || cfg.HTTP.Endpoint != "127.0.0.1:9090" || cfg.Detect.Window != 30*time.Second || cfg.Detect.MaxSeries != 2_000_000 {
		t.Fatalf("overrides: %+v %v", cfg.Detect.Window, err)
	}
	if _, err := LoadConfig(write("empty.yaml", "")); err != nil {
		t.Fatalf("an empty file is the defaults: %v", err)
	}
	_, err = LoadConfig(write("unknown.yaml", "detect:\n  windw: 30s\n"))
	if err == nil || !strings.Contains(err.Error(), "windw") {
		t.Fatalf("unknown key: %v", err)
	}
	// Every mistake is reported at once.
	_, err = LoadConfig(write("bad.yaml", "detect:\n  max_series: 0\n  window: 10ms\nlog:\n  level: loud\n"))
	for _, want := range []string{"max_series", "window", "log.level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid config error lacks %q: %v", want, err)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("a missing file is an error")
	}
	cfg, err = LoadConfig(write("render.yaml", "render:\n  timeout: 5s\n  max_output_bytes: 1048576\n"))
	if err != nil || cfg.Render.Timeout != 5*time.Second || cfg.Render.MaxOutputBytes != 1<<20 || cfg.Render.MaxMemoryBytes != 1<<30 {
		t.Fatalf("render limits: %+v %v", cfg.Render, err)
	}
	_, err = LoadConfig(write("badrender.yaml", "render:\n  timeout: 0s\n  max_memory_bytes: 10\n"))
	for _, want := range []string{"render.timeout", "render.max_memory_bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid render limits: %v, want it to name %s", err, want)
		}
	}
}

// TestHTTPLimitsConfig: the main listener's limits load from medic.yaml,
// are refused with the key named when out of range, and reach the server.
func TestHTTPLimitsConfig(t *testing.T) {
	write := configWriter(t)
	cfg, err := LoadConfig(write("ok.yaml", "http:\n  read_timeout: 15s\n  max_header_bytes: 8192\n  webhook:\n    max_readers: 8\n    body_timeout: 3s\nstore:\n  webhook_lease: 30s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Conns.ReadTimeout != 15*time.Second || cfg.HTTP.Conns.MaxHeaderBytes != 8192 || cfg.HTTP.Webhook.MaxReaders != 8 ||
		cfg.HTTP.Webhook.BodyTimeout != 3*time.Second || cfg.HTTP.Webhook.MaxBody != 25<<20 || cfg.Store.WebhookLease != 30*time.Second {
		t.Errorf("loaded %+v %+v", cfg.HTTP, cfg.Store)
	}
	cfg.OTLP.GRPC.Endpoint, cfg.OTLP.HTTP.Endpoint, cfg.HTTP.Endpoint = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	a := startApp(t, cfg)
	srv := a.httpSrv
	if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != 15*time.Second || srv.WriteTimeout != time.Minute ||
		srv.IdleTimeout != time.Minute || srv.MaxHeaderBytes != 8192 {
		t.Errorf("server = %+v", srv)
	}
	_, err = LoadConfig(write("bad.yaml", "http:\n  idle_timeout: 0s\n  max_header_bytes: 10\n  max_conns: 0\n  webhook:\n    body_budget: 1024\nstore:\n  webhook_lease: 1s\n"))
	for _, want := range []string{"http.idle_timeout", "http.max_header_bytes", "http.max_conns", "http.webhook.body_budget", "store.webhook_lease 1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig = %v, want it to name %s", err, want)
		}
	}
	if _, err := LoadConfig(write("unknown.yaml", "http:\n  webhook:\n    max_bodies: 1\n")); err == nil {
		t.Error("an unknown http.webhook key was accepted")
	}
}

// configWriter writes config files into a temporary directory and
// returns their paths.
func configWriter(t *testing.T) func(name, body string) string {
	dir := t.TempDir()
	return func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// TestMainListenerIdleFlood: idle connections past http.max_conns do not
// take the main listener down: the longest-idle ones are closed, open
// connections stay at the cap and /healthz keeps answering.
func TestMainListenerIdleFlood(t *testing.T) {
	cfg := loopbackConfig()
	cfg.HTTP.Conns.MaxConns = 32
	a := startApp(t, cfg)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.Dial("tcp", a.HTTPAddr())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + a.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatalf("/healthz during an idle flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	st := a.httpLn.(*connlimit.Listener).Stats()
	if st.Open > cfg.HTTP.Conns.MaxConns {
		t.Errorf("open connections = %d, above max_conns %d", st.Open, cfg.HTTP.Conns.MaxConns)
	}
	if st.Evicted == 0 {
		t.Errorf("no idle connection was closed for new ones: %+v", st)
	}
}

// startApp starts an App on cfg and shuts it down when the test ends.
func startApp(t *testing.T, cfg Config) *App {
	t.Helper()
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}
