package detect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/detectorstest"
)

var evT0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano()

type evEnv struct {
	t    *testing.T
	d    detect.Detector
	ed   detect.EventDetector
	sink detectorstest.Sink
	wl   *detect.Workload
}

func newEvEnv(t *testing.T, cfg detect.EventsConfig) *evEnv {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	d := detect.NewEventRules(cfg)
	ed, ok := d.(detect.EventDetector)
	if !ok {
		t.Fatal("event rules do not read events")
	}
	return &evEnv{t: t, d: d, ed: ed,
		wl: &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}}
}

func (e *evEnv) event(offset time.Duration, reason, msg string) {
	e.ed.ObserveEvent(&detect.Event{Workload: e.wl, TimeNano: evT0 + int64(offset), Reason: reason, Message: msg, Type: "Warning"}, e.sink.Emit)
	e.d.Advance(evT0+int64(offset), e.sink.Emit)
}

func (e *evEnv) point(sig *detect.Signal, offset time.Duration, v float64) {
	e.d.Observe(sig, detect.Point{T: evT0 + int64(offset), V: v}, e.sink.Emit)
	e.d.Advance(evT0+int64(offset), e.sink.Emit)
}

func (e *evEnv) signal(id uint32, name string, labels map[string]string) *detect.Signal {
	e.t.Helper()
	sig := detectorstest.Signal(id, e.wl, name, labels)
	if !e.d.Wants(sig) {
		e.t.Fatalf("event rules do not want %s", name)
	}
	return sig
}

func TestEventsDefaultConfigValid(t *testing.T) {
	if err := detect.DefaultEventsConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEventsValidateJoinsProblems(t *testing.T) {
	cfg := detect.DefaultEventsConfig()
	cfg.Rules = append(cfg.Rules,
		detect.EventRule{Name: "Bad Name", Reasons: []string{"X"}, MinCount: 1, Within: time.Minute, Quiet: time.Minute},
		detect.EventRule{Name: "empty", MinCount: 100, Within: 0, Quiet: -time.Second},
	)
	cfg.Restarts.Metrics = nil
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		`name "Bad Name"`, "empty: needs reasons or status_reasons", "min_count must be in [1,64], got 100",
		"within must be positive", "quiet must be positive", "restarts: metrics must not be empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestEventsOOM(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.event(0, "OOMKilling", "Memory cgroup out of memory: Killed process 4242 (app)")
	e.event(2*time.Minute, "OOMKilled", "")
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies for one burst, want 1", e.sink.Len())
	}
	a := e.sink.Anomalies[0]
	if a.Signal != "k8s.event:oom_killed" || a.Kind != detect.KindEvent || a.Detector != "events" || a.Score != 1 {
		t.Errorf("signal %s kind %s detector %s score %v", a.Signal, a.Kind, a.Detector, a.Score)
	}
	if e.sink.Signals[0] != nil || a.Workload != *e.wl {
		t.Errorf("signal %v workload %+v", e.sink.Signals[0], a.Workload)
	}
	if want := "container app OOMKilled: Memory cgroup out of memory: Killed process 4242 (app)"; a.Summary != want {
		t.Errorf("summary %q, want %q", a.Summary, want)
	}
	if !a.Onset.Equal(a.At) || a.At.UnixNano() != evT0 {
		t.Errorf("onset %v at %v", a.Onset, a.At)
	}
	// Still OOMing 14 minutes after the last kill: the same burst.
	e.event(16*time.Minute, "OOMKilling", "")
	if e.sink.Len() != 1 {
		t.Fatal("raised again within the quiet period")
	}
	// Quiet for 15 minutes: a new burst.
	e.event(31*time.Minute, "OOMKilling", "")
	if e.sink.Len() != 2 {
		t.Fatal("no anomaly for a new burst after the quiet period")
	}
}

func TestEventsCrashLoop(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.event(0, "BackOff", "Back-off pulling image \"registry/app:v2\"")
	if e.sink.Len() != 0 {
		t.Fatalf("image pull back-off raised %v", e.sink.Anomalies[0].Summary)
	}
	e.event(time.Minute, "BackOff", "Back-off restarting failed container app in pod checkout-7d9f8b6c5d-x2x4z_shop(0b1c)")
	e.event(2*time.Minute, "CrashLoopBackOff", "") // same rule name: same burst
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies, want 1", e.sink.Len())
	}
	if a := e.sink.Anomalies[0]; a.Signal != "k8s.event:crash_loop" || !strings.HasPrefix(a.Summary, "container app crash-looping: Back-off restarting") {
		t.Errorf("signal %s summary %q", a.Signal, a.Summary)
	}
}

