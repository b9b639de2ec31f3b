package detect

import (
	"runtime"
	"strings"
	"testing"
)

// TestJSONDecodeCostBoundsAllocation converts the shapes that expand most
// (empty messages in every repeated field, long strings, number arrays)
// and checks that what the conversion allocates stays within
// JSONDecodeCost, the figure the receiver budgets before converting.
func TestJSONDecodeCostBoundsAllocation(t *testing.T) {
	const n = 5000
	rep := func(s string) string { return strings.TrimSuffix(strings.Repeat(s+",", n), ",") }
	metric := func(m string) string {
		return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[` + m + `]}]}]}`
	}
	span := func(s string) string { return `{"resourceSpans":[{"scopeSpans":[{"spans":[` + s + `]}]}]}` }
	logRec := func(l string) string { return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[` + l + `]}]}]}` }
	long := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		conv func([]byte) ([]byte, error)
		body string
	}{
		{"resources", MetricsJSONToProto, `{"resourceMetrics":[` + rep("{}") + `]}`},
		{"metrics", MetricsJSONToProto, metric(rep("{}"))},
		{"gauge points", MetricsJSONToProto, metric(`{"gauge":{"dataPoints":[` + rep("{}") + `]}}`)},
		{"histogram points", MetricsJSONToProto, metric(`{"histogram":{"dataPoints":[` + rep("{}") + `]}}`)},
		{"exp histogram points", MetricsJSONToProto, metric(`{"exponentialHistogram":{"dataPoints":[` + rep(`{"positive":{}}`) + `]}}`)},
		{"bucket counts", MetricsJSONToProto, metric(`{"histogram":{"dataPoints":[{"bucketCounts":[` + rep("1") + `]}]}}`)},
		{"bounds", MetricsJSONToProto, metric(`{"histogram":{"dataPoints":[{"explicitBounds":[` + rep("1") + `]}]}}`)},
		{"exemplars", MetricsJSONToProto, metric(`{"gauge":{"dataPoints":[{"exemplars":[` + rep("{}") + `]}]}}`)},
		{"quantiles", MetricsJSONToProto, metric(`{"summary":{"dataPoints":[{"quantileValues":[` + rep("{}") + `]}]}}`)},
		{"attributes", MetricsJSONToProto, metric(`{"gauge":{"dataPoints":[{"attributes":[` + rep(`{"value":{}}`) + `]}]}}`)},
		{"array values", MetricsJSONToProto, metric(`{"gauge":{"dataPoints":[{"attributes":[{"key":"a","value":{"arrayValue":{"values":[` + rep("{}") + `]}}}]}]}}`)},
		{"spans", TracesJSONToProto, span(rep("{}"))},
		{"span events", TracesJSONToProto, span(`{"events":[` + rep("{}") + `]}`)},
		{"span links", TracesJSONToProto, span(`{"links":[` + rep("{}") + `]}`)},
		{"log records", LogsJSONToProto, logRec(rep("{}"))},
		{"log bodies", LogsJSONToProto, logRec(rep(`{"body":{}}`))},
		{"long string", LogsJSONToProto, logRec(`{"body":{"stringValue":"` + long + `"}}`)},
		{"long key", LogsJSONToProto, logRec(`{"attributes":[{"key":"` + long + `"}]}`)},
		{"escapes", LogsJSONToProto, logRec(`{"body":{"stringValue":"` + strings.Repeat(`\u00e9`, 1<<18) + `"}}`)},
		{"bytes", LogsJSONToProto, logRec(`{"body":{"bytesValue":"` + strings.Repeat("QUJD", 1<<18) + `"}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.body)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := tc.conv(b); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			if cost := JSONDecodeCost(b); alloc > cost {
				t.Errorf("%d bytes of JSON allocated %d bytes converting, over the estimate %d", len(b), alloc, cost)
			}
		})
	}
}

func TestJSONDecodeCostCounts(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int64
	}{
		{`{}`, jsonCostPerObject + 2*jsonCostPerByte},
		{`[]`, 2 * jsonCostPerByte},
		{`[1]`, jsonCostPerElement + 3*jsonCostPerByte},
		{`[1, 2,3]`, 3*jsonCostPerElement + 8*jsonCostPerByte},
		{`{"a":1,"b":[{},{}]}`, 3*jsonCostPerObject + 2*jsonCostPerElement + 19*jsonCostPerByte},
		// Brackets and commas inside strings are text.
		{`["[{,}]", "\"{"]`, 2*jsonCostPerElement + 16*jsonCostPerByte},
	} {
		if got := JSONDecodeCost([]byte(tc.body)); got != tc.want {
			t.Errorf("JSONDecodeCost(%s) = %d, want %d", tc.body, got, tc.want)
		}
	}
}
