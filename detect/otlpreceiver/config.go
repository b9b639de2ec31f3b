package otlpreceiver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/medic-bot/medic/detect/connlimit"
)

// Config configures the receiver. The zero value is not valid: start from
// [DefaultConfig].
type Config struct {
	GRPC  GRPCConfig  `yaml:"grpc"`
	HTTP  HTTPConfig  `yaml:"http"`
	Queue QueueConfig `yaml:"queue"`
	// RetryAfter is how long a client is told to wait when the queue is full
	// (HTTP Retry-After, rounded up to whole seconds; gRPC RetryInfo).
	RetryAfter time.Duration `yaml:"retry_after"`
}

// GRPCConfig configures OTLP/gRPC.
type GRPCConfig struct {
	// Endpoint is the host:port to listen on; empty disables OTLP/gRPC.
	Endpoint string `yaml:"endpoint"`
	// MaxRecvMsgSizeMiB is the largest message accepted, in MiB, after
	// decompression. Larger messages get ResourceExhausted from grpc-go.
	MaxRecvMsgSizeMiB int `yaml:"max_recv_msg_size_mib"`
	// MaxConns caps the open connections; at the cap the longest-idle
	// one is closed for a new one, or the new one if none is idle.
	MaxConns int `yaml:"max_conns"`
	// MaxConcurrentStreams caps the calls one connection may have open.
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// ReadTimeout is how long a call's request message may take to
	// arrive; a call that has not sent it whole by then is cancelled.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxConnectionIdle closes a connection with no call for this long.
	MaxConnectionIdle time.Duration `yaml:"max_connection_idle"`
	// MaxConnectionAge closes a connection this old (after a grace of
	// ReadTimeout for the calls in flight), so no peer holds one forever.
	MaxConnectionAge time.Duration `yaml:"max_connection_age"`
	// KeepaliveMinTime is the shortest interval between client pings the
	// server tolerates; a client pinging more often is disconnected.
	KeepaliveMinTime time.Duration `yaml:"keepalive_min_time"`
}

// HTTPConfig configures OTLP/HTTP.
type HTTPConfig struct {
	// Endpoint is the host:port to listen on; empty disables the listener
	// (Receiver.HTTPHandler still works, for mounting elsewhere).
	Endpoint string `yaml:"endpoint"`
	// MaxRequestBodyBytes limits a request body both as sent and after
	// decompression; a larger body gets 413.
	MaxRequestBodyBytes int64 `yaml:"max_request_body_bytes"`
	// Conns bounds the listener's connections and the server's timeouts
	// and header size: max_conns, read_header_timeout, read_timeout (a
	// body must arrive whole within it), write_timeout, idle_timeout,
	// max_header_bytes.
	Conns connlimit.Config `yaml:",inline"`
}

// QueueConfig bounds the work and memory the receiver takes on.
type QueueConfig struct {
	// Size is how many requests may be admitted at once: being read, waiting
	// for a worker or being ingested. Further requests get 429/Unavailable.
	Size int `yaml:"size"`
	// Workers is how many Ingest calls may run at once.
	Workers int `yaml:"workers"`
	// MaxBytes is how many body bytes admitted requests may hold in total.
	MaxBytes int64 `yaml:"max_bytes"`
}

const mib = 1 << 20

// DefaultConfig returns the defaults: loopback endpoints on the OTLP ports
// (127.0.0.1:4317 and 127.0.0.1:4318), 16 MiB gRPC messages, 20 MiB HTTP
// bodies (the OTLP recommendation), 1024 connections per transport, 64
// admitted requests holding at most 256 MiB, GOMAXPROCS workers and a
// one-second retry hint. gRPC: 16 streams per connection, 30s for a
// message to arrive, connections closed after 2m without a call or 30m in
// all, client pings at most every 10s. HTTP: the [connlimit.DefaultConfig]
// timeouts (10s headers, 1m request, 1m response, 2m idle) and 64 KiB of
// headers.
func DefaultConfig() Config {
	return Config{
		GRPC: GRPCConfig{
			Endpoint:             "127.0.0.1:4317",
			MaxRecvMsgSizeMiB:    16,
			MaxConns:             1024,
			MaxConcurrentStreams: 16,
			ReadTimeout:          30 * time.Second,
			MaxConnectionIdle:    2 * time.Minute,
			MaxConnectionAge:     30 * time.Minute,
			KeepaliveMinTime:     10 * time.Second,
		},
		HTTP: HTTPConfig{
			Endpoint:            "127.0.0.1:4318",
			MaxRequestBodyBytes: 20 * mib,
			Conns:               connlimit.DefaultConfig(),
		},
		Queue: QueueConfig{
			Size:     64,
			Workers:  runtime.GOMAXPROCS(0),
			MaxBytes: 256 * mib,
		},
		RetryAfter: time.Second,
	}
}

