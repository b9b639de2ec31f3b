package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/store"
)

// TestStoreRetention: one pass forgets delivery ids and handled events
// older than the retention and keeps newer ones and pending events.
func TestStoreRetention(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-8*24*time.Hour), now.Add(-time.Hour)
	for id, at := range map[string]time.Time{"d-old": old, "d-new": recent} {
		if _, err := s.FirstDelivery(ctx, id, at); err != nil {
			t.Fatal(err)
		}
	}
	for id, at := range map[string]time.Time{"e-old-done": old, "e-old-pending": old, "e-new-done": recent} {
		if _, err := s.SaveEvent(ctx, forge.WebhookEvent{DeliveryID: id, Type: "ping", Payload: []byte(`{}`), ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	for id, at := range map[string]time.Time{"e-old-done": old, "e-new-done": recent} {
		if err := s.FinishEvent(ctx, id, at, nil); err != nil {
			t.Fatal(err)
		}
	}
	st := &githubStage{store: s, now: func() time.Time { return now }, keep: 7 * 24 * time.Hour, logger: slog.New(slog.DiscardHandler)}
	st.forget(ctx)

	for id, want := range map[string]bool{"d-old": true, "d-new": false} {
		first, err := s.FirstDelivery(ctx, id, now)
		if err != nil || first != want {
			t.Errorf("delivery %s after retention: first=%v (%v), want %v", id, first, err, want)
		}
	}
	for id, want := range map[string]bool{"e-old-done": true, "e-old-pending": false, "e-new-done": false} {
		saved, err := s.SaveEvent(ctx, forge.WebhookEvent{DeliveryID: id, Type: "ping", Payload: []byte(`{}`), ReceivedAt: now})
		if err != nil || saved != want {
			t.Errorf("event %s after retention: saved again=%v (%v), want %v", id, saved, err, want)
		}
	}
	if err := (StoreConfig{Retention: time.Minute}).Validate(); err == nil {
		t.Error("a one-minute retention was accepted")
	}
	if err := st.stopRetention(ctx); err != nil {
		t.Errorf("stop without start: %v", err)
	}
	if err := st.startRetention(); err != nil {
		t.Fatal(err)
	}
	if err := st.stopRetention(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stop: %v", err)
	}
}
