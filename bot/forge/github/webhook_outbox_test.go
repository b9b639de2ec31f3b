package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/bot/store/storetest"
)

// openOutbox opens a Store on t's SQLite database; further calls with the
// same t open further Stores on it, as further replicas would.
var openOutbox = storetest.Opener(storetest.SQLiteDSN)

// outboxConfig is a receiver on outbox, without Deliveries.
func outboxConfig(outbox Outbox, handler EventHandler, owner string) WebhookConfig {
	return WebhookConfig{
		Secrets:     [][]byte{[]byte(webhookTestSecret)},
		Outbox:      outbox,
		OutboxOwner: owner,
		Handler:     handler,
		Workers:     2,
	}
}

func startWebhook(t *testing.T, cfg WebhookConfig) *WebhookHandler {
	t.Helper()
	h, err := NewWebhookHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
}

func shutdownWebhook(t *testing.T, h *WebhookHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// assertAllDone checks the outbox has no event left to handle, whatever
// the leases.
func assertAllDone(t *testing.T, s store.Store) {
	t.Helper()
	evs, err := s.ClaimEvents(context.Background(), "inspector", time.Now().Add(24*time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		t.Errorf("event %s is still pending after %d attempts (last error %q)", ev.DeliveryID, ev.Attempts, ev.LastError)
	}
}

func TestWebhookOutboxRedelivery(t *testing.T) {
	s := openOutbox(t)
	body := readWebhookExample(t, "issue_comment/created.payload.json")
	sink := newEventSink()
	h := startWebhook(t, outboxConfig(s, sink, "r1"))
	if w := deliverWebhook(h, signedDelivery(EventIssueComment, "d1", body)); w.Code != http.StatusAccepted {
		t.Fatalf("first: got %d %q", w.Code, w.Body)
	}
	w := deliverWebhook(h, signedDelivery(EventIssueComment, "d1", body))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "duplicate") {
		t.Fatalf("redelivery: got %d %q, want 200 duplicate", w.Code, w.Body)
	}
	if ev := sink.next(t); ev.DeliveryID != "d1" || ev.Type != EventIssueComment {
		t.Errorf("dispatched %s %s, want issue_comment d1", ev.Type, ev.DeliveryID)
	}
	shutdownWebhook(t, h)
	if n := len(sink.events); n != 0 {
		t.Errorf("%d more events dispatched, want none", n)
	}
	if st := h.Stats(); st.Duplicates != 1 || st.Enqueued != 1 || st.Dispatched != 1 || st.Recovered != 0 || st.OutboxErrors != 0 {
		t.Errorf("stats = %+v", st)
	}
	assertAllDone(t, s)

	// Saved and done, a delivery is still a duplicate for a new receiver.
	h2 := startWebhook(t, outboxConfig(s, newEventSink(), "r2"))
	if w := deliverWebhook(h2, signedDelivery(EventIssueComment, "d1", body)); w.Code != http.StatusOK {
		t.Errorf("redelivery to a new receiver: got %d %q, want 200 duplicate", w.Code, w.Body)
	}
}

// failingOutbox is an Outbox whose SaveEvent fails.
type failingOutbox struct{ Outbox }

func (failingOutbox) SaveEvent(context.Context, forge.WebhookEvent) (bool, error) {
	return false, errors.New("database is down")
}

func TestWebhookOutboxSaveError(t *testing.T) {
	s := openOutbox(t)
	sink := newEventSink()
	h := startWebhook(t, outboxConfig(failingOutbox{s}, sink, "r1"))
	body := readWebhookExample(t, "push/payload.json")
	if w := deliverWebhook(h, signedDelivery(EventPush, "d1", body)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %q, want 503", w.Code, w.Body)
	}
	shutdownWebhook(t, h)
	if n := len(sink.events); n != 0 {
		t.Errorf("%d events dispatched, want none", n)
	}
	if st := h.Stats(); st.Dropped != 1 || st.Enqueued != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestWebhookOutboxRecovery stops a receiver while it handles an event,
// as a crash would: a new receiver on the same store handles it on Start
// once the lease has ended, and events saved but never claimed too.
func TestWebhookOutboxRecovery(t *testing.T) {
	s := openOutbox(t)
	body := readWebhookExample(t, "pull_request/closed.payload.json")
	blocked := newEventSink()
	blocked.Block = make(chan struct{}) // never closed
	blocked.Started = make(chan Event, 1)
	cfg := outboxConfig(s, blocked, "crashed")
	cfg.OutboxLease = time.Hour
	a := startWebhook(t, cfg)
	if w := deliverWebhook(a, signedDelivery(EventPullRequest, "d1", body)); w.Code != http.StatusAccepted {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	<-blocked.Started
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Shutdown(expired); err == nil {
		t.Fatal("Shutdown with an expired context while an event is handled returned nil")
	}

	// Saved by a receiver that died before queueing it, never leased.
	ctx := context.Background()
	if saved, err := s.SaveEvent(ctx, forge.WebhookEvent{DeliveryID: "d2", Type: EventPullRequest, Payload: body, ReceivedAt: time.Now()}); err != nil || !saved {
		t.Fatalf("SaveEvent(d2) = %v, %v", saved, err)
	}
	// A payload that no longer parses is given up, not dispatched.
	if saved, err := s.SaveEvent(ctx, forge.WebhookEvent{DeliveryID: "bad", Type: EventPullRequest, Payload: []byte("{"), ReceivedAt: time.Now()}); err != nil || !saved {
		t.Fatalf("SaveEvent(bad) = %v, %v", saved, err)
	}

	sink := newEventSink()
	cfg = outboxConfig(openOutbox(t), sink, "restarted")
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour + time.Minute) } // past d1's lease
	b := startWebhook(t, cfg)
	got := map[string]Event{}
	for range 2 {
		ev := sink.next(t)
		got[ev.DeliveryID] = ev
	}
	want := Event{Type: EventPullRequest, Action: "closed"}
	for _, id := range []string{"d1", "d2"} {
		ev, ok := got[id]
		if !ok {
			t.Fatalf("recovered %v, want d1 and d2", got)
		}
		if ev.Type != want.Type || ev.Action != want.Action || ev.Repo.Owner == "" || ev.Payload == nil {
			t.Errorf("recovered %s as %+v, want a parsed closed pull_request", id, ev)
		}
	}
	if w := deliverWebhook(b, signedDelivery(EventPullRequest, "d1", body)); w.Code != http.StatusOK {
		t.Errorf("redelivery of a recovered event: got %d %q, want 200 duplicate", w.Code, w.Body)
	}
	shutdownWebhook(t, b)
	if n := len(sink.events); n != 0 {
		t.Errorf("%d more events dispatched, want none", n)
	}
	if st := b.Stats(); st.Recovered != 2 || st.Dispatched != 2 || st.Duplicates != 1 || st.OutboxErrors != 0 {
		t.Errorf("stats = %+v", st)
	}
	assertAllDone(t, s)
}

// TestWebhookOutboxRetries fails the handler: the event is handled again
// at the next claim until it succeeds, or the outbox gives it up.
func TestWebhookOutboxRetries(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name      string
		errs      func(call int) error
		wantCalls int
	}{
		{"succeeds on the third attempt", func(call int) error {
			if call < 3 {
				return boom
			}
			return nil
		}, 3},
		{"always fails", func(int) error { return boom }, store.MaxEventAttempts},
		{"permanent", func(int) error { return forge.Permanent(boom) }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openOutbox(t)
			var calls atomic.Int64
			reached := make(chan struct{})
			handler := EventHandlerFunc(func(ctx context.Context, ev Event) error {
				n := int(calls.Add(1))
				if n == c.wantCalls {
					close(reached)
				}
				return c.errs(n)
			})
			cfg := outboxConfig(s, handler, "r1")
			cfg.OutboxPoll = time.Millisecond
			h := startWebhook(t, cfg)
			body := readWebhookExample(t, "push/payload.json")
			if w := deliverWebhook(h, signedDelivery(EventPush, "d1", body)); w.Code != http.StatusAccepted {
				t.Fatalf("got %d %q", w.Code, w.Body)
			}
			select {
			case <-reached:
			case <-time.After(10 * time.Second):
				t.Fatalf("handler called %d times, want %d", calls.Load(), c.wantCalls)
			}
			shutdownWebhook(t, h)
			// Done or given up: never claimed again.
			assertAllDone(t, s)
			if n := int(calls.Load()); n != c.wantCalls {
				t.Errorf("handler called %d times, want %d", n, c.wantCalls)
			}
			if st := h.Stats(); st.Recovered != uint64(c.wantCalls-1) || st.OutboxErrors != 0 {
				t.Errorf("stats = %+v, want %d recovered", st, c.wantCalls-1)
			}
		})
	}
}

