// Command medic-nab measures an anomaly detector on the Numenta Anomaly
// Benchmark (NAB v1.1, embedded in fixtures/nab) and on medic's own
// labelled infra suite (fixtures/nab/infra). It is what `make nab` runs.
//
//	go run ./cmd/medic-nab                       # medic's detector
//	go run ./cmd/medic-nab -detector random      # or null, random
//	go run ./cmd/medic-nab -scores DIR           # score NAB-format result CSVs
//	go run ./cmd/medic-nab -csv-out DIR          # also write medic's outputs
//
// It prints the three NAB scores (Standard, Reward-Low-FP, Reward-Low-FN)
// with the corpus-level threshold each profile chose, the windows detected
// and missed, the false-positive rows, a per-category breakdown, then the
// infra suite's table: precision over flagged episodes, recall over
// windows, detection delay, and false episodes on the quiet series.
//
// The infra suite flags rows at one fixed threshold: by default the
// threshold NAB's standard profile chose for the same detector on the NAB
// corpus (fitted on NAB, never on the suite), or -infra-threshold. For the
// medic detector a second table follows: the suite as medic raises
// anomalies in production (detect.ScoreDetector with the default config:
// a score of 0.6 held for 3 points, once per excursion), each raise an
// episode.
//
// -scores DIR reads DIR/<category>/<name>.csv (or NAB's own
// DIR/<category>/<detector>_<name>.csv) with the columns timestamp, value
// and anomaly_score, so any detector's output can be scored, e.g. `medic
// detect --csv` run per file. The infra suite needs a detector to run and
// is skipped then.
//
// Exit status: 0 on success, 2 for usage or input errors, 1 otherwise.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medic-bot/medic/fixtures/nab"
	"github.com/medic-bot/medic/fixtures/nab/infra"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	detector       string
	scoresDir      string
	csvOut         string
	workers        int
	seed           uint64
	files          bool
	infra          bool
	infraThreshold float64
	causal         bool
	asJSON         bool
}

// usageError is a mistake on the command line or in the input: exit 2.
type usageError struct{ error }

