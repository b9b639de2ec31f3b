package store

import (
	"errors"
	"fmt"
)

// Config bounds what one call may store with an incident. Open uses
// DefaultConfig; OpenConfig takes another.
type Config struct {
	// MaxDocumentBytes caps each JSON document stored with an incident
	// (the incident itself, a step's result, a proposal, its decision,
	// change and pull request), measured after credentials are scrubbed.
	// A larger one is refused with an error naming the document, its size
	// and this limit.
	MaxDocumentBytes int `yaml:"max_document_bytes"`
	// MaxCauseBytes caps a transition's cause: a longer cause (an error's
	// text from a remote, say) is cut on a character boundary and ends
	// with "… [truncated]", so that recording a transition never fails
	// on its cause.
	MaxCauseBytes int `yaml:"max_cause_bytes"`
}

// Defaults and bounds of Config.
const (
	DefaultMaxDocumentBytes = 1 << 20 // 1 MiB
	DefaultMaxCauseBytes    = 4 << 10 // 4 KiB
	maxDocumentBytesLimit   = 64 << 20
	minCauseBytes           = 64
	maxCauseBytesLimit      = 1 << 20
)

// DefaultConfig returns the limits Open uses.
func DefaultConfig() Config {
	return Config{MaxDocumentBytes: DefaultMaxDocumentBytes, MaxCauseBytes: DefaultMaxCauseBytes}
}

// Validate reports every limit out of its range.
func (c Config) Validate() error {
	var errs []error
	if c.MaxDocumentBytes < 1 || c.MaxDocumentBytes > maxDocumentBytesLimit {
		errs = append(errs, fmt.Errorf("store: max_document_bytes %d must be between 1 and %d", c.MaxDocumentBytes, maxDocumentBytesLimit))
	}
	if c.MaxCauseBytes < minCauseBytes || c.MaxCauseBytes > maxCauseBytesLimit {
		errs = append(errs, fmt.Errorf("store: max_cause_bytes %d must be between %d and %d", c.MaxCauseBytes, minCauseBytes, maxCauseBytesLimit))
	}
	return errors.Join(errs...)
}
