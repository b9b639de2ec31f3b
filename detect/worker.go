package detect

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// worker carries the scratch state of one request through the engine. The
// engine keeps a pool of them; one request uses one worker.
type worker struct {
	e   *Engine
	dec Decoder
	h   hasher
	lb  labelsBuilder
	key []byte

	sh   *shard    // locked while non-nil
	rt   *resTable // the current resource's series, valid while sh is locked
	done []*shard

	// current resource
	res         Attrs
	resHash     uint64
	wl          *Workload
	resWl       Workload // the resource's workload (logs switch shards per event)
	resKV       []kvPair // the resource's attributes, parsed once
	lastTerm    string   // k8s.container.status.last_terminated_reason of the resource
	instance    string   // value of k8s.pod.name or service.instance.id (aliases the body)
	instanceKey string   // which of the two
	// current scope and metric
	scopeHash uint64
	metric    Metric
	mHash     uint64
	mName     string // interned
	reqHist   bool   // the metric is a request-duration histogram

	fbuf, bbuf, cbuf []float64 // histogram scratch
	spans            []latSpan

	result    IngestResult
	rejectMsg [nReject]int64
}

// Rejection reasons reported in OTLP partial success.
const (
	rejectLimit = iota
	rejectNonFinite
	rejectNoTime
	rejectShape
	rejectLongName
	rejectWide
	rejectBudget
	rejectBuckets
	nReject
)

var rejectText = [nReject]string{
	rejectLimit:     "series limit reached (max_series): new series dropped",
	rejectNonFinite: "NaN or Inf value",
	rejectNoTime:    "missing time_unix_nano",
	rejectShape:     "histogram bucket_counts and explicit_bounds do not match",
	rejectLongName:  "metric name longer than 1024 bytes",
	rejectWide:      "series labels over max_series_label_bytes: new series dropped",
	rejectBudget:    "labels of all series over max_label_bytes: new series dropped",
	rejectBuckets:   "histogram with more than 1024 buckets",
}

func newWorker(e *Engine) *worker { return &worker{e: e, h: hasher{seed: e.seed}} }

func (w *worker) reset() {
	w.result = IngestResult{}
	w.rejectMsg = [nReject]int64{}
	w.done = w.done[:0]
	w.sh = nil
}

func (w *worker) reject(reason int, n int64) {
	w.result.Rejected += n
	w.rejectMsg[reason] += n
}

// finish releases the current shard and advances every shard the request
// touched, then delivers anomalies.
func (w *worker) finish() IngestResult {
	w.unlock()
	var out []Anomaly
	for _, s := range w.done {
		s.mu.Lock()
		s.advance()
		out = append(out, s.takePending()...)
		s.mu.Unlock()
	}
	for _, a := range out {
		w.e.enqueue(a)
	}
	var parts []string
	for i, n := range w.rejectMsg {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, rejectText[i]))
		}
	}
	w.result.Message = strings.Join(parts, "; ")
	return w.result
}

func (w *worker) unlock() {
	if w.sh != nil {
		w.sh.mu.Unlock()
		w.sh = nil
	}
	w.rt = nil
}

// resource switches to the shard of the resource's workload. The resource's
// attributes are parsed once here; workload lookups and hashing use that.
func (w *worker) resource(attrs Attrs) {
	w.unlock()
	w.res = attrs
	w.resKV = w.resKV[:0]
	var sum uint64
	w.lastTerm = ""
	_ = attrs.Each(func(k string, v Value) bool {
		w.resKV = append(w.resKV, kvPair{k, v})
		if k == AttrLastTerminatedReason {
			// Volatile: k8s_cluster sets it once a container has been
			// restarted. It must not make the restarted container's
			// series new ones (its restart count would start over as a
			// baseline); it is read as an event instead.
			w.lastTerm = v.Str()
			return true
		}
		sum += w.h.pair(k, v)
		return true
	})
	w.resHash = mix64(sum)
	get := func(k string) (string, bool) {
		for i := range w.resKV {
			if w.resKV[i].k == k {
				v := w.resKV[i].v
				if v.Kind() == KindString {
					return v.Str(), v.Str() != ""
				}
				s := v.String()
				return s, s != ""
			}
		}
		return "", false
	}
	wl := WorkloadFrom(get)
	w.instance, _ = get(AttrPod)
	w.instanceKey = AttrPod
	if w.instance == "" {
		w.instance, _ = get("service.instance.id")
		w.instanceKey = "service.instance.id"
	}
	w.lockFor(wl)
}

