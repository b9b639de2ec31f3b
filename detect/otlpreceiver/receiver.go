package otlpreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/connlimit"
	"github.com/medic-bot/medic/detect/selfmetrics"
	"google.golang.org/grpc"
)

// Log keys.
const (
	keyTransport = "transport"
	keyEndpoint  = "endpoint"
	keySignal    = "signal"
	keyReason    = "reason"
	keyError     = "error"
)

// Receiver serves OTLP over gRPC and HTTP. Its methods are safe for
// concurrent use.
type Receiver struct {
	cfg     Config
	ing     detect.Ingester
	logger  *slog.Logger
	queue   *queue
	workers chan struct{}
	metrics *receiverMetrics
	handler http.Handler

	// stopCtx is cancelled when Shutdown gives up waiting: requests still
	// waiting for a worker give up and running Ingest calls see a
	// cancelled context.
	stopCtx context.Context
	stop    context.CancelFunc

	mu       sync.Mutex
	started  bool
	shutdown bool
	done     chan struct{} // closed when the first Shutdown has finished
	doneErr  error
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	grpcLn   *connlimit.Listener
	httpLn   *connlimit.Listener
	serving  sync.WaitGroup
}

// New builds a receiver that hands requests to ing and registers its
// metrics in reg (a private registry if nil) and logs to logger (nowhere if
// nil). It does not listen until Start; HTTPHandler works at once.
func New(cfg Config, ing detect.Ingester, reg *selfmetrics.Registry, logger *slog.Logger) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("otlp receiver config: %w", err)
	}
	if ing == nil {
		return nil, errors.New("otlp receiver: nil ingester")
	}
	if reg == nil {
		reg = selfmetrics.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		cfg:     cfg,
		ing:     ing,
		logger:  logger.With("component", "otlpreceiver"),
		queue:   newQueue(cfg.Queue.Size, cfg.Queue.MaxBytes),
		workers: make(chan struct{}, cfg.Queue.Workers),
		done:    make(chan struct{}),
	}
	r.stopCtx, r.stop = context.WithCancel(context.Background())
	r.metrics = newMetrics(reg, r.queue)
	r.registerConnMetrics(reg)
	r.handler = r.newHTTPHandler()
	return r, nil
}

// HTTPHandler returns the OTLP/HTTP routes (POST /v1/metrics, /v1/traces,
// /v1/logs), for tests and for mounting on another server. Requests through
// it share the receiver's queue and are drained by Shutdown.
func (r *Receiver) HTTPHandler() http.Handler { return r.handler }

// Start binds the configured listeners and serves on background goroutines.
// It returns once the listeners are bound; if one cannot be bound, nothing
// is left listening and the error is returned. A receiver starts once.
func (r *Receiver) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.shutdown {
		r.mu.Unlock()
		return errors.New("otlp receiver: already started or shut down")
	}
	r.started = true
	err := r.listen(ctx)
	r.mu.Unlock()
	if err != nil {
		return errors.Join(err, r.Shutdown(ctx))
	}
	return nil
}

// listen binds and serves; r.mu is held.
func (r *Receiver) listen(ctx context.Context) error {
	var lc net.ListenConfig
	// Both listeners cap their connections (connlimit); gRPC has no
	// connection states to report, so its longest-quiet connection makes
	// room, and keepalive closes idle ones.
	grpcConns := connlimit.DefaultConfig()
	grpcConns.MaxConns = r.cfg.GRPC.MaxConns
	if ep := r.cfg.GRPC.Endpoint; ep != "" {
		ln, err := limitedListen(ctx, &lc, ep, grpcConns)
		if err != nil {
			return fmt.Errorf("listen otlp grpc on %s: %w", ep, err)
		}
		r.grpcLn = ln
		r.grpcSrv = r.newGRPCServer()
	}
	if ep := r.cfg.HTTP.Endpoint; ep != "" {
		ln, err := limitedListen(ctx, &lc, ep, r.cfg.HTTP.Conns)
		if err != nil {
			if r.grpcLn != nil {
				_ = r.grpcLn.Close()
				r.grpcLn, r.grpcSrv = nil, nil
			}
			return fmt.Errorf("listen otlp http on %s: %w", ep, err)
		}
		r.httpLn = ln
		// OTLP/HTTP allows HTTP/2; without TLS that means h2c.
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		r.httpSrv = &http.Server{
			Handler:   r.handler,
			Protocols: &protocols,
			ErrorLog:  slog.NewLogLogger(r.logger.Handler(), slog.LevelDebug),
		}
		ln.Harden(r.httpSrv)
	}
	if r.grpcSrv != nil {
		srv, ln := r.grpcSrv, r.grpcLn
		r.serving.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				r.logger.Error("otlp grpc server stopped", keyEndpoint, ln.Addr().String(), keyError, err)
			}
		})
		r.logger.Info("otlp grpc listening", keyEndpoint, ln.Addr().String())
	}
	if r.httpSrv != nil {
		srv, ln := r.httpSrv, r.httpLn
		r.serving.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.logger.Error("otlp http server stopped", keyEndpoint, ln.Addr().String(), keyError, err)
			}
		})
		r.logger.Info("otlp http listening", keyEndpoint, ln.Addr().String())
	}
	return nil
}

