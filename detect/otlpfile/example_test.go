package otlpfile_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/otlpfile"
)

// countIngester stands in for detect's engine.
type countIngester struct{ metrics, traces, logs int }

func (c *countIngester) IngestMetrics(context.Context, []byte) (detect.IngestResult, error) {
	c.metrics++
	return detect.IngestResult{}, nil
}

func (c *countIngester) IngestTraces(context.Context, []byte) (detect.IngestResult, error) {
	c.traces++
	return detect.IngestResult{}, nil
}

func (c *countIngester) IngestLogs(context.Context, []byte) (detect.IngestResult, error) {
	c.logs++
	return detect.IngestResult{}, nil
}

// A replay loop: each record goes to the engine in file order, and the
// event clock (what incidents, cooldowns and policy take for "now") follows
// the latest event time played.
func Example() {
	r, err := otlpfile.Open("testdata/collector.jsonl", otlpfile.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	var engine countIngester
	var clock otlpfile.EventClock
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err) // a *RecordError: file, line, byte offset, cause
			return
		}
		if _, err := rec.Ingest(context.Background(), &engine); err != nil {
			fmt.Println(err)
			return
		}
		clock.Advance(rec.Range.End)
	}
	st := r.Stats()
	fmt.Printf("%s: %d records (%d metrics, %d traces, %d logs), %d items\n", r.Format(), st.Records, st.Metrics, st.Traces, st.Logs, st.Items)
	fmt.Println("engine got", engine.metrics, engine.traces, engine.logs)
	fmt.Println("event time now", clock.Now())
	// Output:
	// json: 12 records (4 metrics, 4 traces, 4 logs), 68 items
	// engine got 4 4 4
	// event time now 2026-01-05 09:01:37 +0000 UTC
}

// The time range of a recording, before replaying it.
func ExampleSummarize() {
	r, err := otlpfile.Open("testdata/collector.pb", otlpfile.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	s, err := otlpfile.Summarize(context.Background(), r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Format, s.Range, s.Range.Duration())
	// Output:
	// proto 2026-01-05T09:00:00Z/2026-01-05T09:01:37Z 1m37s
}