func mainErr(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "medic-nab:", err)
		return 2
	}
	if err := run(o, stdout); err != nil {
		fmt.Fprintln(stderr, "medic-nab:", err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("medic-nab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.detector, "detector", "medic", "detector to run: "+strings.Join(detectorNames(), ", "))
	fs.StringVar(&o.scoresDir, "scores", "", "score NAB-format result CSVs from `DIR` (DIR/<category>/<name>.csv) instead of running a detector")
	fs.StringVar(&o.csvOut, "csv-out", "", "write the detector's outputs to `DIR` in NAB's results layout")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files scored in parallel")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random detector")
	fs.BoolVar(&o.files, "files", false, "print the per-file breakdown (standard profile)")
	fs.BoolVar(&o.infra, "infra", true, "run the infra suite after NAB")
	fs.Float64Var(&o.infraThreshold, "infra-threshold", -1, "fixed threshold for the infra suite; negative: NAB standard profile's threshold")
	fs.BoolVar(&o.causal, "check-causal", true, "check on two NAB files that the detector does not look ahead")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of tables")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: medic-nab [-detector NAME | -scores DIR] [-csv-out DIR] [flags]")
		for _, n := range detectorNames() {
			fmt.Fprintf(stderr, "  detector %-7s %s\n", n, detectors[n].doc)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if _, ok := detectors[o.detector]; !ok && o.scoresDir == "" {
		return o, fmt.Errorf("unknown detector %q (want one of %s)", o.detector, strings.Join(detectorNames(), ", "))
	}
	if o.scoresDir != "" && (explicit["detector"] || o.csvOut != "") {
		return o, errors.New("-scores scores saved outputs: it does not go with -detector or -csv-out")
	}
	if o.infraThreshold > 1 || math.IsNaN(o.infraThreshold) {
		return o, fmt.Errorf("-infra-threshold must be in [0,1] (or negative for NAB's), got %v", o.infraThreshold)
	}
	return o, nil
}

func run(o options, w io.Writer) error {
	c, err := nab.LoadCorpus()
	if err != nil {
		return err
	}
	var (
		scores nab.Scores
		d      nab.Detector
		label  string
		took   time.Duration
	)
	if o.scoresDir != "" {
		label = "outputs in " + o.scoresDir
		if scores, err = c.ReadResultsDir(o.scoresDir); err != nil {
			return usageError{err}
		}
	} else {
		d = detectors[o.detector].new(o.seed)
		label = o.detector
		if o.causal {
			for _, name := range []string{"artificialWithAnomaly/art_daily_jumpsup.csv", "realKnownCause/ec2_request_latency_system_failure.csv"} {
				f := c.File(name)
				if err := nab.CheckCausal(f, d, len(f.Rows)*2/3); err != nil {
					return err
				}
			}
		}
		t0 := time.Now()
		if scores, err = nab.Run(c, d, o.workers); err != nil {
			return err
		}
		took = time.Since(t0)
		if o.csvOut != "" {
			if err := c.WriteResultsDir(o.csvOut, scores); err != nil {
				return err
			}
		}
	}
	results, err := c.ScoreAll(scores)
	if err != nil {
		return usageError{err}
	}
	var (
		rep, raises *infra.Report
		how         string
	)
	if d != nil && o.infra {
		var theta float64
		theta, how = o.infraThreshold, "fixed by -infra-threshold"
		if theta < 0 {
			theta, how = results[0].Threshold, "NAB standard profile's threshold"
		}
		ic, err := infra.Corpus()
		if err != nil {
			return err
		}
		is, err := nab.Run(ic, d, o.workers)
		if err != nil {
			return err
		}
		r, err := infra.Evaluate(ic, is, theta)
		if err != nil {
			return err
		}
		rep = &r
		if dr := detectors[o.detector].raises; dr != nil {
			rs, err := nab.Run(ic, dr, o.workers)
			if err != nil {
				return err
			}
			r, err := infra.Evaluate(ic, rs, 0.5)
			if err != nil {
				return err
			}
			raises = &r
		}
	}
	if o.asJSON {
		return printJSON(w, label, took, results, rep, raises, o.files)
	}
	fmt.Fprintf(w, "NAB v1.1: %d files, %d rows, %d windows. Detector: %s", len(c.Files), c.Rows(), c.Windows(), label)
	if d != nil {
		fmt.Fprintf(w, " (ran in %s on %d workers)", took.Round(10*time.Millisecond), max(1, o.workers))
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w)
	printNAB(w, results)
	if o.files {
		fmt.Fprintln(w)
		printFiles(w, results[0])
	}
	if rep != nil {
		fmt.Fprintln(w)
		printInfra(w, *rep, fmt.Sprintf("flagged at score >= %s (%s)", fmtTheta(rep.Threshold), how))
		if raises != nil {
			fmt.Fprintln(w)
			printInfra(w, *raises, "as medic raises anomalies in production (detect.ScoreDetector, default config), each raise an episode")
		}
	}
	return nil
}

func printNAB(w io.Writer, rs []nab.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tNAB score\traw\tthreshold\twindows detected\tmissed\tFP rows\tTP rows\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.2f\t%.3f\t%s\t%d/%d\t%d\t%d\t%d\t\n", r.Profile.Name, r.Score, r.Raw, fmtTheta(r.Threshold), r.Detected, r.Windows, r.Missed(), r.FP, r.TP)
	}
	tw.Flush()
	std := rs[0]
	fmt.Fprintf(w, "\nBy category (standard, threshold %s):\n", fmtTheta(std.Threshold))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "category\twindows detected\tFP rows\tFP cost\traw\t")
	for _, t := range std.Categories() {
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%.3f\t%.3f\t\n", t.Name, t.Detected, t.Windows, t.FP, t.FPCost, t.Raw)
	}
	tw.Flush()
}

func fmtTheta(t float64) string {
	if t == nab.NeverAlert {
		return "1.1 (never alert)"
	}
	return fmt.Sprintf("%.6g", t)
}

func printFiles(w io.Writer, r nab.Result) {
	fmt.Fprintf(w, "By file (standard, threshold %s; first detection in rows from each window's start, - = missed):\n", fmtTheta(r.Threshold))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "file\twindows detected\tFP rows\traw\tfirst detection\t")
	for _, t := range r.Files {
		var fd []string
		for _, x := range t.FirstDetection {
			if x < 0 {
				fd = append(fd, "-")
			} else {
				fd = append(fd, fmt.Sprint(x))
			}
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%.3f\t%s\t\n", t.Name, t.Detected, t.Windows, t.FP, t.Raw, strings.Join(fd, " "))
	}
	tw.Flush()
}

