package github

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/redact"
)

// classify turns a go-github error into one medic can act on: permanent
// for what retrying cannot fix (no permission, no such thing, a rejected
// request), forge.ErrNotFound for 404, and rate limits as retryable errors
// naming when to try again. what is a short verb phrase ("create pull
// request"). The result never carries request headers or tokens.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return fmt.Errorf("%s: GitHub rate limit exhausted until %s", what, rl.Rate.Reset.UTC().Format("15:04:05Z"))
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		return fmt.Errorf("%s: GitHub secondary rate limit: %s", what, redact.Scrub(abuse.Message))
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := errorMessage(er)
		switch code := er.Response.StatusCode; {
		case code == http.StatusNotFound:
			return forge.Permanent(fmt.Errorf("%s: %w: GitHub says %s (is the App installed on this repository with the permissions it needs?)", what, forge.ErrNotFound, msg))
		case code == http.StatusUnauthorized:
			return forge.Permanent(fmt.Errorf("%s: GitHub refused the App's credentials (401): %s", what, msg))
		case code == http.StatusForbidden:
			return forge.Permanent(fmt.Errorf("%s: the App lacks a permission (403): %s", what, msg))
		case code == http.StatusUnprocessableEntity:
			return forge.Permanent(fmt.Errorf("%s: GitHub rejected the request (422): %s", what, msg))
		case code == http.StatusConflict:
			return forge.Permanent(fmt.Errorf("%s: %w (409): %s", what, forge.ErrConflict, msg))
		case code >= 500:
			return fmt.Errorf("%s: GitHub failed (%d): %s", what, code, msg)
		default:
			return fmt.Errorf("%s: GitHub answered %d: %s", what, code, msg)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// errorMessage is GitHub's message plus its validation errors, without the
// request URL's query (which may carry filters) or any header, scrubbed of
// credentials.
func errorMessage(er *gh.ErrorResponse) string {
	parts := []string{er.Message}
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Code != "":
			parts = append(parts, fmt.Sprintf("%s %s %s", e.Resource, e.Field, e.Code))
		}
	}
	return redact.Scrub(strings.Join(parts, "; "))
}

// statusOf returns the HTTP status of a go-github error, or 0.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
