package detect_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/detect/detectorstest"
)

var satT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

const mi = 1 << 20

// satEnv is a saturation detector with the signals of one or more pods.
type satEnv struct {
	t    *testing.T
	d    detect.Detector
	sink detectorstest.Sink
	next uint32
}

func newSatEnv(t *testing.T, cfg detect.SaturationConfig) *satEnv {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return &satEnv{t: t, d: detect.NewSaturationDetector(cfg)}
}

// signal makes a signal of container app in pod, as the named receiver's
// resource would describe it.
func (e *satEnv) signal(name, pod string) *detect.Signal {
	e.t.Helper()
	w := &detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}
	sig := detectorstest.Signal(e.next, w, name, map[string]string{"k8s.pod.name": pod})
	e.next++
	if !e.d.Wants(sig) {
		e.t.Fatalf("saturation detector does not want %s", name)
	}
	return sig
}

// at feeds one point at satT0 + offset.
func (e *satEnv) at(offset time.Duration, sig *detect.Signal, v float64) {
	e.d.Observe(sig, detect.Point{T: satT0 + int64(offset), V: v}, e.sink.Emit)
}

// every feeds points every 15s in [from, to) with value v for each signal.
func (e *satEnv) every(from, to time.Duration, vals map[*detect.Signal]float64) {
	for o := from; o < to; o += 15 * time.Second {
		for sig, v := range vals {
			e.at(o, sig, v)
		}
	}
}

