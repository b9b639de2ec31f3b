// Package detect turns OpenTelemetry data into anomalies about Kubernetes
// workloads.
//
// Data arrives as OTLP protobuf bytes (the receiver in detect/otlpreceiver
// hands JSON bodies over after converting them), is walked without building
// message trees by the decoders in this package, and lands in an [Engine].
// The engine keys every point by its series identity (resource + scope +
// metric name + point attributes), derives workload signals from it (gauge
// values, counter rates, histogram quantiles and error ratios, span RED
// windows, Kubernetes events) and feeds them to [Detector]s. Detectors run in
// event time: the timestamps in the data, not the wall clock, decide windows
// and cooldowns, so recorded telemetry replays faster than real time.
//
// What comes out is an [Anomaly]: which workload, which signal, when it
// started, how far it is from normal, and a window of evidence points.
//
// Package detect never imports bot: it is a leaf of medic's dependency graph.
package detect