type kvPair struct {
	k string
	v Value
}

// Limits on what a series keeps of untrusted strings. Kubernetes names are
// at most 253 bytes; attribute values beyond maxLabelValue are kept cut
// (identity still hashes the whole value).
const (
	maxWorkloadField = 253
	maxLabelValue    = 1024
	maxMetricName    = 1024
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// lockFor locks the shard of workload wl and interns it.
func (w *worker) lockFor(wl Workload) {
	w.unlock()
	wl.Namespace = clip(wl.Namespace, maxWorkloadField)
	wl.Kind = clip(wl.Kind, maxWorkloadField)
	wl.Name = clip(wl.Name, maxWorkloadField)
	wl.Container = clip(wl.Container, maxWorkloadField)
	wl.Service = clip(wl.Service, maxWorkloadField)
	// Shard by the workload key (namespace/kind/name) so that every
	// container and signal of one workload meets in one shard; resources
	// with no workload at all share one shard.
	w.key = w.key[:0]
	if !wl.IsZero() {
		w.key = appendWorkloadKey(w.key, wl)
	}
	sh := w.e.shards[maphash.Bytes(w.h.seed, w.key)%uint64(len(w.e.shards))]
	sh.mu.Lock()
	w.sh = sh
	if !slices.Contains(w.done, sh) {
		w.done = append(w.done, sh)
	}
	w.key = appendInternSuffix(w.key, wl)
	w.wl = sh.workloads[string(w.key)]
	if w.wl == nil {
		w.wl = sh.workload(wl, string(w.key))
	}
}

// appendWorkloadKey appends wl.Key() without allocating.
func appendWorkloadKey(b []byte, wl Workload) []byte {
	b = append(b, wl.Namespace...)
	b = append(b, '/')
	if wl.Kind == "" {
		b = append(b, "service"...)
	} else {
		b = append(b, wl.Kind...)
	}
	b = append(b, '/')
	return append(b, wl.Name...)
}

func appendInternSuffix(b []byte, wl Workload) []byte {
	b = append(b, 0)
	b = append(b, wl.Container...)
	b = append(b, 0)
	return append(b, wl.Service...)
}

// internKey is the key shards intern workloads under.
func internKey(wl Workload) string {
	return string(appendInternSuffix(appendWorkloadKey(nil, wl), wl))
}

// labels builds the Labels of a new series: the point attributes plus the
// resource's instance. Invalid UTF-8 is replaced so labels render safely.
func (w *worker) labels(attrs Attrs) Labels {
	w.lb.reset()
	_ = attrs.Each(func(k string, v Value) bool {
		w.lb.add(clip(k, maxLabelValue), clip(v.String(), maxLabelValue))
		return true
	})
	inst := w.rt.inst
	if inst != nil {
		if _, ok := attrs.Get(inst.k); ok {
			inst = nil // the point names its own instance
		}
	}
	enc := w.lb.encode()
	if !utf8.Valid(enc) {
		for i := range w.lb.pairs {
			w.lb.pairs[i].k = strings.ToValidUTF8(w.lb.pairs[i].k, "\uFFFD")
			w.lb.pairs[i].v = strings.ToValidUTF8(w.lb.pairs[i].v, "\uFFFD")
		}
		enc = w.lb.encode()
	}
	return Labels{enc: string(enc), inst: inst}
}

// IngestMetrics decodes an ExportMetricsServiceRequest and applies it.
func (e *Engine) IngestMetrics(_ context.Context, body []byte) (IngestResult, error) {
	return e.ingest("metrics", func(w *worker) error { return w.dec.Metrics(body, (*metricsSink)(w)) })
}

// ingest runs one request's decode on a pooled worker. The decoders call
// the sink only for a body that decodes whole, so on error nothing was
// applied.
func (e *Engine) ingest(signal string, decode func(*worker) error) (IngestResult, error) {
	w := e.pool.Get().(*worker)
	defer e.pool.Put(w)
	w.reset()
	if err := decode(w); err != nil {
		w.unlock()
		return IngestResult{}, fmt.Errorf("decode %s: %w", signal, err)
	}
	return w.finish(), nil
}

// metricsSink is the worker's MetricsSink face.
type metricsSink worker

func (m *metricsSink) Resource(attrs Attrs) { (*worker)(m).resource(attrs) }

func (m *metricsSink) Scope(name, version string, _ Attrs) {
	w := (*worker)(m)
	w.scopeHash = combine(w.resHash, combine(w.h.str(name), w.h.str(version)))
}

func (m *metricsSink) Metric(mt *Metric) {
	w := (*worker)(m)
	w.metric = *mt
	w.mName = mt.Name // aliases the body: too long to keep, lookup refuses it
	if len(mt.Name) <= maxMetricName {
		w.mName = w.sh.name(mt.Name)
	}
	w.metric.Name = w.mName
	w.mHash = combine(w.scopeHash, w.h.str(mt.Name))
	w.reqHist = w.e.requestHs[mt.Name]
}

// lookup finds or creates the series for a point. nil means the point is
// not to be used (series limit); the caller has counted it.
func (w *worker) lookup(attrs Attrs, kind seriesKind) *series {
	h := combine(w.mHash, w.h.attrs(attrs))
	sh := w.sh
	rt := w.rt
	if rt == nil || rt.hash != w.scopeHash {
		if rt = sh.res[w.scopeHash]; rt == nil {
			// Stored in sh.res with its first series, so refused
			// series leave no table behind.
			rt = &resTable{hash: w.scopeHash, series: map[uint64]*series{}}
			if w.instance != "" {
				rt.inst = &labelPair{k: w.instanceKey, v: strings.ToValidUTF8(clip(w.instance, maxLabelValue), "\uFFFD")}
			}
		}
		w.rt = rt
	}
	if ser := rt.series[h]; ser != nil {
		return ser
	}
	if len(w.mName) > maxMetricName {
		w.reject(rejectLongName, 1)
		return nil
	}
	if w.e.series.Load() >= int64(w.e.cfg.MaxSeries) {
		w.e.m.seriesDropped.Inc()
		w.reject(rejectLimit, 1)
		return nil
	}
	labels := w.labels(attrs)
	if len(labels.enc) > w.e.cfg.MaxSeriesLabelBytes {
		w.e.m.seriesWide.Inc()
		w.reject(rejectWide, 1)
		return nil
	}
	size := int64(len(labels.enc))
	if w.e.labelSize.Add(size) > w.e.cfg.MaxLabelBytes {
		w.e.labelSize.Add(-size)
		w.e.m.seriesBudget.Inc()
		w.reject(rejectBudget, 1)
		return nil
	}
	w.e.series.Add(1)
	ser := &series{hash: h, kind: kind, sig: noSignal, labelSize: uint32(size)}
	name := w.mName
	switch kind {
	case seriesCumulative, seriesDelta, seriesHistogram, seriesExpHistogram, seriesSummary:
		name = sh.name(w.mName + ":rate")
	}
	ser.sig = sh.newSignal(w.wl, name, labels)
	switch kind {
	case seriesHistogram, seriesExpHistogram:
		ser.dist = &distState{p50: noSignal, p99: noSignal}
		hasStatus, failed, route := requestOutcome(attrs)
		ser.dist.feeds, ser.dist.failed = w.reqHist || hasStatus, failed
		ser.dist.route = strings.Clone(clip(route, maxLabelValue))
		if ser.dist.feeds {
			// A request histogram is split by status, method and route
			// into many sparse series; detectors watch the request
			// windows it feeds (requests:*), not each of its series.
			sh.sigs.get(ser.sig).want = 0
			break
		}
		ser.dist.p50 = sh.newSignal(w.wl, sh.name(w.mName+":p50"), labels)
		ser.dist.p99 = sh.newSignal(w.wl, sh.name(w.mName+":p99"), labels)
	case seriesSummary:
		ser.dist = &distState{p50: noSignal, p99: noSignal}
	}
	if len(rt.series) == 0 {
		sh.res[rt.hash] = rt
	}
	rt.series[h] = ser
	return ser
}

// point admits one data point: it finds (or creates) the point's series and
// counts the point as accepted. ok is false when the value is not to be
// used: rejected (no timestamp, series limit), a staleness marker, or not
// newer than the series' last point (dropped and counted).
func (w *worker) point(attrs Attrs, tNano uint64, noValue bool, kind seriesKind) (ser *series, t int64, ok bool) {
	if tNano == 0 {
		w.reject(rejectNoTime, 1)
		return nil, 0, false
	}
	if ser = w.lookup(attrs, kind); ser == nil {
		return nil, 0, false
	}
	w.result.Accepted++
	t = int64(tNano)
	if noValue {
		return nil, 0, false
	}
	if t <= ser.lastT {
		w.e.m.outOfOrder.Inc()
		return nil, 0, false
	}
	w.sh.see(t)
	return ser, t, true
}

func (m *metricsSink) Number(p *NumberPoint) {
	w := (*worker)(m)
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		w.e.m.nonFinite.Inc()
		w.reject(rejectNonFinite, 1)
		return
	}
	kind := seriesGauge
	if w.metric.Type == MetricSum && w.metric.Monotonic {
		kind = seriesCumulative
		if w.metric.Temporality == TemporalityDelta {
			kind = seriesDelta
		}
	}
	ser, t, ok := w.point(p.Attrs, p.TimeNano, p.NoValue, kind)
	if !ok {
		return
	}
	switch ser.kind {
	case seriesGauge:
		if w.mName == metricRestarts {
			w.restarted(ser, t, p.Value)
		}
		w.sh.observe(ser.sig, Point{T: t, V: p.Value})
	case seriesCumulative:
		if r, ok := ser.rate(t, int64(p.StartNano), p.Value); ok {
			w.sh.observe(ser.sig, Point{T: t, V: r})
		}
	case seriesDelta:
		if r, ok := ser.deltaRate(t, int64(p.StartNano), p.Value); ok {
			w.sh.observe(ser.sig, Point{T: t, V: r})
		}
	}
	ser.lastT = t
}

