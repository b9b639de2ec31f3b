package githubtest

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"regexp"
	"testing"
)

func TestDelivery(t *testing.T) {
	body := Payload(t, "pull_request", "closed.payload.json")
	var p struct {
		Action      string `json:"action"`
		PullRequest struct {
			Merged *bool `json:"merged"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Action != "closed" {
		t.Fatalf("payload: %v %q", err, p.Action)
	}
	secret := []byte("s3cret")
	req := Delivery(t, "http://medic.invalid/webhooks/github", "pull_request", body, secret)
	if req.Method != "POST" || req.Header.Get("X-GitHub-Event") != "pull_request" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", req.Header)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(req.Header.Get("X-GitHub-Delivery")) {
		t.Errorf("delivery id %q", req.Header.Get("X-GitHub-Delivery"))
	}
	if !regexp.MustCompile(`^GitHub-Hookshot/`).MatchString(req.UserAgent()) {
		t.Errorf("user agent %q", req.UserAgent())
	}
	got, _ := io.ReadAll(req.Body)
	if !hmac.Equal([]byte(req.Header.Get("X-Hub-Signature-256")), []byte(Sign(secret, got))) {
		t.Error("signature does not match the body")
	}
	// GitHub's documented example: secret "It's a Secret to Everybody",
	// body "Hello, World!".
	if s := Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!")); s != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("Sign = %s", s)
	}
}