func TestSaturationDefaultConfigValid(t *testing.T) {
	if err := detect.DefaultSaturationConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSaturationValidateJoinsProblems(t *testing.T) {
	cfg := detect.DefaultSaturationConfig()
	cfg.Memory.Threshold = 1.5
	cfg.CPU.For = -time.Second
	cfg.CPU.Ratio = nil
	cfg.CPU.Limit = nil
	cfg.Throttling.Usage = append(cfg.Throttling.Usage, "container.memory.working_set")
	cfg.Margin = 0.3
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"memory: threshold", "cpu: for must not be negative", "cpu: needs usage and limit",
		`"container.memory.working_set" is already used by memory`, "throttling: margin 0.3",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestSaturationMemory(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	usage := e.signal("container.memory.working_set", "checkout-7d9f8b6c5d-x2x4z")
	limit := e.signal("k8s.container.memory_limit", "checkout-7d9f8b6c5d-x2x4z")
	e.every(0, 5*time.Minute, map[*detect.Signal]float64{usage: 300 * mi, limit: 512 * mi})
	if e.sink.Len() != 0 {
		t.Fatalf("59%% of the limit raised %v", e.sink.Anomalies)
	}
	// 470Mi of 512Mi (92%) from minute 5 on: raised once after 2 minutes.
	e.every(5*time.Minute, 12*time.Minute, map[*detect.Signal]float64{usage: 470 * mi, limit: 512 * mi})
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies, want 1", e.sink.Len())
	}
	a, sig := e.sink.Anomalies[0], e.sink.Signals[0]
	if sig != usage || a.Signal != "container.memory.working_set" {
		t.Errorf("raised for %v (%s), want the usage signal", sig, a.Signal)
	}
	if a.Kind != detect.KindSaturation || a.Detector != "saturation" {
		t.Errorf("kind %s detector %s", a.Kind, a.Detector)
	}
	if got := a.At.Sub(a.Onset); got != 2*time.Minute {
		t.Errorf("raised %s after onset, want 2m", got)
	}
	if a.Onset.UnixNano() != satT0+int64(5*time.Minute) {
		t.Errorf("onset %v, want minute 5", a.Onset)
	}
	if math.Abs(a.Observed-470.0/512) > 1e-9 || a.Baseline != 0.9 || a.Score < 0.5 || a.Score > 1 {
		t.Errorf("observed %v baseline %v score %v", a.Observed, a.Baseline, a.Score)
	}
	if want := "container app memory working set at 92% of its 512Mi limit for 2m"; a.Summary != want {
		t.Errorf("summary %q, want %q", a.Summary, want)
	}
	if a.Workload.Name != "checkout" {
		t.Errorf("workload %+v", a.Workload)
	}

	// Just under the threshold (87%), then back above: not re-armed.
	e.every(12*time.Minute, 14*time.Minute, map[*detect.Signal]float64{usage: 445 * mi})
	e.every(14*time.Minute, 20*time.Minute, map[*detect.Signal]float64{usage: 470 * mi})
	if e.sink.Len() != 1 {
		t.Fatalf("re-raised without clearing: %d anomalies", e.sink.Len())
	}
	// Well under (80%), then above again for 2m: a new episode.
	e.every(20*time.Minute, 22*time.Minute, map[*detect.Signal]float64{usage: 410 * mi})
	e.every(22*time.Minute, 25*time.Minute, map[*detect.Signal]float64{usage: 500 * mi})
	if e.sink.Len() != 2 {
		t.Fatalf("got %d anomalies after clearing and a second episode, want 2", e.sink.Len())
	}
}

func TestSaturationNeedsContinuousBreach(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	usage := e.signal("container.memory.working_set", "p")
	limit := e.signal("k8s.container.memory_limit", "p")
	e.at(0, limit, 512*mi)
	for _, o := range []time.Duration{0, 30 * time.Second, 60 * time.Second, 90 * time.Second} {
		e.at(o, usage, 500*mi)
	}
	e.at(105*time.Second, usage, 300*mi) // one point below
	for o := 2 * time.Minute; o < 3*time.Minute+30*time.Second; o += 15 * time.Second {
		e.at(o, usage, 500*mi)
	}
	if e.sink.Len() != 0 {
		t.Fatalf("raised on a breach interrupted at 1m45s: %v", e.sink.Anomalies[0].Summary)
	}
	e.at(4*time.Minute, usage, 500*mi)
	if e.sink.Len() != 1 {
		t.Fatal("2m of continuous breach did not raise")
	}
}

func TestSaturationCPU(t *testing.T) {
	for _, usageName := range []string{"container.cpu.usage", "container.cpu.time:rate"} {
		t.Run(usageName, func(t *testing.T) {
			e := newSatEnv(t, detect.DefaultSaturationConfig())
			usage := e.signal(usageName, "p")
			limit := e.signal("k8s.container.cpu_limit", "p")
			e.every(0, 3*time.Minute, map[*detect.Signal]float64{usage: 1.9, limit: 2})
			if e.sink.Len() != 1 {
				t.Fatalf("got %d anomalies, want 1", e.sink.Len())
			}
			want := "container app CPU usage at 1.9 cores, 95% of its 2-core limit, for 2m"
			if got := e.sink.Anomalies[0].Summary; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
		})
	}
}

func TestSaturationReadyRatio(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	cpu := e.signal("k8s.container.cpu_limit_utilization", "p")
	mem := e.signal("k8s.container.memory_limit_utilization", "p")
	e.every(0, 3*time.Minute, map[*detect.Signal]float64{cpu: 0.95, mem: 0.5})
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies, want 1", e.sink.Len())
	}
	a := e.sink.Anomalies[0]
	if a.Signal != "k8s.container.cpu_limit_utilization" || a.Summary != "container app CPU at 95% of its limit for 2m" {
		t.Errorf("signal %s summary %q", a.Signal, a.Summary)
	}
}

func TestSaturationThrottling(t *testing.T) {
	for _, names := range [][2]string{
		{"container.cpu.cfs.throttled_periods:rate", "container.cpu.cfs.periods:rate"},
		{"container_cpu_cfs_throttled_periods_total:rate", "container_cpu_cfs_periods_total:rate"},
		{"container.cpu.throttling_data.throttled_periods:rate", "container.cpu.throttling_data.periods:rate"},
	} {
		t.Run(names[0], func(t *testing.T) {
			e := newSatEnv(t, detect.DefaultSaturationConfig())
			throttled := e.signal(names[0], "p")
			periods := e.signal(names[1], "p")
			// 10 periods a second, 2 of them throttled: 20%, fine.
			e.every(0, 5*time.Minute, map[*detect.Signal]float64{periods: 10, throttled: 2})
			if e.sink.Len() != 0 {
				t.Fatalf("20%% throttling raised %v", e.sink.Anomalies[0].Summary)
			}
			e.every(5*time.Minute, 8*time.Minute, map[*detect.Signal]float64{periods: 10, throttled: 4.1})
			if e.sink.Len() != 1 {
				t.Fatalf("got %d anomalies, want 1", e.sink.Len())
			}
			if got, want := e.sink.Anomalies[0].Summary, "container app CPU throttled in 41% of its CFS periods for 2m"; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
		})
	}
}

