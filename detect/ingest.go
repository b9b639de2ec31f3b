package detect

import "context"

// IngestResult is the outcome of one export request that decoded.
type IngestResult struct {
	// Accepted counts the items (data points, spans, log records) used.
	Accepted int64
	// Rejected counts the items that could not be used; Message says why
	// (for the OTLP partial_success response). Rejections are not retried
	// by clients, so only data that would never be usable is rejected.
	Rejected int64
	Message  string
}

// Ingester consumes encoded OTLP export requests (protobuf bytes of
// ExportMetricsServiceRequest, ExportTraceServiceRequest,
// ExportLogsServiceRequest). An error wrapping ErrMalformed means the body
// did not decode and nothing of it was applied. Implementations are safe for
// concurrent use and do not keep body after returning.
type Ingester interface {
	IngestMetrics(ctx context.Context, body []byte) (IngestResult, error)
	IngestTraces(ctx context.Context, body []byte) (IngestResult, error)
	IngestLogs(ctx context.Context, body []byte) (IngestResult, error)
}