func printInfra(w io.Writer, r infra.Report, how string) {
	fmt.Fprintf(w, "Infra suite (fixtures/nab/infra): %d series, %s.\n", len(r.Series), how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "series\tstep\twindows detected\tepisodes\tfalse\tdelay\t")
	for _, s := range r.Series {
		var d []string
		for i, x := range s.DelayRows {
			if x < 0 {
				d = append(d, "missed")
			} else {
				d = append(d, fmt.Sprintf("%d rows (%s)", x, s.Delay[i]))
			}
		}
		win := fmt.Sprintf("%d/%d", s.Detected, s.Windows)
		if s.Quiet() {
			win = "quiet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t\n", s.Name, s.Interval, win, s.Episodes, s.False, strings.Join(d, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "precision %s (%d of %d episodes overlap a window), recall %s (%d of %d windows)\n",
		fmtRatio(r.Precision()), r.True, r.Episodes, fmtRatio(r.Recall()), r.Detected, r.Windows)
	if mr, xr := r.DelayRows(); mr >= 0 {
		md, xd := r.Delay()
		fmt.Fprintf(w, "delay to first detection over detected windows: median %d rows, %s; max %d rows, %s\n", mr, md, xr, xd)
	}
	fmt.Fprintf(w, "quiet series: %d false episodes on %d series\n", r.QuietFalse, r.QuietSeries)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

// jsonTally is a Tally in -json output.
type jsonTally struct {
	Name     string  `json:"name"`
	Raw      float64 `json:"raw"`
	FPCost   float64 `json:"fp_cost"`
	TP       int     `json:"tp_rows"`
	FP       int     `json:"fp_rows"`
	Windows  int     `json:"windows"`
	Detected int     `json:"detected"`
	First    []int   `json:"first_detection,omitempty"`
}

func toJSON(ts []nab.Tally) []jsonTally {
	out := make([]jsonTally, len(ts))
	for i, t := range ts {
		out[i] = jsonTally{t.Name, t.Raw, t.FPCost, t.TP, t.FP, t.Windows, t.Detected, t.FirstDetection}
	}
	return out
}

// printJSON prints the whole run as one JSON object, for scripts that tune
// or track a detector.
func printJSON(w io.Writer, label string, took time.Duration, rs []nab.Result, rep, raises *infra.Report, files bool) error {
	type profile struct {
		Profile    string      `json:"profile"`
		Score      float64     `json:"score"`
		Raw        float64     `json:"raw"`
		Threshold  float64     `json:"threshold"`
		Windows    int         `json:"windows"`
		Detected   int         `json:"detected"`
		FPRows     int         `json:"fp_rows"`
		TPRows     int         `json:"tp_rows"`
		Categories []jsonTally `json:"categories"`
		Files      []jsonTally `json:"files,omitempty"`
	}
	type series struct {
		Name     string    `json:"name"`
		Step     float64   `json:"step_seconds"`
		Windows  int       `json:"windows"`
		Detected int       `json:"detected"`
		Episodes int       `json:"episodes"`
		False    int       `json:"false_episodes"`
		Delay    []int     `json:"delay_rows"`
		DelaySec []float64 `json:"delay_seconds"`
	}
	type infraOut struct {
		Threshold  float64  `json:"threshold"`
		Precision  *float64 `json:"precision"`
		Recall     *float64 `json:"recall"`
		Episodes   int      `json:"episodes"`
		True       int      `json:"true_episodes"`
		Windows    int      `json:"windows"`
		Detected   int      `json:"detected"`
		QuietFalse int      `json:"quiet_false_episodes"`
		Series     []series `json:"series"`
	}
	out := struct {
		Detector    string    `json:"detector"`
		Seconds     float64   `json:"seconds,omitempty"`
		NAB         []profile `json:"nab"`
		Infra       *infraOut `json:"infra,omitempty"`
		InfraRaises *infraOut `json:"infra_raises,omitempty"`
	}{Detector: label, Seconds: took.Seconds()}
	for _, r := range rs {
		p := profile{r.Profile.Name, r.Score, r.Raw, r.Threshold, r.Windows, r.Detected, r.FP, r.TP, toJSON(r.Categories()), nil}
		if files {
			p.Files = toJSON(r.Files)
		}
		out.NAB = append(out.NAB, p)
	}
	num := func(x float64) *float64 {
		if math.IsNaN(x) {
			return nil
		}
		return &x
	}
	toInfra := func(rep *infra.Report) *infraOut {
		if rep == nil {
			return nil
		}
		inf := &infraOut{Threshold: rep.Threshold, Precision: num(rep.Precision()), Recall: num(rep.Recall()),
			Episodes: rep.Episodes, True: rep.True, Windows: rep.Windows, Detected: rep.Detected, QuietFalse: rep.QuietFalse}
		for _, s := range rep.Series {
			sec := make([]float64, len(s.Delay))
			for i, d := range s.Delay {
				sec[i] = d.Seconds()
				if s.DelayRows[i] < 0 {
					sec[i] = -1
				}
			}
			inf.Series = append(inf.Series, series{s.Name, s.Interval.Seconds(), s.Windows, s.Detected, s.Episodes, s.False, s.DelayRows, sec})
		}
		return inf
	}
	out.Infra, out.InfraRaises = toInfra(rep), toInfra(raises)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