func TestEventsUnhealthyNeedsRepeats(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	msg := "Liveness probe failed: HTTP probe failed with statuscode: 500"
	// Every 6 minutes: never 3 within 10 minutes.
	for i := 0; i < 5; i++ {
		e.event(time.Duration(i)*6*time.Minute, "Unhealthy", msg)
	}
	if e.sink.Len() != 0 {
		t.Fatalf("sparse probe failures raised %v", e.sink.Anomalies[0].Summary)
	}
	e.event(40*time.Minute, "Unhealthy", msg)
	e.event(41*time.Minute, "Unhealthy", msg)
	if e.sink.Len() != 0 {
		t.Fatal("raised on 2 failures")
	}
	e.event(43*time.Minute, "Unhealthy", msg)
	if e.sink.Len() != 1 {
		t.Fatalf("3 failures within 10m: got %d anomalies, want 1", e.sink.Len())
	}
	a := e.sink.Anomalies[0]
	if want := "container app failed health probes 3 times in 3m: " + msg; a.Summary != want {
		t.Errorf("summary %q, want %q", a.Summary, want)
	}
	if a.Observed != 3 || a.At.Sub(a.Onset) != 3*time.Minute {
		t.Errorf("observed %v, onset %v at %v", a.Observed, a.Onset, a.At)
	}
}

func TestEventsEvictedAndFailedScheduling(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.wl = &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}
	e.event(0, "Evicted", "The node was low on resource: memory.")
	e.event(time.Second, "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.")
	e.event(2*time.Second, "Killing", "Stopping container app") // no rule
	if e.sink.Len() != 2 {
		t.Fatalf("got %d anomalies, want 2", e.sink.Len())
	}
	if a := e.sink.Anomalies[0]; a.Signal != "k8s.event:evicted" || a.Summary != "checkout evicted: The node was low on resource: memory." {
		t.Errorf("evicted: %s %q", a.Signal, a.Summary)
	}
	if a := e.sink.Anomalies[1]; a.Signal != "k8s.event:failed_scheduling" || !strings.HasPrefix(a.Summary, "checkout could not be scheduled: 0/3 nodes") {
		t.Errorf("failed scheduling: %s %q", a.Signal, a.Summary)
	}
}

func TestEventsBurstsPerContainerAndWorkload(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.event(0, "OOMKilling", "")
	e.wl = &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "sidecar"}
	e.event(time.Second, "OOMKilling", "")
	e.wl = &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "app"}
	e.event(2*time.Second, "OOMKilling", "")
	if e.sink.Len() != 3 {
		t.Fatalf("got %d anomalies, want one per container and workload", e.sink.Len())
	}
}

func TestEventsRestarts(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	podA := e.signal(1, "k8s.container.restarts", map[string]string{"k8s.pod.name": "checkout-7d9f8b6c5d-x2x4z"})
	podB := e.signal(2, "k8s.container.restarts", map[string]string{"k8s.pod.name": "checkout-7d9f8b6c5d-q8w5n"})
	e.point(podA, 0, 5) // baselines, not increases
	e.point(podB, 0, 0)
	e.point(podA, time.Minute, 5)
	if e.sink.Len() != 0 {
		t.Fatalf("baseline raised %v", e.sink.Anomalies[0].Summary)
	}
	e.point(podA, 2*time.Minute, 7)
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies after +2 restarts, want 1", e.sink.Len())
	}
	a := e.sink.Anomalies[0]
	if a.Signal != "k8s.container.restarts" || a.Observed != 2 || e.sink.Signals[0] != podA {
		t.Errorf("signal %s observed %v emitted for %v", a.Signal, a.Observed, e.sink.Signals[0])
	}
	if a.Summary != "container app restarted 2 times" {
		t.Errorf("summary %q", a.Summary)
	}
	// The other pod of the deployment restarting is the same burst.
	e.point(podB, 3*time.Minute, 1)
	// A reset to 0 is a new baseline.
	e.point(podA, 4*time.Minute, 0)
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies, want still 1", e.sink.Len())
	}
	e.point(podA, 30*time.Minute, 1)
	if e.sink.Len() != 2 {
		t.Fatalf("no anomaly for a restart after the quiet period")
	}
}

