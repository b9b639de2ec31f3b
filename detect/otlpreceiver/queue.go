package otlpreceiver

import (
	"errors"
	"sync"
)

var (
	// errQueueFull: no room for the request now; the client should retry later.
	errQueueFull = errors.New("receiver queue is full")
	// errShuttingDown: the receiver is stopping and takes no new requests.
	errShuttingDown = errors.New("receiver is shutting down")
)

// queue is the admission control shared by both transports. It counts
// admitted requests and the body bytes they hold, and never blocks: a
// request that does not fit is refused so that the client backs off.
type queue struct {
	maxCount int
	maxBytes int64

	mu      sync.Mutex
	count   int
	bytes   int64
	closing bool
	drained chan struct{} // closed once closing and count == 0
}

func newQueue(maxCount int, maxBytes int64) *queue {
	return &queue{maxCount: maxCount, maxBytes: maxBytes, drained: make(chan struct{})}
}

// ticket is one request's share of the queue: bytes, and a slot once
// admitted. It is used by one goroutine at a time; release must be called
// exactly once (more calls are no-ops).
type ticket struct {
	q     *queue
	bytes int64
	slot  bool // holds one of maxCount
	done  bool
}

// admit takes one slot and n bytes, or fails with errQueueFull or
// errShuttingDown.
func (q *queue) admit(n int64) (*ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return nil, errShuttingDown
	}
	if q.count >= q.maxCount || n > q.maxBytes-q.bytes {
		return nil, errQueueFull
	}
	q.count++
	q.bytes += n
	return &ticket{q: q, bytes: n, slot: true}, nil
}

// reserve returns a ticket that holds bytes but no slot yet, for a body
// still being read: a slow sender holds only the bytes it has sent, never a
// slot. It fails with errShuttingDown only.
func (q *queue) reserve() (*ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return nil, errShuttingDown
	}
	return &ticket{q: q}, nil
}

// enter takes a slot for a ticket from reserve, once its body is in; it
// fails with errQueueFull or errShuttingDown.
func (t *ticket) enter() error {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return errShuttingDown
	}
	if q.count >= q.maxCount {
		return errQueueFull
	}
	q.count++
	t.slot = true
	return nil
}

// grow reserves n more bytes for the ticket; false if they do not fit.
func (t *ticket) grow(n int64) bool {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if n > q.maxBytes-q.bytes {
		return false
	}
	q.bytes += n
	t.bytes += n
	return true
}

// shrink gives back n of the ticket's bytes.
func (t *ticket) shrink(n int64) {
	n = min(n, t.bytes)
	if n <= 0 {
		return
	}
	t.q.mu.Lock()
	t.q.bytes -= n
	t.q.mu.Unlock()
	t.bytes -= n
}

// release returns the slot and all bytes.
func (t *ticket) release() {
	if t.done {
		return
	}
	t.done = true
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes -= t.bytes
	t.bytes = 0
	if !t.slot {
		return
	}
	q.count--
	if q.closing && q.count == 0 {
		close(q.drained)
	}
}

// close refuses new requests from now on and returns a channel closed when
// the admitted ones have all been released. Calling it again returns the
// same channel.
func (q *queue) close() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closing {
		q.closing = true
		if q.count == 0 {
			close(q.drained)
		}
	}
	return q.drained
}

// depth reports the admitted requests and their bytes.
func (q *queue) depth() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count, q.bytes
}
