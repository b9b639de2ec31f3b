package github

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
)

// TestHandlerErrorScrubs: what the outbox stores and the log prints of a
// handler's error carries no token, and a permanent error stays permanent.
func TestHandlerErrorScrubs(t *testing.T) {
	const token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	err := handlerError(fmt.Errorf("push: %w", forge.Permanent(fmt.Errorf("remote said: bad credentials x-access-token:%s@github.com", token))))
	if strings.Contains(err.Error(), token) {
		t.Fatalf("token in %q", err)
	}
	if !forge.IsPermanent(err) {
		t.Errorf("%v lost its permanence", err)
	}
	if handlerError(nil) != nil {
		t.Error("nil became an error")
	}
	if !errors.Is(handlerError(errTest), errTest) {
		t.Error("errors.Is no longer sees the cause")
	}
}

var errTest = errors.New("test")
