// Package otlpreceiver accepts OpenTelemetry data over OTLP/gRPC and
// OTLP/HTTP and hands every export request, as protobuf bytes, to a
// [detect.Ingester].
//
// It follows the OTLP specification (https://opentelemetry.io/docs/specs/otlp/):
// the three Export services on gRPC, POST /v1/metrics, /v1/traces and /v1/logs
// on HTTP with binary protobuf or JSON bodies, gzip on both transports,
// partial success, and back-pressure that clients understand (HTTP 429 with
// Retry-After, gRPC Unavailable with RetryInfo). JSON bodies are converted to
// protobuf before the Ingester sees them, so an Ingester only ever decodes
// protobuf.
//
// # Memory
//
// Every request passes an admission queue bounded by count (Queue.Size) and
// by body bytes (Queue.MaxBytes) before its body is read, and at most
// Queue.Workers Ingest calls run at once. A request that does not fit is
// refused at once rather than buffered, so the request bodies the receiver
// holds never exceed Queue.MaxBytes whatever the load:
//
//   - HTTP: a body with a Content-Length and no compression reserves exactly
//     that many bytes before it is read; other bodies (chunked, gzip) reserve
//     their buffer as it grows, and are refused with 429 if the budget runs out
//     part-way. The size limit applies to the bytes on the wire and to the
//     decompressed bytes, so a gzip bomb is a 413 after at most
//     HTTP.MaxRequestBodyBytes of output.
//   - gRPC: grpc-go reads a message only when the handler asks for it, but
//     its length is not known before then, so a gRPC request reserves
//     GRPC.MaxRecvMsgSizeMiB before reading and gives back the difference once
//     the message is in. As a consequence at most Queue.MaxBytes /
//     MaxRecvMsgSize gRPC messages are read at the same moment.
//
// Buffers are counted by capacity. A JSON body is counted while it is read;
// once converted, its protobuf form takes its place in the count. Transient
// copies inside grpc-go (a compressed frame while it is decompressed) and
// inside the JSON converter are not counted.
//
// OTLP/HTTP is served over HTTP/1.1 and unencrypted HTTP/2 (h2c with prior
// knowledge). Answers to a wrong method (405) or Content-Type (415) are
// plain text, since the client's encoding is not known; every other error
// answer is a google.rpc.Status in the request's encoding.
//
// # Self-metrics
//
// Registered in the [selfmetrics.Registry] given to [New]:
//
//   - medic_otlp_received_total{signal}: items (data points, spans, log
//     records) the Ingester accepted.
//   - medic_otlp_rejected_total{signal,reason}: for reason="partial" the
//     number of items the Ingester rejected inside requests that were
//     otherwise accepted; for every other reason the number of whole requests
//     refused (their items are not counted: the body was not decoded).
//     Reasons: malformed, too_large, queue_full, unsupported (wrong method,
//     Content-Type or Content-Encoding), shutting_down, canceled (the client
//     went away), internal (the Ingester failed for another reason).
//   - medic_otlp_requests_total{transport,signal,outcome}: export requests by
//     transport (grpc, http); outcome is ok for a 200 / OK answer (including
//     partial success) and error otherwise.
//   - medic_otlp_queue_depth: admitted requests (reading, waiting for a worker
//     or being ingested).
//   - medic_otlp_queue_bytes: body bytes reserved by admitted requests.
package otlpreceiver
