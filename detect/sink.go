package detect

// This file defines what the OTLP decoders (decode.go) report to whoever
// consumes a request. A decoder walks the protobuf bytes of one export request
// in order and calls the sink once per resource, scope, metric and data point.
//
// Ownership: every argument (strings, Attrs, Value, slices, the pointed-to
// structs) is valid only for the duration of the call; it aliases the request
// body or the decoder's scratch space. A sink that keeps anything must copy it
// (strings.Clone, append to its own slice).

// MetricType is the data kind of an OTLP metric.
type MetricType uint8

// The OTLP metric data kinds.
const (
	MetricNone MetricType = iota
	MetricGauge
	MetricSum
	MetricHistogram
	MetricExpHistogram
	MetricSummary
)

func (t MetricType) String() string {
	return [...]string{"none", "gauge", "sum", "histogram", "exponential_histogram", "summary"}[t]
}

// Temporality is the OTLP aggregation temporality of sums and histograms.
type Temporality uint8

// The OTLP aggregation temporalities, numbered as the protobuf enum is.
const (
	TemporalityUnspecified Temporality = 0
	TemporalityDelta       Temporality = 1
	TemporalityCumulative  Temporality = 2
)

// Metric describes the metric whose points follow.
type Metric struct {
	Name        string
	Unit        string
	Type        MetricType
	Temporality Temporality
	Monotonic   bool
}

// NumberPoint is one gauge or sum data point.
type NumberPoint struct {
	Attrs     Attrs
	StartNano uint64
	TimeNano  uint64
	Value     float64 // as_int is converted
	IsInt     bool
	NoValue   bool // FLAG_NO_RECORDED_VALUE: a staleness marker, not a value
}

// HistogramPoint is one explicit-bucket histogram data point.
type HistogramPoint struct {
	Attrs     Attrs
	StartNano uint64
	TimeNano  uint64
	Count     uint64
	Sum       float64
	HasSum    bool
	Min, Max  float64
	HasMin    bool
	HasMax    bool
	Bounds    []float64 // explicit_bounds, len(Counts)-1 when valid
	Counts    []uint64
	NoValue   bool
}

// Buckets is one side of an exponential histogram.
type Buckets struct {
	Offset int32
	Counts []uint64
}

// ExpHistogramPoint is one exponential histogram data point.
type ExpHistogramPoint struct {
	Attrs         Attrs
	StartNano     uint64
	TimeNano      uint64
	Count         uint64
	Sum           float64
	HasSum        bool
	Min, Max      float64
	HasMin        bool
	HasMax        bool
	Scale         int32
	ZeroCount     uint64
	ZeroThreshold float64
	Positive      Buckets
	Negative      Buckets
	NoValue       bool
}

// Quantile is one quantile of a summary point.
type Quantile struct{ Q, V float64 }

// SummaryPoint is one summary data point.
type SummaryPoint struct {
	Attrs     Attrs
	StartNano uint64
	TimeNano  uint64
	Count     uint64
	Sum       float64
	Quantiles []Quantile
	NoValue   bool
}

// MetricsSink receives one decoded metrics export request.
type MetricsSink interface {
	Resource(attrs Attrs)
	Scope(name, version string, attrs Attrs)
	Metric(m *Metric)
	Number(p *NumberPoint)
	Histogram(p *HistogramPoint)
	ExpHistogram(p *ExpHistogramPoint)
	Summary(p *SummaryPoint)
}

// SpanKind is the OTLP span kind, numbered as the protobuf enum is.
type SpanKind uint8

// The OTLP span kinds.
const (
	SpanKindUnspecified SpanKind = 0
	SpanKindInternal    SpanKind = 1
	SpanKindServer      SpanKind = 2
	SpanKindClient      SpanKind = 3
	SpanKindProducer    SpanKind = 4
	SpanKindConsumer    SpanKind = 5
)

// StatusCode is the OTLP span status code.
type StatusCode uint8

// The OTLP span status codes.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Span is one decoded span (only what medic uses).
type Span struct {
	Name          string
	Kind          SpanKind
	StartNano     uint64
	EndNano       uint64
	Status        StatusCode
	StatusMessage string
	Attrs         Attrs
}

// TracesSink receives one decoded traces export request.
type TracesSink interface {
	Resource(attrs Attrs)
	Scope(name, version string, attrs Attrs)
	Span(s *Span)
}

// LogRecord is one decoded log record (only what medic uses).
type LogRecord struct {
	TimeNano         uint64
	ObservedTimeNano uint64
	Severity         int32 // SeverityNumber: 17-20 ERROR, 21-24 FATAL
	SeverityText     string
	Body             Value
	Attrs            Attrs
	EventName        string
}

// LogsSink receives one decoded logs export request.
type LogsSink interface {
	Resource(attrs Attrs)
	Scope(name, version string, attrs Attrs)
	Log(r *LogRecord)
}
