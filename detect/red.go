package detect

import (
	"context"
	"strings"
)

// Request (RED) and error-log windows. Server spans and request-duration
// histograms are summed per workload and route into event-time windows of
// EngineConfig.Window; when a window closes it goes to the window detectors
// (SLO burn rates) and becomes requests:* signals for the other detectors.
// Error logs are counted per workload the same way (logs.error:rate).

// Window sources.
const (
	sourceSpans = "spans"
	sourceLogs  = "logs"
	otherRoute  = "~other"

	minRequestsP50 = 20
	minRequestsP99 = 100
)

type redKey struct {
	wl     *Workload
	route  string
	source string
}

type redAcc struct {
	key      redKey
	start    int64 // window start; the window is [start, start+Window)
	lastData int64 // event time of the last item counted
	requests float64
	errors   float64
	lat      LatencyHist
	dead     bool // dropped: series that cached it must look again
	// signals, created on the first close
	rate, errRatio, p50, p99 uint32
}

// acc finds or creates the accumulator of a key, enforcing MaxRoutes.
func (s *shard) acc(wl *Workload, route, source string, t int64) *redAcc {
	k := redKey{wl: wl, route: route, source: source}
	if a := s.red[k]; a != nil {
		return a
	}
	if route != "" && source != sourceLogs {
		if s.routes[wl] >= s.e.cfg.MaxRoutes {
			k.route = otherRoute
			if a := s.red[k]; a != nil {
				return a
			}
		}
		s.routes[wl]++
	}
	k.route = strings.Clone(k.route)
	k.source = s.name(source)
	win := int64(s.e.cfg.Window)
	a := &redAcc{key: k, start: t - t%win, rate: noSignal, errRatio: noSignal, p50: noSignal, p99: noSignal}
	s.red[k] = a
	s.wlRefs[wl]++
	if end := a.start + win; s.nextWin == 0 || end < s.nextWin {
		s.nextWin = end
	}
	return a
}

// addRequests counts n requests (errs of them failed) at event time t into
// the window of the route and of the workload total (route ""). It reports
// false when the data came after its window had closed.
func (s *shard) addRequests(wl *Workload, route, source string, t int64, n, errs float64, lat func(*LatencyHist)) bool {
	ok := s.addTo(s.acc(wl, "", source, t), t, n, errs, lat)
	if route != "" {
		ok = s.addTo(s.acc(wl, route, source, t), t, n, errs, lat) && ok
	}
	return ok
}

// addRequestsCached is addRequests for a series that remembers its two
// accumulators (workload total and route) between points.
func (s *shard) addRequestsCached(c *[2]*redAcc, wl *Workload, route, source string, t int64, n, errs float64, lat func(*LatencyHist)) bool {
	ok := true
	for i, r := range [2]string{"", route} {
		if i == 1 && route == "" {
			break
		}
		a := c[i]
		if a == nil || a.dead {
			a = s.acc(wl, r, source, t)
			c[i] = a
		}
		ok = s.addTo(a, t, n, errs, lat) && ok
	}
	return ok
}

func (s *shard) addTo(a *redAcc, t int64, n, errs float64, lat func(*LatencyHist)) bool {
	if t < a.start {
		return false
	}
	if win := int64(s.e.cfg.Window); t >= a.start+win {
		s.closeAcc(a, t-t%win)
	}
	a.requests += n
	a.errors += errs
	a.lastData = max(a.lastData, t)
	if lat != nil {
		lat(&a.lat)
	}
	return true
}

// closeWindows closes every window that ended at or before limit.
func (s *shard) closeWindows(limit int64) {
	if s.nextWin == 0 || limit < s.nextWin {
		return
	}
	win := int64(s.e.cfg.Window)
	s.nextWin = 0
	for k, a := range s.red {
		if a.start+win <= limit {
			if limit-a.lastData > int64(s.e.cfg.StaleAfter) {
				s.dropAcc(k, a)
				continue
			}
			s.closeAcc(a, limit-limit%win)
		}
		if end := a.start + win; s.nextWin == 0 || end < s.nextWin {
			s.nextWin = end
		}
	}
}

