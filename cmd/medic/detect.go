package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/medic-bot/medic/detect"
)

// newDetect is `medic detect --csv FILE [--probation N] [--raises]`: the
// anomaly score medic runs on every signal, on one exported series, row by
// row, and with --raises where medic would have raised an anomaly.
func newDetect() *cobra.Command {
	var file string
	var probation int
	var raises bool
	cmd := &cobra.Command{
		Use:   "detect --csv FILE [--probation N] [--raises]",
		Short: "Score a timestamp,value CSV series with medic's anomaly score (backtesting)",
		Long: `detect reads a timestamp,value CSV (a header, then rows in time order) as
a stream and writes timestamp,value,anomaly_score: one row per input row,
the score in [0,1], each row's score computed from that row and the rows
before it only. It is the score medic runs on every signal in production
(ScoreConfig defaults), so it is how you try medic on your own exported
metrics. The first --probation rows (default: min(15% of the rows, 750),
as the Numenta Anomaly Benchmark uses) only teach the model and score 0.
The file's minimum and maximum are read first: they set a floor under the
noise scale (a move of a hundredth of the range is not news).

The per-row score reports an excursion on its first row and again only as
it grows; a threshold on it is a backtesting choice. --raises adds the
columns raised,anomaly: 1 and the anomaly's summary on the rows where
medic's production detector (the same model, ScoreConfig defaults: a score
of 0.6 held for 3 points, once per excursion, its own probation of 120
points, nothing taken from the file) would have raised, 0 and empty
elsewhere.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{errors.New("detect: --csv is required")}
			}
			f, err := os.Open(file)
			if err != nil {
				return usageError{fmt.Errorf("detect: %w", err)}
			}
			defer f.Close()
			rows, err := detect.ReadCSVSeries(bufio.NewReader(f))
			if err != nil {
				return usageError{fmt.Errorf("detect %s: %w", file, err)}
			}
			if cmd.Flags().Changed("probation") {
				if probation < 2 || probation > len(rows) {
					return usageError{fmt.Errorf("detect: --probation %d must be from 2 to the %d rows of %s", probation, len(rows), file)}
				}
			} else {
				probation = min(len(rows)*15/100, 750)
				probation = max(probation, 2)
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, r := range rows {
				lo, hi = min(lo, r.V), max(hi, r.V)
			}
			s := detect.NewStream(detect.DefaultScoreConfig(), probation, lo, hi)
			header := []string{"timestamp", "value", "anomaly_score"}
			var (
				prod    detect.Detector
				sig     = &detect.Signal{Name: filepath.Base(file)}
				raised  bool
				summary string
				emit    = func(_ *detect.Signal, a detect.Anomaly) { raised, summary = true, a.Summary }
			)
			if raises {
				header = append(header, "raised", "anomaly")
				prod = detect.NewScoreDetector(detect.DefaultScoreConfig())
			}
			bw := bufio.NewWriter(cmd.OutOrStdout())
			w := csv.NewWriter(bw)
			w.Write(header)
			rec := make([]string, len(header))
			for _, r := range rows {
				rec[0], rec[1] = r.RawTime, r.RawValue
				rec[2] = strconv.FormatFloat(s.Push(r.T, r.V), 'f', -1, 64)
				if prod != nil {
					raised = false
					prod.Observe(sig, detect.Point{T: r.T.UnixNano(), V: r.V}, emit)
					rec[3], rec[4] = "0", ""
					if raised {
						rec[3], rec[4] = "1", summary
					}
				}
				w.Write(rec)
			}
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			return bw.Flush()
		},
	}
	cmd.Flags().StringVar(&file, "csv", "", "a timestamp,value CSV file")
	cmd.Flags().IntVar(&probation, "probation", 0, "rows that only teach the model (default min(15% of rows, 750))")
	cmd.Flags().BoolVar(&raises, "raises", false, "add raised,anomaly: where medic's production detector would have raised, and what it would have said")
	return cmd
}
