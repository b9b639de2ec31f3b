package otlpreceiver

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medic-bot/medic/detect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Content types of OTLP/HTTP bodies.
const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// bodyEncoding is how a request (and so its response) is encoded.
type bodyEncoding uint8

const (
	encProto bodyEncoding = iota
	encJSON
)

func (e bodyEncoding) contentType() string {
	if e == encJSON {
		return contentTypeJSON
	}
	return contentTypeProto
}

func (e bodyEncoding) marshal(m proto.Message) ([]byte, error) {
	if e == encJSON {
		return protojson.Marshal(m)
	}
	return proto.Marshal(m)
}

var (
	errTooLarge = errors.New("request body too large")
	errBadGzip  = errors.New("invalid gzip body")
)

// minBodyBuf is the first buffer for a body whose size is not known up front.
const minBodyBuf = 32 << 10

func (r *Receiver) newHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	for _, sig := range signals {
		mux.HandleFunc(sig.path, func(w http.ResponseWriter, req *http.Request) {
			o := r.serveHTTP(sig, w, req)
			r.metrics.done(transportHTTP, sig, o.reason, o.accepted, o.rejected)
			if o.reason != "" {
				r.logRefusal(transportHTTP, sig, o)
			}
		})
	}
	return mux
}

// serveHTTP answers one OTLP/HTTP request and reports what happened.
func (r *Receiver) serveHTTP(sig *signal, w http.ResponseWriter, req *http.Request) outcome {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		msg := fmt.Sprintf("method %s not allowed: OTLP/HTTP export requests use POST", req.Method)
		writeText(w, http.StatusMethodNotAllowed, msg)
		return outcome{reason: reasonUnsupported, message: msg}
	}
	enc, ok := parseContentType(req.Header.Get("Content-Type"))
	if !ok {
		msg := fmt.Sprintf("unsupported Content-Type %q: use %s or %s", req.Header.Get("Content-Type"), contentTypeProto, contentTypeJSON)
		writeText(w, http.StatusUnsupportedMediaType, msg)
		return outcome{reason: reasonUnsupported, message: msg}
	}
	gz, ok := parseContentEncoding(req.Header.Values("Content-Encoding"))
	if !ok {
		o := outcome{reason: reasonUnsupported, message: fmt.Sprintf("unsupported Content-Encoding %q: use gzip or none", strings.Join(req.Header.Values("Content-Encoding"), ", "))}
		r.writeError(w, enc, http.StatusUnsupportedMediaType, o)
		return o
	}
	limit := r.cfg.HTTP.MaxRequestBodyBytes
	if req.ContentLength > limit {
		o := outcome{reason: reasonTooLarge, message: fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", req.ContentLength, limit)}
		r.writeError(w, enc, http.StatusRequestEntityTooLarge, o)
		return o
	}

	// The body is read before the request takes a slot, and reserves
	// queue bytes only as they arrive (its buffer at most doubles ahead of
	// them): a slow sender holds neither a slot nor bytes it has not sent,
	// and the server's read_timeout ends it.
	t, err := r.queue.reserve()
	if err != nil {
		o := r.classify(sig, zeroResult, err)
		r.writeError(w, enc, 0, o)
		return o
	}
	defer t.release()

	var hint int64
	if !gz && req.ContentLength > 0 {
		hint = req.ContentLength
	}
	body, err := readBody(req.Body, gz, limit, hint, t)
	if err != nil {
		var o outcome
		switch {
		case errors.Is(err, errTooLarge):
			o = outcome{reason: reasonTooLarge, message: fmt.Sprintf("request body is over the limit of %d bytes (compressed or decompressed)", limit)}
		case errors.Is(err, errQueueFull):
			o = r.classify(sig, zeroResult, err)
		case errors.Is(err, errBadGzip):
			o = outcome{reason: reasonMalformed, message: err.Error()}
		default:
			o = outcome{reason: reasonMalformed, message: "read request body: " + err.Error()}
		}
		r.writeError(w, enc, 0, o)
		return o
	}
	if enc == encJSON {
		var o outcome
		if body, o = r.convertJSON(sig, body, t); o.reason != "" {
			r.writeError(w, enc, 0, o)
			return o
		}
	}
	if err := t.enter(); err != nil {
		o := r.classify(sig, zeroResult, err)
		r.writeError(w, enc, 0, o)
		return o
	}

	res, err := r.process(req.Context(), sig, body)
	o := r.classify(sig, res, err)
	if o.reason != "" {
		r.writeError(w, enc, 0, o)
		return o
	}
	out, err := enc.marshal(sig.response(o.rejected, o.partMsg))
	if err != nil {
		// Cannot happen for these messages; answer something valid anyway.
		writeText(w, http.StatusInternalServerError, "marshal response: "+err.Error())
		return o
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return o
}

// convertJSON turns an OTLP/JSON body into protobuf. The conversion builds
// message structs far larger than the JSON (an empty span, "{},", becomes
// hundreds of bytes), so before it starts the ticket reserves what it may
// allocate (detect.JSONDecodeCost); afterwards only the protobuf stays
// counted.
func (r *Receiver) convertJSON(sig *signal, body []byte, t *ticket) ([]byte, outcome) {
	cost := detect.JSONDecodeCost(body)
	if cost > r.cfg.Queue.MaxBytes {
		return nil, outcome{reason: reasonTooLarge, message: fmt.Sprintf(
			"OTLP/JSON body of %d bytes takes up to %d bytes to decode, over queue.max_bytes (%d): send fewer items per request, or protobuf",
			len(body), cost, r.cfg.Queue.MaxBytes)}
	}
	if !t.grow(cost) {
		return nil, r.classify(sig, zeroResult, errQueueFull)
	}
	pb, err := sig.fromJSON(body)
	if err != nil {
		return nil, outcome{reason: reasonMalformed, message: "invalid OTLP/JSON " + sig.name + " request: " + err.Error()}
	}
	// The protobuf form replaces the JSON form and the conversion in the
	// count (it is part of what the conversion allocated, so this never
	// grows the ticket).
	t.shrink(cost + int64(cap(body)) - int64(cap(pb)))
	return pb, outcome{}
}

// httpStatus maps a refusal reason to its HTTP status code and the
// google.rpc.Status code put in the body.
func httpStatus(reason string) (int, codes.Code) {
	switch reason {
	case reasonMalformed:
		return http.StatusBadRequest, codes.InvalidArgument
	case reasonTooLarge:
		return http.StatusRequestEntityTooLarge, codes.ResourceExhausted
	case reasonQueueFull:
		return http.StatusTooManyRequests, codes.Unavailable
	case reasonUnsupported:
		return http.StatusUnsupportedMediaType, codes.InvalidArgument
	default: // shutting_down, canceled, internal: retryable
		return http.StatusServiceUnavailable, codes.Unavailable
	}
}

// writeError writes o as a google.rpc.Status in the request's encoding, as
// OTLP/HTTP requires for 4xx and 5xx answers. httpCode 0 means the code for
// o.reason.
func (r *Receiver) writeError(w http.ResponseWriter, enc bodyEncoding, httpCode int, o outcome) {
	code, grpcCode := httpStatus(o.reason)
	if httpCode != 0 {
		code = httpCode
	}
	st := r.statusProto(grpcCode, o)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(r.cfg.RetryAfter)))
	}
	b, err := enc.marshal(st)
	if err != nil {
		writeText(w, code, o.message)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// statusProto builds the google.rpc.Status for a refusal: BadRequest details
// for bad data, RetryInfo for retryable refusals.
func (r *Receiver) statusProto(code codes.Code, o outcome) *spb.Status {
	msg := clientMessage(o.message)
	st := &spb.Status{Code: int32(code), Message: msg}
	var detail proto.Message
	switch code {
	case codes.InvalidArgument:
		detail = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "body", Description: msg}}}
	case codes.Unavailable:
		detail = &errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryAfter)}
	}
	if detail != nil {
		if a, err := anypb.New(detail); err == nil {
			st.Details = []*anypb.Any{a}
		}
	}
	return st
}