// closeAcc emits the accumulator's window (and empty windows up to next, at
// most a few, so a stop in traffic shows as a zero rate) and starts the
// window beginning at next.
func (s *shard) closeAcc(a *redAcc, next int64) {
	win := int64(s.e.cfg.Window)
	for i := 0; a.start < next && i < 3; i++ {
		s.emitWindow(a)
		a.start += win
		a.requests, a.errors = 0, 0
		a.lat.Reset()
	}
	if a.start < next {
		a.start = next
	}
}

func (s *shard) dropAcc(k redKey, a *redAcc) {
	for _, id := range []uint32{a.rate, a.errRatio, a.p50, a.p99} {
		if id != noSignal {
			s.dropSignal(id)
		}
	}
	delete(s.red, k)
	a.dead = true
	s.release(k.wl)
	if k.route != "" && k.source != sourceLogs {
		if s.routes[k.wl]--; s.routes[k.wl] <= 0 {
			delete(s.routes, k.wl)
		}
	}
}

func (s *shard) emitWindow(a *redAcc) {
	win := int64(s.e.cfg.Window)
	end := a.start + win
	secs := float64(win) / 1e9
	if a.key.source == sourceLogs {
		if a.rate == noSignal {
			a.rate = s.newSignal(a.key.wl, s.name("logs.error:rate"), Labels{})
		}
		s.observe(a.rate, Point{T: end, V: a.errors / secs})
		return
	}
	w := Window{Workload: a.key.wl, Route: a.key.route, Source: a.key.source, Start: a.start, End: end,
		Requests: a.requests, Errors: a.errors, Latency: &a.lat}
	for _, d := range s.windowDs {
		d.ObserveWindow(&w, s.emitFn)
	}
	if a.rate == noSignal {
		lb := labelsBuilder{}
		if a.key.route != "" {
			lb.add("route", a.key.route)
		}
		lb.add("source", a.key.source)
		l := lb.labels()
		a.rate = s.newSignal(a.key.wl, s.name("requests:rate"), l)
		a.errRatio = s.newSignal(a.key.wl, s.name("requests:error_ratio"), l)
		a.p50 = s.newSignal(a.key.wl, s.name("requests:p50"), l)
		a.p99 = s.newSignal(a.key.wl, s.name("requests:p99"), l)
	}
	s.observe(a.rate, Point{T: end, V: a.requests / secs})
	if a.requests > 0 {
		s.observe(a.errRatio, Point{T: end, V: a.errors / a.requests})
	}
	// A quantile of a handful of requests is mostly noise: p50 needs a few
	// dozen, p99 a hundred before it means anything.
	if n := a.lat.Count(); n >= minRequestsP50 {
		s.observe(a.p50, Point{T: end, V: a.lat.Quantile(0.5)})
		if n >= minRequestsP99 {
			s.observe(a.p99, Point{T: end, V: a.lat.Quantile(0.99)})
		}
	}
}

// Attributes that say a request failed, per the HTTP and RPC semantic
// conventions (current and older names).
const (
	attrHTTPStatus    = "http.response.status_code"
	attrHTTPStatusOld = "http.status_code"
	attrGRPCStatus    = "rpc.grpc.status_code"
	attrErrorType     = "error.type"
	attrHTTPRoute     = "http.route"
	attrRPCService    = "rpc.service"
	attrRPCMethod     = "rpc.method"
)

