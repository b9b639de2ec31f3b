package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the OTLP protobuf messages the encoder writes
// (opentelemetry/proto/collector/metrics/v1 and metrics/v1).
const (
	fExportResourceMetrics = 1 // ExportMetricsServiceRequest.resource_metrics

	fRMResource     = 1 // ResourceMetrics.resource
	fRMScopeMetrics = 2 // ResourceMetrics.scope_metrics
	fResourceAttrs  = 1 // Resource.attributes

	fSMScope    = 1 // ScopeMetrics.scope
	fSMMetrics  = 2 // ScopeMetrics.metrics
	fScopeName  = 1 // InstrumentationScope.name
	fScopeVers  = 2 // InstrumentationScope.version
	fKVKey      = 1 // KeyValue.key
	fKVValue    = 2 // KeyValue.value
	fAnyString  = 1 // AnyValue.string_value
	fMetricName = 1 // Metric.name
	fMetricUnit = 3 // Metric.unit

	fMetricGauge     = 5 // Metric.gauge
	fMetricSum       = 7 // Metric.sum
	fMetricHistogram = 9 // Metric.histogram

	fDataPoints      = 1 // Gauge/Sum/Histogram.data_points
	fTemporality     = 2 // Sum/Histogram.aggregation_temporality
	fSumMonotonic    = 3 // Sum.is_monotonic
	temporalityCumul = 2 // AGGREGATION_TEMPORALITY_CUMULATIVE

	fNDPStart  = 2 // NumberDataPoint.start_time_unix_nano (fixed64)
	fNDPTime   = 3 // NumberDataPoint.time_unix_nano (fixed64)
	fNDPDouble = 4 // NumberDataPoint.as_double (double)
	fNDPAttrs  = 7 // NumberDataPoint.attributes

	fHDPStart   = 2  // HistogramDataPoint.start_time_unix_nano (fixed64)
	fHDPTime    = 3  // HistogramDataPoint.time_unix_nano (fixed64)
	fHDPCount   = 4  // HistogramDataPoint.count (fixed64)
	fHDPSum     = 5  // HistogramDataPoint.sum (double)
	fHDPBuckets = 6  // HistogramDataPoint.bucket_counts (packed fixed64)
	fHDPBounds  = 7  // HistogramDataPoint.explicit_bounds (packed double)
	fHDPAttrs   = 9  // HistogramDataPoint.attributes
	fHDPMin     = 11 // HistogramDataPoint.min (double)
	fHDPMax     = 12 // HistogramDataPoint.max (double)
)

// scopeName is the instrumentation scope of every metric loadgen sends.
const scopeName = "github.com/medic-bot/medic/cmd/medic-loadgen"

// kind is the type of a generated metric.
type kind uint8

const (
	kindGauge kind = iota
	kindSum
	kindHistogram
)

func (k kind) String() string {
	return [...]string{"gauge", "sum", "histogram"}[k]
}

// Workload describes the series space: Resources pods, each reporting Metrics
// metrics, each metric with AttrValues distinct values of one attribute.
// Every (resource, metric, value) triple is one series.
type Workload struct {
	Resources  int
	Metrics    int
	AttrValues int
	// Gauges, Sums and Histograms weigh the mix of metric kinds; a metric's kind
	// is fixed by its index so every resource reports the same metric set.
	Gauges, Sums, Histograms int
	// Batch is the number of data points per request.
	Batch int
	// Start is the start time (Unix nanoseconds) of every cumulative series.
	Start uint64
}

// Series returns the number of distinct series the workload cycles through.
func (w Workload) Series() int { return w.Resources * w.Metrics * w.AttrValues }

