package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"testing"
)

// webhooks holds octokit/webhooks' example deliveries (MIT,
// testdata/webhooks/LICENSE). They are fixtures, not truth: some fail
// GitHub's own x-webhooks schemas (see the package documentation).
//
//go:embed testdata/webhooks
var webhooks embed.FS

// Payload returns the example webhook payload testdata/webhooks/<event>/<file>
// (for instance Payload(t, "pull_request", "closed.payload.json")),
// failing the test when there is none.
func Payload(t testing.TB, event, file string) []byte {
	t.Helper()
	b, err := webhooks.ReadFile(path.Join("testdata/webhooks", event, file))
	if err != nil {
		entries, _ := webhooks.ReadDir(path.Join("testdata/webhooks", event))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("githubtest: no webhook example %s/%s (have %v)", event, file, names)
	}
	return b
}

// Sign is the X-Hub-Signature-256 value GitHub sends for body with the
// webhook secret: "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Delivery builds a webhook delivery of event to url as GitHub sends it:
// POST, Content-Type application/json, User-Agent GitHub-Hookshot/…,
// X-GitHub-Event, a fresh X-GitHub-Delivery uuid, X-GitHub-Hook-ID and,
// when secret is not empty, X-Hub-Signature-256.
func Delivery(t testing.TB, url, event string, body, secret []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("githubtest: delivery request: %v", err)
	}
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		t.Fatalf("githubtest: delivery id: %v", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/8f1b2c3")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:]))
	req.Header.Set("X-GitHub-Hook-ID", "424242")
	req.Header.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	req.Header.Set("X-GitHub-Hook-Installation-Target-ID", "4242")
	if len(secret) > 0 {
		req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
	}
	return req
}
