package detect

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseCSVTime(t *testing.T) {
	want := time.Date(2014, 2, 19, 10, 50, 0, 0, time.UTC)
	for _, s := range []string{"2014-02-19 10:50:00", "2014-02-19T10:50:00Z", "2014-02-19T10:50:00", "2014-02-19T11:50:00+01:00",
		"1392807000", "1392807000000", " 2014-02-19 10:50:00 ", "2014-02-19 10:50"} {
		got, err := ParseCSVTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "yesterday", "2014-13-01 00:00:00", "-5", "NaN"} {
		if _, err := ParseCSVTime(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestReadCSVSeries(t *testing.T) {
	rows, err := ReadCSVSeries(strings.NewReader("\ufefftimestamp,value,label\n2014-02-19 10:50:00,1.5,0\n2014-02-19 10:55:00,\"2\",1\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Columns in another order; a repeated timestamp is kept in order.
	swapped, err := ReadCSVSeries(strings.NewReader("value,timestamp\n3,2014-03-09 03:00:00\n4,2014-03-09 03:00:00\n"))
	if err != nil || len(swapped) != 2 || swapped[1].V != 4 {
		t.Fatalf("swapped columns: %+v, %v", swapped, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].V != 1.5 || rows[1].V != 2 || rows[1].RawValue != "2" || rows[0].RawTime != "2014-02-19 10:50:00" {
		t.Fatalf("%+v", rows)
	}
	for body, want := range map[string]string{
		"":                                       "empty input",
		"time,val\n":                             "line 1",
		"timestamp,value\n":                      "no rows",
		"timestamp,value\nx,1\n":                 "line 2",
		"timestamp,value\n2014-02-19 10:50:00\n": "line 2",
		"timestamp,value\n2014-02-19 10:50:00,+Inf\n": "not finite",
	} {
		_, err := ReadCSVSeries(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func FuzzReadCSVSeries(f *testing.F) {
	f.Add("timestamp,value\n2014-02-19 10:50:00,1\n")
	f.Add("timestamp,value\n1,2\n3,4\n")
	f.Fuzz(func(t *testing.T, body string) {
		rows, err := ReadCSVSeries(strings.NewReader(body))
		if err != nil {
			return
		}
		for _, r := range rows {
			if math.IsNaN(r.V) || math.IsInf(r.V, 0) {
				t.Fatalf("a non-finite value was accepted: %v", r.V)
			}
		}
	})
}
