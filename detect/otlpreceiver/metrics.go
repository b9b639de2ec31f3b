package otlpreceiver

import "github.com/medic-bot/medic/detect/selfmetrics"

// Rejection reasons, the values of the reason label.
const (
	reasonMalformed    = "malformed"
	reasonTooLarge     = "too_large"
	reasonQueueFull    = "queue_full"
	reasonUnsupported  = "unsupported"
	reasonPartial      = "partial"
	reasonShuttingDown = "shutting_down"
	reasonCanceled     = "canceled"
	reasonInternal     = "internal"
)

var reasons = []string{reasonMalformed, reasonTooLarge, reasonQueueFull, reasonUnsupported, reasonPartial, reasonShuttingDown, reasonCanceled, reasonInternal}

// Transports, the values of the transport label.
const (
	transportGRPC = "grpc"
	transportHTTP = "http"
)

// signalMetrics holds one signal's counters, all registered up front so that
// every series is exported (as 0) before it first moves.
type signalMetrics struct {
	received *selfmetrics.Counter
	rejected map[string]*selfmetrics.Counter
	// requests[transport][ok]
	requests map[string][2]*selfmetrics.Counter
}

type receiverMetrics struct {
	bySignal map[*signal]*signalMetrics
}

func newMetrics(reg *selfmetrics.Registry, q *queue) *receiverMetrics {
	m := &receiverMetrics{bySignal: map[*signal]*signalMetrics{}}
	for _, sig := range signals {
		sm := &signalMetrics{
			received: reg.Counter("medic_otlp_received_total",
				"Data points, spans and log records accepted by the ingester.", "signal", sig.name),
			rejected: map[string]*selfmetrics.Counter{},
			requests: map[string][2]*selfmetrics.Counter{},
		}
		for _, r := range reasons {
			sm.rejected[r] = reg.Counter("medic_otlp_rejected_total",
				"Refused OTLP data: for reason=partial the items the ingester rejected, otherwise whole requests.",
				"signal", sig.name, "reason", r)
		}
		for _, tr := range []string{transportGRPC, transportHTTP} {
			const help = "OTLP export requests by transport, signal and outcome (ok includes partial success)."
			sm.requests[tr] = [2]*selfmetrics.Counter{
				reg.Counter("medic_otlp_requests_total", help, "transport", tr, "signal", sig.name, "outcome", "error"),
				reg.Counter("medic_otlp_requests_total", help, "transport", tr, "signal", sig.name, "outcome", "ok"),
			}
		}
		m.bySignal[sig] = sm
	}
	reg.GaugeFunc("medic_otlp_queue_depth", "OTLP requests admitted: being read, waiting for a worker or being ingested.",
		func() float64 { n, _ := q.depth(); return float64(n) })
	reg.GaugeFunc("medic_otlp_queue_bytes", "Request body bytes held by admitted OTLP requests.",
		func() float64 { _, b := q.depth(); return float64(b) })
	return m
}

// done records the outcome of one request. reason is empty on success;
// res is the ingest result when the Ingester ran.
func (m *receiverMetrics) done(transport string, sig *signal, reason string, accepted, rejected int64) {
	sm := m.bySignal[sig]
	if accepted > 0 {
		sm.received.Add(uint64(accepted))
	}
	if rejected > 0 {
		sm.rejected[reasonPartial].Add(uint64(rejected))
	}
	ok := 1
	if reason != "" {
		ok = 0
		sm.rejected[reason].Inc()
	}
	sm.requests[transport][ok].Inc()
}
