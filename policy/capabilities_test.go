package policy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// sink is a loopback HTTP server, on TCP and on a unix socket, counting
// the requests it receives: a policy must never reach it.
type sink struct {
	url, socket string
	hits        atomic.Int64
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		fmt.Fprint(w, `{"ok": true}`)
	})
	tcp := httptest.NewServer(h)
	t.Cleanup(tcp.Close)
	s.url = tcp.URL
	dir, err := os.MkdirTemp("", "pol")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.socket = filepath.Join(dir, "s") // short: a socket path has ~100 bytes
	l, err := net.Listen("unix", s.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func TestRefusedBuiltins(t *testing.T) {
	s := newSink(t)
	const secret = "s3cr3t-from-medic-env"
	t.Setenv("MEDIC_POLICY_TEST_SECRET", secret)
	schema := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(schema, []byte(`{"type": "object", "required": ["`+secret+`"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body, builtin string
	}{
		{"http.send over TCP", fmt.Sprintf(`r := http.send({"method": "get", "url": %q})
	r.status_code == 200`, s.url), "http.send"},
		{"http.send to a unix socket", fmt.Sprintf(`r := http.send({"method": "get", "url": %q})
	r.status_code == 200`, "unix://localhost/x?socket="+s.socket), "http.send"},
		{"http.send with TLS files of the host", fmt.Sprintf(`r := http.send({"method": "get", "url": %q, "tls_ca_cert_file": %q})
	r.status_code == 200`, s.url, schema), "http.send"},
		{"net.lookup_ip_addr", `"127.0.0.1" in net.lookup_ip_addr("localhost")`, "net.lookup_ip_addr"},
		{"a pure net.* builtin", `net.cidr_contains("127.0.0.0/8", "127.0.0.1")`, "net.cidr_contains"},
		{"opa.runtime", `r := opa.runtime(); r.env.MEDIC_POLICY_TEST_SECRET != ""`, "opa.runtime"},
		{"json.match_schema with a file $ref", fmt.Sprintf(`[ok, _] := json.match_schema(input, {"$ref": %q})
	ok`, "file://"+schema), "json.match_schema"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.hits.Store(0)
			src := "package medic\n\nautomerge if {\n\t" + tt.body + "\n}\n"
			fsys := fstest.MapFS{".medic/policy/p.rego": {Data: []byte(src)}}
			g, cerr := NewRepoGate(ctx, fsys, ".medic/policy", Options{Timeout: time.Minute})
			d, err := g.Decide(ctx, memInput("staging", "512Mi", "768Mi"))
			if err != nil {
				t.Fatal(err)
			}
			if n := s.hits.Load(); n != 0 {
				t.Fatalf("the loopback listener received %d requests from a policy", n)
			}
			want := ".medic/policy/p.rego:4: rego_type_error: " + tt.builtin + " is not allowed in medic policies: "
			if cerr == nil || !strings.Contains(cerr.Error(), want) {
				t.Fatalf("error %v, want one containing %q", cerr, want)
			}
			if d.Allow || d.Automerge || len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], want) {
				t.Errorf("decision %+v, want closed naming %s", d, tt.builtin)
			}
			if strings.Contains(fmt.Sprint(d), secret) {
				t.Errorf("decision %+v exposes medic's environment", d)
			}
			// The same module as a Rego unit test, as `medic policy test` runs it.
			test := "package medic_test\n\ntest_it if {\n\t" + tt.body + "\n}\n"
			b, lerr := LoadDir(fstest.MapFS{"p.rego": {Data: []byte(src)}, "p_test.rego": {Data: []byte(test)}}, ".")
			if lerr != nil {
				t.Fatal(lerr)
			}
			if _, err := RunTests(ctx, b); err == nil || !strings.Contains(err.Error(), "p_test.rego:4: rego_type_error: "+tt.builtin+" is not allowed") {
				t.Errorf("policy tests: error %v, want one naming p_test.rego:4 and %s", err, tt.builtin)
			}
			if n := s.hits.Load(); n != 0 {
				t.Fatalf("the loopback listener received %d requests from a policy", n)
			}
		})
	}
}

func TestSchemaAnnotationsRefused(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(schema, []byte(`{"type": "object", "properties": {"x": {"type": "number"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("package medic\n\n# METADATA\n# schemas:\n#   - input: {\"$ref\": %q}\nautomerge if input.x\n", "file://"+schema)
	m, err := ast.ParseModuleWithOpts("own/p.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		t.Fatal(err)
	}
	b := Bundle{Modules: map[string]*ast.Module{"own/p.rego": m}}
	want := "own/p.rego:3: rego_compile_error: METADATA schemas are not allowed in medic policies"
	if _, err := NewGate(context.Background(), b, Options{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("gate: error %v, want one containing %q", err, want)
	}
	if _, err := RunTests(context.Background(), b); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("tests: error %v, want one containing %q", err, want)
	}
}

func TestCapabilities(t *testing.T) {
	refused := RefusedBuiltins()
	for _, name := range []string{"http.send", "net.lookup_ip_addr", "net.cidr_expand", "opa.runtime",
		"json.match_schema", "json.verify_schema", "crypto.x509.parse_and_verify_certificates_with_options"} {
		if refused[name] == "" {
			t.Errorf("%s is not refused", name)
		}
	}
	c := Capabilities()
	if c.AllowNet == nil || len(c.AllowNet) != 0 {
		t.Errorf("allow_net %v, want empty (no host)", c.AllowNet)
	}
	var names []string
	for _, b := range c.Builtins {
		names = append(names, b.Name)
		if why := refused[b.Name]; why != "" {
			t.Errorf("%s is allowed and refused (%s)", b.Name, why)
		}
		if b.IsNondeterministic() && allowedNondeterministic[b.Name] == "" {
			t.Errorf("nondeterministic %s is allowed without a reason", b.Name)
		}
	}
	for _, name := range []string{"time.now_ns", "sprintf", "units.parse", "regex.find_all_string_submatch_n", "internal.print"} {
		if !slices.Contains(names, name) {
			t.Errorf("%s is not allowed", name)
		}
	}
	// What a newer OPA might add: refused unless allow-listed.
	for _, tt := range []struct {
		b       ast.Builtin
		refused bool
	}{
		{ast.Builtin{Name: "io.fetch", Nondeterministic: true}, true},
		{ast.Builtin{Name: "net.lookup_mx"}, true},
		{ast.Builtin{Name: "strings.title"}, false},
		{ast.Builtin{Name: "time.now_ns", Nondeterministic: true}, false},
	} {
		if got := refusal(&tt.b) != ""; got != tt.refused {
			t.Errorf("%s refused = %v, want %v", tt.b.Name, got, tt.refused)
		}
	}
}

// TestDefaultBundleUnderCapabilities compiles the default bundle and its
// Rego tests with exactly the restricted set.
func TestDefaultBundleUnderCapabilities(t *testing.T) {
	b := Default()
	mods := map[string]*ast.Module{}
	for k, m := range b.Modules {
		mods[k] = m
	}
	for k, m := range b.Tests {
		mods[k] = m
	}
	c := ast.NewCompiler().WithCapabilities(Capabilities())
	if c.Compile(mods); c.Failed() {
		t.Fatalf("default bundle does not compile under the restricted capabilities: %v", c.Errors)
	}
}
