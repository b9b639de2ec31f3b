package otlpreceiver

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestJSONIsBudgetedByDecodedSize(t *testing.T) {
	// Bodies of empty spans ("{}," is 3 bytes of JSON and ~350 bytes of
	// struct): four 512 KiB ones made the old receiver allocate ~250 MB
	// although they fit its 16 MiB queue as text. They are refused before
	// decoding now, and what the receiver allocates stays near the bodies'
	// own size.
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodyBytes = 1 << 20
	cfg.GRPC.MaxRecvMsgSizeMiB = 1
	cfg.Queue.MaxBytes = 16 << 20
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, cfg, ing)
	spans := strings.TrimSuffix(strings.Repeat("{},", (512<<10)/3), ",")
	bomb := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + spans + `]}]}]}`)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 4
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i], _ = freshPost("http://"+r.HTTPAddr()+"/v1/traces", contentTypeJSON, bomb)
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	for i, c := range codes {
		if c != http.StatusRequestEntityTooLarge {
			t.Errorf("request %d: status %d, want 413", i, c)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("%d JSON bodies of %d bytes allocated %d MiB", n, len(bomb), alloc>>20)
	}
	if got := metricValue(t, reg, `medic_otlp_rejected_total{signal="traces",reason="too_large"}`); got != "4" {
		t.Errorf("too_large %s", got)
	}

	// A JSON body whose decoded size fits is ingested, and only its
	// protobuf form stays counted.
	small := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.TrimSuffix(strings.Repeat(`{"name":"s"},`, 1000), ",") + `]}]}]}`)
	if c, err := freshPost("http://"+r.HTTPAddr()+"/v1/traces", contentTypeJSON, small); err != nil || c != http.StatusOK {
		t.Fatalf("small JSON: %d, %v", c, err)
	}
	if got := len(ing.spanNames()); got != 1000 {
		t.Errorf("%d spans ingested, want 1000", got)
	}
	if n, b := r.queue.depth(); n != 0 || b != 0 {
		t.Errorf("queue %d, %d bytes after the requests", n, b)
	}
}
