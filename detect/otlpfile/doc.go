// Package otlpfile reads and writes recordings of the OpenTelemetry
// Collector's file exporter (exporter/fileexporter), so that medic can replay
// recorded telemetry in event time (`medic replay`) and its fixtures can make
// recordings.
//
// The exporter writes one OTLP export request per record, in the order the
// Collector received them; one exporter shared by several pipelines
// interleaves metrics, traces and logs in one file. Its two forms are:
//
//   - format json (the default): one OTLP/JSON export request per line,
//     ended by "\n". The signal is the request's top-level key:
//     resourceMetrics, resourceSpans or resourceLogs.
//   - format proto: each request's protobuf encoding, preceded by its length
//     as a 4-byte big-endian unsigned integer.
//
// A [Reader] detects the form from the first bytes, streams the records and
// hands each over as the protobuf bytes of an Export*ServiceRequest with its
// signal, its position and its event-time range. Memory is bounded by the
// configured record size and, for JSON, by the cost of converting one line
// (detect.JSONDecodeCost), not by the size of the file. JSON goes through
// detect's OTLP/JSON conversion and every record is validated by detect's
// protobuf decoder, so a record the Reader returns is one the engine accepts.
//
// The exporter rotates its file (by default every 100 MB): [RotatedFiles]
// lists a rotated recording's files oldest first and [OpenFiles] reads them
// as one stream.
//
// The exporter's zstd compression is refused with an error that says how to
// decompress the file: no zstd decoder is a direct dependency of medic. A
// gzip-compressed recording (recording.jsonl.gz) is read as is.
//
// A [Writer] writes the JSON lines form the way the exporter does (pdata's
// JSON: lowerCamelCase keys, enums as numbers, trace and span ids as hex,
// 64-bit integers as strings), one request per line.
//
// [TimeRange], [Summarize] and [EventClock] answer the event-time questions of
// a replay: what span of time a recording covers, and what "now" is while it
// plays.
package otlpfile
