package forge

import "time"

// WebhookEvent is a webhook delivery as kept in a durable outbox until it
// has been handled: what the receiver saves before answering the forge,
// and what it claims back after a crash.
type WebhookEvent struct {
	// DeliveryID is the forge's unique delivery id (GitHub's
	// X-GitHub-Delivery), kept by redeliveries: the outbox's key.
	DeliveryID string
	// Type is the event type, e.g. "pull_request".
	Type string
	// Payload is the event's JSON payload, as delivered.
	Payload []byte
	// ReceivedAt is when the delivery was received.
	ReceivedAt time.Time
	// Attempts counts the handling attempts finished so far.
	Attempts int
	// ClaimedBy names the receiver holding the event's lease; "" when
	// nobody does.
	ClaimedBy string
	// ClaimedUntil is when the lease ends and another receiver may claim
	// the event; zero when it is not leased.
	ClaimedUntil time.Time
	// LastError is the last failed attempt's error text.
	LastError string
}