// TestWebhookOutboxTwoReceivers runs two receivers, each on its own Store
// of one database, claiming every 10 ms: deliveries to both,
// redeliveries to the other one, and events left by a dead replica are
// each handled exactly once. On PostgreSQL too when
// MEDIC_TEST_POSTGRES_DSN is set (see storetest.PostgresBase).
func TestWebhookOutboxTwoReceivers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTwoReceivers(t, openOutbox) })
	t.Run("postgres", func(t *testing.T) {
		storetest.PostgresBase(t)
		testTwoReceivers(t, storetest.Opener(storetest.PostgresDSN))
	})
}

func testTwoReceivers(t *testing.T, open func(t *testing.T) store.Store) {
	const delivered, orphans = 40, 40
	var (
		mu    sync.Mutex
		calls = map[string]int{}
		all   = make(chan struct{})
	)
	handler := EventHandlerFunc(func(ctx context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		calls[ev.DeliveryID]++
		if len(calls) == delivered+orphans && calls[ev.DeliveryID] == 1 {
			close(all)
		}
		return nil
	})
	var receivers []*WebhookHandler
	var stores []store.Store
	for _, owner := range []string{"a", "b"} {
		s := open(t)
		stores = append(stores, s)
		cfg := outboxConfig(s, handler, owner)
		cfg.OutboxPoll = 10 * time.Millisecond
		cfg.Workers = 4
		receivers = append(receivers, startWebhook(t, cfg))
	}
	body := readWebhookExample(t, "push/payload.json")
	ctx := context.Background()
	for i := range orphans {
		ev := forge.WebhookEvent{DeliveryID: fmt.Sprintf("orphan-%d", i), Type: EventPush, Payload: body,
			ReceivedAt: time.Now(), ClaimedBy: "dead", ClaimedUntil: time.Now().Add(-time.Second)}
		if saved, err := stores[i%2].SaveEvent(ctx, ev); err != nil || !saved {
			t.Fatalf("SaveEvent(%s) = %v, %v", ev.DeliveryID, saved, err)
		}
	}
	var wg sync.WaitGroup
	for i := range delivered {
		wg.Go(func() {
			id := fmt.Sprintf("delivery-%d", i)
			for k := range 2 {
				if w := deliverWebhook(receivers[(i+k)%2], signedDelivery(EventPush, id, body)); w.Code != http.StatusAccepted && w.Code != http.StatusOK {
					t.Errorf("%s to receiver %d: got %d %q", id, (i+k)%2, w.Code, w.Body)
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d events handled", len(calls), delivered+orphans)
	}
	for _, h := range receivers {
		shutdownWebhook(t, h)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range calls {
		if n != 1 {
			t.Errorf("%s handled %d times, want once", id, n)
		}
	}
	var st WebhookStats
	for _, h := range receivers {
		s := h.Stats()
		st.Enqueued += s.Enqueued
		st.Duplicates += s.Duplicates
		st.Recovered += s.Recovered
	}
	if st.Enqueued != delivered || st.Duplicates != delivered || st.Recovered != orphans {
		t.Errorf("enqueued %d, duplicates %d, recovered %d; want %d, %d, %d", st.Enqueued, st.Duplicates, st.Recovered, delivered, delivered, orphans)
	}
	assertAllDone(t, stores[0])
}

func TestWebhookOutboxConfig(t *testing.T) {
	err := WebhookConfig{Secrets: [][]byte{[]byte("s")}, Handler: newEventSink(), Outbox: failingOutbox{},
		OutboxLease: time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), "outbox_lease: 1s is shorter than the minimum 3s") || strings.Contains(err.Error(), "deliveries") {
		t.Errorf("Validate() = %v, want only a lease under the minimum refused", err)
	}
	// Renewed while handled, a lease may be shorter than the handler's
	// timeout.
	if err := (WebhookConfig{Secrets: [][]byte{[]byte("s")}, Handler: newEventSink(), Outbox: failingOutbox{},
		HandlerTimeout: time.Hour, OutboxLease: time.Minute}).Validate(); err != nil {
		t.Errorf("Validate() = %v, want a one-minute lease with a one-hour handler timeout accepted", err)
	}
	err = WebhookConfig{Secrets: [][]byte{[]byte("s")}, Handler: newEventSink(), OutboxPoll: -1, OutboxLease: -1}.Validate()
	for _, want := range []string{"deliveries", "outbox_poll", "outbox_lease"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

// TestWebhookOutboxLeaseRenewal: a receiver renews, every lease/3, the
// leases of the events it handles and of those waiting in its queue, so no
// other receiver takes them past their first lease; once it crashes
// (renewals stop), another receiver takes them about one lease after the
// last renewal. The clock and the heartbeat's ticker are driven by hand.
func TestWebhookOutboxLeaseRenewal(t *testing.T) {
	s := openOutbox(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64 // since t0
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	now := func() time.Time { return at(time.Duration(clock.Load())) }

	blocked := newEventSink()
	blocked.Block = make(chan struct{}) // never closed
	blocked.Started = make(chan Event, 2)
	cfg := outboxConfig(s, blocked, "crashed")
	cfg.Workers, cfg.Now = 1, now // default lease: one minute
	h, err := NewWebhookHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	beat := make(chan time.Time)
	h.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		if d == DefaultOutboxLease/3 {
			return beat, func() {}
		}
		return realTicker(d)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := readWebhookExample(t, "pull_request/closed.payload.json")
	for _, id := range []string{"handled", "queued"} {
		if w := deliverWebhook(h, signedDelivery(EventPullRequest, id, body)); w.Code != http.StatusAccepted {
			t.Fatalf("%s: got %d %q", id, w.Code, w.Body)
		}
	}
	<-blocked.Started // the one worker holds "handled"; "queued" waits

	// 50 s on, the heartbeat renews both until 1m50s. A second tick is
	// taken only once the first renewal is done.
	clock.Store(int64(50 * time.Second))
	beat <- now()
	beat <- now()
	if ids := mustClaimIDs(t, s, "other", at(100*time.Second)); len(ids) != 0 {
		t.Fatalf("another receiver claimed %v at 1m40s, past the first lease: want the renewed leases kept", ids)
	}

	// The receiver dies: Shutdown out of time abandons both, leased.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Shutdown(expired); err == nil {
		t.Fatal("Shutdown with an expired context while an event is handled returned nil")
	}
	if ids := mustClaimIDs(t, s, "other", at(109*time.Second)); len(ids) != 0 {
		t.Fatalf("claimed %v at 1m49s, within the renewed lease", ids)
	}
	// About one lease after the last renewal, a new receiver takes both.
	sink := newEventSink()
	cfg = outboxConfig(openOutbox(t), sink, "restarted")
	cfg.Now = func() time.Time { return at(111 * time.Second) }
	b := startWebhook(t, cfg)
	got := map[string]bool{}
	for range 2 {
		got[sink.next(t).DeliveryID] = true
	}
	if !got["handled"] || !got["queued"] {
		t.Errorf("recovered %v, want handled and queued", got)
	}
	shutdownWebhook(t, b)
	if st := b.Stats(); st.Recovered != 2 || st.OutboxErrors != 0 {
		t.Errorf("stats = %+v", st)
	}
	if st := h.Stats(); st.OutboxErrors != 0 {
		t.Errorf("crashed receiver's stats = %+v", st)
	}
	assertAllDone(t, s)
}

func mustClaimIDs(t *testing.T, s store.Store, owner string, now time.Time) []string {
	t.Helper()
	evs, err := s.ClaimEvents(context.Background(), owner, now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.DeliveryID)
	}
	return ids
}