// maxGRPCMsgMiB keeps MaxRecvMsgSizeMiB<<20 inside an int32-safe range for
// grpc-go and the HTTP/2 frame arithmetic.
const maxGRPCMsgMiB = 1024

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.GRPC.Endpoint != "" {
		if err := checkEndpoint(c.GRPC.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("grpc.endpoint: %w", err))
		}
	}
	if c.GRPC.MaxRecvMsgSizeMiB <= 0 || c.GRPC.MaxRecvMsgSizeMiB > maxGRPCMsgMiB {
		errs = append(errs, fmt.Errorf("grpc.max_recv_msg_size_mib: must be between 1 and %d, got %d", maxGRPCMsgMiB, c.GRPC.MaxRecvMsgSizeMiB))
	}
	if c.GRPC.MaxConns <= 0 {
		errs = append(errs, fmt.Errorf("grpc.max_conns: must be positive, got %d", c.GRPC.MaxConns))
	}
	if c.GRPC.MaxConcurrentStreams == 0 {
		errs = append(errs, errors.New("grpc.max_concurrent_streams: must be positive, got 0"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"grpc.read_timeout", c.GRPC.ReadTimeout},
		{"grpc.max_connection_idle", c.GRPC.MaxConnectionIdle},
		{"grpc.max_connection_age", c.GRPC.MaxConnectionAge},
		{"grpc.keepalive_min_time", c.GRPC.KeepaliveMinTime},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.key, d.v))
		}
	}
	if err := c.HTTP.Conns.Validate(); err != nil {
		errs = append(errs, prefixed("http.", err))
	}
	if c.HTTP.Endpoint != "" {
		if err := checkEndpoint(c.HTTP.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("http.endpoint: %w", err))
		}
	}
	if c.HTTP.MaxRequestBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("http.max_request_body_bytes: must be positive, got %d", c.HTTP.MaxRequestBodyBytes))
	}
	if c.Queue.Size <= 0 {
		errs = append(errs, fmt.Errorf("queue.size: must be positive, got %d", c.Queue.Size))
	}
	if c.Queue.Workers <= 0 {
		errs = append(errs, fmt.Errorf("queue.workers: must be positive, got %d", c.Queue.Workers))
	}
	if c.Queue.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("queue.max_bytes: must be positive, got %d", c.Queue.MaxBytes))
	} else {
		// A request the queue could never hold would be refused as
		// "retry later" forever.
		if c.HTTP.MaxRequestBodyBytes > 0 && c.Queue.MaxBytes < c.HTTP.MaxRequestBodyBytes {
			errs = append(errs, fmt.Errorf("queue.max_bytes (%d) must be at least http.max_request_body_bytes (%d)", c.Queue.MaxBytes, c.HTTP.MaxRequestBodyBytes))
		}
		if n := int64(c.GRPC.MaxRecvMsgSizeMiB) * mib; c.GRPC.Endpoint != "" && c.GRPC.MaxRecvMsgSizeMiB > 0 && c.Queue.MaxBytes < n {
			errs = append(errs, fmt.Errorf("queue.max_bytes (%d) must be at least grpc.max_recv_msg_size_mib in bytes (%d)", c.Queue.MaxBytes, n))
		}
	}
	if c.RetryAfter <= 0 {
		errs = append(errs, fmt.Errorf("retry_after: must be positive, got %s", c.RetryAfter))
	}
	return errors.Join(errs...)
}

// prefixed puts prefix before each of the joined errors in err, so that
// they name the full key.
func prefixed(prefix string, err error) error {
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fmt.Errorf("%s%w", prefix, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s%w", prefix, err)
}

func checkEndpoint(ep string) error {
	_, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if port == "" {
		return fmt.Errorf("want host:port, %q has no port", ep)
	}
	return nil
}
