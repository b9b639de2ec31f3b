package otlpreceiver

import (
	"context"

	"github.com/medic-bot/medic/detect"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// signal describes one OTLP signal: where it is served and how its requests
// and responses are handled. The three values below are the only ones.
type signal struct {
	name    string // metrics, traces, logs: the metric label
	path    string // OTLP/HTTP path
	service string // gRPC service name
	items   string // what the rejected count counts, for messages
	// fromJSON converts an OTLP/JSON request body to protobuf bytes.
	fromJSON func([]byte) ([]byte, error)
	ingest   func(ing detect.Ingester, ctx context.Context, body []byte) (detect.IngestResult, error)
	// response builds the Export*ServiceResponse; partial success is set
	// when rejected > 0 or msg is not empty.
	response func(rejected int64, msg string) proto.Message
}

var (
	metricsSignal = &signal{
		name:     "metrics",
		path:     "/v1/metrics",
		service:  "opentelemetry.proto.collector.metrics.v1.MetricsService",
		items:    "data points",
		fromJSON: detect.MetricsJSONToProto,
		ingest:   detect.Ingester.IngestMetrics,
		response: func(rejected int64, msg string) proto.Message {
			r := &colmetricspb.ExportMetricsServiceResponse{}
			if rejected > 0 || msg != "" {
				r.PartialSuccess = &colmetricspb.ExportMetricsPartialSuccess{RejectedDataPoints: rejected, ErrorMessage: msg}
			}
			return r
		},
	}
	tracesSignal = &signal{
		name:     "traces",
		path:     "/v1/traces",
		service:  "opentelemetry.proto.collector.trace.v1.TraceService",
		items:    "spans",
		fromJSON: detect.TracesJSONToProto,
		ingest:   detect.Ingester.IngestTraces,
		response: func(rejected int64, msg string) proto.Message {
			r := &coltracepb.ExportTraceServiceResponse{}
			if rejected > 0 || msg != "" {
				r.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: msg}
			}
			return r
		},
	}
	logsSignal = &signal{
		name:     "logs",
		path:     "/v1/logs",
		service:  "opentelemetry.proto.collector.logs.v1.LogsService",
		items:    "log records",
		fromJSON: detect.LogsJSONToProto,
		ingest:   detect.Ingester.IngestLogs,
		response: func(rejected int64, msg string) proto.Message {
			r := &collogspb.ExportLogsServiceResponse{}
			if rejected > 0 || msg != "" {
				r.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: msg}
			}
			return r
		},
	}
	signals = []*signal{metricsSignal, tracesSignal, logsSignal}
)
