package detect

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// CSVRow is one row of a `timestamp,value` series: the time, the value,
// and both fields as written (so a tool can write them back unchanged).
type CSVRow struct {
	T        time.Time
	V        float64
	RawTime  string
	RawValue string
}

// csvTimeLayouts are the timestamp forms ReadCSVSeries accepts besides
// Unix seconds or milliseconds.
var csvTimeLayouts = []string{
	"2006-01-02 15:04:05", // NAB, most exports
	"2006-01-02 15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
}

// ParseCSVTime reads a timestamp as NAB and common exports write it:
// "2006-01-02 15:04:05" (UTC), RFC 3339, or Unix seconds or milliseconds.
func ParseCSVTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range csvTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) && n > 0 {
		if n >= 1e12 { // milliseconds
			return time.UnixMilli(int64(n)).UTC(), nil
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD HH:MM:SS, RFC 3339 or Unix seconds/milliseconds", s)
}

// ReadCSVSeries reads a `timestamp,value` CSV (a header line naming those
// two columns first, as NAB's files have; further columns are ignored).
// It refuses, naming the line, a missing header, an unreadable timestamp
// or value, a NaN or infinite value, and a timestamp not after the one
// before it (a stream is read in time order). An empty series is an error.
func ReadCSVSeries(r io.Reader) ([]CSVRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("csv: empty input (want a timestamp,value header and rows)")
	}
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	if len(header) < 2 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(header[0], "\ufeff")), "timestamp") ||
		!strings.EqualFold(strings.TrimSpace(header[1]), "value") {
		return nil, fmt.Errorf("csv line 1: header %q, want timestamp,value", strings.Join(header, ","))
	}
	var rows []CSVRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("csv line %d: want timestamp,value, got %d field(s)", line, len(rec))
		}
		t, err := ParseCSVTime(rec[0])
		if err != nil {
			return nil, fmt.Errorf("csv line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil {
			return nil, fmt.Errorf("csv line %d: value %q is not a number", line, rec[1])
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("csv line %d: value %q is not finite", line, rec[1])
		}
		if n := len(rows); n > 0 && !t.After(rows[n-1].T) {
			return nil, fmt.Errorf("csv line %d: timestamp %s is not after the previous row's %s (rows must be in time order)", line, rec[0], rows[n-1].RawTime)
		}
		rows = append(rows, CSVRow{T: t, V: v, RawTime: rec[0], RawValue: rec[1]})
	}
	if len(rows) == 0 {
		return nil, errors.New("csv: no rows after the header")
	}
	return rows, nil
}
