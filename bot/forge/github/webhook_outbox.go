package github

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/medic-bot/medic/bot/forge"
)

// Outbox keeps webhook deliveries durably from before they are answered
// until they have been handled, so that a receiver that dies with events
// in its queue loses none: another receiver (or the same one restarted)
// claims them once their lease ends. A live receiver renews the leases of
// the events it has queued or in hand, so the lease can be short.
// store.Store implements it. Implementations are safe for concurrent use,
// including by several receivers sharing one database.
type Outbox interface {
	// SaveEvent stores ev unless an event with its DeliveryID is stored
	// already, and reports whether it stored it; of several calls with
	// one id at most one returns true. ev is saved leased to
	// ev.ClaimedBy until ev.ClaimedUntil.
	SaveEvent(ctx context.Context, ev forge.WebhookEvent) (saved bool, err error)
	// ClaimEvents leases to owner, until now+lease, at most max unfinished
	// events whose lease has ended, and returns them. Concurrent calls
	// never return one event until its lease ends.
	ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]forge.WebhookEvent, error)
	// RenewEvents extends to now+lease the leases owner still holds of
	// ids, and returns the ids it no longer holds (finished, released or
	// claimed by another owner since their lease ended).
	RenewEvents(ctx context.Context, owner string, ids []string, now time.Time, lease time.Duration) (lost []string, err error)
	// FinishEvent records one handling attempt of event id: done when
	// handlerErr is nil, released for another attempt otherwise until the
	// outbox gives the event up.
	FinishEvent(ctx context.Context, id string, now time.Time, handlerErr error) error
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// claimLoop claims pending outbox events until Shutdown.
func (h *WebhookHandler) claimLoop() {
	tick, stop := h.newTicker(h.poll)
	defer stop()
	for {
		h.claim()
		select {
		case <-tick:
		case <-h.stopping:
			return
		}
	}
}

// claim claims as many pending outbox events as the queue has room for
// and queues them. Events it cannot queue stay claimed until their lease
// ends; events whose payload no longer parses are given up.
func (h *WebhookHandler) claim() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	room := cap(h.slots) - len(h.slots)
	if !h.accepting || room == 0 {
		return
	}
	evs, err := h.outbox.ClaimEvents(h.ctx, h.owner, h.now(), h.lease, room)
	if err != nil {
		h.outboxErrors.Add(1)
		h.logger.Error("claim github webhook events", "error", err)
		return
	}
	for _, saved := range evs {
		log := h.logger.With(logKeyDelivery, saved.DeliveryID, logKeyEvent, saved.Type)
		ev, err := parseEvent(saved.Type, saved.Payload)
		if err != nil {
			h.finish(log, saved.DeliveryID, forge.Permanent(fmt.Errorf("parse saved %s payload: %w", saved.Type, err)))
			continue
		}
		ev.DeliveryID = saved.DeliveryID
		select {
		case h.slots <- struct{}{}:
		default:
			// Another request took the room meanwhile.
			log.Warn("github webhook queue full: claimed event left for its lease to end")
			continue
		}
		h.hold(ev.DeliveryID)
		h.queue <- webhookJob{ev: ev, saved: true}
		h.recovered.Add(1)
	}
}

// hold adds id to the leases the heartbeat renews; unhold removes it.
func (h *WebhookHandler) hold(id string) {
	h.heldMu.Lock()
	defer h.heldMu.Unlock()
	h.held[id] = struct{}{}
}

func (h *WebhookHandler) unhold(id string) {
	h.heldMu.Lock()
	defer h.heldMu.Unlock()
	delete(h.held, id)
}

// heartbeat renews the leases of the events this receiver has queued or in
// hand every lease/3, until the workers have returned or Shutdown ran out
// of time (what is left in flight then stays leased, for another receiver
// to claim once the lease ends, as after a crash).
func (h *WebhookHandler) heartbeat(workersDone <-chan struct{}) {
	tick, stop := h.newTicker(h.lease / 3)
	defer stop()
	for {
		select {
		case <-tick:
			h.renew()
		case <-workersDone:
			return
		case <-h.ctx.Done():
			return
		}
	}
}

// renew extends the leases held now. An event whose lease was lost (it
// ended during a long outage, and another receiver claimed the event) is
// no longer renewed; it may be handled twice, which EventHandler allows.
func (h *WebhookHandler) renew() {
	h.heldMu.Lock()
	ids := make([]string, 0, len(h.held))
	for id := range h.held {
		ids = append(ids, id)
	}
	h.heldMu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.lease/3)
	defer cancel()
	lost, err := h.outbox.RenewEvents(ctx, h.owner, ids, h.now(), h.lease)
	if err != nil && h.ctx.Err() != nil {
		return // Shutdown ran out of time: the leases are left to end
	}
	if err != nil {
		h.outboxErrors.Add(1)
		h.logger.Error("renew github webhook event leases", "events", len(ids), "error", err)
		return
	}
	h.heldMu.Lock()
	defer h.heldMu.Unlock()
	for _, id := range lost {
		if _, ok := h.held[id]; !ok {
			continue // finished meanwhile
		}
		delete(h.held, id)
		h.logger.Warn("github webhook event lease lost: another receiver may handle it too", logKeyDelivery, id)
	}
}

// finish records in the outbox that an attempt at event id ended with
// err.
func (h *WebhookHandler) finish(log *slog.Logger, id string, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 30*time.Second)
	defer cancel()
	if ferr := h.outbox.FinishEvent(ctx, id, h.now(), err); ferr != nil {
		h.outboxErrors.Add(1)
		log.Error("finish github webhook event: it will be handled again once its lease ends", "error", ferr)
	}
}
