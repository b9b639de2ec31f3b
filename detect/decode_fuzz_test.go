package detect

import (
	"errors"
	"math/rand/v2"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The decode fuzzers check, on arbitrary bytes:
//   - the decoder never panics;
//   - a failure wraps ErrMalformed and made no sink call;
//   - decoding twice with the same Decoder gives the same calls (scratch
//     space does not leak between requests);
//   - when proto.Unmarshal into the generated type succeeds, the decoder
//     succeeds too (unless it refused the body under one of its own stricter
//     rules: wrong wire type for a known field, AnyValue nesting) and reports
//     what the reference walker reports. proto.Unmarshal may fail where the
//     decoder succeeds (it checks UTF-8); that is not compared.

// fuzzDecode runs the shared checks; decode decodes into a recorder and
// reference unmarshals and walks with the generated types (ok false when
// proto.Unmarshal fails).
func fuzzDecode(t *testing.T, b []byte, decode func(*Decoder, []byte, *recorder) error, reference func([]byte) ([]string, bool)) {
	var d Decoder
	rec := &recorder{}
	err := decode(&d, b, rec)
	if err != nil {
		if !errors.Is(err, ErrMalformed) || errors.Is(err, errInconsistent) {
			t.Fatalf("bad error: %v", err)
		}
		if len(rec.lines) != 0 {
			t.Fatalf("failed after %d sink calls: %v", len(rec.lines), err)
		}
	} else {
		again := &recorder{}
		if err := decode(&d, b, again); err != nil {
			t.Fatalf("second decode: %v", err)
		}
		diffLines(t, again.lines, rec.lines)
	}
	want, ok := reference(b)
	if !ok {
		return
	}
	if err != nil {
		if errStricter(err) {
			return
		}
		t.Fatalf("proto.Unmarshal accepts what the decoder refuses: %v", err)
	}
	diffLines(t, rec.lines, want)
}

// checkRecordAgreesWithValidator checks that the metrics record pass accepts
// exactly the bodies the validator accepts without merging.
func checkRecordAgreesWithValidator(t *testing.T, b []byte) {
	var d Decoder
	recorded := d.recordMetrics(b)
	var v validator
	e := v.message(b, &metricsRequestDesc, 0)
	if valid := e == nil && !v.merge; recorded != valid {
		t.Fatalf("record pass says %v, validator says %v (merge %v)", recorded, e, v.merge)
	}
	if errors.Is(func() error {
		rec := &recorder{}
		return d.Metrics(b, rec)
	}(), errInconsistent) {
		t.Fatal("errInconsistent")
	}
}

func addSeeds(f *testing.F, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
}

func FuzzDecodeMetrics(f *testing.F) {
	addSeeds(f,
		marshal(f, metricsFixture()),
		reencode(marshal(f, metricsFixture()), &metricsRequestDesc, rand.New(rand.NewPCG(1, 1)), 3),
		wrapMetric(cat(strfld(1, "m"), fld(7, fld(1, xfld(6, 1))), fld(7, fld(1, xfld(6, 2))))),
		pointWithAttr(cat(strfld(1, "k"), fld(2, fld(5, fld(1, anyStr("a"))), fld(5, fld(1, anyStr("b")))))),
		fld(1, fld(1, fld(1, kvb("a", anyStr("1")))), fld(1, fld(1, kvb("b", anyStr("2"))))),
		nil,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRecordAgreesWithValidator(t, b)
		fuzzDecode(t, b,
			func(d *Decoder, b []byte, r *recorder) error { return d.Metrics(b, r) },
			func(b []byte) ([]string, bool) {
				var req colmetricspb.ExportMetricsServiceRequest
				if proto.Unmarshal(b, &req) != nil {
					return nil, false
				}
				return refMetrics(&req), true
			})
	})
}

func FuzzDecodeTraces(f *testing.F) {
	addSeeds(f,
		marshal(f, tracesFixture()),
		reencode(marshal(f, tracesFixture()), &tracesRequestDesc, rand.New(rand.NewPCG(1, 1)), 3),
		fld(1, fld(2, fld(2, strfld(5, "s"), fld(15, vfld(3, 2)), fld(15, strfld(2, "why"))))),
		nil,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b,
			func(d *Decoder, b []byte, r *recorder) error { return d.Traces(b, r) },
			func(b []byte) ([]string, bool) {
				var req coltracepb.ExportTraceServiceRequest
				if proto.Unmarshal(b, &req) != nil {
					return nil, false
				}
				return refTraces(&req), true
			})
	})
}

func FuzzDecodeLogs(f *testing.F) {
	addSeeds(f,
		marshal(f, logsFixture()),
		reencode(marshal(f, logsFixture()), &logsRequestDesc, rand.New(rand.NewPCG(1, 1)), 3),
		fld(1, fld(2, fld(2, fld(5, fld(6, fld(1, kvb("a", anyStr("1"))))), fld(5, fld(6, fld(1, kvb("b", anyStr("2")))))))),
		nil,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b,
			func(d *Decoder, b []byte, r *recorder) error { return d.Logs(b, r) },
			func(b []byte) ([]string, bool) {
				var req collogspb.ExportLogsServiceRequest
				if proto.Unmarshal(b, &req) != nil {
					return nil, false
				}
				return refLogs(&req), true
			})
	})
}

// FuzzMetricsJSON checks that MetricsJSONToProto never panics, and either
// fails with ErrMalformed or returns a body the Decoder decodes.
func FuzzMetricsJSON(f *testing.F) {
	for _, m := range []proto.Message{metricsFixture()} {
		b, err := protojson.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"count":"3","bucketCounts":["1","2"],` +
		`"exemplars":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"unknown":1,"resource":{"attributes":[{"key":"k","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := MetricsJSONToProto(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		var d Decoder
		rec := &recorder{}
		if err := d.Metrics(out, rec); err != nil {
			t.Fatalf("converted body does not decode: %v", err)
		}
		var req colmetricspb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(out, &req); err != nil {
			t.Fatalf("converted body does not unmarshal: %v", err)
		}
		diffLines(t, rec.lines, refMetrics(&req))
	})
}
