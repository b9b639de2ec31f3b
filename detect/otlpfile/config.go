package otlpfile

import (
	"errors"
	"fmt"
)

// Format is the form of a recording: the file exporter's `format` setting.
type Format string

// The recording forms. FormatAuto detects the form from the first bytes.
const (
	FormatAuto  Format = ""
	FormatJSON  Format = "json"
	FormatProto Format = "proto"
)

// Signal is the OTLP signal of one record.
type Signal string

// The OTLP signals.
const (
	SignalMetrics Signal = "metrics"
	SignalTraces  Signal = "traces"
	SignalLogs    Signal = "logs"
)

// Limits of Config.MaxRecordBytes and Config.MaxJSONDecodeBytes.
const (
	// MaxRecordBytesCeiling is the largest allowed MaxRecordBytes: 64 MiB.
	// Under it, the first byte of a valid proto length prefix is at most
	// 0x04, so it is never a byte of JSON text or whitespace, nor the first
	// byte of a gzip or zstd header: auto-detection of the form is exact.
	MaxRecordBytesCeiling = 64 << 20
	// MaxJSONDecodeBytesCeiling is the largest allowed MaxJSONDecodeBytes:
	// 16 GiB.
	MaxJSONDecodeBytesCeiling = 16 << 30
)

// Config configures a Reader.
type Config struct {
	// Format is the recording's form: "json", "proto", or empty to detect it
	// from the first bytes (exact: see MaxRecordBytesCeiling).
	Format Format `yaml:"format"`
	// Signal, when set, is the signal of every proto record. Protobuf
	// records do not name their signal (the exporter writes bare requests),
	// so by default each is taken for the first of metrics, traces and logs
	// that it decodes as with at least one item; see Reader. Set it for a
	// file written by an exporter in a single pipeline. JSON records name
	// their signal, and one that differs from Signal is an error.
	Signal Signal `yaml:"signal"`
	// MaxRecordBytes caps one record: a JSON line (without its "\n"), or a
	// proto message (without its length prefix). Default 32 MiB.
	MaxRecordBytes int64 `yaml:"max_record_bytes"`
	// MaxJSONDecodeBytes caps what converting one JSON line to protobuf may
	// allocate, as detect.JSONDecodeCost bounds it: OTLP/JSON becomes
	// message structs many times its size. Default 512 MiB.
	MaxJSONDecodeBytes int64 `yaml:"max_json_decode_bytes"`
}

// DefaultConfig returns the defaults: the form detected, the signal of proto
// records detected, 32 MiB per record, 512 MiB to convert one JSON line.
func DefaultConfig() Config {
	return Config{MaxRecordBytes: 32 << 20, MaxJSONDecodeBytes: 512 << 20}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Format {
	case FormatAuto, FormatJSON, FormatProto:
	default:
		errs = append(errs, fmt.Errorf("format: must be json, proto or empty (detect), got %q", c.Format))
	}
	switch c.Signal {
	case "", SignalMetrics, SignalTraces, SignalLogs:
	default:
		errs = append(errs, fmt.Errorf("signal: must be metrics, traces, logs or empty (detect), got %q", c.Signal))
	}
	if c.MaxRecordBytes <= 0 || c.MaxRecordBytes > MaxRecordBytesCeiling {
		errs = append(errs, fmt.Errorf("max_record_bytes: must be between 1 and %d, got %d", MaxRecordBytesCeiling, c.MaxRecordBytes))
	}
	if c.MaxJSONDecodeBytes <= 0 || c.MaxJSONDecodeBytes > MaxJSONDecodeBytesCeiling {
		errs = append(errs, fmt.Errorf("max_json_decode_bytes: must be between 1 and %d, got %d", int64(MaxJSONDecodeBytesCeiling), c.MaxJSONDecodeBytes))
	}
	return errors.Join(errs...)
}