// Validate reports every invalid field at once.
func (w Workload) Validate() error {
	var errs []error
	if w.Resources < 1 {
		errs = append(errs, errors.New("resources must be at least 1"))
	}
	if w.Metrics < 1 {
		errs = append(errs, errors.New("metrics must be at least 1"))
	}
	if w.AttrValues < 1 {
		errs = append(errs, errors.New("attribute values must be at least 1"))
	}
	if w.Batch < 1 {
		errs = append(errs, errors.New("batch must be at least 1"))
	}
	if w.Gauges < 0 || w.Sums < 0 || w.Histograms < 0 || w.Gauges+w.Sums+w.Histograms == 0 {
		errs = append(errs, errors.New("mix weights must be non-negative and not all zero"))
	}
	if w.Series() > 50_000_000 {
		errs = append(errs, fmt.Errorf("%d series is more than the 50M loadgen pre-encodes", w.Series()))
	}
	return errors.Join(errs...)
}

// kinds assigns a kind to each metric index in proportion to the mix weights,
// interleaved so that any prefix of the metric set has roughly the same mix.
func (w Workload) kinds() []kind {
	weights := [3]int{w.Gauges, w.Sums, w.Histograms}
	total := w.Gauges + w.Sums + w.Histograms
	out := make([]kind, w.Metrics)
	var given [3]int
	for m := range out {
		// Pick the kind that is furthest behind its share (largest remainder).
		best, bestDeficit := 0, math.Inf(-1)
		for k, wt := range weights {
			if wt == 0 {
				continue
			}
			deficit := float64(m+1)*float64(wt)/float64(total) - float64(given[k])
			if deficit > bestDeficit {
				best, bestDeficit = k, deficit
			}
		}
		out[m] = kind(best)
		given[best]++
	}
	return out
}

// Names of generated metrics per kind, after the Collector's kubeletstats
// receiver and the HTTP semantic conventions; past the end of a list the index
// is appended.
var (
	gaugeNames = []string{"container.memory.working_set", "container.cpu.utilization", "k8s.container.memory_limit", "container.memory.rss", "k8s.pod.memory.usage"}
	sumNames   = []string{"k8s.container.restarts", "container.cpu.time", "http.server.request.count", "container.network.io", "http.server.errors"}
	histNames  = []string{"http.server.request.duration", "rpc.server.duration", "http.client.request.duration", "db.client.operation.duration"}
	units      = map[kind]string{kindGauge: "By", kindSum: "1", kindHistogram: "s"}
)

var namespaces = []string{"shop", "payments", "search", "auth", "catalog", "checkout", "ads", "platform"}

// histogramBounds are the explicit bounds (seconds) of every histogram; the
// bucket counts of a data point have one more entry.
var histogramBounds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// nBuckets is the number of bucket counts of every histogram data point.
const nBuckets = len(histogramBounds) + 1

// histogramShapes are per-round bucket increments; a series uses shape
// series%len. count and sum grow by the shape's total and sum each round.
var histogramShapes = [][nBuckets]uint64{
	{0, 1, 4, 9, 6, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0},
	{0, 0, 2, 5, 8, 7, 4, 2, 1, 1, 0, 0, 0, 0, 0},
	{1, 3, 7, 5, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1},
}

// shapeCounts and shapeSums are shapeStats of each of histogramShapes.
var shapeCounts, shapeSums = func() (c []uint64, s []float64) {
	for _, sh := range histogramShapes {
		n, sum := shapeStats(sh)
		c, s = append(c, n), append(s, sum)
	}
	return c, s
}()

// shapeStats returns the number of observations a shape adds and their sum,
// taking each observation at its bucket's upper bound (the last at 15s).
func shapeStats(s [nBuckets]uint64) (count uint64, sum float64) {
	for i, c := range s {
		count += c
		ub := 15.0
		if i < len(histogramBounds) {
			ub = histogramBounds[i]
		}
		sum += float64(c) * ub
	}
	return count, sum
}

// resourceAttrs returns the k8s resource attributes of pod r: three replicas
// per deployment, deployments spread over the namespaces.
func resourceAttrs(r int) [][2]string {
	dep := r / 3
	ns := namespaces[dep%len(namespaces)]
	depName := fmt.Sprintf("%s-api-%d", ns, dep/len(namespaces))
	pod := fmt.Sprintf("%s-%08x-%05x", depName, uint32(dep)*2654435761, uint32(r)*40503&0xfffff)
	return [][2]string{
		{"k8s.namespace.name", ns},
		{"k8s.deployment.name", depName},
		{"k8s.pod.name", pod},
		{"k8s.container.name", "app"},
		{"service.name", depName},
	}
}

