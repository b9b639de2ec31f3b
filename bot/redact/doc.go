// Package redact removes credentials from text that came from outside
// medic before it is logged, stored or shown: error messages of GitHub, git
// servers and other remotes, log lines from telemetry, and whatever an LLM
// wrote.
//
// Scrub replaces every substring shaped like a credential (GitHub and other
// vendors' tokens, JWTs, PEM private keys, Authorization and Bearer values,
// passwords in URLs and key=value pairs) with [redacted]. Error wraps an
// error so that its message is scrubbed while errors.Is and errors.As still
// see the original chain.
//
// It imports only the standard library, so every bot package may use it
// (detect, patchers and policy never import bot).
package redact
