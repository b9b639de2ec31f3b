package otlpfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/detect"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// sampleStart is the event time the recorded samples begin at (see
// testdata/record/README.md).
var sampleStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func readAll(t *testing.T, r *Reader) ([]Record, error) {
	t.Helper()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		rec.Body = bytes.Clone(rec.Body)
		out = append(out, rec)
	}
}

func readBytes(t *testing.T, b []byte, cfg Config) ([]Record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(t, r)
	return recs, r, err
}

func readSample(t *testing.T, name string) []Record {
	t.Helper()
	r, err := Open(filepath.Join("testdata", name), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func unmarshal(t *testing.T, rec Record) proto.Message {
	t.Helper()
	m, err := rec.Request()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The real Collector's json and proto files of the same requests read as the
// same records, with the signals, counts and event times the sender sent.
func TestCollectorSamples(t *testing.T) {
	js := readSample(t, "collector.jsonl")
	pb := readSample(t, "collector.pb")
	if len(js) != 12 || len(pb) != 12 {
		t.Fatalf("records: json %d, proto %d, want 12 each", len(js), len(pb))
	}
	signals := []Signal{SignalMetrics, SignalTraces, SignalLogs}
	for i := range js {
		j, p := js[i], pb[i]
		step := sampleStart.Add(time.Duration(i/3) * 30 * time.Second)
		var want TimeRange
		var items int
		switch signals[i%3] {
		case SignalMetrics: // 6 metrics of one point each, all at the scrape time
			want, items = TimeRange{step, step}, 12
		case SignalTraces: // 3 spans ending 20 ms, 1.06 s and 2.1 s in
			want, items = TimeRange{step.Add(20 * time.Millisecond), step.Add(2100 * time.Millisecond)}, 3
		case SignalLogs: // one record's time, another's observed time only
			want, items = TimeRange{step.Add(5 * time.Second), step.Add(7 * time.Second)}, 2
		}
		for _, rec := range []Record{j, p} {
			if rec.Signal != signals[i%3] || rec.Index != i+1 || rec.Items != items || rec.Range != want {
				t.Errorf("record %d: got %s #%d, %d items, %s; want %s #%d, %d items, %s",
					i, rec.Signal, rec.Index, rec.Items, rec.Range, signals[i%3], i+1, items, want)
			}
		}
		if !proto.Equal(unmarshal(t, j), unmarshal(t, p)) {
			t.Errorf("record %d: json and proto forms differ", i+1)
		}
	}
	// Offsets: the proto file's second message starts after the first one's
	// 4-byte prefix and body; the json file's after the first line.
	if pb[1].Offset != int64(4+len(pb[0].Body)) {
		t.Errorf("proto offset of record 2 = %d, want %d", pb[1].Offset, 4+len(pb[0].Body))
	}
	raw, _ := os.ReadFile("testdata/collector.jsonl")
	if js[1].Offset != int64(bytes.IndexByte(raw, '\n')+1) {
		t.Errorf("json offset of record 2 = %d", js[1].Offset)
	}
	// Ids are written as hex by the exporter and read back as bytes: the
	// first span's trace id is 00 11 22 ... ff (hand-checked in the file).
	span := unmarshal(t, js[1]).(*coltracepb.ExportTraceServiceRequest).ResourceSpans[0].ScopeSpans[0].Spans[0]
	if got := hex.EncodeToString(span.TraceId); got != "00112233445566778899aabbccddeeff" {
		t.Errorf("trace id %s", got)
	}
	if !bytes.Contains(raw, []byte(`"traceId":"00112233445566778899aabbccddeeff"`)) {
		t.Error("sample does not hold the hex trace id the test expects")
	}
}

// The exporter's zstd forms are refused with an error that says which
// form it is and what to do.
func TestCollectorZstdRefused(t *testing.T) {
	for name, want := range map[string]string{
		"collector-json.zstd-frames":  "message 1 at byte 0: the message is zstd-compressed",
		"collector-proto.zstd-frames": "message 1 at byte 0: the message is zstd-compressed",
		"collector-native.jsonl.zst":  "the recording is one zstd stream",
		"collector-native.pb.zst":     "the recording is one zstd stream",
	} {
		r, err := Open(filepath.Join("testdata", name), DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Next()
		r.Close()
		var re *RecordError
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &re) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestGzipRecording(t *testing.T) {
	raw, err := os.ReadFile("testdata/collector.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	recs, r, err := readBytes(t, gz.Bytes(), DefaultConfig())
	if err != nil || len(recs) != 12 || r.Format() != FormatJSON || r.Stats().Bytes != int64(len(raw)) {
		t.Fatalf("gzip: %d records, %s, %+v, %v", len(recs), r.Format(), r.Stats(), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A cut gzip stream is a truncated recording.
	_, _, err = readBytes(t, gz.Bytes()[:gz.Len()/2], DefaultConfig())
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("cut gzip: %v", err)
	}
}

// frame length-prefixes body as the exporter's proto form does.
func frame(body []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(out, body...)
}

func sampleBodies(t *testing.T) (metrics, traces, logs []byte) {
	recs := readSample(t, "collector.pb")
	return recs[0].Body, recs[1].Body, recs[2].Body
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestLimits(t *testing.T) {
	small := DefaultConfig()
	small.MaxRecordBytes = 1000

	t.Run("line over max_record_bytes stops reading at the limit", func(t *testing.T) {
		long := `{"resourceMetrics":[` + strings.Repeat(`{},`, 1<<18) + `{}]}` + "\n"
		src := &countingReader{r: strings.NewReader(long)}
		r, _ := NewReader(src, small)
		_, err := r.Next()
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "line 1 at byte 0: line longer than max_record_bytes (1000)") {
			t.Fatalf("err = %v", err)
		}
		if src.n > 1000+128<<10 {
			t.Fatalf("read %d bytes of a %d-byte line to refuse it", src.n, len(long))
		}
	})
	t.Run("a line of exactly max_record_bytes is read", func(t *testing.T) {
		line := `{"resourceMetrics":[]}`
		line += strings.Repeat(" ", 1000-len(line))
		_, r, err := readBytes(t, []byte(line+"\n"+line+"\n"), small)
		if err != nil || r.Stats().Empty != 2 {
			t.Fatalf("%+v %v", r.Stats(), err)
		}
	})
	t.Run("message over max_record_bytes is refused before its body is read", func(t *testing.T) {
		m, _, _ := sampleBodies(t)
		src := &countingReader{r: bytes.NewReader(append(frame(m), frame(m)...))}
		cfg := small
		cfg.MaxRecordBytes = int64(len(m)) - 1
		r, _ := NewReader(src, cfg)
		_, err := r.Next()
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "message 1 at byte 0: message of 960 bytes is over max_record_bytes (959)") {
			t.Fatalf("err = %v", err)
		}
		if r.Stats().Bytes != 4 {
			t.Fatalf("consumed %d bytes, want the 4 of the prefix", r.Stats().Bytes)
		}
	})
	t.Run("a prefix promising more than the file holds costs what the file holds", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxRecordBytes = MaxRecordBytesCeiling
		b := binary.BigEndian.AppendUint32(nil, MaxRecordBytesCeiling)
		b = append(b, make([]byte, 100)...)
		const reads = 10
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range reads {
			r, _ := NewReader(bytes.NewReader(b), cfg)
			if _, err := r.Next(); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "cut after 100") {
				t.Fatalf("err = %v", err)
			}
		}
		runtime.ReadMemStats(&after)
		// A read that trusted the prefix would allocate 64 MiB each time.
		if perRead := (after.TotalAlloc - before.TotalAlloc) / reads; perRead > 4*readChunk {
			t.Fatalf("allocated %d bytes per read of a 104-byte file", perRead)
		}
	})
	t.Run("JSON conversion over max_json_decode_bytes", func(t *testing.T) {
		line := `{"resourceSpans":[` + strings.Repeat(`{},`, 1000) + `{}]}`
		cfg := DefaultConfig()
		cfg.MaxJSONDecodeBytes = detect.JSONDecodeCost([]byte(line)) - 1
		_, _, err := readBytes(t, []byte(line+"\n"), cfg)
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "over max_json_decode_bytes") {
			t.Fatalf("err = %v", err)
		}
		cfg.MaxJSONDecodeBytes++
		if _, _, err := readBytes(t, []byte(line+"\n"), cfg); err != nil {
			t.Fatalf("at the limit: %v", err)
		}
	})
}

func TestJSONLines(t *testing.T) {
	m, tr, _ := sampleBodies(t)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Record(Record{Signal: SignalMetrics, Body: m}); err != nil {
		t.Fatal(err)
	}
	mline := strings.TrimSuffix(buf.String(), "\n")
	buf.Reset()
	if err := w.Record(Record{Signal: SignalTraces, Body: tr}); err != nil {
		t.Fatal(err)
	}
	tline := strings.TrimSuffix(buf.String(), "\n")

	for _, c := range []struct {
		name    string
		in      string
		cfg     func(*Config)
		signals []Signal
		empty   int
		err     string
		is      error
	}{
		{name: "crlf and blank lines", in: mline + "\r\n\n  \r\n" + tline + "\r\n", signals: []Signal{SignalMetrics, SignalTraces}, empty: 2},
		{name: "empty requests are skipped", in: "{}\n{ }\n" + `{"resourceLogs":[]}` + "\n" + tline + "\n", signals: []Signal{SignalTraces}, empty: 3},
		{name: "last line without newline", in: mline + "\n" + tline, signals: []Signal{SignalMetrics, SignalTraces}},
		{name: "proto field names", in: strings.Replace(tline, `"resourceSpans"`, `"resource_spans"`, 1), signals: []Signal{SignalTraces}},
		{name: "escaped key", in: strings.Replace(mline, `"resourceMetrics"`, `"resource\u004detrics"`, 1), signals: []Signal{SignalMetrics}},
		{name: "unknown keys beside the signal", in: `{"x":{"y":[1,"}"]},` + tline[1:], signals: []Signal{SignalTraces}},
		{name: "two signals in one line", in: `{"resourceSpans":[],"resourceLogs":[]}`, err: "line 1 at byte 0: not an OTLP/JSON export request: the request holds both traces and logs", is: detect.ErrMalformed},
		{name: "no signal key", in: mline + "\n" + `{"resourceMetric":[]}`, err: `line 2 at byte ` + strconv.Itoa(len(mline)+1) + `: not an OTLP/JSON export request: no resourceMetrics, resourceSpans or resourceLogs key (keys: "resourceMetric")`, is: detect.ErrMalformed},
		{name: "not an object", in: "[]\n", cfg: func(c *Config) { c.Format = FormatJSON }, err: "line 1 at byte 0: not an OTLP/JSON export request: not a JSON object", is: detect.ErrMalformed},
		{name: "cut line", in: mline[:len(mline)/2], err: "line 1 at byte 0: not an OTLP/JSON export request: unterminated object or array", is: detect.ErrMalformed},
		{name: "cut value", in: strings.Replace(mline, `"asInt":"314572800"`, `"asInt":"31x"`, 1), err: "line 1 at byte 0: decode OTLP/JSON metrics", is: detect.ErrMalformed},
		{name: "signal mismatch", in: tline, cfg: func(c *Config) { c.Signal = SignalMetrics }, err: "a traces request in a recording configured as metrics", is: detect.ErrMalformed},
		{name: "json configured as proto", in: tline, cfg: func(c *Config) { c.Format = FormatProto }, err: `(the prefix "{\"re" is not a length: is this a proto recording?)`, is: ErrLimit},
		{name: "not a recording", in: "hello", err: "read recording: not a file exporter recording: the first byte 0x68", is: ErrUnsupported},
		{name: "empty file", in: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			recs, r, err := readBytes(t, []byte(c.in), cfg)
			if c.err != "" {
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q (%v)", err, c.err, c.is)
				}
				// Errors are final.
				if _, again := r.Next(); again != err {
					t.Fatalf("second Next: %v", again)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []Signal
			for _, rec := range recs {
				got = append(got, rec.Signal)
			}
			if !slices.Equal(got, c.signals) || r.Stats().Empty != c.empty {
				t.Fatalf("signals %v, empty %d; want %v, %d", got, r.Stats().Empty, c.signals, c.empty)
			}
		})
	}
}
