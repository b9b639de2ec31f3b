//go:build linux

// Command medic-bench compares how many OTLP metric data points medic serve
// and a stock OpenTelemetry Collector accept per CPU-second under the same
// load, which is what `make bench` prints.
//
// For each server it starts the process on free loopback ports, runs
// medic-loadgen against its OTLP/gRPC endpoint, and after a warm-up reads the
// server's CPU time (utime+stime from /proc/<pid>/stat) and its own count of
// accepted points at the start and the end of a fixed window:
//
//   - medic: medic_otlp_received_total{signal="metrics"} from its /metrics;
//   - the Collector (fixtures/otelcol with bench.yaml: OTLP receiver -> nop
//     exporter): otelcol_receiver_accepted_metric_points from its internal
//     telemetry's Prometheus endpoint.
//
// When a counter cannot be read it falls back on the points medic-loadgen saw
// acknowledged over its whole run and says so in the source column. It then
// runs telemetrygen against the Collector once, for reference.
//
//	go run ./cmd/medic-bench --medic bin/medic         # after fixtures/interop/build.sh
//	go run ./cmd/medic-bench --medic bin/medic --quick # a short smoke run
//
// Every child is stopped on exit, on SIGINT/SIGTERM, and (through
// PR_SET_PDEATHSIG) if the bench itself dies. Linux only: it reads /proc.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	medic, otelcol, otelcolConfig, loadgen, telemetrygen string
	servers                                              string
	warmup, window                                       time.Duration
	resources, metrics, attrValues, batch, streams       int
	mix                                                  string
	quick, asJSON                                        bool
	keepLogs                                             bool
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("medic-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.medic, "medic", "bin/medic", "medic binary")
	fs.StringVar(&o.otelcol, "otelcol", ".cache/bin/otelcol", "Collector binary built from fixtures/otelcol")
	fs.StringVar(&o.otelcolConfig, "otelcol-config", "fixtures/otelcol/bench.yaml", "Collector config: OTLP/gRPC receiver on ${env:OTELCOL_GRPC_PORT}, own metrics on ${env:OTELCOL_METRICS_PORT}")
	fs.StringVar(&o.loadgen, "loadgen", ".cache/bin/medic-loadgen", "medic-loadgen binary")
	fs.StringVar(&o.telemetrygen, "telemetrygen", ".cache/bin/telemetrygen", "telemetrygen binary for the reference run (empty: skip it)")
	fs.StringVar(&o.servers, "servers", "medic,otelcol", "servers to measure, comma-separated")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "load before the measured window")
	fs.DurationVar(&o.window, "duration", 20*time.Second, "measured window")
	fs.IntVar(&o.resources, "resources", 1000, "medic-loadgen --resources")
	fs.IntVar(&o.metrics, "metrics", 10, "medic-loadgen --metrics")
	fs.IntVar(&o.attrValues, "attr-values", 10, "medic-loadgen --attr-values")
	fs.IntVar(&o.batch, "batch", 1000, "medic-loadgen --batch: points per request")
	fs.IntVar(&o.streams, "streams", 4, "medic-loadgen --streams and telemetrygen --workers")
	fs.StringVar(&o.mix, "mix", "gauge=5,sum=3,histogram=2", "medic-loadgen --mix")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1s warm-up, 3s window, 10k series")
	fs.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the children's logs (their directory is printed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medic-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["warmup"] {
			o.warmup = time.Second
		}
		if !set["duration"] {
			o.window = 3 * time.Second
		}
		if !set["resources"] {
			o.resources = 100
		}
	}
	if err := o.resolve(); err != nil {
		fmt.Fprintf(stderr, "medic-bench: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	workDir, err := os.MkdirTemp("", "medic-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "medic-bench: %v\n", err)
		return 2
	}
	if o.keepLogs {
		fmt.Fprintf(stderr, "medic-bench: logs in %s\n", workDir)
	} else {
		defer os.RemoveAll(workDir)
	}

	tm := timing{Warmup: o.warmup, Window: o.window, Ready: 30 * time.Second, Stop: 10 * time.Second}
	// One bound for the whole run: each measurement is bounded by its parts;
	// this only guards against a bug in them.
	perRun := tm.Ready + tm.Warmup + tm.Window + 45*time.Second + 2*tm.Stop
	ctx, cancel := context.WithTimeout(ctx, 4*perRun)
	defer cancel()

	fmt.Fprintf(stderr, "medic-bench: %d series (%d resources x %d metrics x %d values), %d points per request, %d streams, mix %s; %s warm-up, %s window; %.0f cores\n",
		o.resources*o.metrics*o.attrValues, o.resources, o.metrics, o.attrValues, o.batch, o.streams, o.mix, o.warmup, o.window, float64(runtime.NumCPU()))

	var results []result
	failed := false
	loadgen := o.loadgenLoad()
	for _, name := range strings.Split(o.servers, ",") {
		t, err := o.target(strings.TrimSpace(name))
		if err != nil {
			fmt.Fprintf(stderr, "medic-bench: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "medic-bench: measuring %s with %s ...\n", t.Name, loadgen.Name)
		r, err := measure(ctx, t, loadgen, tm, workDir)
		if err != nil {
			r.Err = err.Error()
			failed = true
			fmt.Fprintf(stderr, "medic-bench: %s: %v\n", t.Name, err)
		}
		results = append(results, r)
	}
	if o.telemetrygen != "" && strings.Contains(o.servers, "otelcol") {
		t, _ := o.target("otelcol")
		tg := o.telemetrygenLoad()
		fmt.Fprintf(stderr, "medic-bench: measuring %s with %s (reference) ...\n", t.Name, tg.Name)
		r, err := measure(ctx, t, tg, tm, workDir)
		if err != nil {
			r.Err = err.Error()
			failed = true
			fmt.Fprintf(stderr, "medic-bench: %s with telemetrygen: %v\n", t.Name, err)
		}
		results = append(results, r)
	}

	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
	} else {
		printTable(stdout, results)
	}
	if failed {
		return 1
	}
	return 0
}

