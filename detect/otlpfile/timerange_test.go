package otlpfile

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestTimeRange(t *testing.T) {
	a := TimeRange{sampleStart, sampleStart.Add(time.Minute)}
	b := TimeRange{sampleStart.Add(-time.Second), sampleStart.Add(30 * time.Second)}
	u := a.Union(b)
	if u.Start != b.Start || u.End != a.End || u.Duration() != 61*time.Second {
		t.Fatalf("union %s", u)
	}
	if got := (TimeRange{}).Union(a); got != a {
		t.Fatalf("empty ∪ a = %s", got)
	}
	if got := a.Union(TimeRange{}); got != a {
		t.Fatalf("a ∪ empty = %s", got)
	}
	if !a.Contains(a.Start) || !a.Contains(a.End) || a.Contains(a.End.Add(1)) || (TimeRange{}).Contains(time.Time{}) {
		t.Fatal("Contains")
	}
	if s := a.String(); s != "2026-01-05T09:00:00Z/2026-01-05T09:01:00Z" {
		t.Fatalf("String %s", s)
	}
	if (TimeRange{}).String() != "empty" || !(TimeRange{}).IsZero() || (TimeRange{}).Duration() != 0 {
		t.Fatal("empty range")
	}
	var r TimeRange
	r.extend(0)                 // unset
	r.extend(math.MaxInt64 + 1) // past what time.Time from Unix nanoseconds holds
	if !r.IsZero() {
		t.Fatalf("extend kept a non-time: %s", r)
	}
	r.extend(uint64(sampleStart.UnixNano()))
	r.extend(uint64(sampleStart.Add(-time.Hour).UnixNano()))
	if r.Start != sampleStart.Add(-time.Hour) || r.End != sampleStart || r.Start.Location() != time.UTC {
		t.Fatalf("extend %s", r)
	}
}

func TestSummarize(t *testing.T) {
	for _, name := range []string{"collector.jsonl", "collector.pb"} {
		r, err := Open(filepath.Join("testdata", name), DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := Summarize(context.Background(), r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		// From the first scrape to the last log record's observed time, 97 s.
		want := TimeRange{sampleStart, sampleStart.Add(97 * time.Second)}
		st := s.Stats
		if s.Range != want || st.Records != 12 || st.Metrics != 4 || st.Traces != 4 || st.Logs != 4 || st.Items != 4*(12+3+2) {
			t.Errorf("%s: %s %+v", name, s.Range, st)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := Open("testdata/collector.jsonl", DefaultConfig())
	defer r.Close()
	if _, err := Summarize(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	bad, _ := Open("testdata/collector-native.pb.zst", DefaultConfig())
	defer bad.Close()
	if _, err := Summarize(context.Background(), bad); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("zstd: %v", err)
	}
}

func TestEventClock(t *testing.T) {
	var c EventClock
	if !c.Now().IsZero() {
		t.Fatal("zero clock is not at the zero time")
	}
	c.Advance(time.Unix(0, 0)) // the epoch is a time, not "unset"
	if !c.Now().Equal(time.Unix(0, 0)) {
		t.Fatalf("epoch: %s", c.Now())
	}
	c.Advance(sampleStart)
	c.Advance(sampleStart.Add(-time.Hour)) // out of order: ignored
	c.Advance(time.Time{})
	if c.Now() != sampleStart {
		t.Fatalf("now %s", c.Now())
	}
	if n := NewEventClock(sampleStart.Add(-time.Hour)); n.Now() != sampleStart.Add(-time.Hour) {
		t.Fatalf("NewEventClock %s", n.Now())
	}
	// Concurrent advances end at the latest time, whatever their order.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				c.Advance(sampleStart.Add(time.Duration((i*8+g)%5000) * time.Second))
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if want := sampleStart.Add(4999 * time.Second); c.Now() != want {
		t.Fatalf("after concurrent advances: %s, want %s", c.Now(), want)
	}
}
