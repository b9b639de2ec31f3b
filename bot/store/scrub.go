package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/medic-bot/medic/bot/redact"
)

// scrubJSON returns doc with every credential bot/redact finds replaced
// by redact.Marker, and checks its size against max; name says which
// document an error is about. Every string is scrubbed, and each object
// member with a string value also as the text name=value, so that
// {"password": "..."} loses its value as password=... would. A document
// with nothing to scrub is returned byte for byte; one with something is
// re-encoded. An empty doc stays empty; one that is not JSON is refused.
func scrubJSON(name string, doc json.RawMessage, max int) (json.RawMessage, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	if len(doc) > max*4 {
		// Far too large even if scrubbing shrank it: refuse before
		// decoding it.
		return nil, fmt.Errorf("%s is %d bytes, over max_document_bytes %d", name, len(doc), max)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s is not one JSON value", name)
	}
	if v, changed := scrubValue(v); changed {
		out, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode scrubbed %s: %w", name, err)
		}
		doc = out
	}
	if len(doc) > max {
		return nil, fmt.Errorf("%s is %d bytes, over max_document_bytes %d", name, len(doc), max)
	}
	return doc, nil
}

// scrubValue scrubs the strings of a decoded JSON value and reports
// whether any changed.
func scrubValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s := redact.Scrub(x)
		return s, s != x
	case []any:
		changed := false
		for i, e := range x {
			var c bool
			x[i], c = scrubValue(e)
			changed = changed || c
		}
		return x, changed
	case map[string]any:
		out := make(map[string]any, len(x))
		changed := false
		for k, e := range x {
			nk := redact.Scrub(k)
			var c bool
			if s, ok := e.(string); ok {
				e, c = scrubMember(k, s)
			} else {
				e, c = scrubValue(e)
			}
			out[nk] = e
			changed = changed || c || nk != k
		}
		return out, changed
	}
	return v, false
}

// scrubMember scrubs the string value s of member k, read alone and as
// k=s.
func scrubMember(k, s string) (string, bool) {
	pair := k + "=" + s
	clean := redact.Scrub(pair)
	if clean == pair {
		return s, false
	}
	if v, ok := strings.CutPrefix(clean, k+"="); ok {
		return v, true
	}
	// The name itself held a credential: keep what scrubbing s alone
	// leaves, or nothing of it.
	if v := redact.Scrub(s); v != s {
		return v, true
	}
	return redact.Marker, true
}

// truncatedMark ends a cause cut at Config.MaxCauseBytes.
const truncatedMark = "… [truncated]"

// cleanCause scrubs cause and cuts it to max bytes on a character
// boundary.
func cleanCause(cause string, max int) string {
	cause = redact.Scrub(strings.ToValidUTF8(cause, "\uFFFD"))
	if len(cause) <= max {
		return cause
	}
	cut := max - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(cause[cut]) {
		cut--
	}
	return cause[:cut] + truncatedMark
}