// resolve makes the paths absolute (children run in a scratch directory) and
// checks the binaries exist.
func (o *options) resolve() error {
	var errs []error
	for _, p := range []*string{&o.medic, &o.otelcol, &o.otelcolConfig, &o.loadgen, &o.telemetrygen} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*p = abs
	}
	need := []string{o.loadgen}
	for _, s := range strings.Split(o.servers, ",") {
		switch strings.TrimSpace(s) {
		case "medic":
			need = append(need, o.medic)
		case "otelcol":
			need = append(need, o.otelcol, o.otelcolConfig)
		default:
			errs = append(errs, fmt.Errorf("unknown server %q (want medic, otelcol)", s))
		}
	}
	if o.telemetrygen != "" {
		need = append(need, o.telemetrygen)
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%w (build the fixtures with: bash fixtures/interop/build.sh)", err))
		}
	}
	if o.warmup < 0 || o.window <= 0 {
		errs = append(errs, errors.New("warm-up must be >= 0 and duration > 0"))
	}
	if o.resources < 1 || o.metrics < 1 || o.attrValues < 1 || o.batch < 1 || o.streams < 1 {
		errs = append(errs, errors.New("resources, metrics, attr-values, batch and streams must be at least 1"))
	}
	return errors.Join(errs...)
}

