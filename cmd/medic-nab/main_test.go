package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = mainErr(args, &o, &e)
	return code, o.String(), e.String()
}

func TestNullDetector(t *testing.T) {
	code, out, errOut := runMain(t, "-detector", "null", "-workers", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"NAB v1.1: 58 files, 365558 rows, 116 windows. Detector: null",
		"standard            0.00       -116.000  1.1 (never alert)  0/116",
		"reward_low_FN_rate  0.00       -232.000",
		"realTweets             0/33",
		"Infra suite (fixtures/nab/infra): 18 series, flagged at score >= 1.1 (never alert) (NAB standard profile's threshold).",
		"precision n/a (0 of 0 episodes overlap a window), recall 0.00 (0 of 13 windows)",
		"quiet series: 0 false episodes on 6 series",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCSVOutThenScores writes a detector's outputs in NAB's layout and
// scores them back: the same NAB table.
func TestCSVOutThenScores(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runMain(t, "-detector", "random", "-csv-out", dir, "-infra=false", "-files")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "realKnownCause", "nyc_taxi.csv")); err != nil {
		t.Fatal(err)
	}
	code, back, errOut := runMain(t, "-scores", dir, "-files")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	table := func(s string) string {
		_, after, _ := strings.Cut(s, "\n\n")
		return after
	}
	if table(out) != table(back) || !strings.Contains(out, "realKnownCause/nyc_taxi.csv") {
		t.Errorf("scores differ after -csv-out then -scores:\n%s\n---\n%s", out, back)
	}
	if strings.Contains(back, "Infra suite") {
		t.Errorf("-scores ran the infra suite")
	}
	// A broken file is an input error naming the file and line.
	p := filepath.Join(dir, "realKnownCause", "nyc_taxi.csv")
	b, _ := os.ReadFile(p)
	b = bytes.Replace(b, []byte("\n2014-07-01 00:30:00,"), []byte("\n2014-07-01 00:30:00,x"), 1)
	os.WriteFile(p, b, 0o644)
	code, _, errOut = runMain(t, "-scores", dir)
	if code != 2 || !strings.Contains(errOut, "nyc_taxi.csv: line 3: value") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-detector", "nope"}, `unknown detector "nope"`},
		{[]string{"-scores", "x", "-detector", "medic"}, "does not go with"},
		{[]string{"-infra-threshold", "2"}, "-infra-threshold must be in [0,1]"},
		{[]string{"extra"}, "unexpected arguments: extra"},
		{[]string{"-scores", "/nonexistent"}, "no /nonexistent/artificialNoAnomaly/art_daily_no_noise.csv"},
	} {
		code, _, errOut := runMain(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestMedicDetectorContract(t *testing.T) {
	code, out, errOut := runMain(t, "-infra-threshold", "0.5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Detector: medic") || !strings.Contains(out, "flagged at score >= 0.5 (fixed by -infra-threshold)") {
		t.Errorf("output:\n%s", out)
	}
}

func TestJSON(t *testing.T) {
	code, out, errOut := runMain(t, "-detector", "null", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		Detector string
		NAB      []struct {
			Profile   string
			Score     float64
			Raw       float64
			Threshold float64
			Windows   int
		}
		Infra *struct {
			Precision *float64
			Recall    *float64
			Series    []struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if v.Detector != "null" || len(v.NAB) != 3 || v.NAB[2].Profile != "reward_low_FN_rate" || v.NAB[2].Raw != -232 || v.NAB[0].Threshold != 1.1 || v.NAB[0].Windows != 116 {
		t.Errorf("nab: %+v", v)
	}
	if v.Infra == nil || v.Infra.Precision != nil || v.Infra.Recall == nil || *v.Infra.Recall != 0 || len(v.Infra.Series) != 18 {
		t.Errorf("infra: %+v", v.Infra)
	}
	if strings.Contains(out, "infra_raises") {
		t.Errorf("the null detector has no production raises to report:\n%s", out)
	}
}

// medic's JSON carries the infra suite twice: flagged by the per-row score,
// and as the production detector raises.
func TestJSONMedicRaises(t *testing.T) {
	code, out, errOut := runMain(t, "-json", "-infra-threshold", "0.6")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		InfraRaises *struct {
			Episodes int
			Detected int
			Series   []struct{ Name string }
		} `json:"infra_raises"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if v.InfraRaises == nil || len(v.InfraRaises.Series) != 18 || v.InfraRaises.Episodes == 0 || v.InfraRaises.Detected == 0 {
		t.Errorf("infra_raises: %+v", v.InfraRaises)
	}
}
