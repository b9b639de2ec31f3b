package otlpfile

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/medic-bot/medic/detect"
	"google.golang.org/protobuf/proto"
)

// FuzzReader reads arbitrary bytes as a recording and checks:
//   - it never panics, and reads at most 10000 records of a small input;
//   - it ends with io.EOF or a *RecordError wrapping one of ErrLimit,
//     ErrTruncated, ErrUnsupported or detect.ErrMalformed;
//   - every record has a signal, items, increasing indexes and offsets, and
//     a body that detect's decoder accepts with the same items and range;
//   - a record the Writer can write (valid UTF-8, OTLP-sized ids) reads
//     back as the same request.
func FuzzReader(f *testing.F) {
	// The first three records (one of each signal) of the samples: small
	// seeds keep the fuzzer's minimization quick.
	for _, name := range []string{"collector.jsonl", "collector.pb"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		r, _ := NewReader(bytes.NewReader(b), DefaultConfig())
		for range 3 {
			if _, err := r.Next(); err != nil {
				f.Fatal(err)
			}
		}
		b = b[:r.Stats().Bytes]
		f.Add(b, uint8(0))
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b)
		zw.Close()
		f.Add(gz.Bytes(), uint8(0))
	}
	f.Add([]byte("{}\n\n{\"resourceLogs\":[{}]}\n"), uint8(1))
	f.Add([]byte{0, 0, 0, 2, 0x0a, 0x00}, uint8(2))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00112233445566778899aabbccddeeff","endTimeUnixNano":"5"}]}]}]}`), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		cfg := DefaultConfig()
		cfg.Format = []Format{FormatAuto, FormatJSON, FormatProto}[format%3]
		cfg.MaxRecordBytes = 1 << 16
		cfg.MaxJSONDecodeBytes = 1 << 24
		r, err := NewReader(bytes.NewReader(data), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var dec detect.Decoder
		lastIndex, lastOffset := 0, int64(-1)
		for n := 0; ; n++ {
			if n > 10000 {
				t.Fatal("too many records")
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) || !(errors.Is(err, ErrLimit) || errors.Is(err, ErrTruncated) ||
					errors.Is(err, ErrUnsupported) || errors.Is(err, detect.ErrMalformed)) {
					t.Fatalf("unexpected error: %v", err)
				}
				break
			}
			if rec.Index <= lastIndex || rec.Offset <= lastOffset || rec.Items == 0 {
				t.Fatalf("record %d at %d with %d items after record %d at %d", rec.Index, rec.Offset, rec.Items, lastIndex, lastOffset)
			}
			lastIndex, lastOffset = rec.Index, rec.Offset
			var tl tally
			switch rec.Signal {
			case SignalMetrics:
				err = dec.Metrics(rec.Body, &tl)
			case SignalTraces:
				err = dec.Traces(rec.Body, &tl)
			case SignalLogs:
				err = dec.Logs(rec.Body, &tl)
			default:
				t.Fatalf("signal %q", rec.Signal)
			}
			if err != nil || tl.items != rec.Items || tl.rng != rec.Range {
				t.Fatalf("record %d: decoder says %v, %d items, %s; record says %d, %s", rec.Index, err, tl.items, tl.rng, rec.Items, rec.Range)
			}
			checkRoundTrip(t, rec)
		}
	})
}

// checkRoundTrip writes rec with a Writer and reads it back.
func checkRoundTrip(t *testing.T, rec Record) {
	var buf bytes.Buffer
	if err := NewWriter(&buf).Record(rec); err != nil {
		return // not writable: invalid UTF-8 or an id of the wrong size
	}
	back, _, err := readBytes(t, buf.Bytes(), DefaultConfig())
	if err != nil || len(back) != 1 {
		t.Fatalf("record %d does not read back: %d records, %v\n%s", rec.Index, len(back), err, buf.Bytes())
	}
	want := unmarshalKnown(t, rec)
	if got := unmarshalKnown(t, back[0]); !proto.Equal(got, want) || back[0].Signal != rec.Signal {
		t.Fatalf("record %d changed in a round trip:\n got %v\nwant %v", rec.Index, got, want)
	}
}

// unmarshalKnown is unmarshal without unknown fields, which JSON drops.
func unmarshalKnown(t *testing.T, rec Record) proto.Message {
	m := unmarshal(t, rec)
	out := m.ProtoReflect().New().Interface()
	b, _ := proto.Marshal(m)
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzLineSignal checks the top-level key scan against encoding/json: for a
// valid JSON object, the signal it finds is the one its keys name, and it
// fails exactly when the keys name none or two (an empty object is "").
func FuzzLineSignal(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"resourceMetrics":[]}`, `{"a":1,"resourceSpans":null}`, `{"resource_logs":[{}]} `,
		`{"resourceSpans":[],"resourceLogs":[]}`, `{"resource\u004cogs":{"x":"}"}}`, `{"x":[[[{"y":"\"}"}]]]}`,
		`[1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, ` {"resourceMetrics":[]} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := lineSignal(b)
		var obj map[string]json.RawMessage
		if !json.Valid(b) || json.Unmarshal(b, &obj) != nil || obj == nil {
			return // not a JSON object: whatever the scan says, the conversion refuses it
		}
		found := map[Signal]bool{}
		for k := range obj {
			if s, ok := signalKeys[k]; ok {
				found[s] = true
			}
		}
		switch {
		case len(obj) == 0:
			if err != nil || got != "" {
				t.Fatalf("empty object: %q, %v", got, err)
			}
		case len(found) == 1:
			for s := range found {
				if err != nil || got != s {
					t.Fatalf("%s: got %q, %v; want %s", b, got, err, s)
				}
			}
		default:
			if err == nil {
				t.Fatalf("%s: got %q, want an error (signals %v)", b, got, found)
			}
		}
	})
}
