package otlpreceiver

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect/connlimit"
	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		GRPC: GRPCConfig{Endpoint: "127.0.0.1:4317", MaxRecvMsgSizeMiB: 16, MaxConns: 1024, MaxConcurrentStreams: 16,
			ReadTimeout: 30 * time.Second, MaxConnectionIdle: 2 * time.Minute, MaxConnectionAge: 30 * time.Minute, KeepaliveMinTime: 10 * time.Second},
		HTTP: HTTPConfig{Endpoint: "127.0.0.1:4318", MaxRequestBodyBytes: 20 << 20, Conns: connlimit.Config{MaxConns: 1024,
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}},
		Queue:      QueueConfig{Size: 64, Workers: runtime.GOMAXPROCS(0), MaxBytes: 256 << 20},
		RetryAfter: time.Second,
	}
	if cfg != want {
		t.Errorf("DefaultConfig() = %+v, want %+v", cfg, want)
	}
}

func TestValidateJoinsProblems(t *testing.T) {
	cfg := Config{
		GRPC:  GRPCConfig{Endpoint: "4317"},
		HTTP:  HTTPConfig{Endpoint: "localhost:", MaxRequestBodyBytes: -1},
		Queue: QueueConfig{Size: 0, Workers: -2, MaxBytes: 0},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"grpc.endpoint", "grpc.max_recv_msg_size_mib", "http.endpoint", "http.max_request_body_bytes",
		"queue.size", "queue.workers", "queue.max_bytes", "retry_after",
		"grpc.max_conns", "grpc.max_concurrent_streams", "grpc.read_timeout", "grpc.max_connection_idle", "grpc.max_connection_age",
		"grpc.keepalive_min_time", "http.max_conns", "http.read_timeout", "http.max_header_bytes"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not mention %s:\n%v", field, err)
		}
	}

	cfg = DefaultConfig()
	cfg.Queue.MaxBytes = 1 << 20
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "at least http.max_request_body_bytes") || !strings.Contains(err.Error(), "at least grpc.max_recv_msg_size_mib") {
		t.Errorf("queue smaller than one request: %v", err)
	}
	cfg.GRPC.Endpoint = "" // gRPC disabled: its message size does not matter
	cfg.HTTP.MaxRequestBodyBytes = 1 << 20
	if err := cfg.Validate(); err != nil {
		t.Errorf("%v", err)
	}
	if _, err := New(Config{}, &recordingIngester{}, nil, nil); err == nil {
		t.Error("New accepted the zero Config")
	}
	if _, err := New(DefaultConfig(), nil, nil, nil); err == nil {
		t.Error("New accepted a nil Ingester")
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
grpc:
  endpoint: 0.0.0.0:4317
  max_recv_msg_size_mib: 32
  max_conns: 10
  max_concurrent_streams: 4
  read_timeout: 5s
  max_connection_idle: 1m
  max_connection_age: 10m
  keepalive_min_time: 20s
http:
  endpoint: ""
  max_request_body_bytes: 10485760
  max_conns: 20
  read_header_timeout: 2s
  read_timeout: 3s
  write_timeout: 4s
  idle_timeout: 5s
  max_header_bytes: 8192
queue:
  size: 8
  workers: 2
  max_bytes: 67108864
retry_after: 5s
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{
		GRPC: GRPCConfig{Endpoint: "0.0.0.0:4317", MaxRecvMsgSizeMiB: 32, MaxConns: 10, MaxConcurrentStreams: 4,
			ReadTimeout: 5 * time.Second, MaxConnectionIdle: time.Minute, MaxConnectionAge: 10 * time.Minute, KeepaliveMinTime: 20 * time.Second},
		HTTP: HTTPConfig{Endpoint: "", MaxRequestBodyBytes: 10 << 20, Conns: connlimit.Config{MaxConns: 20,
			ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second, IdleTimeout: 5 * time.Second, MaxHeaderBytes: 8192}},
		Queue:      QueueConfig{Size: 8, Workers: 2, MaxBytes: 64 << 20},
		RetryAfter: 5 * time.Second,
	}
	if cfg != want {
		t.Errorf("decoded %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	dec = yaml.NewDecoder(strings.NewReader("grpc:\n  endpiont: x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err == nil {
		t.Error("unknown key accepted")
	}
}
