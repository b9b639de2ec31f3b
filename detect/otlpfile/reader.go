package otlpfile

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/medic-bot/medic/detect"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Errors a Reader's failures wrap, besides detect.ErrMalformed for content
// that does not decode. Every failure is a *RecordError naming where it was.
var (
	// ErrLimit: a record is over MaxRecordBytes or MaxJSONDecodeBytes.
	ErrLimit = errors.New("recording limit exceeded")
	// ErrTruncated: the recording ends inside a record.
	ErrTruncated = errors.New("recording truncated")
	// ErrUnsupported: the recording is in a form medic does not read
	// (zstd compression, or not a file exporter recording at all).
	ErrUnsupported = errors.New("unsupported recording")
)

// RecordError reports a failure at one record of a recording.
type RecordError struct {
	// Name is the recording's name (its path when opened with Open).
	Name string
	// Format is the recording's form, if known by then.
	Format Format
	// Index is the record's position (1-based): its line for json, its
	// message number for proto.
	Index int
	// Offset is the byte offset where the record starts (its line, or its
	// length prefix), in the decompressed stream for a gzip recording.
	Offset int64
	Err    error
}

func (e *RecordError) Error() string {
	name := e.Name
	if name == "" {
		name = "recording"
	}
	if e.Index == 0 {
		return fmt.Sprintf("read %s: %v", name, e.Err)
	}
	what := "record"
	switch e.Format {
	case FormatJSON:
		what = "line"
	case FormatProto:
		what = "message"
	}
	return fmt.Sprintf("read %s: %s %d at byte %d: %v", name, what, e.Index, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Record is one export request of a recording.
type Record struct {
	// File is the recording file the record is in (empty for NewReader).
	File   string
	Signal Signal
	// Body is the protobuf encoding of the Export*ServiceRequest of Signal,
	// known to decode with detect.Decoder. It is valid until the next call
	// to Next: a caller that keeps it must copy it.
	Body []byte
	// Index is the record's position in its file (1-based): its line for
	// json (blank lines counted), its message number for proto.
	Index int
	// Offset is the byte offset in its file where the record starts.
	Offset int64
	// Items counts what the record carries: metrics and their data points,
	// spans, or log records.
	Items int
	// Range is the event time the record covers: the times of its data
	// points, the end times of its spans, the times of its log records
	// (their observed times when unset). Zero when none has a time.
	Range TimeRange
}

// Ingest hands the record to ing by its signal.
func (r Record) Ingest(ctx context.Context, ing detect.Ingester) (detect.IngestResult, error) {
	switch r.Signal {
	case SignalMetrics:
		return ing.IngestMetrics(ctx, r.Body)
	case SignalTraces:
		return ing.IngestTraces(ctx, r.Body)
	case SignalLogs:
		return ing.IngestLogs(ctx, r.Body)
	}
	return detect.IngestResult{}, fmt.Errorf("ingest record %d: unknown signal %q", r.Index, r.Signal)
}

// Request decodes the body into the generated type of its signal's export
// request. It fails where detect's decoder is more lenient: invalid UTF-8 in
// a string.
func (r Record) Request() (proto.Message, error) {
	var m proto.Message
	switch r.Signal {
	case SignalMetrics:
		m = &colmetricspb.ExportMetricsServiceRequest{}
	case SignalTraces:
		m = &coltracepb.ExportTraceServiceRequest{}
	case SignalLogs:
		m = &collogspb.ExportLogsServiceRequest{}
	default:
		return nil, fmt.Errorf("decode record %d: unknown signal %q", r.Index, r.Signal)
	}
	if err := proto.Unmarshal(r.Body, m); err != nil {
		return nil, fmt.Errorf("decode record %d as %s: %w", r.Index, r.Signal, err)
	}
	return m, nil
}

// Stats counts what a Reader has read so far.
type Stats struct {
	// Records counts the records returned, per signal in Metrics, Traces and
	// Logs; Items adds up their Items.
	Records, Metrics, Traces, Logs int
	Items                          int64
	// Empty counts records skipped because they carry nothing (an empty
	// request, "{}", or blank lines).
	Empty int
	// Bytes counts the bytes consumed, after gzip decompression.
	Bytes int64
	// Files counts the files opened.
	Files int
}

// Magic numbers of the compressed forms.
var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

// readChunk is how much a proto message grows its buffer by at a time, so a
// length prefix that promises more than the file holds costs what the file
// holds, not what the prefix says.
const readChunk = 1 << 20

// Reader streams the records of one recording. It is not safe for
// concurrent use. Its memory is one record's buffer (at most MaxRecordBytes)
// plus, for JSON, one conversion (at most MaxJSONDecodeBytes).
//
// Protobuf records do not name their signal. Unless Config.Signal says it,
// a Reader takes each for the first of metrics, traces and logs that it
// decodes as (detect's decoder refuses a known field of the wrong wire type)
// with at least one item. The signals share field numbers, but what the
// Collector always sets tells them apart: a span's start time (field 7) is a
// fixed64 where a metric's sum is a message, and a log record's timestamps
// (fields 1 and 11) are fixed64 where a metric's name and summary and a
// span's trace id and events are length-delimited. Metrics go first because
// a metric holding only a gauge would also pass for a span.
type Reader struct {
	cfg    Config
	name   string   // the current file's name
	paths  []string // the files still to read, after the current one
	src    io.Reader
	in     *bufio.Reader
	closer []io.Closer // of the current file
	format Format
	pos    int64 // bytes consumed of the current file

	started bool
	dec     detect.Decoder
	buf     []byte
	index   int
	off     int64
	err     error
	stats   Stats
}

// NewReader returns a Reader of the recording r. It reads nothing until the
// first call to Next.
func NewReader(r io.Reader, cfg Config) (*Reader, error) {
	if r == nil {
		return nil, errors.New("configure recording reader: no reader")
	}
	rd, err := newReader(cfg)
	if err != nil {
		return nil, err
	}
	rd.src, rd.stats.Files = r, 1
	return rd, nil
}

func newReader(cfg Config) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure recording reader: %w", err)
	}
	return &Reader{cfg: cfg, format: cfg.Format}, nil
}

