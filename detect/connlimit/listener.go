package connlimit

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Listener is a net.Listener that holds at most Config.MaxConns connections
// open. Its methods are safe for concurrent use.
type Listener struct {
	net.Listener
	cfg Config

	seq atomic.Uint64 // orders activity: higher is more recent

	mu    sync.Mutex
	conns map[*conn]struct{}

	accepted, evicted, refused atomic.Uint64
}

// Stats counts a listener's connections.
type Stats struct {
	Open     int    // connections open now
	Accepted uint64 // connections handed to the server
	Evicted  uint64 // idle connections closed to make room for a new one
	Refused  uint64 // new connections closed at once because all were busy
}

// Listen wraps ln so that at most cfg.MaxConns of its connections are open
// at once (see the package documentation). cfg must be valid; the timeouts
// in it are applied by [Listener.Harden].
func Listen(ln net.Listener, cfg Config) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("connection limits: %w", err)
	}
	return &Listener{Listener: ln, cfg: cfg, conns: map[*conn]struct{}{}}, nil
}

// Accept waits for a connection that fits under the cap. A connection that
// arrives at the cap takes the place of the longest-idle one, or is closed
// at once if every open connection is busy; Accept then waits for the next.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// admit tracks nc, closing a victim or nc itself at the cap; nil means nc
// was refused.
func (l *Listener) admit(nc net.Conn) *conn {
	c := &conn{Conn: nc, l: l}
	c.last.Store(l.seq.Add(1))
	var victim *conn
	l.mu.Lock()
	if len(l.conns) >= l.cfg.MaxConns {
		victim = l.idlest()
		if victim == nil {
			l.mu.Unlock()
			l.refused.Add(1)
			_ = nc.Close()
			return nil
		}
		delete(l.conns, victim)
		victim.gone.Store(true)
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	if victim != nil {
		l.evicted.Add(1)
		_ = victim.Conn.Close()
	}
	l.accepted.Add(1)
	return c
}

// idlest returns the idle connection with the oldest activity, or nil; l.mu
// is held. A linear scan: it runs only at the cap, over at most MaxConns.
func (l *Listener) idlest() *conn {
	var best *conn
	var bestSeq uint64
	for c := range l.conns {
		if c.busy.Load() {
			continue
		}
		if s := c.last.Load(); best == nil || s < bestSeq {
			best, bestSeq = c, s
		}
	}
	return best
}

func (l *Listener) remove(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Stats reports the listener's counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	n := len(l.conns)
	l.mu.Unlock()
	return Stats{Open: n, Accepted: l.accepted.Load(), Evicted: l.evicted.Load(), Refused: l.refused.Load()}
}

// ConnState records an HTTP server's view of a connection: new and idle
// connections may be closed to make room, active ones are left alone.
// [Listener.Harden] installs it; call it yourself from a ConnState hook of
// your own instead if you set one after Harden. Connections not from this
// listener (unwrapped through NetConn, as tls.Conn offers) are ignored.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c := l.own(nc)
	if c == nil {
		return
	}
	switch st {
	case http.StateActive:
		c.busy.Store(true)
	case http.StateNew, http.StateIdle, http.StateHijacked:
		c.busy.Store(false)
		c.last.Store(l.seq.Add(1))
	}
}

func (l *Listener) own(nc net.Conn) *conn {
	for range 4 {
		switch v := nc.(type) {
		case *conn:
			if v.l == l {
				return v
			}
			return nil
		case interface{ NetConn() net.Conn }:
			nc = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// Harden sets srv's timeouts and header limit from the listener's Config
// and hooks its ConnState to the listener, keeping a ConnState hook srv
// already has. Call it before srv.Serve(l).
func (l *Listener) Harden(srv *http.Server) {
	srv.ReadHeaderTimeout = l.cfg.ReadHeaderTimeout
	srv.ReadTimeout = l.cfg.ReadTimeout
	srv.WriteTimeout = l.cfg.WriteTimeout
	srv.IdleTimeout = l.cfg.IdleTimeout
	srv.MaxHeaderBytes = l.cfg.MaxHeaderBytes
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		l.ConnState(c, st)
		if prev != nil {
			prev(c, st)
		}
	}
}

// conn is an accepted connection that frees its place when closed.
type conn struct {
	net.Conn
	l    *Listener
	last atomic.Uint64 // l.seq at the last read that returned data or state change
	busy atomic.Bool
	gone atomic.Bool // removed from l.conns (closed or evicted)
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(c.l.seq.Add(1))
	}
	return n, err
}

func (c *conn) Close() error {
	if c.gone.CompareAndSwap(false, true) {
		c.l.remove(c)
	}
	return c.Conn.Close()
}