func TestSaturationPairsAcrossSignals(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	// kubeletstats derives the workload from the pod name, k8s_cluster
	// names the DaemonSet: the same pod and container still pair.
	usage := detectorstest.Signal(1, &detect.Workload{Namespace: "kube-system", Kind: "Pod", Name: "agent-x7k2p", Container: "agent"},
		"container.memory.working_set", map[string]string{"k8s.pod.name": "agent-x7k2p"})
	limit := detectorstest.Signal(2, &detect.Workload{Namespace: "kube-system", Kind: "DaemonSet", Name: "agent", Container: "agent"},
		"k8s.container.memory_limit", map[string]string{"k8s.pod.name": "agent-x7k2p"})
	// Another pod of the same DaemonSet, far from its limit, and a
	// sidecar container of the first pod without a limit.
	otherUsage := detectorstest.Signal(3, &detect.Workload{Namespace: "kube-system", Kind: "Pod", Name: "agent-b8q9w", Container: "agent"},
		"container.memory.working_set", map[string]string{"k8s.pod.name": "agent-b8q9w"})
	otherLimit := detectorstest.Signal(4, &detect.Workload{Namespace: "kube-system", Kind: "DaemonSet", Name: "agent", Container: "agent"},
		"k8s.container.memory_limit", map[string]string{"k8s.pod.name": "agent-b8q9w"})
	sidecar := detectorstest.Signal(5, &detect.Workload{Namespace: "kube-system", Kind: "Pod", Name: "agent-x7k2p", Container: "proxy"},
		"container.memory.working_set", map[string]string{"k8s.pod.name": "agent-x7k2p"})
	e.every(0, 3*time.Minute, map[*detect.Signal]float64{
		usage: 250 * mi, limit: 256 * mi, otherUsage: 100 * mi, otherLimit: 256 * mi, sidecar: 900 * mi,
	})
	if e.sink.Len() != 1 || e.sink.Signals[0] != usage {
		t.Fatalf("want one anomaly for the full pod, got %v", e.sink.Anomalies)
	}
	if n := e.d.(interface{ Containers() int }).Containers(); n != 3 {
		t.Errorf("tracking %d containers, want 3", n)
	}
}

func TestSaturationCAdvisorLabels(t *testing.T) {
	// cAdvisor series come from one scrape target (the kubelet) and name
	// the container in point labels: containers must not be mixed up.
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	kubelet := &detect.Workload{Name: "kubelet", Service: "kubelet"}
	sig := func(id uint32, name, pod, container string) *detect.Signal {
		return detectorstest.Signal(id, kubelet, name, map[string]string{
			"namespace": "shop", "pod": pod, "container": container, "service.instance.id": "node-1:10250"})
	}
	busyThrottled := sig(1, "container_cpu_cfs_throttled_periods_total:rate", "checkout-7d9f8b6c5d-x2x4z", "app")
	busyPeriods := sig(2, "container_cpu_cfs_periods_total:rate", "checkout-7d9f8b6c5d-x2x4z", "app")
	idleThrottled := sig(3, "container_cpu_cfs_throttled_periods_total:rate", "cart-5c7b9d8f6d-p4m2k", "app")
	idlePeriods := sig(4, "container_cpu_cfs_periods_total:rate", "cart-5c7b9d8f6d-p4m2k", "app")
	e.every(0, 3*time.Minute, map[*detect.Signal]float64{busyThrottled: 6, busyPeriods: 10, idleThrottled: 0, idlePeriods: 10})
	if e.sink.Len() != 1 || e.sink.Signals[0] != busyThrottled {
		t.Fatalf("want one anomaly for the throttled container, got %v", e.sink.Anomalies)
	}
	if got := e.sink.Anomalies[0].Summary; !strings.HasPrefix(got, "container app CPU throttled in 60%") {
		t.Errorf("summary %q", got)
	}
	if n := e.d.(interface{ Containers() int }).Containers(); n != 2 {
		t.Errorf("tracking %d containers, want 2", n)
	}
}

