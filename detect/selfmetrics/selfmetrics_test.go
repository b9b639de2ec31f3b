package selfmetrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestWriteTextFormat(t *testing.T) {
	r := NewRegistry()
	ok := r.Counter("medic_requests_total", "Requests.", "outcome", "ok")
	bad := r.Counter("medic_requests_total", "Requests.", "outcome", `bad "quoted"`+"\n")
	g := r.Gauge("medic_depth", "Depth.")
	r.GaugeFunc("medic_inf", "Inf.", func() float64 { return math.Inf(1) })
	ok.Add(3)
	bad.Inc()
	g.Set(2.5)
	g.Add(-1)

	var sb strings.Builder
	if err := r.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	want := `# HELP medic_depth Depth.
# TYPE medic_depth gauge
medic_depth 1.5
# HELP medic_inf Inf.
# TYPE medic_inf gauge
medic_inf +Inf
# HELP medic_requests_total Requests.
# TYPE medic_requests_total counter
medic_requests_total{outcome="ok"} 3
medic_requests_total{outcome="bad \"quoted\"\n"} 1
`
	if sb.String() != want {
		t.Fatalf("text =\n%s\nwant\n%s", sb.String(), want)
	}
}

func TestRegisteringTwiceReturnsTheSameCounter(t *testing.T) {
	r := NewRegistry()
	a := r.Counter("medic_x_total", "X.", "k", "v")
	b := r.Counter("medic_x_total", "X.", "k", "v")
	a.Inc()
	if b.Value() != 1 || a != b {
		t.Fatalf("second registration returned a different counter")
	}
}

func TestTypeClashPanics(t *testing.T) {
	r := NewRegistry()
	r.Counter("medic_y", "Y.")
	defer func() {
		if recover() == nil {
			t.Fatal("registering a counter name as a gauge did not panic")
		}
	}()
	r.Gauge("medic_y", "Y.")
}

func TestConcurrentUpdatesAndScrapes(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("medic_c_total", "C.")
	g := r.Gauge("medic_g", "G.")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.Inc()
				g.Add(1)
				if j%100 == 0 {
					_ = r.WriteText(&strings.Builder{})
				}
			}
		}()
	}
	wg.Wait()
	if c.Value() != 8000 || g.Value() != 8000 {
		t.Fatalf("counter %d gauge %v, want 8000 each", c.Value(), g.Value())
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.Counter("medic_z_total", "Z.").Inc()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d, want 405", resp.StatusCode)
	}
}
