package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RetryConfig bounds how medic waits out GitHub's rate limits and outages.
type RetryConfig struct {
	// MaxRetries is how many times one request is retried after a 5xx,
	// a network error or a rate limit (default 4).
	MaxRetries int `yaml:"max_retries"`
	// MaxWait is the longest medic sleeps for one retry; a rate limit that
	// resets later is returned as an error instead (default 1m).
	MaxWait time.Duration `yaml:"max_wait"`
	// Backoff is the first 5xx backoff, doubled per retry with jitter
	// (default 500ms).
	Backoff time.Duration `yaml:"backoff"`
}

// DefaultRetryConfig returns the defaults.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{MaxRetries: 4, MaxWait: time.Minute, Backoff: 500 * time.Millisecond}
}

// Validate reports out-of-range settings.
func (c RetryConfig) Validate() error {
	var errs []error
	if c.MaxRetries < 0 || c.MaxRetries > 20 {
		errs = append(errs, fmt.Errorf("max_retries %d must be from 0 to 20", c.MaxRetries))
	}
	if c.MaxWait < 0 {
		errs = append(errs, errors.New("max_wait must not be negative"))
	}
	if c.Backoff <= 0 {
		errs = append(errs, errors.New("backoff must be positive"))
	}
	return errors.Join(errs...)
}

// RateLimit is the last primary rate limit GitHub reported for a resource.
type RateLimit struct {
	Resource  string
	Limit     int
	Remaining int
	Reset     time.Time
}

// transport retries what GitHub says is worth retrying: 5xx answers
// (non-idempotent requests only on 502/503/504, which mean the request did
// not reach the application), network errors on idempotent requests,
// secondary rate limits after Retry-After, and primary rate limits after
// X-RateLimit-Reset, each wait bounded by MaxWait. Anything else goes back
// to go-github unchanged, which turns it into a typed error.
type transport struct {
	base  http.RoundTripper
	cfg   RetryConfig
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	limits map[string]RateLimit
	stats  TransportStats
}

// TransportStats counts the transport's work.
type TransportStats struct {
	Requests, Retries, RateLimited, ServerErrors int64
}

func newTransport(base http.RoundTripper, cfg RetryConfig, now func() time.Time) *transport {
	if base == nil {
		base = http.DefaultTransport
	}
	if now == nil {
		now = time.Now
	}
	return &transport{base: base, cfg: cfg, now: now, sleep: sleepCtx, limits: map[string]RateLimit{}}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Limits returns the last rate limits seen, by resource.
func (t *transport) Limits() map[string]RateLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]RateLimit, len(t.limits))
	for k, v := range t.limits {
		out[k] = v
	}
	return out
}

// Stats returns the transport's counters.
func (t *transport) Stats() TransportStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// A body must be replayable to retry; go-github's requests have
	// GetBody, anything else is read once here.
	if req.Body != nil && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Body, _ = req.GetBody()
	}
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replay request body: %w", err)
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		t.count(func(s *TransportStats) { s.Requests++ })
		resp, err := t.base.RoundTrip(r)
		last := attempt >= t.cfg.MaxRetries
		if err != nil {
			if last || !idempotent(req.Method) || ctx.Err() != nil {
				return nil, err
			}
			if err := t.wait(ctx, t.backoff(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		t.record(resp)
		wait, retry := t.retryAfter(req.Method, resp, attempt)
		if !retry || last || wait > t.cfg.MaxWait {
			return resp, nil
		}
		// Drain so the connection is reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := t.wait(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (t *transport) wait(ctx context.Context, d time.Duration) error {
	t.count(func(s *TransportStats) { s.Retries++ })
	return t.sleep(ctx, d)
}

func (t *transport) count(f func(*TransportStats)) {
	t.mu.Lock()
	f(&t.stats)
	t.mu.Unlock()
}

func (t *transport) backoff(attempt int) time.Duration {
	d := t.cfg.Backoff << attempt
	if d <= 0 || d > 30*time.Second {
		d = 30 * time.Second
	}
	// Full jitter on the upper half, so replicas do not retry in step.
	return d/2 + rand.N(d/2+1)
}

// retryAfter decides whether resp is worth retrying and after how long.
func (t *transport) retryAfter(method string, resp *http.Response, attempt int) (time.Duration, bool) {
	code := resp.StatusCode
	switch {
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			t.count(func(s *TransportStats) { s.RateLimited++ })
			if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second, true
			}
			if at, err := http.ParseTime(ra); err == nil {
				return max(at.Sub(t.now()), 0), true
			}
			return time.Minute, true
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			t.count(func(s *TransportStats) { s.RateLimited++ })
			reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil {
				return 0, false
			}
			// One second of slack: GitHub's reset is whole seconds.
			return max(time.Unix(reset, 0).Sub(t.now())+time.Second, 0), true
		}
		if code == http.StatusTooManyRequests {
			t.count(func(s *TransportStats) { s.RateLimited++ })
			// GitHub's advice for a secondary limit without Retry-After:
			// wait at least a minute.
			return time.Minute, true
		}
		return 0, false
	case code >= 500:
		t.count(func(s *TransportStats) { s.ServerErrors++ })
		if !idempotent(method) && code != http.StatusBadGateway && code != http.StatusServiceUnavailable && code != http.StatusGatewayTimeout {
			return 0, false
		}
		return t.backoff(attempt), true
	}
	return 0, false
}

func (t *transport) record(resp *http.Response) {
	h := resp.Header
	if h.Get("X-RateLimit-Limit") == "" {
		return
	}
	limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	remaining, _ := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	res := h.Get("X-RateLimit-Resource")
	if res == "" {
		res = "core"
	}
	t.mu.Lock()
	t.limits[res] = RateLimit{Resource: res, Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0)}
	t.mu.Unlock()
}