// target describes how to run one server on fresh loopback ports.
func (o *options) target(name string) (target, error) {
	addrs, err := freeAddrs(3)
	if err != nil {
		return target{}, fmt.Errorf("pick ports: %w", err)
	}
	grpcAddr, otherAddr, metricsAddr := addrs[0], addrs[1], addrs[2]
	switch name {
	case "medic":
		return target{
			Name:       "medic",
			Argv:       []string{o.medic, "serve", "--otlp-grpc", grpcAddr, "--otlp-http", otherAddr, "--http", metricsAddr, "--log-level", "warn"},
			GRPCAddr:   grpcAddr,
			MetricsURL: "http://" + metricsAddr + "/metrics",
			Accepted:   counterQuery{Names: []string{"medic_otlp_received_total"}, Labels: map[string]string{"signal": "metrics"}},
			Source:     `medic_otlp_received_total{signal="metrics"}`,
			Gauges:     map[string]counterQuery{"medic_series_active": {Names: []string{"medic_series_active"}}},
		}, nil
	case "otelcol":
		return target{
			Name:       "otelcol",
			Argv:       []string{o.otelcol, "--config", o.otelcolConfig},
			Env:        []string{"OTELCOL_GRPC_PORT=" + portOf(grpcAddr), "OTELCOL_METRICS_PORT=" + portOf(metricsAddr)},
			GRPCAddr:   grpcAddr,
			MetricsURL: "http://" + metricsAddr + "/metrics",
			Accepted: counterQuery{
				Names:  []string{"otelcol_receiver_accepted_metric_points", "otelcol_receiver_accepted_metric_points_total"},
				Labels: map[string]string{"transport": "grpc"},
			},
			Source: "otelcol_receiver_accepted_metric_points",
		}, nil
	}
	return target{}, fmt.Errorf("unknown server %q", name)
}

func (o *options) loadgenLoad() load {
	return load{
		Name: "medic-loadgen",
		Argv: func(endpoint string, d time.Duration) []string {
			return []string{o.loadgen, "--endpoint", endpoint, "--duration", seconds(d),
				"--resources", strconv.Itoa(o.resources), "--metrics", strconv.Itoa(o.metrics),
				"--attr-values", strconv.Itoa(o.attrValues), "--batch", strconv.Itoa(o.batch),
				"--streams", strconv.Itoa(o.streams), "--mix", o.mix, "--json"}
		},
		LoadgenJSON: true,
	}
}

// telemetrygenLoad sends telemetrygen's default gauges (batches of 100) as
// fast as it can with one worker per stream.
func (o *options) telemetrygenLoad() load {
	return load{
		Name: "telemetrygen",
		Argv: func(endpoint string, d time.Duration) []string {
			return []string{o.telemetrygen, "metrics", "--otlp-insecure", "--otlp-endpoint", endpoint,
				"--rate", "0", "--workers", strconv.Itoa(o.streams), "--duration", seconds(d)}
		},
	}
}

func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tload\tpoints\tCPU-s\tpoints/CPU-s\tcores used\tload CPU-s\t")
	byServer := map[string]result{}
	for _, r := range results {
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\tfailed\t\t\t\t\t\n", r.Server, r.Load)
			continue
		}
		cores := 0.0
		if r.WindowSeconds > 0 {
			cores = r.CPUSeconds / r.WindowSeconds
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2f\t%.0f\t%.2f\t%.2f\t\n", r.Server, r.Load, r.Points, r.CPUSeconds, r.PointsPerCPUSecond(), cores, r.LoadCPU)
		if r.Load == "medic-loadgen" {
			byServer[r.Server] = r
		}
	}
	tw.Flush()
	m, okM := byServer["medic"]
	c, okC := byServer["otelcol"]
	if okM && okC && c.PointsPerCPUSecond() > 0 {
		fmt.Fprintf(w, "ratio medic/collector (points per CPU-second, same load): %.2f\n", m.PointsPerCPUSecond()/c.PointsPerCPUSecond())
	}
	for _, r := range results {
		if r.Err != "" {
			continue
		}
		fmt.Fprintf(w, "%s with %s: points counted by %s", r.Server, r.Load, r.Source)
		for k, v := range r.Gauges {
			fmt.Fprintf(w, "; %s %.0f at the end", k, v)
		}
		fmt.Fprintln(w)
	}
}
