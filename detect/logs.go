package detect

import (
	"context"
	"fmt"
	"strings"
)

// Log records give two things: Kubernetes events (from the Collector's
// k8s_events receiver, or Event and Pod objects from k8sobjects) for the
// event detectors, and the rate of ERROR-or-worse records per workload.

// Attributes the k8s_events receiver puts on each record.
const (
	attrEventReason = "k8s.event.reason"
	attrEventCount  = "k8s.event.count"
)

// IngestLogs decodes an ExportLogsServiceRequest and applies it.
func (e *Engine) IngestLogs(_ context.Context, body []byte) (IngestResult, error) {
	return e.ingest("logs", func(w *worker) error { return w.dec.Logs(body, (*logsSink)(w)) })
}

type logsSink worker

func (ls *logsSink) Resource(attrs Attrs) {
	w := (*worker)(ls)
	w.resource(attrs)
	w.resWl = *w.wl
}

func (ls *logsSink) Scope(string, string, Attrs) {}

func (ls *logsSink) Log(r *LogRecord) {
	w := (*worker)(ls)
	w.result.Accepted++
	t := int64(r.TimeNano)
	if t == 0 {
		t = int64(r.ObservedTimeNano)
	}
	if t == 0 {
		w.e.m.invalid.Inc()
		return
	}
	if reason, ok := r.Attrs.GetStr(attrEventReason); ok {
		// k8s_events receiver: the involved object is the resource.
		count := int64(1)
		if v, ok := r.Attrs.Get(attrEventCount); ok && v.Int() > 0 {
			count = v.Int()
		}
		w.event(w.resWl, t, reason, r.Body.String(), r.SeverityText, count)
		return
	}
	if r.Body.Get("type").Str() == "DELETED" {
		return // k8sobjects watch: an object went away, with its old times
	}
	if obj := k8sObject(r.Body); obj.Kind() == KindMap {
		switch obj.Get("kind").Str() {
		case "Event":
			w.k8sEvent(obj, t)
			return
		case "Pod":
			w.podStatus(obj, t)
			return
		}
	}
	if isErrorLog(r) {
		w.ensureShard(w.resWl)
		w.sh.see(t)
		if !w.sh.addRequests(w.wl, "", sourceLogs, t, 0, 1, nil) {
			w.e.m.late.Inc()
		}
	}
}

// k8sObject returns the Kubernetes object a k8sobjects record carries: the
// body itself (pull mode) or its "object" (watch mode).
func k8sObject(body Value) Value {
	if body.Kind() != KindMap {
		return Value{}
	}
	if o := body.Get("object"); o.Kind() == KindMap {
		return o
	}
	return body
}

// isErrorLog reports whether a record is ERROR or worse.
func isErrorLog(r *LogRecord) bool {
	if r.Severity != 0 {
		return r.Severity >= 17
	}
	t := strings.ToUpper(r.SeverityText)
	for _, p := range [...]string{"ERR", "FATAL", "CRIT", "ALERT", "EMERG", "PANIC"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// ensureShard makes the worker hold the shard of wl.
func (w *worker) ensureShard(wl Workload) {
	if w.wl != nil && w.sh != nil && w.wl.Key() == wl.Key() && w.wl.Container == wl.Container && w.wl.Service == wl.Service {
		return
	}
	w.lockFor(wl)
}

// event hands one Kubernetes event to the event detectors of wl's shard.
func (w *worker) event(wl Workload, t int64, reason, msg, typ string, count int64) {
	if wl.IsZero() || reason == "" {
		w.e.m.invalid.Inc()
		return
	}
	w.ensureShard(wl)
	w.sh.see(t)
	ev := Event{Workload: w.wl, TimeNano: t, Reason: reason, Message: msg, Type: typ, Count: count}
	for _, d := range w.sh.eventDs {
		d.ObserveEvent(&ev, w.sh.emitFn)
	}
}

// k8sEvent reads a core/v1 or events.k8s.io/v1 Event object.
func (w *worker) k8sEvent(obj Value, t int64) {
	involved := obj.Get("involvedObject")
	if involved.Kind() != KindMap {
		involved = obj.Get("regarding")
	}
	ns := involved.Get("namespace").Str()
	if ns == "" {
		ns = obj.Get("metadata").Get("namespace").Str()
	}
	wl := objectWorkload(ns, involved.Get("kind").Str(), involved.Get("name").Str(), "")
	msg := obj.Get("message").Str()
	if msg == "" {
		msg = obj.Get("note").Str()
	}
	count := obj.Get("count").Int()
	if count == 0 {
		count = obj.Get("deprecatedCount").Int()
	}
	if count == 0 {
		count = obj.Get("series").Get("count").Int()
	}
	if count == 0 {
		count = 1
	}
	w.event(wl, t, obj.Get("reason").Str(), msg, obj.Get("type").Str(), count)
}

// podStatus turns a Pod object's container statuses into events: a last
// termination by OOMKilled, and a container waiting in CrashLoopBackOff.
func (w *worker) podStatus(pod Value, t int64) {
	meta := pod.Get("metadata")
	ns, name := meta.Get("namespace").Str(), meta.Get("name").Str()
	ownerKind, ownerName := "", ""
	_ = meta.Get("ownerReferences").Each(func(o Value) bool {
		ownerKind, ownerName = o.Get("kind").Str(), o.Get("name").Str()
		return false
	})
	_ = pod.Get("status").Get("containerStatuses").Each(func(cs Value) bool {
		container := cs.Get("name").Str()
		wl := objectWorkload(ns, "Pod", name, container)
		if ownerKind != "" && ownerName != "" {
			wl = ownerWorkload(ns, ownerKind, ownerName, container)
		}
		restarts := cs.Get("restartCount").Int()
		if term := cs.Get("lastState").Get("terminated"); term.Get("reason").Str() == "OOMKilled" {
			w.event(wl, t, "OOMKilled", fmt.Sprintf("container %s was OOMKilled (restart count %d)", container, restarts), "Warning", 1)
		}
		if wait := cs.Get("state").Get("waiting"); wait.Get("reason").Str() == "CrashLoopBackOff" {
			w.event(wl, t, "CrashLoopBackOff", wait.Get("message").Str(), "Warning", 1)
		}
		return true
	})
}

// objectWorkload names the workload of an involved object.
func objectWorkload(ns, kind, name, container string) Workload {
	if kind == "Pod" {
		k, n := ownerOfPod(name)
		return Workload{Namespace: ns, Kind: k, Name: n, Container: container}
	}
	return ownerWorkload(ns, kind, name, container)
}

// ownerWorkload names the workload of a controller reference; a ReplicaSet
// stands for the Deployment that owns it.
func ownerWorkload(ns, kind, name, container string) Workload {
	if kind == "ReplicaSet" {
		if d, ok := trimHashSuffix(name); ok {
			return Workload{Namespace: ns, Kind: "Deployment", Name: d, Container: container}
		}
	}
	return Workload{Namespace: ns, Kind: kind, Name: name, Container: container}
}
