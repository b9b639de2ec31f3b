package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ParseInput decodes an input document strictly (unknown fields are
// errors) and checks what a decision needs: a valid intent, the repo's
// environment and the time. Every problem is reported at once.
func ParseInput(b []byte) (Input, error) {
	var in Input
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Input{}, fmt.Errorf("parse policy input: %w", err)
	}
	if dec.More() {
		return Input{}, errors.New("parse policy input: trailing data after the JSON object")
	}
	var errs []error
	if err := in.Proposal.Intent.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("proposal.intent: %w", err))
	}
	if in.Proposal.Source == "" {
		errs = append(errs, errors.New("proposal.source is missing"))
	}
	if in.Proposal.Confidence < 0 || in.Proposal.Confidence > 1 {
		errs = append(errs, errors.New("proposal.confidence must be from 0 to 1"))
	}
	if in.Repo.Owner == "" || in.Repo.Name == "" {
		errs = append(errs, errors.New("repo.owner and repo.name are required"))
	}
	if in.Now.IsZero() {
		errs = append(errs, errors.New("now is missing (RFC 3339)"))
	}
	if err := errors.Join(errs...); err != nil {
		return Input{}, fmt.Errorf("invalid policy input: %w", err)
	}
	return in, nil
}
