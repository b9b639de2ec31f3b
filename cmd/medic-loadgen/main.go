// Command medic-loadgen sends synthetic OTLP/gRPC metrics to medic (or any
// OTLP receiver) as fast as it can, or at a fixed rate, and reports how many
// data points the server acknowledged.
//
// The series space is resources x metrics x attribute values: each resource is
// a Kubernetes pod with k8s.namespace.name, k8s.deployment.name, k8s.pod.name,
// k8s.container.name and service.name; each metric is a gauge, a cumulative
// sum or a cumulative histogram after --mix; each data point carries one
// http.route attribute out of --attr-values. The whole series space is encoded
// once at start-up, --batch points per request; sending a request again only
// rewrites its fixed64 timestamps and values in place, so the generator's own
// CPU stays small next to the server's.
//
//	medic-loadgen --endpoint 127.0.0.1:4317 --duration 20s --streams 2
//
// It prints points sent, requests, errors and points per second (as one JSON
// object with --json). Exit status: 0 when at least one request succeeded, 1
// when none did, 2 for usage errors.
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
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("medic-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Workload: Workload{Start: uint64(time.Now().UnixNano())}}
	fs.StringVar(&cfg.Endpoint, "endpoint", "127.0.0.1:4317", "OTLP/gRPC `host:port` (plaintext)")
	fs.IntVar(&cfg.Workload.Resources, "resources", 1000, "number of resources (pods)")
	fs.IntVar(&cfg.Workload.Metrics, "metrics", 10, "metrics per resource")
	fs.IntVar(&cfg.Workload.AttrValues, "attr-values", 10, "attribute values per metric; series = resources x metrics x attr-values")
	mix := fs.String("mix", "gauge=5,sum=3,histogram=2", "relative weights of metric kinds: gauge, sum (cumulative, monotonic), histogram (cumulative)")
	fs.IntVar(&cfg.Workload.Batch, "batch", 1000, "data points per request")
	fs.IntVar(&cfg.Streams, "streams", 4, "concurrent senders, one gRPC connection each")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to send (0: until --points)")
	fs.Int64Var(&cfg.Points, "points", 0, "stop after this many points, rounded up to whole requests (0: until --duration)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "points per second over all streams (0: as fast as the server takes them)")
	compression := fs.String("compression", "none", "request compression: none or gzip")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the generator itself to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medic-loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if cfg.Workload.Gauges, cfg.Workload.Sums, cfg.Workload.Histograms, err = parseMix(*mix); err != nil {
		fmt.Fprintf(stderr, "medic-loadgen: --mix: %v\n", err)
		return 2
	}
	if *compression != "none" {
		cfg.Compression = *compression
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "medic-loadgen: %v\n", err)
		return 2
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "medic-loadgen: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "medic-loadgen: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "medic-loadgen: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(s); err != nil {
			fmt.Fprintf(stderr, "medic-loadgen: %v\n", err)
			return 2
		}
	} else {
		printStats(stdout, cfg, s)
	}
	if s.Requests > 0 && s.Requests == s.Errors {
		fmt.Fprintf(stderr, "medic-loadgen: every request failed; last error: %s\n", s.LastError)
		return 1
	}
	return 0
}

func printStats(w io.Writer, cfg Config, s Stats) {
	fmt.Fprintf(w, "endpoint     %s\n", cfg.Endpoint)
	fmt.Fprintf(w, "series       %d (%d resources x %d metrics x %d values)\n", s.Series, cfg.Workload.Resources, cfg.Workload.Metrics, cfg.Workload.AttrValues)
	fmt.Fprintf(w, "points sent  %d (acknowledged; %d rejected by partial success)\n", s.Points, s.Rejected)
	fmt.Fprintf(w, "requests     %d (%d points each, %d streams)\n", s.Requests, cfg.Workload.Batch, cfg.Streams)
	fmt.Fprintf(w, "errors       %d", s.Errors)
	for _, code := range codesSorted(s) {
		fmt.Fprintf(w, " %s=%d", code, s.ErrorsByCode[code])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "elapsed      %.2fs\n", s.Seconds)
	fmt.Fprintf(w, "points/s     %.0f\n", s.PointsPerSecond)
	fmt.Fprintf(w, "loadgen CPU  %.2fs\n", s.CPUSeconds)
	if s.LastError != "" {
		fmt.Fprintf(w, "last error   %s\n", s.LastError)
	}
}

// parseMix reads "gauge=5,sum=3,histogram=2"; kinds left out weigh 0.
func parseMix(s string) (gauges, sums, histograms int, err error) {
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, 0, 0, fmt.Errorf("%q is not kind=weight", part)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return 0, 0, 0, fmt.Errorf("weight %q of %s is not a non-negative integer", val, name)
		}
		switch name {
		case "gauge":
			gauges = n
		case "sum":
			sums = n
		case "histogram":
			histograms = n
		default:
			return 0, 0, 0, fmt.Errorf("unknown kind %q (want gauge, sum, histogram)", name)
		}
	}
	if gauges+sums+histograms == 0 {
		return 0, 0, 0, errors.New("all weights are zero")
	}
	return gauges, sums, histograms, nil
}