// requestOutcome reads a point's or span's attributes: whether they carry a
// status at all, whether it is a server-side failure, and the route.
func requestOutcome(a Attrs) (hasStatus, failed bool, route string) {
	var svc, method string
	_ = a.Each(func(k string, v Value) bool {
		switch k {
		case attrHTTPStatus, attrHTTPStatusOld:
			hasStatus = true
			code := v.Int()
			if v.Kind() == KindString {
				code = parseInt(v.Str())
			}
			if code >= 500 {
				failed = true
			}
		case attrGRPCStatus:
			hasStatus = true
			switch v.Int() {
			case 2, 4, 12, 13, 14, 15: // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
				failed = true
			}
		case attrErrorType:
			hasStatus = true
			if v.Kind() != KindEmpty && v.String() != "" {
				failed = true
			}
		case attrHTTPRoute:
			route = v.Str()
		case attrRPCService:
			svc = v.Str()
		case attrRPCMethod:
			method = v.Str()
		}
		return true
	})
	if route == "" && method != "" {
		route = svc + "/" + method
	}
	return hasStatus, failed, route
}

func parseInt(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

// durationScale converts a histogram's unit to seconds; 0 for units that
// are not durations.
func durationScale(unit string) float64 {
	switch unit {
	case "s":
		return 1
	case "ms":
		return 1e-3
	case "us", "µs":
		return 1e-6
	case "ns":
		return 1e-9
	}
	return 0
}

// feedRequests adds a histogram point's interval to the request windows if
// the metric is a request-duration histogram or carries a status.
func (w *worker) feedRequests(d *distState, t int64, n float64, bounds, counts []float64) {
	if !d.feeds {
		return
	}
	errs := 0.0
	if d.failed {
		errs = n
	}
	var lat func(*LatencyHist)
	if scale := durationScale(w.metric.Unit); scale > 0 && len(counts) == len(bounds)+1 {
		// Work out the buckets once; the point feeds two windows.
		w.spans = w.spans[:0]
		var total float64
		for i, c := range counts {
			if c <= 0 {
				continue
			}
			lo, hi := 0.0, 0.0
			if i > 0 {
				lo = bounds[i-1] * scale
			}
			if i < len(bounds) {
				hi = bounds[i] * scale
			} else {
				hi = lo * 2 // overflow bucket: counted just above the last bound
			}
			if sp, ok := rangeSpan(lo, hi, c); ok {
				w.spans = append(w.spans, sp)
				total += c
			}
		}
		spans := w.spans
		lat = func(h *LatencyHist) { h.addSpans(spans, total) }
	}
	if !w.sh.addRequestsCached(&d.accs, w.wl, d.route, w.mName, t, n, errs, lat) {
		w.e.m.late.Inc()
	}
}

// IngestTraces decodes an ExportTraceServiceRequest and applies it.
func (e *Engine) IngestTraces(_ context.Context, body []byte) (IngestResult, error) {
	return e.ingest("traces", func(w *worker) error { return w.dec.Traces(body, (*tracesSink)(w)) })
}

type tracesSink worker

func (ts *tracesSink) Resource(attrs Attrs) { (*worker)(ts).resource(attrs) }

func (ts *tracesSink) Scope(string, string, Attrs) {}

func (ts *tracesSink) Span(sp *Span) {
	w := (*worker)(ts)
	w.result.Accepted++
	if sp.Kind != SpanKindServer && sp.Kind != SpanKindConsumer {
		return
	}
	if sp.EndNano == 0 || sp.EndNano < sp.StartNano {
		w.e.m.invalid.Inc()
		return
	}
	_, _, route := requestOutcome(sp.Attrs)
	if route == "" {
		route = sp.Name
	}
	t := int64(sp.EndNano)
	w.sh.see(t)
	errs := 0.0
	if sp.Status == StatusError {
		errs = 1
	}
	dur := float64(sp.EndNano-sp.StartNano) / 1e9
	if !w.sh.addRequests(w.wl, route, sourceSpans, t, 1, errs, func(h *LatencyHist) { h.Add(dur, 1) }) {
		w.e.m.late.Inc()
	}
}