// maxMessage bounds the messages sent back to clients.
const maxMessage = 1024

// clientMessage makes s fit a protobuf string field: valid UTF-8 (decoder
// errors may quote the bytes they choked on) and at most maxMessage bytes.
func clientMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// retryAfterSeconds is d in whole seconds for Retry-After, rounded up and
// at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := math.Ceil(d.Seconds())
	if s < 1 {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func parseContentType(v string) (bodyEncoding, bool) {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return 0, false
	}
	switch mt {
	case contentTypeProto:
		return encProto, true
	case contentTypeJSON:
		return encJSON, true
	}
	return 0, false
}

// parseContentEncoding accepts no encoding, identity and one gzip.
func parseContentEncoding(values []string) (gz bool, ok bool) {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "", "identity":
			case "gzip", "x-gzip":
				if gz {
					return false, false
				}
				gz = true
			default:
				return false, false
			}
		}
	}
	return gz, true
}

// readBody reads a request body of at most limit bytes, both as sent and
// after gunzipping, into a buffer whose capacity is reserved in t as it
// grows: nothing before the first byte arrives, then at most twice what has
// arrived. hint (the Content-Length of an uncompressed body, or 0) caps the
// growth so that such a body ends in a buffer of its exact size. It fails
// with errTooLarge, errQueueFull (no bytes left in the queue), errBadGzip or
// the read error.
func readBody(body io.Reader, gz bool, limit, hint int64, t *ticket) ([]byte, error) {
	var src io.Reader = &limitReader{r: body, n: limit}
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, gzipErr(err)
		}
		defer zr.Close()
		src = &limitReader{r: zr, n: limit}
	}
	var buf []byte
	var probe [1]byte
	for {
		if len(buf) == cap(buf) {
			// Full: look for one more byte before growing, so that a body
			// that fits exactly costs no extra buffer.
			n, err := src.Read(probe[:])
			if n == 0 {
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					return nil, readErr(err, gz)
				}
				continue
			}
			newCap := min(max(2*int64(cap(buf)), minBodyBuf), limit)
			if hint > int64(cap(buf)) {
				newCap = min(newCap, hint)
			}
			if newCap <= int64(len(buf)) {
				return nil, errTooLarge
			}
			if !t.grow(newCap - int64(cap(buf))) {
				return nil, errQueueFull
			}
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = append(nb, probe[0])
			continue
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, readErr(err, gz)
		}
	}
}

func readErr(err error, gz bool) error {
	if gz {
		return gzipErr(err)
	}
	return err
}

// gzipErr reports a failure from the gzip reader: a limit hit passes
// through, anything else means the body is not valid gzip.
func gzipErr(err error) error {
	if errors.Is(err, errTooLarge) {
		return errTooLarge
	}
	return fmt.Errorf("%w: %v", errBadGzip, err)
}

// limitReader passes at most n bytes through and fails with errTooLarge if
// the underlying reader has more.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.n <= 0 {
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