// metricRestarts is the k8s_cluster receiver's restart count per container.
const metricRestarts = "k8s.container.restarts"

// restarted turns a restart-count increase on a resource that says why the
// container last terminated (OOMKilled, Error, ...) into that event.
func (w *worker) restarted(ser *series, t int64, count float64) {
	prev, had := ser.prev, ser.hasPrev
	ser.prev, ser.hasPrev = count, true
	if !had || count <= prev || w.lastTerm == "" {
		return
	}
	wl := *w.wl
	w.event(wl, t, w.lastTerm, fmt.Sprintf("container %s restarted (restart count %g), last terminated: %s", wl.Container, count, w.lastTerm), "Warning", int64(count-prev))
}

// rate turns a cumulative value into a per-second rate since the previous
// point. A start time that moved, or a value that went down, is a reset: the
// rate is then taken from the new start (or skipped when unknown).
func (s *series) rate(t, start int64, v float64) (r float64, ok bool) {
	switch {
	case !s.hasPrev:
	case v < s.prev || (start != 0 && s.start != 0 && start != s.start):
		if start > 0 && start < t {
			r, ok = v/(float64(t-start)/1e9), true
		}
	case t > s.lastT:
		r, ok = (v-s.prev)/(float64(t-s.lastT)/1e9), true
	}
	s.prev, s.start, s.hasPrev = v, start, true
	return r, ok
}

// deltaRate turns a delta value into a per-second rate over its interval.
func (s *series) deltaRate(t, start int64, v float64) (float64, bool) {
	from := start
	if from <= 0 || from >= t {
		from = s.lastT
	}
	if from <= 0 || from >= t {
		return 0, false
	}
	return v / (float64(t-from) / 1e9), true
}
