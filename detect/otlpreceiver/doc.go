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
// by body bytes (Queue.MaxBytes), and at most Queue.Workers Ingest calls run
// at once. A request that does not fit is refused at once (429/Unavailable)
// rather than buffered, and a slow sender holds only what it has sent:
//
//   - HTTP: the body reserves queue bytes as it arrives (its buffer at most
//     doubles ahead of the data) and takes a slot only once it is read
//     whole, within http.read_timeout. The size limit applies to the bytes
//     on the wire and decompressed, so a gzip bomb is a 413 after at most
//     HTTP.MaxRequestBodyBytes of output. An OTLP/JSON body reserves, before
//     it is converted, what the conversion may allocate
//     (detect.JSONDecodeCost: about 3 bytes per byte plus 384 per object);
//     one over Queue.MaxBytes is a 413.
//   - gRPC: a call's message is read first, within grpc.read_timeout, and
//     admitted with its real size once it is in. Messages being received
//     are bounded by grpc.max_conns × grpc.max_concurrent_streams streams,
//     each holding what it has sent (HTTP/2 flow control).
//
// Both listeners hold at most max_conns connections (see connlimit).
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
