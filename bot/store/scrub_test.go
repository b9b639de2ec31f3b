package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medic-bot/medic/bot/redact"
)

func TestScrubJSON(t *testing.T) {
	const tok = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	for _, c := range []struct {
		name, in, want string
	}{
		{"nothing to scrub keeps the bytes", `{ "b": 1,  "a": [true, null, 1.50] }`, `{ "b": 1,  "a": [true, null, 1.50] }`},
		{"a token in a string", `{"msg":"push with ` + tok + ` failed"}`, `{"msg":"push with [redacted] failed"}`},
		{"a member named like a secret", `{"password":"hunter2-x","user":"medic"}`, `{"password":"[redacted]","user":"medic"}`},
		{"nested in arrays", `[[{"api_key":"abc123def456"}]]`, `[[{"api_key":"[redacted]"}]]`},
		{"a key=value inside a string", `{"env":"DB_PASSWORD=s3cr3t-value other=1"}`, `{"env":"DB_PASSWORD=[redacted] other=1"}`},
		{"a string alone", `"Authorization: Bearer abcdefghijklmnop0123"`, `"Authorization: Bearer [redacted]"`},
		{"numbers stay exact when re-encoded", `{"n":12345678901234567890,"f":1e-7,"t":"token ` + tok + `"}`, `{"f":1e-7,"n":12345678901234567890,"t":"token [redacted]"}`},
		{"an escaped quote next to a secret", `{"m":"password=ab\"cd"}`, `{"m":"password=[redacted]\"cd"}`},
		{"empty", ``, ``},
	} {
		got, err := scrubJSON("doc", json.RawMessage(c.in), 1<<20)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if len(got) > 0 && !json.Valid(got) {
			t.Errorf("%s: scrubbed document is not JSON: %s", c.name, got)
		}
	}
	for _, c := range []struct{ name, in, want string }{
		{"not JSON", `{"a":`, "doc is not JSON"},
		{"two values", `1 2`, "not one JSON value"},
		{"over the limit", `"` + strings.Repeat("x", 100) + `"`, "doc is 102 bytes, over max_document_bytes 64"},
		{"far over the limit", strings.Repeat(" ", 1000) + `1`, "over max_document_bytes 64"},
	} {
		if _, err := scrubJSON("doc", json.RawMessage(c.in), 64); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCleanCause(t *testing.T) {
	if got := cleanCause("short", 64); got != "short" {
		t.Errorf("cleanCause(short) = %q", got)
	}
	if got := cleanCause("bad \xff byte and token ghp_16C7e42F292c6912E7710c838347Ae178B4a", 200); got != "bad \uFFFD byte and token "+redact.Marker {
		t.Errorf("cleanCause = %q, want valid UTF-8 and the token redacted", got)
	}
	long := strings.Repeat("€", 100) // 3 bytes each
	got := cleanCause(long, 64)
	if len(got) > 64 || !strings.HasSuffix(got, truncatedMark) || !strings.HasPrefix(got, "€€") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("cleanCause(300 bytes, 64) = %q (%d bytes)", got, len(got))
	}
	// A credential cut in two by the limit is scrubbed first.
	secret := strings.Repeat("x", 40) + " password=" + strings.Repeat("s", 60)
	if got := cleanCause(secret, 64); strings.Contains(got, "sss") {
		t.Errorf("cleanCause kept part of a password: %q", got)
	}
}

func TestRecordRepo(t *testing.T) {
	for _, c := range []struct {
		repo, doc, want, err string
	}{
		{repo: "acme/infra", doc: `{"id":"i"}`, want: "acme/infra"},
		{doc: `{"id":"i","repo":"acme/apps"}`, want: "acme/apps"},
		{repo: "Acme/Apps", doc: `{"id":"i","repo":"acme/apps"}`, want: "Acme/Apps"},
		{doc: `{"id":"i"}`, want: ""},
		{repo: "acme/infra", doc: `{"id":"i","repo":"acme/apps"}`, err: `record repository "acme/infra" is not the incident's "acme/apps"`},
	} {
		got, err := recordRepo(c.repo, []byte(c.doc))
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("recordRepo(%q, %s) err = %v, want %q", c.repo, c.doc, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("recordRepo(%q, %s) = %q, %v; want %q", c.repo, c.doc, got, err, c.want)
		}
	}
}
