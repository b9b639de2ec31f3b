package otlpreceiver

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP servers must accept gzip
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
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(r.cfg.GRPC.MaxRecvMsgSizeMiB*mib),
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

// serveGRPC handles one Export call. The message is read (by dec) only
// after admission, with the largest allowed message size reserved because
// its real size is not known before; the excess is given back once read.
func (r *Receiver) serveGRPC(ctx context.Context, sig *signal, dec func(any) error) (proto.Message, outcome, error) {
	maxMsg := int64(r.cfg.GRPC.MaxRecvMsgSizeMiB) * mib
	t, err := r.queue.admit(maxMsg)
	if err != nil {
		o := r.classify(sig, zeroResult, err)
		return nil, o, r.grpcError(o)
	}
	defer t.release()

	var req rawRequest
	if err := dec(&req); err != nil {
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
	t.shrink(maxMsg - int64(cap(req.body)))

	res, err := r.process(ctx, sig, req.body)
	o := r.classify(sig, res, err)
	if o.reason != "" {
		return nil, o, r.grpcError(o)
	}
	return sig.response(o.rejected, o.partMsg), o, nil
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