// Open opens the recording at path; errors name the path. Close the Reader
// when done.
func Open(path string, cfg Config) (*Reader, error) {
	return OpenFiles([]string{path}, cfg)
}

// OpenFiles opens a recording made of several files, read one after the
// other as one stream of records: the files of a rotated recording, oldest
// first (see RotatedFiles). Each file's form is detected on its own; a
// record's File, Index and Offset, and errors, name the file. Close the
// Reader when done.
func OpenFiles(paths []string, cfg Config) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("open recording: no file")
	}
	r, err := newReader(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range paths[1:] {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("open recording: %w", err)
		}
	}
	r.paths = paths
	if err := r.openNext(); err != nil {
		return nil, err
	}
	return r, nil
}

// openNext closes the current file and opens the next one.
func (r *Reader) openNext() error {
	if err := r.closeFile(); err != nil {
		return err
	}
	path := r.paths[0]
	r.paths = r.paths[1:]
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open recording: %w", err)
	}
	r.name, r.src, r.closer = path, f, []io.Closer{f}
	r.started, r.format, r.index, r.pos = false, r.cfg.Format, 0, 0
	r.stats.Files++
	return nil
}

// Close releases the open file and gzip stream, if any. It is safe to call
// more than once.
func (r *Reader) Close() error {
	r.paths = nil
	return r.closeFile()
}

func (r *Reader) closeFile() error {
	var errs []error
	for i := len(r.closer) - 1; i >= 0; i-- {
		errs = append(errs, r.closer[i].Close())
	}
	r.closer = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close recording %s: %w", r.name, err)
	}
	return nil
}

// Format returns the current file's form: as configured, or as detected by
// the first call to Next (FormatAuto before that, and for an empty file).
func (r *Reader) Format() Format { return r.format }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the next record with at least one item, or io.EOF after the
// last. Any other error is a *RecordError; it is final: later calls return
// it again.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		if err != io.EOF {
			if _, ok := err.(*RecordError); !ok {
				err = r.fail(err)
			}
		}
		r.err = err
		return Record{}, err
	}
	r.stats.Records++
	r.stats.Items += int64(rec.Items)
	switch rec.Signal {
	case SignalMetrics:
		r.stats.Metrics++
	case SignalTraces:
		r.stats.Traces++
	case SignalLogs:
		r.stats.Logs++
	}
	return rec, nil
}