func metricName(k kind, i int) string {
	var list []string
	switch k {
	case kindGauge:
		list = gaugeNames
	case kindSum:
		list = sumNames
	default:
		list = histNames
	}
	if i < len(list) {
		return list[i]
	}
	return list[i%len(list)] + "." + strconv.Itoa(i/len(list))
}

// patch locates the fixed64 fields of one data point inside an encoded
// request, so that a new round can rewrite its timestamp and value in place.
type patch struct {
	kind   kind
	series uint32
	time   int32 // offset of time_unix_nano
	value  int32 // gauge/sum: as_double; histogram: count
	sum    int32 // histogram: sum
	bucket int32 // histogram: first bucket count
}

// request is one pre-encoded ExportMetricsServiceRequest and where to patch it.
type request struct {
	buf     []byte
	patches []patch
	points  int
	round   uint64 // rounds already stamped into buf
}

// encode pre-encodes the whole series space as requests of w.Batch points,
// series in (resource, metric, value) order.
func (w Workload) encode() []*request {
	kinds := w.kinds()
	perKind := map[kind]int{}
	names := make([]string, w.Metrics)
	for m, k := range kinds {
		names[m] = metricName(k, perKind[k])
		perKind[k]++
	}
	series := w.Series()
	var reqs []*request
	for first := 0; first < series; first += w.Batch {
		last := min(first+w.Batch, series)
		reqs = append(reqs, w.encodeRange(first, last, kinds, names))
	}
	return reqs
}

// encodeRange encodes series [first, last) into one request.
func (w Workload) encodeRange(first, last int, kinds []kind, names []string) *request {
	perRes := w.Metrics * w.AttrValues
	var req msg
	for s := first; s < last; {
		r := s / perRes
		resEnd := min(last, (r+1)*perRes)
		var rm msg
		var res msg
		for _, kv := range resourceAttrs(r) {
			res.message(fResourceAttrs, keyValue(kv[0], kv[1]))
		}
		rm.message(fRMResource, res)
		var sm msg
		var scope msg
		scope.str(fScopeName, scopeName)
		scope.str(fScopeVers, "1")
		sm.message(fSMScope, scope)
		for s < resEnd {
			m := (s % perRes) / w.AttrValues
			metricEnd := min(resEnd, r*perRes+(m+1)*w.AttrValues)
			sm.message(fSMMetrics, w.encodeMetric(kinds[m], names[m], s, metricEnd))
			s = metricEnd
		}
		rm.message(fRMScopeMetrics, sm)
		req.message(fExportResourceMetrics, rm)
	}
	return &request{buf: req.b, patches: req.patches, points: last - first}
}

// encodeMetric encodes one Metric with the data points of series [s, end),
// which share the metric and differ in the attribute value.
func (w Workload) encodeMetric(k kind, name string, s, end int) msg {
	var data msg
	for ; s < end; s++ {
		v := s % w.AttrValues
		attr := keyValue("http.route", "/api/v1/items/"+strconv.Itoa(v))
		var dp msg
		switch k {
		case kindGauge, kindSum:
			dp.message(fNDPAttrs, attr)
			if k == kindSum {
				dp.fixed64(fNDPStart, w.Start)
			}
			t := dp.fixed64(fNDPTime, w.Start)
			val := dp.fixed64(fNDPDouble, 0)
			dp.patches = append(dp.patches, patch{kind: k, series: uint32(s), time: int32(t), value: int32(val)})
		case kindHistogram:
			dp.message(fHDPAttrs, attr)
			dp.fixed64(fHDPStart, w.Start)
			t := dp.fixed64(fHDPTime, w.Start)
			cnt := dp.fixed64(fHDPCount, 0)
			sum := dp.fixed64(fHDPSum, 0)
			dp.b = protowire.AppendTag(dp.b, fHDPBuckets, protowire.BytesType)
			dp.b = protowire.AppendVarint(dp.b, uint64(8*nBuckets))
			bucket := len(dp.b)
			dp.b = append(dp.b, make([]byte, 8*nBuckets)...)
			dp.b = protowire.AppendTag(dp.b, fHDPBounds, protowire.BytesType)
			dp.b = protowire.AppendVarint(dp.b, uint64(8*len(histogramBounds)))
			for _, b := range histogramBounds {
				dp.b = binary.LittleEndian.AppendUint64(dp.b, math.Float64bits(b))
			}
			dp.fixed64(fHDPMin, math.Float64bits(0.001))
			dp.fixed64(fHDPMax, math.Float64bits(15))
			dp.patches = append(dp.patches, patch{kind: k, series: uint32(s), time: int32(t), value: int32(cnt), sum: int32(sum), bucket: int32(bucket)})
		}
		data.message(fDataPoints, dp)
	}
	switch k {
	case kindSum:
		data.varint(fTemporality, temporalityCumul)
		data.varint(fSumMonotonic, 1)
	case kindHistogram:
		data.varint(fTemporality, temporalityCumul)
	}
	var m msg
	m.str(fMetricName, name)
	m.str(fMetricUnit, units[k])
	m.message([...]protowire.Number{fMetricGauge, fMetricSum, fMetricHistogram}[k], data)
	return m
}

