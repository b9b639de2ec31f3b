package otlpreceiver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count file descriptors: %v", err)
	}
	return len(ents)
}

// freshPost sends one OTLP/HTTP request on a new connection.
func freshPost(url, contentType string, body []byte) (int, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestIdleConnectionFloodKeepsDescriptorsBounded(t *testing.T) {
	// Thousands of idle connections on both listeners: the receiver keeps
	// at most max_conns of each open, so its descriptors stay bounded, and
	// real clients still get their data in.
	const maxConns, flood = 32, 1500
	cfg := testConfig()
	cfg.HTTP.Conns.MaxConns = maxConns
	cfg.GRPC.MaxConns = maxConns
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, cfg, ing)
	before := openFDs(t)

	var clients []net.Conn
	t.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	for _, addr := range []string{r.HTTPAddr(), r.GRPCAddr()} {
		for range flood {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %d: %v", len(clients), err)
			}
			clients = append(clients, c)
		}
	}
	waitFor(t, func() bool {
		return r.httpLn.Stats().Accepted+r.httpLn.Stats().Refused == flood &&
			r.grpcLn.Stats().Accepted+r.grpcLn.Stats().Refused == flood
	})
	// Our side holds one descriptor per client connection; the receiver's
	// side may hold max_conns per listener (plus a few for the runtime).
	if got, bound := openFDs(t)-before, len(clients)+2*maxConns+16; got > bound {
		t.Fatalf("%d descriptors opened for %d client connections, want at most %d", got, len(clients), bound)
	}
	for _, ln := range []string{"http", "grpc"} {
		if got := metricValue(t, reg, fmt.Sprintf(`medic_otlp_connections{transport=%q}`, ln)); got != fmt.Sprint(maxConns) {
			t.Errorf("%s connections %s, want %d", ln, got, maxConns)
		}
	}

	code, err := freshPost("http://"+r.HTTPAddr()+"/v1/metrics", contentTypeProto, mustProto(t, metricsRequest("over-http")))
	if err != nil || code != http.StatusOK {
		t.Fatalf("OTLP/HTTP during the flood: %d, %v", code, err)
	}
	conn := dialGRPC(t, r.GRPCAddr())
	if _, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), metricsRequest("over-grpc")); err != nil {
		t.Fatalf("OTLP/gRPC during the flood: %v", err)
	}
	if got := strings.Join(ing.metricNames(), ","); got != "over-http,over-grpc" {
		t.Errorf("metrics %q", got)
	}
}

// trickler is a raw HTTP/2 client that opens gRPC Export calls, sends the
// start of each message and then nothing more.
type trickler struct {
	c     net.Conn
	mu    sync.Mutex // serialises writes
	fr    *http2.Framer
	ended chan uint32 // streams the server ended (trailers or RST_STREAM)
}

func newTrickler(t *testing.T, addr string) *trickler {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tr := &trickler{c: c, fr: http2.NewFramer(c, c), ended: make(chan uint32, 64)}
	tr.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := tr.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go tr.read()
	return tr
}

func (tr *trickler) read() {
	for {
		f, err := tr.fr.ReadFrame()
		if err != nil {
			return
		}
		tr.mu.Lock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = tr.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = tr.fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				tr.ended <- f.StreamID
			}
		case *http2.RSTStreamFrame:
			tr.ended <- f.StreamID
		}
		tr.mu.Unlock()
	}
}

// open starts stream id as an Export call whose 64 KiB message never
// arrives: only its length prefix and one byte are sent.
func (tr *trickler) open(t *testing.T, id uint32, service string) {
	t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/" + service + "/Export"},
		{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err := tr.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := tr.fr.WriteData(id, false, []byte{0, 0, 1, 0, 0, 0x0a}); err != nil {
		t.Fatal(err)
	}
}

// slowBody starts an OTLP/HTTP request announcing a 256 KiB body and
// sends 10 bytes of it.
func slowBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n0123456789", contentTypeProto, 256<<10)
	return c
}

func TestSlowSendersDoNotHoldTheQueue(t *testing.T) {
	// Two connections with 8 trickling gRPC calls each and 20 slow
	// OTLP/HTTP bodies, against a queue of 8 requests and 1 MiB: before,
	// each trickling call held a slot and grpc.max_recv_msg_size_mib, each
	// slow body a slot and its Content-Length, and nothing else got in.
	cfg := testConfig()
	cfg.GRPC.MaxRecvMsgSizeMiB = 1
	cfg.GRPC.ReadTimeout = 2 * time.Second
	cfg.HTTP.MaxRequestBodyBytes = 1 << 20
	cfg.Queue.Size = 8
	cfg.Queue.MaxBytes = 1 << 20
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, cfg, ing)

	const perConn = 8
	var tricklers []*trickler
	for range 2 {
		tr := newTrickler(t, r.GRPCAddr())
		for i := range perConn {
			tr.open(t, uint32(2*i+1), tracesSignal.service)
		}
		tricklers = append(tricklers, tr)
	}
	for range 20 {
		slowBody(t, r.HTTPAddr())
	}
	// Every slow request has reached the receiver before the real ones go.
	waitFor(t, func() bool { return r.httpLn.Stats().Open == 20 })
	if n, b := r.queue.depth(); n != 0 || b > 20*minBodyBuf {
		t.Errorf("slow senders hold %d slots and %d bytes of the queue", n, b)
	}

	conn := dialGRPC(t, r.GRPCAddr())
	if _, err := coltracepb.NewTraceServiceClient(conn).Export(t.Context(), tracesRequest("grpc")); err != nil {
		t.Fatalf("OTLP/gRPC beside trickling calls: %v", err)
	}
	code, err := freshPost("http://"+r.HTTPAddr()+"/v1/traces", contentTypeProto, mustProto(t, tracesRequest("http")))
	if err != nil || code != http.StatusOK {
		t.Fatalf("OTLP/HTTP beside trickling calls: %d, %v", code, err)
	}
	if got := strings.Join(ing.spanNames(), ","); got != "grpc,http" {
		t.Errorf("spans %q", got)
	}

	// grpc.read_timeout ends every trickling call.
	for _, tr := range tricklers {
		seen := map[uint32]bool{}
		for len(seen) < perConn {
			select {
			case id := <-tr.ended:
				seen[id] = true
			case <-time.After(30 * time.Second): // only a guard against hanging
				t.Fatalf("the server ended %d of %d trickling calls", len(seen), perConn)
			}
		}
	}
	waitFor(t, func() bool {
		return metricValue(t, reg, `medic_otlp_rejected_total{signal="traces",reason="canceled"}`) == fmt.Sprint(2*perConn)
	})
}
