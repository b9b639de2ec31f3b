package connlimit

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds a listener's connections and the HTTP server on it.
type Config struct {
	// MaxConns is how many connections may be open at once. At the cap the
	// longest-idle connection is closed for a new one; if none is idle the
	// new one is closed.
	MaxConns int `yaml:"max_conns"`
	// ReadHeaderTimeout bounds the time to read a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds the time to read a whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that has been waiting this
	// long for its next request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers of a request.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// DefaultConfig returns the defaults: 1024 connections, 10s to read the
// headers, 1m to read a request, 1m to answer, 2m idle keep-alive and 64
// KiB of headers.
func DefaultConfig() Config {
	return Config{
		MaxConns:          1024,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Validate reports every problem with the configuration at once. Field
// names in the errors are the yaml keys.
func (c Config) Validate() error {
	var errs []error
	if c.MaxConns <= 0 {
		errs = append(errs, fmt.Errorf("max_conns: must be positive, got %d", c.MaxConns))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout},
		{"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout},
		{"idle_timeout", c.IdleTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.key, d.v))
		}
	}
	if c.ReadHeaderTimeout > 0 && c.ReadTimeout > 0 && c.ReadHeaderTimeout > c.ReadTimeout {
		errs = append(errs, fmt.Errorf("read_header_timeout (%s) must not exceed read_timeout (%s)", c.ReadHeaderTimeout, c.ReadTimeout))
	}
	if c.MaxHeaderBytes < 4096 {
		errs = append(errs, fmt.Errorf("max_header_bytes: must be at least 4096, got %d", c.MaxHeaderBytes))
	}
	return errors.Join(errs...)
}
