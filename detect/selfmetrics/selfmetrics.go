// Package selfmetrics is medic's own instrumentation: counters and gauges
// exposed in the Prometheus text format at /metrics. It is deliberately
// small (no histograms, labels fixed at registration) so that hot paths pay
// one atomic add per update.
package selfmetrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metrics and writes them out. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

type family struct {
	name, help, typ string
	series          []*series
}

type series struct {
	labels string // rendered {k="v",...} or ""
	value  func() float64
	obj    any // the *Counter or *Gauge behind value, if any
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]*family{}} }

// Counter only goes up.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value reads the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Gauge goes up and down.
type Gauge struct{ bits atomic.Uint64 }

// Set stores v.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d (which may be negative).
func (g *Gauge) Add(d float64) {
	for {
		old := g.bits.Load()
		if g.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Value reads the gauge.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// Counter registers (or returns the already registered) counter name with the
// given label pairs (k1, v1, k2, v2, ...).
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{}
	if prev := r.add(name, help, "counter", labels, func() float64 { return float64(c.Value()) }, c); prev != nil {
		return prev.(*Counter)
	}
	return c
}

// Gauge registers (or returns) a gauge.
func (r *Registry) Gauge(name, help string, labels ...string) *Gauge {
	g := &Gauge{}
	if prev := r.add(name, help, "gauge", labels, g.Value, g); prev != nil {
		return prev.(*Gauge)
	}
	return g
}

// GaugeFunc registers a gauge read from fn at scrape time. fn must be safe
// for concurrent use and fast.
func (r *Registry) GaugeFunc(name, help string, fn func() float64, labels ...string) {
	r.add(name, help, "gauge", labels, fn, nil)
}

// CounterFunc registers a counter read from fn at scrape time.
func (r *Registry) CounterFunc(name, help string, fn func() float64, labels ...string) {
	r.add(name, help, "counter", labels, fn, nil)
}

func (r *Registry) add(name, help, typ string, labels []string, fn func() float64, obj any) any {
	if len(labels)%2 != 0 {
		panic("selfmetrics: labels must be key/value pairs: " + name)
	}
	ls := renderLabels(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		f = &family{name: name, help: help, typ: typ}
		r.families[name] = f
	}
	if f.typ != typ {
		panic("selfmetrics: " + name + " registered as " + f.typ + " and " + typ)
	}
	for _, s := range f.series {
		if s.labels == ls {
			if s.obj != nil && obj != nil {
				return s.obj
			}
			s.value, s.obj = fn, obj
			return nil
		}
	}
	f.series = append(f.series, &series{labels: ls, value: fn, obj: obj})
	return nil
}

func renderLabels(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(kv[i])
		sb.WriteString(`="`)
		sb.WriteString(escapeLabel(kv[i+1]))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// WriteText writes every metric in the Prometheus text exposition format
// (version 0.0.4), families sorted by name.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		r.mu.Lock()
		ss := append([]*series(nil), f.series...)
		r.mu.Unlock()
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, strings.ReplaceAll(f.help, "\n", " "), f.name, f.typ)
		for _, s := range ss {
			bw.WriteString(f.name)
			bw.WriteString(s.labels)
			bw.WriteByte(' ')
			bw.WriteString(formatFloat(s.value()))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Handler serves the registry at GET /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WriteText(w)
	})
}
