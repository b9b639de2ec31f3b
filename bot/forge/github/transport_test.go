package github

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type step struct {
	status int
	header map[string]string
	err    error
}

type scripted struct {
	steps  []step
	bodies []string
	calls  int
}

func (s *scripted) RoundTrip(r *http.Request) (*http.Response, error) {
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		s.bodies = append(s.bodies, string(b))
	}
	if st.err != nil {
		return nil, st.err
	}
	h := http.Header{}
	for k, v := range st.header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: st.status, Header: h, Body: io.NopCloser(strings.NewReader(`{"message":"x"}`)), Request: r}, nil
}

func TestTransportRetries(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	reset := strconv.FormatInt(now.Add(20*time.Second).Unix(), 10)
	far := strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10)
	netErr := io.ErrUnexpectedEOF
	cases := []struct {
		name       string
		method     string
		steps      []step
		wantStatus int
		wantErr    bool
		wantCalls  int
		wantSlept  []time.Duration // exact waits; nil when jittered
	}{
		{name: "ok", method: "GET", steps: []step{{status: 200}}, wantStatus: 200, wantCalls: 1},
		{name: "5xx then ok", method: "GET", steps: []step{{status: 502}, {status: 500}, {status: 200}}, wantStatus: 200, wantCalls: 3},
		{name: "5xx forever gives up", method: "GET", steps: []step{{status: 503}}, wantStatus: 503, wantCalls: 5},
		{name: "POST not retried on 500", method: "POST", steps: []step{{status: 500}, {status: 201}}, wantStatus: 500, wantCalls: 1},
		{name: "POST retried on 502", method: "POST", steps: []step{{status: 502}, {status: 201}}, wantStatus: 201, wantCalls: 2},
		{name: "secondary limit waits Retry-After", method: "POST", steps: []step{{status: 403, header: map[string]string{"Retry-After": "7"}}, {status: 201}},
			wantStatus: 201, wantCalls: 2, wantSlept: []time.Duration{7 * time.Second}},
		{name: "429 without Retry-After waits a minute", method: "GET", steps: []step{{status: 429}, {status: 200}},
			wantStatus: 200, wantCalls: 2, wantSlept: []time.Duration{time.Minute}},
		{name: "primary limit waits for reset", method: "GET", steps: []step{{status: 403, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}}, {status: 200}},
			wantStatus: 200, wantCalls: 2, wantSlept: []time.Duration{21 * time.Second}},
		{name: "primary limit too far away returned", method: "GET", steps: []step{{status: 403, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": far}}},
			wantStatus: 403, wantCalls: 1, wantSlept: []time.Duration{}},
		{name: "plain 403 is not retried", method: "GET", steps: []step{{status: 403}}, wantStatus: 403, wantCalls: 1},
		{name: "404 and 422 are not retried", method: "POST", steps: []step{{status: 422}}, wantStatus: 422, wantCalls: 1},
		{name: "network error on GET retried", method: "GET", steps: []step{{err: netErr}, {status: 200}}, wantStatus: 200, wantCalls: 2},
		{name: "network error on POST returned", method: "POST", steps: []step{{err: netErr}, {status: 201}}, wantErr: true, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := &scripted{steps: tc.steps}
			tr := newTransport(base, DefaultRetryConfig(), func() time.Time { return now })
			var slept []time.Duration
			tr.sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			req, _ := http.NewRequest(tc.method, "https://api.github.com/repos/o/r/pulls", strings.NewReader(`{"title":"t"}`))
			resp, err := tr.RoundTrip(req)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
				}
			}
			if base.calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", base.calls, tc.wantCalls)
			}
			for i, b := range base.bodies {
				if b != `{"title":"t"}` {
					t.Errorf("attempt %d sent body %q: retries must replay the body", i, b)
				}
			}
			if tc.wantSlept != nil {
				if len(slept) != len(tc.wantSlept) {
					t.Fatalf("slept %v, want %v", slept, tc.wantSlept)
				}
				for i := range slept {
					if slept[i] != tc.wantSlept[i] {
						t.Errorf("slept %v, want %v", slept, tc.wantSlept)
					}
				}
			}
			for _, d := range slept {
				if d > time.Minute {
					t.Errorf("slept %v, more than MaxWait", d)
				}
			}
		})
	}
}

func TestTransportRecordsLimits(t *testing.T) {
	base := &scripted{steps: []step{{status: 200, header: map[string]string{
		"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4990", "X-RateLimit-Reset": "1700000000", "X-RateLimit-Resource": "core"}}}}
	tr := newTransport(base, DefaultRetryConfig(), nil)
	req, _ := http.NewRequest("GET", "https://api.github.com/", nil)
	if _, err := tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	got := tr.Limits()["core"]
	if got.Limit != 5000 || got.Remaining != 4990 || got.Reset.Unix() != 1700000000 {
		t.Errorf("limits %+v", got)
	}
}

func TestTransportStopsOnCancel(t *testing.T) {
	base := &scripted{steps: []step{{status: 503}}}
	tr := newTransport(base, DefaultRetryConfig(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.github.com/", nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a cancelled context must stop the retries")
	}
	if base.calls != 1 {
		t.Errorf("%d calls after cancel", base.calls)
	}
}
