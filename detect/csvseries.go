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

// ReadCSVSeries reads a `timestamp,value` CSV: a header naming the columns
// "timestamp" and "value" (in any order; other columns, such as NAB's
// "label", are ignored), then one row per sample. It refuses, naming the
// line, a header without those columns, an unreadable timestamp or value,
// and a NaN or infinite value. Rows keep the file's order; real exports
// repeat a timestamp now and then (a DST change, a resent sample) and the
// scores treat such a row as arriving one usual step after the one before.
// An empty series is an error.
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
	ti, vi := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "timestamp":
			if ti < 0 {
				ti = i
			}
		case "value":
			if vi < 0 {
				vi = i
			}
		}
	}
	if ti < 0 || vi < 0 {
		return nil, fmt.Errorf("csv line 1: header %q, want timestamp and value columns", strings.Join(header, ","))
	}
	need := max(ti, vi) + 1
	var rows []CSVRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < need {
			return nil, fmt.Errorf("csv line %d: want timestamp and value, got %d field(s)", line, len(rec))
		}
		t, err := ParseCSVTime(rec[ti])
		if err != nil {
			return nil, fmt.Errorf("csv line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64)
		if err != nil {
			return nil, fmt.Errorf("csv line %d: value %q is not a number", line, rec[vi])
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("csv line %d: value %q is not finite", line, rec[vi])
		}
		rows = append(rows, CSVRow{T: t, V: v, RawTime: rec[ti], RawValue: rec[vi]})
	}
	if len(rows) == 0 {
		return nil, errors.New("csv: no rows after the header")
	}
	return rows, nil
}