func TestSaturationLimitAfterUsage(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	usage := e.signal("container.memory.working_set", "p")
	e.every(0, 5*time.Minute, map[*detect.Signal]float64{usage: 500 * mi})
	if e.sink.Len() != 0 {
		t.Fatal("raised without a limit")
	}
	limit := e.signal("k8s.container.memory_limit", "p")
	e.every(5*time.Minute, 8*time.Minute, map[*detect.Signal]float64{limit: 512 * mi, usage: 500 * mi})
	if e.sink.Len() != 1 {
		t.Fatalf("got %d anomalies once the limit arrived, want 1", e.sink.Len())
	}
	if a := e.sink.Anomalies[0]; a.Onset.UnixNano() < satT0+int64(5*time.Minute) {
		t.Errorf("onset %v before the limit was known", a.Onset)
	}
}

func TestSaturationNoLimitNeverAlerts(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	mem := e.signal("container.memory.working_set", "p")
	cpu := e.signal("container.cpu.usage", "p")
	e.every(0, 2*time.Hour, map[*detect.Signal]float64{mem: 64 << 30, cpu: 32})
	if e.sink.Len() != 0 {
		t.Fatalf("raised without limits: %v", e.sink.Anomalies)
	}
}

func TestSaturationForget(t *testing.T) {
	e := newSatEnv(t, detect.DefaultSaturationConfig())
	containers := e.d.(interface{ Containers() int })
	usage := e.signal("container.memory.working_set", "p")
	limit := e.signal("k8s.container.memory_limit", "p")
	e.every(0, time.Minute, map[*detect.Signal]float64{usage: 500 * mi, limit: 512 * mi})
	e.d.Forget(limit)
	if containers.Containers() != 1 {
		t.Fatalf("container dropped while its usage signal lives")
	}
	// Without its limit the container cannot saturate.
	e.every(time.Minute, 5*time.Minute, map[*detect.Signal]float64{usage: 500 * mi})
	if e.sink.Len() != 0 {
		t.Fatalf("raised after the limit was forgotten: %v", e.sink.Anomalies)
	}
	e.d.Forget(usage)
	if containers.Containers() != 0 {
		t.Fatalf("%d containers left after forgetting all signals", containers.Containers())
	}
	e.d.Forget(usage) // twice: no effect
	// The IDs are reused for another pod's signals: no state leaks over.
	reused := detectorstest.Signal(limit.ID, usage.Workload, "k8s.container.memory_limit", map[string]string{"k8s.pod.name": "q"})
	e.at(6*time.Minute, reused, 512*mi)
	if containers.Containers() != 1 {
		t.Fatalf("reused ID: %d containers, want 1", containers.Containers())
	}
}

func TestSaturationWants(t *testing.T) {
	cfg := detect.DefaultSaturationConfig()
	cfg.Throttling.Disabled = true
	d := detect.NewSaturationDetector(cfg)
	for name, want := range map[string]bool{
		"container.memory.working_set":             true,
		"k8s.container.memory_limit":               true,
		"k8s.container.cpu_limit_utilization":      true,
		"container.cpu.time:rate":                  true,
		"container.cpu.cfs.throttled_periods:rate": false, // disabled
		"container.memory.usage":                   false,
		"requests:p99":                             false,
	} {
		if got := d.Wants(&detect.Signal{Name: name}); got != want {
			t.Errorf("Wants(%s) = %v, want %v", name, got, want)
		}
	}
}