// limitedListen binds ep and caps its connections.
func limitedListen(ctx context.Context, lc *net.ListenConfig, ep string, cfg connlimit.Config) (*connlimit.Listener, error) {
	ln, err := lc.Listen(ctx, "tcp", ep)
	if err != nil {
		return nil, err
	}
	cl, err := connlimit.Listen(ln, cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return cl, nil
}

// registerConnMetrics exports the listeners' connection counts.
func (r *Receiver) registerConnMetrics(reg *selfmetrics.Registry) {
	for _, tr := range []string{transportGRPC, transportHTTP} {
		stats := func() connlimit.Stats {
			r.mu.Lock()
			ln := r.httpLn
			if tr == transportGRPC {
				ln = r.grpcLn
			}
			r.mu.Unlock()
			if ln == nil {
				return connlimit.Stats{}
			}
			return ln.Stats()
		}
		reg.GaugeFunc("medic_otlp_connections", "Open OTLP connections.",
			func() float64 { return float64(stats().Open) }, "transport", tr)
		reg.CounterFunc("medic_otlp_connections_evicted_total", "Idle OTLP connections closed to make room at max_conns.",
			func() float64 { return float64(stats().Evicted) }, "transport", tr)
		reg.CounterFunc("medic_otlp_connections_refused_total", "New OTLP connections closed at once because max_conns were all busy.",
			func() float64 { return float64(stats().Refused) }, "transport", tr)
	}
}

// GRPCAddr is the bound OTLP/gRPC address ("host:port"), or "" before Start
// or when gRPC is disabled.
func (r *Receiver) GRPCAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.grpcLn == nil {
		return ""
	}
	return r.grpcLn.Addr().String()
}

// HTTPAddr is the bound OTLP/HTTP address ("host:port"), or "" before Start
// or when HTTP is disabled.
func (r *Receiver) HTTPAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.httpLn == nil {
		return ""
	}
	return r.httpLn.Addr().String()
}

// Shutdown stops accepting requests (new ones get 503 / Unavailable), waits
// for admitted ones to finish, and closes the listeners. If ctx ends first,
// it cuts the remaining requests off and returns ctx's error. It may be
// called without Start and more than once; later calls wait for the first
// to finish and return its result.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.shutdown {
		r.mu.Unlock()
		select {
		case <-r.done:
			return r.doneErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.shutdown = true
	grpcSrv, httpSrv, grpcLn, httpLn := r.grpcSrv, r.httpSrv, r.grpcLn, r.httpLn
	r.mu.Unlock()

	drained := r.queue.close()
	var wg sync.WaitGroup
	var httpErr error
	if httpSrv != nil {
		wg.Go(func() { httpErr = httpSrv.Shutdown(ctx) })
	}
	if grpcSrv != nil {
		wg.Go(grpcSrv.GracefulStop)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); <-drained; close(allDone) }()

	var err error
	select {
	case <-allDone:
		if httpErr != nil {
			err = fmt.Errorf("otlp http shutdown: %w", httpErr)
		}
	case <-ctx.Done():
		// Cut off what is left: waiting requests give up, Ingest calls see
		// a cancelled context, connections close. Requests whose Ingester
		// ignores its context finish on their own later.
		err = fmt.Errorf("otlp receiver shutdown: %w", ctx.Err())
		r.stop()
		if httpSrv != nil {
			_ = httpSrv.Close()
		}
		if grpcSrv != nil {
			grpcSrv.Stop()
		}
	}
	r.stop()
	r.serving.Wait()
	if grpcLn != nil || httpLn != nil {
		r.logger.Info("otlp receiver stopped")
	}
	r.doneErr = err
	close(r.done)
	return err
}

// process waits for a worker and runs the Ingester on body. It is called by
// both transports with an admitted ticket.
func (r *Receiver) process(ctx context.Context, sig *signal, body []byte) (detect.IngestResult, error) {
	select {
	case r.workers <- struct{}{}:
	case <-ctx.Done():
		return detect.IngestResult{}, ctx.Err()
	case <-r.stopCtx.Done():
		return detect.IngestResult{}, errShuttingDown
	}
	defer func() { <-r.workers }()
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	unhook := context.AfterFunc(r.stopCtx, cancel)
	defer unhook()
	res, err := sig.ingest(r.ing, ictx, body)
	if err != nil && !errors.Is(err, detect.ErrMalformed) && r.stopCtx.Err() != nil {
		return res, errShuttingDown
	}
	return res, err
}

// outcome classifies what process returned.
type outcome struct {
	reason   string // "" for success
	message  string // for the client
	accepted int64
	rejected int64 // partial rejections
	partMsg  string
}

func (r *Receiver) classify(sig *signal, res detect.IngestResult, err error) outcome {
	switch {
	case err == nil:
		o := outcome{accepted: max(res.Accepted, 0), rejected: max(res.Rejected, 0), partMsg: clientMessage(res.Message)}
		if o.rejected > 0 && o.partMsg == "" {
			o.partMsg = fmt.Sprintf("%d %s rejected", o.rejected, sig.items)
		}
		return o
	case errors.Is(err, detect.ErrMalformed):
		return outcome{reason: reasonMalformed, message: "invalid OTLP " + sig.name + " request: " + err.Error()}
	case errors.Is(err, errQueueFull):
		return outcome{reason: reasonQueueFull, message: errQueueFull.Error() + ", retry later"}
	case errors.Is(err, errShuttingDown):
		return outcome{reason: reasonShuttingDown, message: errShuttingDown.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcome{reason: reasonCanceled, message: "request canceled: " + err.Error()}
	default:
		return outcome{reason: reasonInternal, message: "ingest " + sig.name + ": " + err.Error()}
	}
}

var zeroResult detect.IngestResult

// logRefusal notes a refused request at debug level. Messages about
// malformed bodies are left out: decoders quote what they choke on, and
// bodies are never logged.
func (r *Receiver) logRefusal(transport string, sig *signal, o outcome) {
	if o.reason == reasonMalformed {
		r.logger.Debug("otlp request refused", keyTransport, transport, keySignal, sig.name, keyReason, o.reason)
		return
	}
	r.logger.Debug("otlp request refused", keyTransport, transport, keySignal, sig.name, keyReason, o.reason, keyError, o.message)
}
