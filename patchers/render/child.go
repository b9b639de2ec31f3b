package render

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"time"
)

// childMain serves requests on stdin with serve until stdin closes, and
// returns the process's exit status.
func childMain(serve func(request) response) int {
	// Reply on the real stdout; anything a library prints goes to stderr.
	out := os.Stdout
	os.Stdout = os.Stderr
	// Nothing a render does may reach the network.
	http.DefaultTransport = refuseTransport{}
	runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))) // the watchdog needs a P of its own
	memory, _ := strconv.ParseInt(os.Getenv(childMemEnv), 10, 64)
	if memory < minMemory {
		memory = minMemory
	}
	limitAddressSpace(memory)
	debug.SetMemoryLimit(memory * 3 / 4)
	go watchMemory(memory)

	dec := gob.NewDecoder(os.Stdin)
	enc := gob.NewEncoder(out)
	// Say it is ready, so that a render's timeout leaves out start-up.
	if err := enc.Encode(&response{}); err != nil {
		return 1
	}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "medic render child: read request: %v\n", err)
			return 1
		}
		resp := serve(req)
		req = request{}
		if err := enc.Encode(&resp); err != nil {
			fmt.Fprintf(os.Stderr, "medic render child: write response: %v\n", err)
			return 1
		}
		resp = response{}
		debug.FreeOSMemory()
	}
}

func serve(req request) response {
	var (
		out []byte
		err error
	)
	switch req.Op {
	case opKustomize:
		out, err = kustomizeFiles(req)
	case opHelm:
		out, err = helmFiles(req)
	default:
		err = fmt.Errorf("unknown render %q", req.Op)
	}
	if err == nil && int64(len(out)) > req.Limits.MaxOutputBytes {
		err = limitError("rendered output", "max_output_bytes", req.Limits.MaxOutputBytes)
	}
	if err != nil {
		return response{Err: err.Error(), Limit: errors.Is(err, ErrLimit)}
	}
	return response{Out: out}
}

// watchMemory ends the process when the memory the Go runtime holds from
// the OS passes limit. It samples the runtime's own accounting, which
// counts a huge allocation as soon as it is mapped, before it is written.
func watchMemory(limit int64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	for {
		metrics.Read(samples)
		used := int64(samples[0].Value.Uint64()) - int64(samples[1].Value.Uint64())
		if used > limit {
			fmt.Fprintf(os.Stderr, "medic render child: memory %d passed the limit %d\n", used, limit)
			os.Exit(exitMemory)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// refuseTransport is the child's http.DefaultTransport.
type refuseTransport struct{}

var refused atomic.Int64

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	refused.Add(1)
	return nil, fmt.Errorf("render: network access is disabled (%s %s)", r.Method, r.URL.Redacted())
}
