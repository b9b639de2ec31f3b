package otlpreceiver

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP servers must accept gzip
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rawRequest receives an export request's bytes, undecoded: the Ingester
// walks them itself.
type rawRequest struct{ body []byte }

// rawCodec is the server codec: requests stay bytes (copied out of
// grpc-go's buffers, which are recycled when Unmarshal returns); responses
// are ordinary protobuf messages.
type rawCodec struct{}

// Name is "proto" because that is the content-subtype OTLP clients send.
func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("otlp grpc codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch p := v.(type) {
	case *rawRequest:
		p.body = data.Materialize()
		return nil
	case proto.Message:
		return proto.Unmarshal(data.Materialize(), p)
	}
	return fmt.Errorf("otlp grpc codec: cannot unmarshal into %T", v)
}

// newGRPCServer registers the three OTLP Export services, described by hand
// so that the request is never unmarshalled into message structs.
func (r *Receiver) newGRPCServer() *grpc.Server {
	c := r.cfg.GRPC
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(c.MaxRecvMsgSizeMiB*mib),
		grpc.MaxConcurrentStreams(c.MaxConcurrentStreams),
		// A peer that has not finished its HTTP/2 handshake in time goes.
		grpc.ConnectionTimeout(c.ReadTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             c.KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     c.MaxConnectionIdle,
			MaxConnectionAge:      c.MaxConnectionAge,
			MaxConnectionAgeGrace: c.ReadTimeout,
			// Ping a quiet connection to find dead peers.
			Time:    grpcPingAfter,
			Timeout: grpcPingTimeout,
		}),
	)
	for _, sig := range signals {
		srv.RegisterService(&grpc.ServiceDesc{
			ServiceName: sig.service,
			HandlerType: (*any)(nil),
			Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: r.grpcExport(sig)}},
		}, r)
	}
	return srv
}

func (r *Receiver) grpcExport(sig *signal) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		resp, o, err := r.serveGRPC(ctx, sig, dec)
		r.metrics.done(transportGRPC, sig, o.reason, o.accepted, o.rejected)
		if o.reason != "" {
			r.logRefusal(transportGRPC, sig, o)
		}
		return resp, err
	}
}

// Server pings on quiet connections.
const (
	grpcPingAfter   = time.Minute
	grpcPingTimeout = 20 * time.Second
)

// serveGRPC handles one Export call. The message is read (by dec) first,
// within GRPC.ReadTimeout, and only then admitted with its real size: a
// call whose message trickles in holds nothing of the shared queue, and is
// cancelled when its time is up.
func (r *Receiver) serveGRPC(ctx context.Context, sig *signal, dec func(any) error) (proto.Message, outcome, error) {
	req, err := r.recvGRPC(dec)
	if err != nil {
		// grpc-go's own status: ResourceExhausted over the size limit,
		// Internal for a bad compressed frame, Canceled, ...
		reason := reasonMalformed
		switch status.Code(err) {
		case codes.ResourceExhausted:
			reason = reasonTooLarge
		case codes.Canceled, codes.DeadlineExceeded:
			reason = reasonCanceled
		}
		return nil, outcome{reason: reason, message: err.Error()}, err
	}
	t, err := r.queue.admit(int64(cap(req.body)))
	if err != nil {
		o := r.classify(sig, zeroResult, err)
		return nil, o, r.grpcError(o)
	}
	defer t.release()

	res, err := r.process(ctx, sig, req.body)
	o := r.classify(sig, res, err)
	if o.reason != "" {
		return nil, o, r.grpcError(o)
	}
	return sig.response(o.rejected, o.partMsg), o, nil
}

// recvGRPC reads the call's message within GRPC.ReadTimeout. On timeout
// the handler returns, which ends the stream and so the read, whose
// goroutine then exits; its message is dropped. A call the client cancels,
// or a connection closed by Shutdown, ends the read itself.
func (r *Receiver) recvGRPC(dec func(any) error) (rawRequest, error) {
	type result struct {
		req rawRequest
		err error
	}
	got := make(chan result, 1)
	go func() {
		var req rawRequest
		err := dec(&req)
		got <- result{req, err}
	}()
	timer := time.NewTimer(r.cfg.GRPC.ReadTimeout)
	defer timer.Stop()
	select {
	case res := <-got:
		return res.req, res.err
	case <-timer.C:
		return rawRequest{}, status.Errorf(codes.DeadlineExceeded, "request message not received within grpc.read_timeout (%s)", r.cfg.GRPC.ReadTimeout)
	}
}

// grpcError turns a refusal into a status: InvalidArgument (with
// BadRequest) for bad data, ResourceExhausted for too large, and
// Unavailable with RetryInfo for everything the client should retry.
func (r *Receiver) grpcError(o outcome) error {
	code := codes.Unavailable
	switch o.reason {
	case reasonMalformed, reasonUnsupported:
		code = codes.InvalidArgument
	case reasonTooLarge:
		code = codes.ResourceExhausted
	}
	return status.FromProto(r.statusProto(code, o)).Err()
}
