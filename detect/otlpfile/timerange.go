package otlpfile

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/medic-bot/medic/detect"
)

// TimeRange is a closed span of event time, [Start, End]. The zero value is
// the empty range.
type TimeRange struct {
	Start, End time.Time
}

// IsZero reports whether the range is empty.
func (r TimeRange) IsZero() bool { return r.Start.IsZero() && r.End.IsZero() }

// Duration is End - Start (0 for the empty range).
func (r TimeRange) Duration() time.Duration { return r.End.Sub(r.Start) }

// Contains reports whether t lies in the range.
func (r TimeRange) Contains(t time.Time) bool {
	return !r.IsZero() && !t.Before(r.Start) && !t.After(r.End)
}

// Union returns the smallest range holding both.
func (r TimeRange) Union(o TimeRange) TimeRange {
	switch {
	case o.IsZero():
		return r
	case r.IsZero():
		return o
	}
	if o.Start.Before(r.Start) {
		r.Start = o.Start
	}
	if o.End.After(r.End) {
		r.End = o.End
	}
	return r
}

// String formats the range as RFC 3339 "start/end" (ISO 8601 interval).
func (r TimeRange) String() string {
	if r.IsZero() {
		return "empty"
	}
	return r.Start.Format(time.RFC3339Nano) + "/" + r.End.Format(time.RFC3339Nano)
}

// extend adds the Unix nanosecond time ns. 0 (unset) and times past what
// an int64 holds (year 2262) are not times.
func (r *TimeRange) extend(ns uint64) {
	if ns == 0 || ns > math.MaxInt64 {
		return
	}
	t := time.Unix(0, int64(ns)).UTC()
	if r.IsZero() {
		r.Start, r.End = t, t
		return
	}
	if t.Before(r.Start) {
		r.Start = t
	}
	if t.After(r.End) {
		r.End = t
	}
}

// tally is the sink a Reader validates records with: it counts items and
// takes the range of their event times, the times detect's engine files them
// under (a point's time, a span's end, a log record's time or observed time).
type tally struct {
	items int
	rng   TimeRange
}

func (t *tally) Resource(detect.Attrs)                    {}
func (t *tally) Scope(string, string, detect.Attrs)       {}
func (t *tally) Metric(*detect.Metric)                    { t.items++ }
func (t *tally) Number(p *detect.NumberPoint)             { t.point(p.TimeNano) }
func (t *tally) Histogram(p *detect.HistogramPoint)       { t.point(p.TimeNano) }
func (t *tally) ExpHistogram(p *detect.ExpHistogramPoint) { t.point(p.TimeNano) }
func (t *tally) Summary(p *detect.SummaryPoint)           { t.point(p.TimeNano) }
func (t *tally) Span(s *detect.Span)                      { t.point(s.EndNano) }

func (t *tally) Log(r *detect.LogRecord) {
	if r.TimeNano != 0 {
		t.point(r.TimeNano)
	} else {
		t.point(r.ObservedTimeNano)
	}
}

func (t *tally) point(ns uint64) {
	t.items++
	t.rng.extend(ns)
}

// Summary describes a whole recording.
type Summary struct {
	Format Format
	// Range is the event time of every record together.
	Range TimeRange
	Stats Stats
}

// Summarize reads the rest of rd and describes it: the time range a replay
// will cover, and the record counts. It stops early when ctx is done.
func Summarize(ctx context.Context, rd *Reader) (Summary, error) {
	var s Summary
	for {
		if err := ctx.Err(); err != nil {
			return s, fmt.Errorf("summarize recording: %w", err)
		}
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		s.Range = s.Range.Union(rec.Range)
	}
	s.Format, s.Stats = rd.Format(), rd.Stats()
	return s, nil
}

// EventClock is the "now" of a replay: the latest event time played so far.
// It only moves forward, so records that arrive out of order (the exporter
// writes in arrival order, not event order) never turn it back. Its Now
// method fits the `now func() time.Time` that detectors, incidents and
// policy take. It is safe for concurrent use; the zero value reads the zero
// time until the first Advance.
type EventClock struct {
	// at is the time in Unix nanoseconds shifted by 2^63 (so the order of
	// uint64 values is the order of times), 0 before the first Advance.
	at atomic.Uint64
}

// NewEventClock returns a clock at start.
func NewEventClock(start time.Time) *EventClock {
	c := &EventClock{}
	c.Advance(start)
	return c
}

// Advance moves the clock to t if t is later than its time. The zero time
// leaves it alone.
func (c *EventClock) Advance(t time.Time) {
	if t.IsZero() {
		return
	}
	v := uint64(t.UnixNano()) ^ 1<<63
	for {
		cur := c.at.Load()
		if v <= cur || c.at.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Now returns the clock's time (the zero time before the first Advance).
func (c *EventClock) Now() time.Time {
	v := c.at.Load()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v^1<<63)).UTC()
}