// fail wraps err with the position of the record being read.
func (r *Reader) fail(err error) error {
	return &RecordError{Name: r.name, Format: r.format, Index: r.index, Offset: r.off, Err: err}
}

func (r *Reader) next() (Record, error) {
	for {
		if !r.started {
			r.started = true
			if err := r.start(); err != nil {
				return Record{}, err
			}
		}
		start := r.pos
		r.index++
		r.off = start
		var rec Record
		err := io.EOF // an empty file
		switch r.format {
		case FormatJSON:
			rec, err = r.nextJSON()
		case FormatProto:
			rec, err = r.nextProto()
		}
		if err == io.EOF && len(r.paths) > 0 {
			if err := r.openNext(); err != nil {
				return Record{}, err
			}
			continue
		}
		if err != nil {
			return Record{}, err
		}
		if rec.Items == 0 {
			r.stats.Empty++
			continue
		}
		rec.File, rec.Index, rec.Offset = r.name, r.index, start
		return rec, nil
	}
}

// consume counts n bytes read from the current file.
func (r *Reader) consume(n int) {
	r.pos += int64(n)
	r.stats.Bytes += int64(n)
}

// start looks at the first bytes: gzip is unwrapped, zstd refused, and the
// form detected unless configured. A valid length prefix starts with a byte
// of at most 0x04 (MaxRecordBytesCeiling); JSON text starts with '{' or
// whitespace.
func (r *Reader) start() error {
	r.in = bufio.NewReaderSize(r.src, 64<<10)
	head, err := r.in.Peek(4)
	if err != nil && err != io.EOF {
		return readError("read recording", err)
	}
	if bytes.HasPrefix(head, gzipMagic) {
		gz, err := gzip.NewReader(r.in)
		if err != nil {
			return readError("open gzip stream", err)
		}
		r.closer = append(r.closer, gz)
		r.in = bufio.NewReaderSize(gz, 64<<10)
		if head, err = r.in.Peek(4); err != nil && err != io.EOF {
			return readError("read gzip stream", err)
		}
	}
	if bytes.HasPrefix(head, zstdMagic) {
		return fmt.Errorf("the recording is one zstd stream (file exporter compression: zstd, with the exporter.file.nativeCompression feature gate); decompress it first (zstd -d): %w", ErrUnsupported)
	}
	if r.format != FormatAuto || len(head) == 0 {
		return nil
	}
	switch c := head[0]; {
	case c == '{' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
		r.format = FormatJSON
	case c <= MaxRecordBytesCeiling>>24:
		r.format = FormatProto
	default:
		return fmt.Errorf("not a file exporter recording: the first byte 0x%02x is neither JSON text nor the start of a proto length prefix: %w", c, ErrUnsupported)
	}
	return nil
}

// nextJSON reads one line and converts it.
func (r *Reader) nextJSON() (Record, error) {
	line, err := r.readLine()
	if err != nil {
		return Record{}, err
	}
	return r.jsonRecord(line)
}

// readLine returns the next line without its "\n", in r.buf.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.in.ReadSlice('\n')
		content := int64(len(r.buf) + len(chunk))
		if err == nil {
			content-- // the "\n"
		}
		if content > r.cfg.MaxRecordBytes {
			return nil, fmt.Errorf("line longer than max_record_bytes (%d): %w", r.cfg.MaxRecordBytes, ErrLimit)
		}
		r.buf = append(r.buf, chunk...)
		r.consume(len(chunk))
		switch err {
		case nil:
			return r.buf[:len(r.buf)-1], nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			// The last line has no "\n": the exporter always writes one,
			// so the file may have been cut mid-record; the conversion
			// refuses a cut line.
			return r.buf, nil
		default:
			return nil, readError("read line", err)
		}
	}
}

