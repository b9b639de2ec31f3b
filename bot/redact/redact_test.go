package redact_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/medic-bot/medic/bot/redact"
)

// Fake credentials, built at run time so that no scanner mistakes this
// file for a leak.
var (
	ghs    = "ghs_" + strings.Repeat("A1b2", 9)
	ghp    = "ghp_" + strings.Repeat("Zz09", 9)
	gho    = "gho_" + strings.Repeat("Qw3e", 9)
	ghu    = "ghu_" + strings.Repeat("Rt5y", 9)
	ghr    = "ghr_" + strings.Repeat("Ui7o", 9)
	pat    = "github_pat_" + strings.Repeat("11AB_cd", 12)
	v1     = "v1." + strings.Repeat("0123456789abcdef", 2) + "01234567"
	jwt    = "eyJhbGciOiJSUzI1NiJ9" + ".eyJpc3MiOiIxMjMiLCJleHAiOjE3MDAwMDAwMDB9" + ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU_-x"
	aws    = "AKIA" + "IOSFODNN7EXAMPLE"
	slack  = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	pem    = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\nc2VjcmV0LWtleQ==\n-----END RSA PRIVATE KEY-----"
	openai = "sk-" + "proj-" + strings.Repeat("aB3", 10)
	opaque = "f00dcafe" + "8badf00d1234567890ab"
)

func TestScrub(t *testing.T) {
	m := redact.Marker
	for _, c := range []struct{ name, in, want string }{
		{"installation token", "Bad credentials: " + ghs, "Bad credentials: " + m},
		{"personal token", "token " + ghp + " expired", "token " + m + " expired"},
		{"oauth, user, refresh", gho + "," + ghu + "," + ghr, m + "," + m + "," + m},
		{"fine-grained PAT", "pat=" + pat, "pat=" + m},
		{"old installation token", "x " + v1 + " y", "x " + m + " y"},
		{"JWT", "jwt " + jwt + ".", "jwt " + m + "."},
		{"AWS key id", "key " + aws, "key " + m},
		{"Slack token", "slack said " + slack, "slack said " + m},
		{"Slack webhook", "post https://hooks.slack.com/services/T000/B000/XXXXsecret failed", "post https://hooks.slack.com/services/" + m + " failed"},
		{"OpenAI key", "auth with " + openai, "auth with " + m},
		{"PEM key", "key:\n" + pem + "\nafter", "key:\n" + m + "\nafter"},
		{"PEM key cut off", "key " + pem[:60], "key " + m},
		{"PEM key in JSON", `{"key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`, `{"key":"` + m + `\n"}`},
		{"Authorization header", "Authorization: Bearer " + opaque, "Authorization: Bearer " + m},
		{"Authorization token scheme", "authorization: token abc", "authorization: token " + m},
		{"Authorization basic", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic " + m},
		{"Authorization in JSON", `{"Authorization":"Bearer xyz"}`, `{"Authorization":"Bearer ` + m + `"}`},
		{"Bearer outside a header", "sent Bearer " + opaque + " to api", "sent Bearer " + m + " to api"},
		{"token outside a header", "using token " + opaque, "using token " + m},
		{"URL password", "clone https://user:hunter2@git.example.com/a/b.git", "clone https://user:" + m + "@git.example.com/a/b.git"},
		{"URL x-access-token", "push https://x-access-token:" + opaque + "@github.com/a/b", "push https://x-access-token:" + m + "@github.com/a/b"},
		{"URL token as user", "fetch https://" + opaque + "@github.com/a/b", "fetch https://" + m + "@github.com/a/b"},
		{"x-access-token without scheme", "x-access-token:abc123@github.com", "x-access-token:" + m + "@github.com"},
		{"password pair", "DB_PASSWORD=letmein next", "DB_PASSWORD=" + m + " next"},
		{"client secret in a query", "?client_id=1&client_secret=s3cr3t&x=1", "?client_id=1&client_secret=" + m + "&x=1"},
		{"YAML api key", "apiKey: abcdef", "apiKey: " + m},
		{"JSON password", `{"password":"p4ss"}`, `{"password":"` + m + `"}`},
		{"access token pair", "access_token=" + opaque, "access_token=" + m},
		{"AWS signature", "X-Amz-Signature=" + opaque + "&", "X-Amz-Signature=" + m + "&"},

		// No false positives on ordinary text.
		{"commit id", "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 on main", ""},
		{"image digest", "image ghcr.io/acme/app@sha256:" + strings.Repeat("ab12", 16), ""},
		{"image URL with digest", "https://ghcr.io/acme/app@sha256:" + strings.Repeat("ab12", 16), ""},
		{"quantities", "memory limit 512Mi -> 4Gi is 8x, cpu 250m, 1.5e3 rps", ""},
		{"words about tokens", "the token expired; bearer authentication failed; token: invalid", ""},
		{"ssh user", "ssh://git@github.com/acme/infra.git and git@github.com:acme/infra", ""},
		{"kubernetes names", "secretName: db-creds, secretKeyRef: {name: x, key: password}, max_tokens=4000", ""},
		{"host names", "api.github.com/repos/acme/infra eyJ", ""},
		{"uuid", "request 123e4567-e89b-12d3-a456-426614174000", ""},
		{"already redacted", "password: " + m + " token " + m, ""},
		{"email", "mail sre@example.com", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == "" {
				want = c.in
			}
			if got := redact.Scrub(c.in); got != want {
				t.Errorf("Scrub(%q)\n got %q\nwant %q", c.in, got, want)
			}
		})
	}
}

var errSentinel = errors.New("sentinel")

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d, token %s", e.code, ghs) }

func TestError(t *testing.T) {
	if redact.Error(nil) != nil {
		t.Error("nil is not nil")
	}
	inner := fmt.Errorf("push: %w: %w", errSentinel, &codeError{401})
	err := redact.Error(inner)
	if strings.Contains(err.Error(), ghs) || !strings.Contains(err.Error(), redact.Marker) {
		t.Errorf("message not scrubbed: %v", err)
	}
	if !errors.Is(err, errSentinel) {
		t.Error("errors.Is lost the sentinel")
	}
	var ce *codeError
	if !errors.As(err, &ce) || ce.code != 401 {
		t.Error("errors.As lost the typed error")
	}
	// Wrapping again keeps it scrubbed, as does wrapping it further.
	if again := redact.Error(err); again != err {
		t.Error("a scrubbed error was wrapped twice")
	}
	if outer := fmt.Errorf("handle event: %w", err); strings.Contains(outer.Error(), ghs) {
		t.Errorf("wrapping exposes the token: %v", outer)
	}
	// A clean error is returned as it is.
	if clean := fs.ErrNotExist; redact.Error(clean) != clean {
		t.Error("a clean error was wrapped")
	}
}

// BenchmarkScrub measures a 1 MiB log with a few secrets in it.
func BenchmarkScrub(b *testing.B) {
	line := "2026-11-25T10:30:00Z level=error msg=\"upstream failed\" status=503 bytes=5123 path=/api/v1/orders image=ghcr.io/acme/app@sha256:ab12\n"
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString(line)
	}
	sb.WriteString("Authorization: Bearer " + opaque + "\n" + ghs + "\n")
	s := sb.String()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		redact.Scrub(s)
	}
}
