//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The test binary doubles as every child the bench starts: with
// MEDIC_BENCH_FAKE set, TestMain plays medic serve, the Collector,
// medic-loadgen or telemetrygen depending on its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("MEDIC_BENCH_FAKE") != "" {
		os.Exit(fake(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fake(args []string) int {
	if dir := os.Getenv("MEDIC_BENCH_FAKE_PIDS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	}
	switch {
	case len(args) > 0 && args[0] == "serve": // medic serve --otlp-grpc A --otlp-http B --http C ...
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		grpcAddr := fs.String("otlp-grpc", "", "")
		fs.String("otlp-http", "", "")
		httpAddr := fs.String("http", "", "")
		fs.String("log-level", "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		fakeServer(*grpcAddr, *httpAddr, `medic_otlp_received_total{signal="metrics"}`, "medic_series_active 42\n")
	case len(args) > 0 && args[0] == "--config": // otelcol --config FILE
		metric := `otelcol_receiver_accepted_metric_points{receiver="otlp",transport="grpc"}`
		if os.Getenv("MEDIC_BENCH_FAKE_NO_COUNTER") != "" {
			metric = "otelcol_something_else"
		}
		fakeServer("127.0.0.1:"+os.Getenv("OTELCOL_GRPC_PORT"), "127.0.0.1:"+os.Getenv("OTELCOL_METRICS_PORT"), metric, "")
	case len(args) > 0 && args[0] == "metrics": // telemetrygen metrics ... --duration D
		time.Sleep(durationArg(args))
	default: // medic-loadgen --endpoint A --duration D ... --json
		d := durationArg(args)
		burn(d)
		fmt.Printf(`{"points": %d, "seconds": %g}`+"\n", 123000, d.Seconds())
	}
	return 0
}

func durationArg(args []string) time.Duration {
	for i, a := range args {
		if a == "--duration" && i+1 < len(args) {
			d, _ := time.ParseDuration(args[i+1])
			return d
		}
	}
	return time.Second
}

// burn keeps about half a core busy for d.
func burn(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		spin := time.Now().Add(5 * time.Millisecond)
		for time.Now().Before(spin) {
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeServer accepts TCP on grpcAddr and serves a counter that grows by 1000
// every 10ms on httpAddr/metrics, burning CPU as it goes, until killed.
func fakeServer(grpcAddr, httpAddr, counter, extra string) {
	l, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		os.Exit(3)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c
		}
	}()
	var n atomic.Int64
	go func() {
		for {
			burn(10 * time.Millisecond)
			n.Add(1000)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE x counter\n%s %d\n%s", counter, n.Load(), extra)
	})
	_ = http.ListenAndServe(httpAddr, mux)
}

func benchArgs(t *testing.T, extra ...string) []string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(cfg, []byte("# fake\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--medic", self, "--otelcol", self, "--otelcol-config", cfg, "--loadgen", self, "--telemetrygen", self,
		"--warmup", "200ms", "--duration", "600ms"}, extra...)
}

// noChildLeft checks every fake that wrote its pid is gone.
func noChildLeft(t *testing.T, pidDir string) {
	t.Helper()
	entries, err := os.ReadDir(pidDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no child recorded its pid")
	}
	for _, e := range entries {
		if _, err := os.Stat("/proc/" + e.Name()); err == nil {
			t.Errorf("child %s still running", e.Name())
		}
	}
}

func TestBenchMeasuresEveryServer(t *testing.T) {
	pids := t.TempDir()
	t.Setenv("MEDIC_BENCH_FAKE", "1")
	t.Setenv("MEDIC_BENCH_FAKE_PIDS", pids)
	var out, errb bytes.Buffer
	if code := mainErr(benchArgs(t, "--json"), &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	var rs []result
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := []string{"medic/medic-loadgen", "otelcol/medic-loadgen", "otelcol/telemetrygen"}
	if len(rs) != len(want) {
		t.Fatalf("results = %+v", rs)
	}
	for i, r := range rs {
		if got := r.Server + "/" + r.Load; got != want[i] {
			t.Errorf("result %d is %s, want %s", i, got, want[i])
		}
		if r.Err != "" || r.Points <= 0 || r.CPUSeconds <= 0 || r.WindowSeconds < 0.5 {
			t.Errorf("%s/%s: %+v", r.Server, r.Load, r)
		}
	}
	if rs[0].Gauges["medic_series_active"] != 42 {
		t.Errorf("medic gauges = %v", rs[0].Gauges)
	}
	if rs[1].Source != "otelcol_receiver_accepted_metric_points" {
		t.Errorf("collector source = %q", rs[1].Source)
	}
	noChildLeft(t, pids)
}

func TestBenchFallsBackOnLoadgenCount(t *testing.T) {
	t.Setenv("MEDIC_BENCH_FAKE", "1")
	t.Setenv("MEDIC_BENCH_FAKE_NO_COUNTER", "1")
	var out, errb bytes.Buffer
	if code := mainErr(benchArgs(t, "--servers", "otelcol", "--telemetrygen", ""), &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "123000") || !strings.Contains(s, "points medic-loadgen saw acknowledged") {
		t.Errorf("table does not show the loadgen fallback:\n%s", s)
	}
}

func TestBenchTableHasRatio(t *testing.T) {
	var out bytes.Buffer
	printTable(&out, []result{
		{Server: "medic", Load: "medic-loadgen", Points: 3e6, CPUSeconds: 2, WindowSeconds: 1, Source: "m"},
		{Server: "otelcol", Load: "medic-loadgen", Points: 2e6, CPUSeconds: 2, WindowSeconds: 1, Source: "c"},
		{Server: "otelcol", Load: "telemetrygen", Err: "boom"},
	})
	s := out.String()
	for _, want := range []string{"1500000", "1000000", "ratio medic/collector (points per CPU-second, same load): 1.50", "failed"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--servers", "medic,nginx"},
		{"--medic", "/nonexistent/medic"},
		{"--duration", "0s"},
		{"extra"},
	} {
		var out, errb bytes.Buffer
		if code := mainErr(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}

func TestParseStatTicks(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0"
	got, err := parseStatTicks(stat)
	if err != nil || got != 325 {
		t.Errorf("parseStatTicks = %d, %v; want 325", got, err)
	}
	if _, err := parseStatTicks("1234 (x) S 1"); err == nil {
		t.Error("short stat parsed")
	}
	if n, err := procCPUTicks(os.Getpid()); err != nil || n > 1<<40 {
		t.Errorf("own cpu ticks = %d, %v", n, err)
	}
}

func TestCounterQuery(t *testing.T) {
	text := `# HELP otelcol_receiver_accepted_metric_points x
otelcol_receiver_accepted_metric_points{receiver="otlp",transport="grpc"} 9.542e+06
otelcol_receiver_accepted_metric_points{receiver="otlp",transport="http"} 5
otelcol_receiver_accepted_metric_points_total{receiver="otlp/2",transport="grpc"} 10
medic_otlp_received_total{signal="metrics"} 100 1700000000000
medic_otlp_received_total{signal="traces"} 7
odd{a="x,y=\"z\"",signal="metrics"} 3
`
	for _, c := range []struct {
		q    counterQuery
		want float64
		ok   bool
	}{
		{counterQuery{Names: []string{"otelcol_receiver_accepted_metric_points", "otelcol_receiver_accepted_metric_points_total"}, Labels: map[string]string{"transport": "grpc"}}, 9542010, true},
		{counterQuery{Names: []string{"medic_otlp_received_total"}, Labels: map[string]string{"signal": "metrics"}}, 100, true},
		{counterQuery{Names: []string{"odd"}, Labels: map[string]string{"a": `x,y="z"`}}, 3, true},
		{counterQuery{Names: []string{"missing"}}, 0, false},
	} {
		got, ok, err := c.q.sum(strings.NewReader(text))
		if err != nil || got != c.want || ok != c.ok {
			t.Errorf("%v: got %v %v %v, want %v %v", c.q.Names, got, ok, err, c.want, c.ok)
		}
	}
}