// readError wraps an error of the source: a gzip stream that ends early is
// a truncated recording, a corrupt one malformed.
func readError(what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%s: %w: %w", what, err, ErrTruncated)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("%s: gzip stream: %w: %w", what, err, detect.ErrMalformed)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// converters turn OTLP/JSON into protobuf, by signal.
var converters = map[Signal]func([]byte) ([]byte, error){
	SignalMetrics: detect.MetricsJSONToProto,
	SignalTraces:  detect.TracesJSONToProto,
	SignalLogs:    detect.LogsJSONToProto,
}

// jsonRecord converts one OTLP/JSON line. Blank lines and "{}" come back
// with no items.
func (r *Reader) jsonRecord(line []byte) (Record, error) {
	if skipSpace(line, 0) == len(line) {
		return Record{}, nil
	}
	sig, err := lineSignal(line)
	if err != nil {
		return Record{}, fmt.Errorf("not an OTLP/JSON export request: %w: %w", err, detect.ErrMalformed)
	}
	if sig == "" {
		return Record{}, nil
	}
	if r.cfg.Signal != "" && sig != r.cfg.Signal {
		return Record{}, fmt.Errorf("a %s request in a recording configured as %s (signal): %w", sig, r.cfg.Signal, detect.ErrMalformed)
	}
	if cost := detect.JSONDecodeCost(line); cost > r.cfg.MaxJSONDecodeBytes {
		return Record{}, fmt.Errorf("line of %d bytes takes up to %d bytes to decode, over max_json_decode_bytes (%d): %w",
			len(line), cost, r.cfg.MaxJSONDecodeBytes, ErrLimit)
	}
	body, err := converters[sig](line)
	if err != nil {
		return Record{}, err
	}
	return r.decode(sig, body)
}

// nextProto reads one length-prefixed message.
func (r *Reader) nextProto() (Record, error) {
	var head [4]byte
	n, err := io.ReadFull(r.in, head[:])
	r.consume(n)
	switch {
	case err == io.EOF:
		return Record{}, io.EOF
	case err == io.ErrUnexpectedEOF:
		return Record{}, fmt.Errorf("length prefix cut after %d of 4 bytes: %w", n, ErrTruncated)
	case err != nil:
		return Record{}, readError("read length prefix", err)
	}
	size := int64(binary.BigEndian.Uint32(head[:]))
	if size > r.cfg.MaxRecordBytes {
		hint := ""
		if head[0] > MaxRecordBytesCeiling>>24 {
			hint = fmt.Sprintf(" (the prefix %q is not a length: is this a proto recording?)", head[:])
		}
		return Record{}, fmt.Errorf("message of %d bytes is over max_record_bytes (%d)%s: %w", size, r.cfg.MaxRecordBytes, hint, ErrLimit)
	}
	r.buf = r.buf[:0]
	for int64(len(r.buf)) < size {
		grow := int(min(size-int64(len(r.buf)), readChunk))
		at := len(r.buf)
		r.buf = append(r.buf, make([]byte, grow)...)
		n, err := io.ReadFull(r.in, r.buf[at:])
		r.consume(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Record{}, fmt.Errorf("message of %d bytes cut after %d: %w", size, at+n, ErrTruncated)
		}
		if err != nil {
			return Record{}, readError("read message", err)
		}
	}
	body := r.buf[:size]
	if bytes.HasPrefix(body, zstdMagic) {
		return Record{}, fmt.Errorf("the message is zstd-compressed (file exporter compression: zstd, without the exporter.file.nativeCompression feature gate), which medic does not read: record without compression, or with the feature gate and decompress the file with zstd -d: %w", ErrUnsupported)
	}
	if r.cfg.Signal != "" {
		return r.decode(r.cfg.Signal, body)
	}
	var errs []error
	for _, sig := range []Signal{SignalMetrics, SignalTraces, SignalLogs} {
		rec, err := r.decode(sig, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.Items > 0 {
			return rec, nil
		}
	}
	if len(errs) == 3 {
		return Record{}, fmt.Errorf("decodes as no OTLP export request: %w", errors.Join(errs...))
	}
	return Record{}, nil // decodes, but carries nothing
}

// decode validates body as a request of sig with detect's decoder, counting
// its items and their event-time range.
func (r *Reader) decode(sig Signal, body []byte) (Record, error) {
	var t tally
	var err error
	switch sig {
	case SignalMetrics:
		err = r.dec.Metrics(body, &t)
	case SignalTraces:
		err = r.dec.Traces(body, &t)
	case SignalLogs:
		err = r.dec.Logs(body, &t)
	}
	if err != nil {
		return Record{}, fmt.Errorf("decode %s: %w", sig, err)
	}
	return Record{Signal: sig, Body: body, Items: t.items, Range: t.rng}, nil
}
