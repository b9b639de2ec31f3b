package detect

import (
	"strings"
)

// Resource attribute keys medic reads to name a workload. They are the ones the
// OpenTelemetry Collector's k8sattributes processor, kubeletstats, k8s_cluster
// and k8s_events/k8sobjects receivers set.
const (
	AttrNamespace   = "k8s.namespace.name"
	AttrDeployment  = "k8s.deployment.name"
	AttrStatefulSet = "k8s.statefulset.name"
	AttrDaemonSet   = "k8s.daemonset.name"
	AttrReplicaSet  = "k8s.replicaset.name"
	AttrJob         = "k8s.job.name"
	AttrCronJob     = "k8s.cronjob.name"
	AttrPod         = "k8s.pod.name"
	AttrContainer   = "k8s.container.name"
	AttrService     = "service.name"
	AttrObjectKind  = "k8s.object.kind"
	AttrObjectName  = "k8s.object.name"
)

// Workload names the Kubernetes object a signal belongs to. Kind is empty when
// the data carried only a service name; Name is then the service name.
type Workload struct {
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name"`
	Container string `json:"container,omitempty"`
	Service   string `json:"service,omitempty"`
}

// Key identifies the workload for grouping: every container and every signal
// of one Deployment share it.
func (w Workload) Key() string {
	kind := w.Kind
	if kind == "" {
		kind = "service"
	}
	return w.Namespace + "/" + kind + "/" + w.Name
}

// String is the human form used in logs and PR titles.
func (w Workload) String() string {
	s := w.Key()
	if w.Container != "" {
		s += "[" + w.Container + "]"
	}
	return s
}

// IsZero reports whether nothing named a workload.
func (w Workload) IsZero() bool { return w.Name == "" }

// WorkloadFrom derives the workload from resource attributes, looked up with
// get. It prefers explicit controller names, then derives a Deployment from a
// ReplicaSet or Pod name that follows the controllers' naming scheme, then an
// involved object (k8s_events), then service.name.
func WorkloadFrom(get func(key string) (string, bool)) Workload {
	var w Workload
	w.Namespace, _ = get(AttrNamespace)
	w.Container, _ = get(AttrContainer)
	w.Service, _ = get(AttrService)
	for _, c := range [...]struct{ attr, kind string }{
		{AttrDeployment, "Deployment"},
		{AttrStatefulSet, "StatefulSet"},
		{AttrDaemonSet, "DaemonSet"},
		{AttrCronJob, "CronJob"},
		{AttrJob, "Job"},
	} {
		if v, ok := get(c.attr); ok && v != "" {
			w.Kind, w.Name = c.kind, v
			return w
		}
	}
	if rs, ok := get(AttrReplicaSet); ok && rs != "" {
		if d, ok := trimHashSuffix(rs); ok {
			w.Kind, w.Name = "Deployment", d
			return w
		}
	}
	pod, _ := get(AttrPod)
	if pod == "" {
		if k, _ := get(AttrObjectKind); k == "Pod" {
			pod, _ = get(AttrObjectName)
		} else if k != "" {
			if n, _ := get(AttrObjectName); n != "" {
				w.Kind, w.Name = k, n
				return w
			}
		}
	}
	if pod != "" {
		kind, name := ownerOfPod(pod)
		w.Kind, w.Name = kind, name
		return w
	}
	if w.Service != "" {
		w.Name = w.Service
	}
	return w
}

// ownerOfPod guesses a pod's controller from its generated name:
// "<deployment>-<pod-template-hash>-<5 chars>" belongs to a Deployment,
// "<statefulset>-<ordinal>" to a StatefulSet. Anything else stays a Pod.
func ownerOfPod(pod string) (kind, name string) {
	if rs, ok := trimRandSuffix(pod); ok {
		if d, ok := trimHashSuffix(rs); ok {
			return "Deployment", d
		}
		// A DaemonSet or Job pod: "<name>-<5 chars>". Without more
		// attributes the controller kind is unknown; keep the pod.
		return "Pod", pod
	}
	if i := strings.LastIndexByte(pod, '-'); i > 0 && i < len(pod)-1 && allDigits(pod[i+1:]) {
		return "StatefulSet", pod[:i]
	}
	return "Pod", pod
}

// Kubernetes generates names from the alphabet "bcdfghjklmnpqrstvwxz2456789"
// (no vowels, no 0/1/3 to avoid words and lookalikes).
func isSafeEncoded(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(s[i])) {
			return false
		}
	}
	return true
}

// trimRandSuffix strips the 5-character random suffix of a generated name.
func trimRandSuffix(s string) (string, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || len(s)-i-1 != 5 || !isSafeEncoded(s[i+1:]) {
		return s, false
	}
	return s[:i], true
}

// trimHashSuffix strips a pod-template-hash (6 to 10 safe-encoded characters).
func trimHashSuffix(s string) (string, bool) {
	i := strings.LastIndexByte(s, '-')
	if n := len(s) - i - 1; i <= 0 || n < 6 || n > 10 || !isSafeEncoded(s[i+1:]) {
		return s, false
	}
	return s[:i], true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
