package otlpreceiver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
)

// TestLoadStaysBounded sends many concurrent requests of every kind
// (identity, chunked, gzip, JSON, gRPC) at a small queue. Every request is
// either accepted or refused as retryable, the queue never holds more than
// its limits, and it is empty afterwards.
func TestLoadStaysBounded(t *testing.T) {
	cfg := testConfig()
	cfg.GRPC.MaxRecvMsgSizeMiB = 1
	cfg.HTTP.MaxRequestBodyBytes = 256 << 10
	cfg.Queue = QueueConfig{Size: 4, Workers: 2, MaxBytes: 2 << 20}
	ing := &recordingIngester{}
	r, reg := startTestReceiver(t, cfg, ing)
	conn := dialGRPC(t, r.GRPCAddr())
	client := colmetricspb.NewMetricsServiceClient(conn)
	url := "http://" + r.HTTPAddr() + "/v1/metrics"

	stop := make(chan struct{})
	var over atomic.Value
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n, b := r.queue.depth(); n > cfg.Queue.Size || b > cfg.Queue.MaxBytes || n < 0 || b < 0 {
				over.Store(fmt.Sprintf("%d requests, %d bytes", n, b))
			}
		}
	}()

	pb := mustProto(t, metricsRequest("a", "b"))
	padded := append(mustProto(t, metricsRequest("c")), protoUnknownField(100<<10)...)
	paddedGzip := gzipBytes(t, padded)
	kinds := []func() (int, error){
		func() (int, error) { resp, err := tryPost(url, nil, pb, false); return resp.code, err },
		func() (int, error) { resp, err := tryPost(url, nil, padded, true); return resp.code, err },
		func() (int, error) {
			resp, err := tryPost(url, map[string]string{"Content-Encoding": "gzip"}, paddedGzip, false)
			return resp.code, err
		},
		func() (int, error) {
			resp, err := tryPost(url, map[string]string{"Content-Type": contentTypeJSON}, []byte(jsonMetrics), false)
			return resp.code, err
		},
		func() (int, error) {
			_, err := client.Export(context.Background(), metricsRequest("d"), grpc.UseCompressor(gzip.Name))
			switch status.Code(err) {
			case codes.OK:
				return http.StatusOK, nil
			case codes.Unavailable:
				return http.StatusTooManyRequests, nil
			}
			return 0, err
		},
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for g := range 24 {
		wg.Go(func() {
			for i := range 15 {
				code, err := kinds[(g+i)%len(kinds)]()
				switch {
				case err != nil:
					select {
					case errs <- err:
					default:
					}
				case code == http.StatusOK:
					ok.Add(1)
				case code == http.StatusTooManyRequests:
					refused.Add(1)
				default:
					select {
					case errs <- fmt.Errorf("status %d", code):
					default:
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if v := over.Load(); v != nil {
		t.Errorf("queue over its limits: %v", v)
	}
	if n, b := r.queue.depth(); n != 0 || b != 0 {
		t.Errorf("queue %d requests, %d bytes after the load", n, b)
	}
	if ok.Load() == 0 {
		t.Error("nothing accepted")
	}
	ing.mu.Lock()
	ingested := len(ing.metrics)
	ing.mu.Unlock()
	if int64(ingested) != ok.Load() {
		t.Errorf("%d requests ingested, %d answered 200", ingested, ok.Load())
	}
	refusedMetric := metricValue(t, reg, `medic_otlp_rejected_total{signal="metrics",reason="queue_full"}`)
	if refusedMetric != strconv.FormatInt(refused.Load(), 10) {
		t.Errorf("queue_full metric %s, clients saw %d refusals", refusedMetric, refused.Load())
	}
	t.Logf("%d accepted, %d refused as queue full", ok.Load(), refused.Load())
}
