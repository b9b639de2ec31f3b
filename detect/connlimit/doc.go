// Package connlimit bounds the connections a listener holds open and hardens
// the [http.Server] that serves them.
//
// A peer that opens connections and sends nothing costs a file descriptor
// and a goroutine per connection; enough of them exhaust the process's
// descriptors and take every listener down. [Listen] wraps a listener so that
// at most Config.MaxConns of its connections are open at once. When a new
// connection arrives at the cap, the listener closes the idle connection that
// has been idle longest to make room; when none is idle, the new connection
// is closed at once, so a flood is refused promptly instead of queueing.
//
// What counts as idle: an HTTP server reports its connections' states
// through http.Server.ConnState, which [Listener.Harden] hooks up. A
// connection is idle when it is new (accepted, no request read yet) or
// between requests (keep-alive, or an HTTP/2 connection with no open
// stream); it is busy while a request is read or served. For servers that do
// not report states (gRPC), every connection is a candidate and the one
// whose last read returned data longest ago goes first; such servers should
// close idle connections themselves as well (gRPC keepalive
// MaxConnectionIdle).
//
// Use:
//
//	ln, err := net.Listen("tcp", addr)
//	...
//	cl := connlimit.Listen(ln, cfg)
//	srv := &http.Server{Handler: h}
//	cl.Harden(srv) // timeouts, header size, idle tracking
//	err = srv.Serve(cl)
//
// The file descriptors a listener holds are then at most MaxConns plus the
// listening socket, and the memory of the connections' buffers is bounded by
// MaxConns × (MaxHeaderBytes + the server's per-connection buffers).
package connlimit
