package otlpreceiver

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// These tests export with the OpenTelemetry Go SDK's own OTLP exporters, over
// both transports, with and without gzip, and check what the Ingester got.

func exportMetrics(t *testing.T, exp sdkmetric.Exporter, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	c, err := mp.Meter("medic.test").Int64Counter("k8s.container.restarts")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3)
	g, err := mp.Meter("medic.test").Float64Gauge("container.memory.working_set")
	if err != nil {
		t.Fatal(err)
	}
	g.Record(ctx, 7.34e8)
	// Shutdown collects and exports once more, and reports export errors.
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("meter provider shutdown: %v", err)
	}
}

func exportSpans(t *testing.T, exp sdktrace.SpanExporter, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	_, span := tp.Tracer("medic.test").Start(ctx, "GET /cart")
	span.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("force flush: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("tracer provider shutdown: %v", err)
	}
}

func exportLogs(t *testing.T, exp sdklog.Exporter, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	var rec log.Record
	rec.SetBody(attribute.StringValue("Memory cgroup out of memory: Killed process 4242"))
	rec.SetSeverity(log.SeverityWarn)
	rec.AddAttributes(attribute.String("k8s.event.reason", "OOMKilling"))
	lp.Logger("medic.test").Emit(ctx, rec)
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("force flush: %v", err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("logger provider shutdown: %v", err)
	}
}

func TestSDKExporters(t *testing.T) {
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		name := "none"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			ing := &recordingIngester{}
			r, reg := startTestReceiver(t, testConfig(), ing)
			g, h := r.GRPCAddr(), r.HTTPAddr()

			t.Run("metrics/grpc", func(t *testing.T) {
				opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(g), otlpmetricgrpc.WithInsecure(),
					otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false})}
				if gz {
					opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
				}
				exp, err := otlpmetricgrpc.New(ctx, opts...)
				exportMetrics(t, exp, err)
			})
			t.Run("metrics/http", func(t *testing.T) {
				opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpoint(h), otlpmetrichttp.WithInsecure(),
					otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false})}
				if gz {
					opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
				}
				exp, err := otlpmetrichttp.New(ctx, opts...)
				exportMetrics(t, exp, err)
			})
			t.Run("traces/grpc", func(t *testing.T) {
				opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(g), otlptracegrpc.WithInsecure(),
					otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
				if gz {
					opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
				}
				exp, err := otlptracegrpc.New(ctx, opts...)
				exportSpans(t, exp, err)
			})
			for name, enc := range map[string]otlptracehttp.Encoding{"protobuf": otlptracehttp.EncodingProtobuf, "json": otlptracehttp.EncodingJSON} {
				t.Run("traces/http-"+name, func(t *testing.T) {
					opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(h), otlptracehttp.WithInsecure(),
						otlptracehttp.WithEncoding(enc),
						otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
					if gz {
						opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
					}
					exp, err := otlptracehttp.New(ctx, opts...)
					exportSpans(t, exp, err)
				})
			}
			t.Run("logs/grpc", func(t *testing.T) {
				opts := []otlploggrpc.Option{otlploggrpc.WithEndpoint(g), otlploggrpc.WithInsecure(),
					otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false})}
				if gz {
					opts = append(opts, otlploggrpc.WithCompressor("gzip"))
				}
				exp, err := otlploggrpc.New(ctx, opts...)
				exportLogs(t, exp, err)
			})
			t.Run("logs/http", func(t *testing.T) {
				opts := []otlploghttp.Option{otlploghttp.WithEndpoint(h), otlploghttp.WithInsecure(),
					otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false})}
				if gz {
					opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
				}
				exp, err := otlploghttp.New(ctx, opts...)
				exportLogs(t, exp, err)
			})

			metrics := ing.metricNames()
			for _, want := range []string{"k8s.container.restarts", "container.memory.working_set"} {
				if n := count(metrics, want); n != 2 {
					t.Errorf("metric %s received %d times, want 2 (grpc, http): %q", want, n, metrics)
				}
			}
			if spans := ing.spanNames(); count(spans, "GET /cart") != 3 {
				t.Errorf("spans %q, want GET /cart from grpc, http/protobuf and http/json", spans)
			}
			logs := ing.logBodies()
			if count(logs, "Memory cgroup out of memory: Killed process 4242") != 2 {
				t.Errorf("log bodies %q", logs)
			}
			ing.mu.Lock()
			for _, req := range ing.traces {
				sp := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0]
				if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
					t.Errorf("span ids %x/%x", sp.GetTraceId(), sp.GetSpanId())
				}
				if len(req.GetResourceSpans()[0].GetResource().GetAttributes()) == 0 {
					t.Errorf("resource attributes missing")
				}
			}
			for _, req := range ing.logs {
				attrs := req.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0].GetAttributes()
				if len(attrs) != 1 || attrs[0].GetKey() != "k8s.event.reason" || attrs[0].GetValue().GetStringValue() != "OOMKilling" {
					t.Errorf("log attributes %v", attrs)
				}
			}
			ing.mu.Unlock()
			for _, series := range []string{
				`medic_otlp_requests_total{transport="grpc",signal="traces",outcome="ok"}`,
				`medic_otlp_requests_total{transport="http",signal="logs",outcome="ok"}`,
			} {
				if v := metricValue(t, reg, series); v == "0" {
					t.Errorf("%s = 0", series)
				}
			}
			if v := metricValue(t, reg, `medic_otlp_received_total{signal="traces"}`); v != "3" {
				t.Errorf("traces received %s", v)
			}
		})
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
