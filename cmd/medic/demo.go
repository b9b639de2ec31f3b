package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/medic-bot/medic/bot/app"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/fixtures/sim"
)

func newDemo() *cobra.Command {
	var scenario string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run medic on a simulated sick workload and show what it finds",
		Long: `demo starts medic in-process on loopback ports, plays a simulated cluster
scenario into it over OTLP/gRPC in event time (hours of telemetry in seconds),
and prints the anomalies medic raised. It exits 1 when medic did not find what
the scenario expects (or, for "healthy", raised anything).

Scenarios: ` + scenarioNames(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := sim.Lookup(scenario)
			if err != nil {
				return usageError{err}
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), sc, seed)
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "memory-leak", "scenario to play: "+scenarioNames())
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed of the simulation")
	return cmd
}

func scenarioNames() string {
	var ns []string
	for _, s := range sim.Scenarios() {
		ns = append(ns, s.Name)
	}
	return strings.Join(ns, ", ")
}

// collect gathers anomalies delivered by the engine.
type collect struct {
	mu sync.Mutex
	as []detect.Anomaly
}

func (c *collect) ConsumeAnomalies(_ context.Context, as []detect.Anomaly) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.as = append(c.as, as...)
	return nil
}

func runDemo(ctx context.Context, out io.Writer, sc sim.Scenario, seed uint64) error {
	cfg := app.DefaultConfig()
	cfg.OTLP.GRPC.Endpoint = "127.0.0.1:0"
	cfg.OTLP.HTTP.Endpoint = ""
	cfg.HTTP.Endpoint = ""
	found := &collect{}
	a, err := app.New(cfg, app.Options{EventTimeOnly: true, Anomalies: found})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	}()

	conn, err := grpc.NewClient(a.Receiver().GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to medic: %w", err)
	}
	defer conn.Close()
	mc := colmetrics.NewMetricsServiceClient(conn)
	tc := coltrace.NewTraceServiceClient(conn)
	lc := collogs.NewLogsServiceClient(conn)

	fmt.Fprintf(out, "medic demo: scenario %q: %s\n", sc.Name, sc.Description)
	fmt.Fprintf(out, "  playing %s of simulated telemetry (kubeletstats, k8s_cluster, k8sobjects, HTTP histograms, server spans) over OTLP/gRPC to %s\n",
		sc.Duration, a.Receiver().GRPCAddr())
	var items int
	start := time.Now()
	err = sc.Run(seed, 30*time.Second, func(b sim.Batch) error {
		if b.Metrics != nil {
			if _, err := mc.Export(ctx, b.Metrics); err != nil {
				return fmt.Errorf("export metrics: %w", err)
			}
			items++
		}
		if b.Traces != nil {
			if _, err := tc.Export(ctx, b.Traces); err != nil {
				return fmt.Errorf("export traces: %w", err)
			}
		}
		if b.Logs != nil {
			if _, err := lc.Export(ctx, b.Logs); err != nil {
				return fmt.Errorf("export logs: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	series := a.Engine().ActiveSeries()
	// Close the last windows, then let the engine hand over what it raised.
	a.Engine().Flush(sim.Start.Add(sc.Duration + 5*time.Minute))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d export intervals played in %s; %d series tracked\n\n", items, time.Since(start).Round(time.Millisecond), series)

	as := found.as
	sort.SliceStable(as, func(i, j int) bool { return as[i].At.Before(as[j].At) })
	if len(as) == 0 {
		fmt.Fprintln(out, "anomalies: none")
	} else {
		fmt.Fprintf(out, "anomalies (%d):\n", len(as))
	}
	for _, an := range as {
		fmt.Fprintf(out, "  +%-8s %-32s %-10s %-36s %s\n", an.At.Sub(sim.Start).Round(time.Second), an.Workload.String(), an.Kind, an.Signal, an.Summary)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "not built yet: grouping anomalies into incidents and asking the crew/playbooks for a fix,")
	fmt.Fprintln(out, "so this scenario stops at detection; and verifying recovery after a merge. The stages in")
	fmt.Fprintln(out, "between (plan the change, the Rego gate, the pull request) run from a given intent:")
	fmt.Fprintln(out, "medic patch --pr (make demo shows it after the scenarios).")

	return checkExpect(out, sc, as)
}

// checkExpect compares what was found with what the scenario expects.
func checkExpect(out io.Writer, sc sim.Scenario, as []detect.Anomaly) error {
	fault := sim.Start.Add(sc.FaultAt)
	var missing []string
	for _, e := range sc.Expect {
		ok := false
		for _, an := range as {
			if an.Workload.Key() == sc.Workload && string(an.Kind) == e.Kind && strings.HasPrefix(an.Signal, e.Signal) && !an.At.Before(fault) {
				ok = true
				break
			}
		}
		if !ok {
			missing = append(missing, fmt.Sprintf("%s on %s*", e.Kind, e.Signal))
		}
	}
	var wrong []string
	for _, an := range as {
		if sc.Workload == "" || an.Workload.Key() != sc.Workload || an.At.Before(fault) {
			wrong = append(wrong, fmt.Sprintf("%s %s %s", an.Workload.String(), an.Kind, an.Signal))
		}
	}
	if len(missing) == 0 && len(wrong) == 0 {
		fmt.Fprintln(out, "\nresult: medic found what the scenario expects, and nothing else.")
		return nil
	}
	var msg []string
	if len(missing) > 0 {
		msg = append(msg, "missed: "+strings.Join(missing, ", "))
	}
	if len(wrong) > 0 {
		msg = append(msg, fmt.Sprintf("%d false alarm(s): %s", len(wrong), strings.Join(wrong, "; ")))
	}
	return noError{msg: "demo did not go as expected: " + strings.Join(msg, "; ")}
}
