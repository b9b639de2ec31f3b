package githubtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi-subset.json from testdata/api.github.com.json.gz")

// medicOperations are the REST operations medic's GitHub forge calls, as
// "METHOD path" in GitHub's OpenAPI description.
var medicOperations = []string{
	"POST /app/installations/{installation_id}/access_tokens",
	"GET /repos/{owner}/{repo}/installation",
	"GET /repos/{owner}/{repo}",
	"GET /repos/{owner}/{repo}/contents/{path}",
	"GET /repos/{owner}/{repo}/pulls",
	"POST /repos/{owner}/{repo}/pulls",
	"GET /repos/{owner}/{repo}/pulls/{pull_number}",
	"PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
	"PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
	"POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
	"POST /repos/{owner}/{repo}/issues",
	"GET /repos/{owner}/{repo}/issues",
	"POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
	"POST /repos/{owner}/{repo}/check-runs",
	"PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
	"GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
	"GET /repos/{owner}/{repo}/commits/{ref}/status",
	"GET /repos/{owner}/{repo}/collaborators/{username}/permission",
	"DELETE /repos/{owner}/{repo}/git/refs/{ref}",
}

// deriveSubset keeps, from GitHub's full description, only the given
// operations and every component they reference, directly or through
// other components. The output is indented JSON with sorted keys, so the
// same input always gives the same bytes.
func deriveSubset(full []byte, ops []string) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(full))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode description: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	components, _ := doc["components"].(map[string]any)
	outPaths := map[string]any{}
	for _, op := range ops {
		method, path, ok := strings.Cut(op, " ")
		if !ok {
			return nil, fmt.Errorf("operation %q is not \"METHOD path\"", op)
		}
		item, _ := paths[path].(map[string]any)
		o, found := item[strings.ToLower(method)]
		if !found {
			return nil, fmt.Errorf("operation %q is not in the description", op)
		}
		out, _ := outPaths[path].(map[string]any)
		if out == nil {
			out = map[string]any{}
			// Path-level fields (parameters, summary) apply to every method.
			for k, v := range item {
				if !isHTTPMethod(k) {
					out[k] = v
				}
			}
			outPaths[path] = out
		}
		out[strings.ToLower(method)] = o
	}
	// Follow $refs to a fixed point.
	keep := map[string]map[string]any{}
	var pending []string
	collectRefs(outPaths, &pending)
	for len(pending) > 0 {
		ref := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		if !strings.HasPrefix(ref, "#/components/") || len(parts) != 2 {
			return nil, fmt.Errorf("unsupported $ref %q", ref)
		}
		section, name := parts[0], parts[1]
		if keep[section] != nil && keep[section][name] != nil {
			continue
		}
		sec, _ := components[section].(map[string]any)
		v, found := sec[name]
		if !found {
			return nil, fmt.Errorf("dangling $ref %q", ref)
		}
		if keep[section] == nil {
			keep[section] = map[string]any{}
		}
		keep[section][name] = v
		collectRefs(v, &pending)
	}
	outComponents := map[string]any{}
	for section, m := range keep {
		outComponents[section] = m
	}
	subset := map[string]any{
		"openapi":    doc["openapi"],
		"info":       doc["info"],
		"servers":    doc["servers"],
		"paths":      outPaths,
		"components": outComponents,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(subset); err != nil {
		return nil, fmt.Errorf("encode subset: %w", err)
	}
	return buf.Bytes(), nil
}

func isHTTPMethod(k string) bool {
	switch k {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

// collectRefs appends every "$ref" string found anywhere in v, in a
// deterministic order.
func collectRefs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := v[k].(string); ok && k == "$ref" {
				*out = append(*out, s)
				continue
			}
			collectRefs(v[k], out)
		}
	case []any:
		for _, e := range v {
			collectRefs(e, out)
		}
	}
}

func TestSubsetUpToDate(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "api.github.com.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	full, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := deriveSubset(full, medicOperations)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "openapi-subset.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSubsetUpToDate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with api.github.com.json.gz or the operation list; run go test -run TestSubsetUpToDate -update", golden)
	}
	if !bytes.Equal(want, embeddedSubset) {
		t.Errorf("the embedded subset differs from %s", golden)
	}
}