func TestEventsRestartWithTerminatedReason(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	sig := e.signal(1, "k8s.container.restarts", map[string]string{
		"k8s.pod.name": "p", detect.AttrLastTerminatedReason: "OOMKilled"})
	e.point(sig, 0, 3)
	e.point(sig, time.Minute, 4)
	if e.sink.Len() != 1 || e.sink.Anomalies[0].Signal != "k8s.event:oom_killed" {
		t.Fatalf("want an oom_killed anomaly, got %v", e.sink.Anomalies)
	}
}

func TestEventsStatusMetrics(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	crash := e.signal(1, "k8s.container.status.reason", map[string]string{"k8s.pod.name": "p", "k8s.container.status.reason": "CrashLoopBackOff"})
	oom := e.signal(2, "k8s.container.status.reason", map[string]string{"k8s.pod.name": "p", "k8s.container.status.reason": "OOMKilled"})
	done := e.signal(3, "k8s.container.status.reason", map[string]string{"k8s.pod.name": "p", "k8s.container.status.reason": "Completed"})
	e.point(crash, 0, 0)
	e.point(done, 0, 1)
	if e.sink.Len() != 0 {
		t.Fatalf("raised %v", e.sink.Anomalies)
	}
	e.point(crash, time.Minute, 1)
	e.point(crash, 2*time.Minute, 1) // still in it
	e.point(oom, 2*time.Minute, 1)   // a state, so the first sample counts
	if e.sink.Len() != 2 {
		t.Fatalf("got %d anomalies, want crash loop and OOM", e.sink.Len())
	}
	if e.sink.Anomalies[0].Signal != "k8s.event:crash_loop" || e.sink.Anomalies[1].Signal != "k8s.event:oom_killed" {
		t.Errorf("signals %s, %s", e.sink.Anomalies[0].Signal, e.sink.Anomalies[1].Signal)
	}

	pod := e.signal(4, "k8s.pod.status_reason", map[string]string{"k8s.pod.name": "p"})
	e.wl = &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}
	pod.Workload = e.wl
	e.point(pod, 3*time.Minute, 1) // Evicted
	if e.sink.Len() != 3 || e.sink.Anomalies[2].Signal != "k8s.event:evicted" {
		t.Fatalf("pod status Evicted: %v", e.sink.Anomalies)
	}
}

func TestEventsForgetAndEviction(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	sig := e.signal(1, "k8s.container.restarts", map[string]string{"k8s.pod.name": "p"})
	e.point(sig, 0, 1)
	e.d.Forget(sig)
	// The ID comes back for a new series: its first sample is a baseline.
	e.point(sig, time.Minute, 9)
	if e.sink.Len() != 0 {
		t.Fatalf("reused ID compared with forgotten state: %v", e.sink.Anomalies)
	}
	e.event(2*time.Minute, "OOMKilling", "")
	bursts := e.d.(interface{ Bursts() int })
	if bursts.Bursts() != 1 {
		t.Fatalf("%d bursts, want 1", bursts.Bursts())
	}
	e.d.Advance(evT0+int64(10*time.Minute), e.sink.Emit)
	if bursts.Bursts() != 1 {
		t.Fatal("burst dropped within its quiet period")
	}
	e.d.Advance(evT0+int64(20*time.Minute), e.sink.Emit)
	if bursts.Bursts() != 0 {
		t.Fatal("burst kept after its quiet period")
	}
}

func TestEventsIgnoresStaleEvents(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.d.Advance(evT0+int64(2*time.Hour), e.sink.Emit)
	// The watch reports the deletion of an hour-old event object.
	e.event(time.Hour, "OOMKilling", "")
	if e.sink.Len() != 0 {
		t.Fatalf("an event older than the rule window raised %v", e.sink.Anomalies[0].Summary)
	}
}

func TestEventsWithoutTimeUseEventTime(t *testing.T) {
	e := newEvEnv(t, detect.DefaultEventsConfig())
	e.d.Advance(evT0, e.sink.Emit)
	e.ed.ObserveEvent(&detect.Event{Workload: e.wl, Reason: "OOMKilled"}, e.sink.Emit)
	e.ed.ObserveEvent(&detect.Event{Reason: "OOMKilled"}, e.sink.Emit) // no workload: ignored
	if e.sink.Len() != 1 || e.sink.Anomalies[0].At.UnixNano() != evT0 {
		t.Fatalf("got %v", e.sink.Anomalies)
	}
}