// stamp rewrites the timestamps and values of every point of req for its next
// round; now is the new time_unix_nano. Gauges wander, sums and histograms grow
// monotonically as cumulative series must.
func (req *request) stamp(now uint64) {
	req.round++
	n := req.round
	b := req.buf
	for _, p := range req.patches {
		binary.LittleEndian.PutUint64(b[p.time:], now)
		switch p.kind {
		case kindGauge:
			v := float64((uint64(p.series)*2654435761+n*40503)%1000) + 100
			binary.LittleEndian.PutUint64(b[p.value:], math.Float64bits(v))
		case kindSum:
			v := float64(n * uint64(1+p.series%7))
			binary.LittleEndian.PutUint64(b[p.value:], math.Float64bits(v))
		case kindHistogram:
			i := int(p.series) % len(histogramShapes)
			shape, cnt, sum := histogramShapes[i], shapeCounts[i], shapeSums[i]
			binary.LittleEndian.PutUint64(b[p.value:], cnt*n)
			binary.LittleEndian.PutUint64(b[p.sum:], math.Float64bits(sum*float64(n)))
			for i, c := range shape {
				binary.LittleEndian.PutUint64(b[int(p.bucket)+8*i:], c*n)
			}
		}
	}
}

// msg is a protobuf message under construction together with the patch
// offsets of the data points inside it.
type msg struct {
	b       []byte
	patches []patch
}

func (m *msg) str(f protowire.Number, s string) {
	m.b = protowire.AppendTag(m.b, f, protowire.BytesType)
	m.b = protowire.AppendString(m.b, s)
}

func (m *msg) varint(f protowire.Number, v uint64) {
	m.b = protowire.AppendTag(m.b, f, protowire.VarintType)
	m.b = protowire.AppendVarint(m.b, v)
}

// fixed64 appends a fixed64 field and returns the offset of its 8 bytes.
func (m *msg) fixed64(f protowire.Number, v uint64) int {
	m.b = protowire.AppendTag(m.b, f, protowire.Fixed64Type)
	off := len(m.b)
	m.b = protowire.AppendFixed64(m.b, v)
	return off
}

// message embeds sub as field f, shifting sub's patch offsets into m.
func (m *msg) message(f protowire.Number, sub msg) {
	m.b = protowire.AppendTag(m.b, f, protowire.BytesType)
	m.b = protowire.AppendVarint(m.b, uint64(len(sub.b)))
	base := int32(len(m.b))
	m.b = append(m.b, sub.b...)
	for _, p := range sub.patches {
		p.time += base
		p.value += base
		if p.kind == kindHistogram {
			p.sum += base
			p.bucket += base
		}
		m.patches = append(m.patches, p)
	}
}

func keyValue(k, v string) msg {
	var val msg
	val.str(fAnyString, v)
	var kv msg
	kv.str(fKVKey, k)
	kv.message(fKVValue, val)
	return kv
}
