package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func inputSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(InputSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("input.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("input.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestInputSchema validates the golden input (built from a real Change)
// against input.schema.json, and checks that the schema rejects what
// ParseInput rejects.
func TestInputSchema(t *testing.T) {
	s := inputSchema(t)
	golden, err := os.ReadFile(filepath.Join("testdata", "input.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"golden input", string(golden), true},
		{"unknown top-level key", strings.Replace(string(golden), `"now":`, `"bogus": 1, "now":`, 1), false},
		{"now is not a date-time", strings.Replace(string(golden), `"2026-11-25T12:00:00Z"`, `"noon"`, 1), false},
		{"unknown intent kind", strings.Replace(string(golden), `"kind": "set_resources"`, `"kind": "delete_everything"`, 1), false},
		{"repo without environment", strings.Replace(string(golden), `"environment": "staging"`, `"env": "staging"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(inst)
			if (err == nil) != tt.valid {
				t.Errorf("schema validation: %v, want valid=%v", err, tt.valid)
			}
		})
	}
}
