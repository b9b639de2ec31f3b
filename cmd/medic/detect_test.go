package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/fixtures/nab"
)

func writeSeries(t *testing.T, n int, f func(i int) float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s,%g\n", t0.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), f(i))
	}
	p := filepath.Join(t.TempDir(), "series.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// shiftSeries writes n rows of noise around 50 that step up by 25 at row
// shift, drawn from seed.
func shiftSeries(t *testing.T, seed uint64, n, shift int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	return writeSeries(t, n, func(i int) float64 {
		v := 50 + rng.NormFloat64()
		if i >= shift {
			v += 25
		}
		return v
	})
}

// detectCSV runs medic detect with args and returns its CSV records.
func detectCSV(t *testing.T, args ...string) [][]string {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"detect"}, args...)...)
	if code != exitOK {
		t.Fatalf("detect %v: exit %d: %s", args, code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestDetectCSV: one output row per input row, scores in [0,1],
// probationary rows 0, a level shift flagged on its first rows and a noisy
// flat stretch quiet.
func TestDetectCSV(t *testing.T) {
	const n, shift = 2000, 1500
	recs := detectCSV(t, "--csv", shiftSeries(t, 1, n, shift))
	if len(recs) != n+1 || strings.Join(recs[0], ",") != "timestamp,value,anomaly_score" {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	probation := min(n*15/100, 750)
	maxQuiet, maxShift := 0.0, 0.0
	for i, r := range recs[1:] {
		s, err := strconv.ParseFloat(r[2], 64)
		if err != nil || s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("row %d: score %q", i, r[2])
		}
		switch {
		case i < probation && s != 0:
			t.Fatalf("probationary row %d scored %v", i, s)
		case i >= probation && i < shift:
			maxQuiet = max(maxQuiet, s)
		case i >= shift && i < shift+5:
			maxShift = max(maxShift, s)
		}
	}
	if maxShift < 0.6 || maxQuiet >= maxShift/2 {
		t.Errorf("shift scored %.3f, noise up to %.3f: want the shift clearly above the noise", maxShift, maxQuiet)
	}
}

func TestDetectCSVErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"no header":  "2026-03-01 00:00:00,1\n",
		"bad time":   "timestamp,value\nyesterday,1\n",
		"bad value":  "timestamp,value\n2026-03-01 00:00:00,abc\n",
		"NaN":        "timestamp,value\n2026-03-01 00:00:00,NaN\n",
		"bad line":   "timestamp,value\n2026-03-01 00:05:00,1\n2026-03-01 00:00:00\n",
		"no rows":    "timestamp,value\n",
		"empty file": "",
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".csv")
		os.WriteFile(p, []byte(body), 0o644)
		code, _, stderr := runCLI(t, "detect", "--csv", p)
		if code != exitUsage || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
		if name == "bad line" && !strings.Contains(stderr, "line 3") {
			t.Errorf("bad line: the error does not name line 3: %s", stderr)
		}
	}
	if code, _, _ := runCLI(t, "detect"); code != exitUsage {
		t.Error("no --csv: want a usage error")
	}
	p := writeSeries(t, 10, func(int) float64 { return 1 })
	if code, _, _ := runCLI(t, "detect", "--csv", p, "--probation", "50"); code != exitUsage {
		t.Error("--probation past the rows: want a usage error")
	}
}

// --raises: where production would have raised, once for a level shift,
// with its summary, and nowhere in the noise before it.
func TestDetectCSVRaises(t *testing.T) {
	const n, shift = 2000, 1500
	recs := detectCSV(t, "--csv", shiftSeries(t, 3, n, shift), "--raises")
	if len(recs) != n+1 || strings.Join(recs[0], ",") != "timestamp,value,anomaly_score,raised,anomaly" {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	var at []int
	for i, r := range recs[1:] {
		switch {
		case r[3] == "1":
			at = append(at, i)
			if !strings.Contains(r[4], "series.csv") || !strings.Contains(r[4], "above its expected") {
				t.Errorf("row %d: anomaly %q, want the summary of a rise", i, r[4])
			}
		case r[3] != "0" || r[4] != "":
			t.Errorf("row %d: raised %q anomaly %q, want 0 and empty", i, r[3], r[4])
		}
	}
	if len(at) != 1 || at[0] < shift || at[0] > shift+5 {
		t.Errorf("raised at rows %v, want once within 5 rows of the shift at %d", at, shift)
	}
}

// `medic detect --csv` run on each NAB file gives, row for row, the scores
// `make nab` computes in process (the README says scoring the CLI's outputs
// gives the same NAB numbers): the same CSV reading, probation and range.
func TestDetectCSVMatchesNAB(t *testing.T) {
	c, err := nab.LoadCorpus()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range c.Files {
		var b strings.Builder
		b.WriteString("timestamp,value\n")
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range f.Rows {
			fmt.Fprintf(&b, "%s,%s\n", r.T.Format("2006-01-02 15:04:05"), strconv.FormatFloat(r.V, 'g', -1, 64))
			lo, hi = min(lo, r.V), max(hi, r.V)
		}
		p := filepath.Join(dir, strings.ReplaceAll(f.Name, "/", "_"))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		recs := detectCSV(t, "--csv", p)
		if len(recs) != len(f.Rows)+1 {
			t.Fatalf("%s: %d records", f.Name, len(recs))
		}
		s := detect.NewStream(detect.DefaultScoreConfig(), nab.Probation(len(f.Rows)), lo, hi)
		for i, r := range f.Rows {
			want := s.Push(r.T, r.V)
			if got, err := strconv.ParseFloat(recs[i+1][2], 64); err != nil || got != want {
				t.Fatalf("%s row %d: CLI scored %q, in process %v", f.Name, i, recs[i+1][2], want)
			}
		}
	}
}
