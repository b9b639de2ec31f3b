package otlpreceiver

import (
	"errors"
	"testing"
)

func TestQueue(t *testing.T) {
	q := newQueue(2, 100)
	a, err := q.admit(60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.admit(41); !errors.Is(err, errQueueFull) {
		t.Errorf("over bytes: %v", err)
	}
	b, err := q.admit(40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.admit(0); !errors.Is(err, errQueueFull) {
		t.Errorf("over count: %v", err)
	}
	if b.grow(1) {
		t.Error("grew past max bytes")
	}
	a.shrink(30)
	if !b.grow(30) {
		t.Error("could not grow into freed bytes")
	}
	if n, by := q.depth(); n != 2 || by != 100 {
		t.Errorf("depth %d, %d", n, by)
	}
	b.shrink(1000) // more than it holds: gives back what it has
	if _, by := q.depth(); by != 30 {
		t.Errorf("bytes %d after over-shrink", by)
	}
	b.release()
	b.release() // idempotent
	if n, by := q.depth(); n != 1 || by != 30 {
		t.Errorf("depth %d, %d after release", n, by)
	}

	drained := q.close()
	if _, err := q.admit(0); !errors.Is(err, errShuttingDown) {
		t.Errorf("admit while closing: %v", err)
	}
	select {
	case <-drained:
		t.Fatal("drained with a request admitted")
	default:
	}
	a.release()
	<-drained
	if q.close() != drained {
		t.Error("second close returned another channel")
	}
	if n, by := q.depth(); n != 0 || by != 0 {
		t.Errorf("depth %d, %d at the end", n, by)
	}
}

func TestQueueCloseEmpty(t *testing.T) {
	q := newQueue(1, 1)
	<-q.close()
}
