package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/medic-bot/medic/bot/forge"
)

// Store is medic's durable state. Implementations are safe for concurrent
// use, including by several Store values (several medic replicas) opened on
// the same database. Errors wrap forge.ErrNotFound and forge.ErrConflict
// where forge.Records says so, name the repository and number they concern,
// and never contain the DSN's password.
type Store interface {
	forge.Records
	Incidents

	// FirstDelivery records the webhook delivery id (GitHub's
	// X-GitHub-Delivery header) received at at. It reports true only for
	// the first call with that id, across every Store on the database, so
	// a redelivered webhook is handled once.
	FirstDelivery(ctx context.Context, id string, at time.Time) (first bool, err error)
	// ForgetDeliveries deletes the deliveries received before before and
	// returns how many it deleted.
	ForgetDeliveries(ctx context.Context, before time.Time) (int, error)

	// SaveEvent stores a webhook delivery in the outbox unless one with
	// its DeliveryID is there already, and reports whether it stored it:
	// of several calls with one id, across every Store on the database, at
	// most one returns true, so it also drops redeliveries. A non-zero
	// ClaimedUntil saves the event leased to ClaimedBy; Attempts and
	// LastError are not read.
	SaveEvent(ctx context.Context, ev WebhookEvent) (saved bool, err error)
	// ClaimEvents leases to owner, until now+lease, at most max events
	// that are not finished and whose lease ended at or before now, oldest
	// first, and returns them. Concurrent calls, from any Store on the
	// database, never return the same event until its lease ends.
	ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]WebhookEvent, error)
	// RenewEvents extends to now+lease the lease of each of ids that owner
	// holds and that is not finished, and returns the ids it did not renew:
	// finished, released, unknown, or claimed by another owner since their
	// lease ended. A receiver calls it while it has the events queued or
	// in hand, so that a short lease survives a long wait or handling.
	RenewEvents(ctx context.Context, owner string, ids []string, now time.Time, lease time.Duration) (lost []string, err error)
	// FinishEvent records one attempt at handling event id, ended at now.
	// A nil handlerErr marks it done. Otherwise the lease is released so
	// that the event can be claimed again, unless handlerErr is permanent
	// (forge.IsPermanent) or this was attempt MaxEventAttempts: then the
	// event is given up, marked done with handlerErr's text. Finishing an
	// unknown or done event does nothing.
	FinishEvent(ctx context.Context, id string, now time.Time, handlerErr error) error
	// ForgetEvents deletes the events marked done before before and
	// returns how many it deleted; a forgotten delivery id can be saved
	// again. Pending events are kept.
	ForgetEvents(ctx context.Context, before time.Time) (int, error)
	// Close releases the database. Calls after the first return nil;
	// other methods must not be called after Close.
	Close() error
}

// WebhookEvent is a webhook delivery kept in the outbox.
type WebhookEvent = forge.WebhookEvent

// MaxEventAttempts is how many times a webhook event is handled before
// FinishEvent gives it up.
const MaxEventAttempts = 5

// Open opens the store named by dsn and applies any pending schema
// migrations:
//
//   - postgres://... or postgresql://...: PostgreSQL (pgx's URL form; set
//     search_path as a query parameter to use a schema other than public);
//   - sqlite:PATH, file:PATH[?query] or a plain PATH: SQLite, creating the
//     file when it does not exist. ":memory:" is a private in-memory
//     database held by a single connection: only the returned Store sees it.
func Open(ctx context.Context, dsn string) (Store, error) {
	return OpenConfig(ctx, dsn, DefaultConfig())
}

// OpenConfig is Open with limits other than DefaultConfig's.
func OpenConfig(ctx context.Context, dsn string, cfg Config) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	switch {
	case dsn == "":
		return nil, errors.New("open store: empty DSN")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn, cfg)
	case strings.HasPrefix(dsn, "sqlite:"), strings.HasPrefix(dsn, "file:"), !strings.Contains(dsn, "://"):
		return openSQLite(ctx, dsn, cfg)
	default:
		return nil, fmt.Errorf("open store %s: unsupported DSN scheme (want postgres://, postgresql://, sqlite:, file: or a path)", Redact(dsn))
	}
}

var kvPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)

// Redact returns dsn with its password, if any, replaced by "xxxxx": the
// form of a DSN to log or show.
func Redact(dsn string) string {
	i := strings.Index(dsn, "://")
	if i < 0 {
		return kvPassword.ReplaceAllString(dsn, "password=xxxxx")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Unparsable: hide whatever stands between the scheme and the
		// last @, where the user and password would be.
		if at := strings.LastIndex(dsn, "@"); at > i {
			dsn = dsn[:i+3] + "xxxxx" + dsn[at:]
		}
		return kvPassword.ReplaceAllString(dsn, "password=xxxxx")
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// dsnPasswords returns the forms in which dsn's password, if any, can
// appear in an error's text: as written and decoded.
func dsnPasswords(dsn string) []string {
	var pw []string
	add := func(s string) {
		if s != "" {
			pw = append(pw, s)
			if d, err := url.PathUnescape(s); err == nil && d != s {
				pw = append(pw, d)
			}
		}
	}
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.Trim(m[1], "'"))
	}
	return pw
}

// scrubbed is an error whose text had a secret removed, or that stands in
// for an error holding one (pgx's connection and parse errors hold the
// whole configuration). It answers errors.Is like the error it replaces
// but does not unwrap to it, so the secret cannot be reached through it.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }

func (s *scrubbed) Is(target error) bool { return errors.Is(s.err, target) }

// scrub returns err, or an opaque stand-in with each of secrets replaced
// by "xxxxx" in its text when err's text contains one, or when holds
// reports that err holds secrets in its values.
func scrub(err error, secrets []string, holds func(error) bool) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	if msg == err.Error() && (holds == nil || !holds(err)) {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}
