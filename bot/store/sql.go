package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medic-bot/medic/bot/forge"
)

// dialect is what differs between the SQL backends.
type dialect struct {
	name string
	// rebind turns the ? placeholders medic's statements use into the
	// backend's.
	rebind func(query string) string
	// violated names the constraint err violates: conflictNumber,
	// conflictIncident (unique), conflictMissing (a foreign key), or ""
	// when err is no such violation.
	violated func(err error) conflict
	// lockMigrations serializes migrations across processes; it runs
	// first in the migration transaction.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
	// skipLocked ends the SELECT that picks the events to claim: "FOR
	// UPDATE SKIP LOCKED" where concurrent writers exist (PostgreSQL), ""
	// where the write transaction is exclusive (SQLite).
	skipLocked string
	// secrets are strings to remove from error text (the DSN's password).
	secrets []string
	// holdsSecrets reports errors to hide behind an opaque one because
	// their values hold secrets.
	holdsSecrets func(error) bool
}

// conflict is the kind of constraint a write violated.
type conflict string

const (
	conflictNumber   conflict = "number"   // its primary key: repo and number
	conflictIncident conflict = "incident" // pull_requests_open_incident
	conflictMissing  conflict = "missing"  // a foreign key: the incident is absent
)

// sqlStore is the Store of both backends. w runs every write and every
// transaction; r runs single-statement reads (the same pool as w on
// PostgreSQL and for in-memory SQLite).
type sqlStore struct {
	d         dialect
	cfg       Config
	w, r      *sql.DB
	closeOnce sync.Once
	closeErr  error
	queries   map[string]string
}

func newSQLStore(d dialect, cfg Config, w, r *sql.DB) *sqlStore {
	s := &sqlStore{d: d, cfg: cfg, w: w, r: r, queries: map[string]string{}}
	for _, qs := range []map[string]string{queries, incidentQueries} {
		for name, q := range qs {
			s.queries[name] = d.rebind(q)
		}
	}
	s.queries["claimEvents"] = d.rebind(fmt.Sprintf(claimEvents, d.skipLocked))
	return s
}

const prColumns = `owner, name, number, url, node_id, title, body, branch, base, head,
	incident_id, intent, state, merge_status, automerge, merge_commit, labels, reviewers,
	created, updated`

// queries are written with ? placeholders; newSQLStore rebinds them.
var queries = map[string]string{
	"nextNumber": `INSERT INTO pr_numbers (repo, last_number) VALUES (?, 1)
		ON CONFLICT (repo) DO UPDATE SET last_number = pr_numbers.last_number + 1
		RETURNING last_number`,
	"seenNumber": `INSERT INTO pr_numbers (repo, last_number) VALUES (?, ?)
		ON CONFLICT (repo) DO UPDATE SET last_number = CASE
			WHEN excluded.last_number > pr_numbers.last_number THEN excluded.last_number
			ELSE pr_numbers.last_number END`,
	"insertPR": `INSERT INTO pull_requests (repo, ` + prColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"updatePR": `UPDATE pull_requests SET owner = ?, name = ?, url = ?, node_id = ?,
		title = ?, body = ?, branch = ?, base = ?, head = ?, incident_id = ?, intent = ?,
		state = ?, merge_status = ?, automerge = ?, merge_commit = ?, labels = ?,
		reviewers = ?, created = ?, updated = ?
		WHERE repo = ? AND number = ?`,
	"getPR":     `SELECT ` + prColumns + ` FROM pull_requests WHERE repo = ? AND number = ?`,
	"openPR":    `SELECT ` + prColumns + ` FROM pull_requests WHERE repo = ? AND incident_id = ? AND state = 'open'`,
	"listPRs":   `SELECT ` + prColumns + ` FROM pull_requests WHERE repo = ? ORDER BY number`,
	"listPRsIn": `SELECT ` + prColumns + ` FROM pull_requests WHERE repo = ? AND state = ? ORDER BY number`,
	"delivery":  `INSERT INTO deliveries (id, received) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
	"forget":    `DELETE FROM deliveries WHERE received < ?`,
	"saveEvent": `INSERT INTO webhook_events (id, event_type, payload, received_at, attempts,
		claimed_by, claimed_until, last_error) VALUES (?, ?, ?, ?, 0, ?, ?, '')
		ON CONFLICT (id) DO NOTHING`,
	"finishEvent": `UPDATE webhook_events SET attempts = attempts + 1, last_error = ?,
		claimed_by = '', claimed_until = '',
		done_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE NULL END
		WHERE id = ? AND done_at IS NULL`,
	"renewEvent": `UPDATE webhook_events SET claimed_until = ?
		WHERE id = ? AND claimed_by = ? AND done_at IS NULL`,
	"forgetEvents": `DELETE FROM webhook_events WHERE done_at IS NOT NULL AND done_at < ?`,
	"migrations":   `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`,
	"migrated":     `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
}

// claimEvents is completed by newSQLStore with the dialect's skipLocked.
const claimEvents = `UPDATE webhook_events SET claimed_by = ?, claimed_until = ?
	WHERE id IN (SELECT id FROM webhook_events
		WHERE done_at IS NULL AND claimed_until <= ?
		ORDER BY received_at, id LIMIT ? %s)
	RETURNING id, event_type, payload, received_at, attempts, claimed_by, claimed_until, last_error`

func (s *sqlStore) q(name string) string {
	q, ok := s.queries[name]
	if !ok {
		panic("store: no query " + name)
	}
	return q
}

// errf wraps err with a verb phrase, keeping secrets out of its text.
func (s *sqlStore) errf(err error, format string, args ...any) error {
	return scrub(fmt.Errorf(format+": %w", append(args, err)...), s.d.secrets, s.d.holdsSecrets)
}

// repoKey is the repository's key column: GitHub names are
// case-insensitive.
func repoKey(r forge.Repo) string { return strings.ToLower(r.Owner + "/" + r.Name) }

// timeLayout is fixed width, so stored times sort as text in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %s is outside years 0 to 9999", t)
	}
	return t.Format(timeLayout), nil
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(timeLayout, s)
}

func validState(st forge.State) bool {
	return st == forge.StateOpen || st == forge.StateMerged || st == forge.StateClosed
}

// prArgs returns pr's stored columns after repo, in prColumns order.
func prArgs(pr forge.PullRequest) ([]any, error) {
	labels, err := json.Marshal(pr.Labels)
	if err != nil {
		return nil, err
	}
	reviewers, err := json.Marshal(pr.Reviewers)
	if err != nil {
		return nil, err
	}
	created, err := formatTime(pr.Created)
	if err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	updated, err := formatTime(pr.Updated)
	if err != nil {
		return nil, fmt.Errorf("updated: %w", err)
	}
	return []any{pr.Repo.Owner, pr.Repo.Name, int64(pr.Number), pr.URL, pr.NodeID, pr.Title,
		pr.Body, pr.Branch, pr.Base, pr.Head, pr.IncidentID, pr.Intent, string(pr.State),
		string(pr.Merge), pr.Automerge, pr.MergeCommit, string(labels), string(reviewers),
		created, updated}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanPR(row scanner) (forge.PullRequest, error) {
	var (
		pr                forge.PullRequest
		number            int64
		state, merge      string
		labels, reviewers string
		created, updated  string
	)
	err := row.Scan(&pr.Repo.Owner, &pr.Repo.Name, &number, &pr.URL, &pr.NodeID, &pr.Title,
		&pr.Body, &pr.Branch, &pr.Base, &pr.Head, &pr.IncidentID, &pr.Intent, &state, &merge,
		&pr.Automerge, &pr.MergeCommit, &labels, &reviewers, &created, &updated)
	if err != nil {
		return forge.PullRequest{}, err
	}
	pr.Number = int(number)
	pr.State = forge.State(state)
	pr.Merge = forge.MergeStatus(merge)
	if err := json.Unmarshal([]byte(labels), &pr.Labels); err != nil {
		return forge.PullRequest{}, fmt.Errorf("labels: %w", err)
	}
	if err := json.Unmarshal([]byte(reviewers), &pr.Reviewers); err != nil {
		return forge.PullRequest{}, fmt.Errorf("reviewers: %w", err)
	}
	if pr.Created, err = parseTime(created); err != nil {
		return forge.PullRequest{}, fmt.Errorf("created: %w", err)
	}
	if pr.Updated, err = parseTime(updated); err != nil {
		return forge.PullRequest{}, fmt.Errorf("updated: %w", err)
	}
	return pr, nil
}

// CreatePR implements forge.Records.
func (s *sqlStore) CreatePR(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	pr.Reused = false
	if pr.State == "" {
		pr.State = forge.StateOpen
	}
	if err := pr.Repo.Validate(); err != nil {
		return forge.PullRequest{}, forge.Permanent(fmt.Errorf("create pull request: %w", err))
	}
	if !validState(pr.State) {
		return forge.PullRequest{}, forge.Permanent(fmt.Errorf("create pull request in %s: unknown state %q", pr.Repo, pr.State))
	}
	if pr.Number < 0 {
		return forge.PullRequest{}, forge.Permanent(fmt.Errorf("create pull request in %s: negative number %d", pr.Repo, pr.Number))
	}
	key := repoKey(pr.Repo)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if pr.Number == 0 {
			var n int64
			if err := tx.QueryRowContext(ctx, s.q("nextNumber"), key).Scan(&n); err != nil {
				return fmt.Errorf("assign number: %w", err)
			}
			pr.Number = int(n)
		} else if _, err := tx.ExecContext(ctx, s.q("seenNumber"), key, int64(pr.Number)); err != nil {
			return err
		}
		args, err := prArgs(pr)
		if err != nil {
			return forge.Permanent(err)
		}
		_, err = tx.ExecContext(ctx, s.q("insertPR"), append([]any{key}, args...)...)
		switch s.d.violated(err) {
		case conflictIncident:
			return fmt.Errorf("%w: incident %q already has an open pull request", forge.ErrConflict, pr.IncidentID)
		case conflictNumber:
			return fmt.Errorf("%w: number %d is taken", forge.ErrConflict, pr.Number)
		}
		return err
	})
	if err != nil {
		return forge.PullRequest{}, s.errf(err, "create pull request in %s", pr.Repo)
	}
	return pr, nil
}

// UpdatePR implements forge.Records.
func (s *sqlStore) UpdatePR(ctx context.Context, pr forge.PullRequest) error {
	if !validState(pr.State) {
		return forge.Permanent(fmt.Errorf("update pull request %s#%d: unknown state %q", pr.Repo, pr.Number, pr.State))
	}
	args, err := prArgs(pr)
	if err != nil {
		return forge.Permanent(fmt.Errorf("update pull request %s#%d: %w", pr.Repo, pr.Number, err))
	}
	// prArgs has number third; UPDATE sets every column but it, then
	// matches on repo and number.
	args = append(append(args[:2:2], args[3:]...), repoKey(pr.Repo), int64(pr.Number))
	n, err := execN(ctx, s.w, s.q("updatePR"), args...)
	if s.d.violated(err) == conflictIncident {
		err = fmt.Errorf("%w: incident %q already has another open pull request", forge.ErrConflict, pr.IncidentID)
	}
	if err == nil && n == 0 {
		err = forge.ErrNotFound
	}
	if err != nil {
		return s.errf(err, "update pull request %s#%d", pr.Repo, pr.Number)
	}
	return nil
}

// PR implements forge.Records.
func (s *sqlStore) PR(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	pr, err := scanPR(s.r.QueryRowContext(ctx, s.q("getPR"), repoKey(repo), int64(number)))
	if errors.Is(err, sql.ErrNoRows) {
		err = forge.ErrNotFound
	}
	if err != nil {
		return forge.PullRequest{}, s.errf(err, "get pull request %s#%d", repo, number)
	}
	return pr, nil
}

// OpenPRForIncident implements forge.Records.
func (s *sqlStore) OpenPRForIncident(ctx context.Context, repo forge.Repo, incidentID string) (forge.PullRequest, error) {
	pr, err := scanPR(s.r.QueryRowContext(ctx, s.q("openPR"), repoKey(repo), incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		err = forge.ErrNotFound
	}
	if err != nil {
		return forge.PullRequest{}, s.errf(err, "find open pull request of incident %q in %s", incidentID, repo)
	}
	return pr, nil
}

// ListPRs implements forge.Records.
func (s *sqlStore) ListPRs(ctx context.Context, repo forge.Repo, state forge.State) ([]forge.PullRequest, error) {
	query, args := s.q("listPRs"), []any{repoKey(repo)}
	if state != "" {
		query, args = s.q("listPRsIn"), append(args, string(state))
	}
	prs, err := queryAll(ctx, s.r, query, args, scanPR)
	if err != nil {
		return nil, s.errf(err, "list pull requests in %s", repo)
	}
	return prs, nil
}

// queryAll runs a query on db and returns its rows, each read by scan.
func queryAll[T any](ctx context.Context, db *sql.DB, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FirstDelivery implements Store.
func (s *sqlStore) FirstDelivery(ctx context.Context, id string, at time.Time) (bool, error) {
	if id == "" {
		return false, errors.New("record delivery: empty delivery id")
	}
	received, err := formatTime(at)
	if err != nil {
		return false, fmt.Errorf("record delivery %q: %w", id, err)
	}
	n, err := execN(ctx, s.w, s.q("delivery"), id, received)
	if err != nil {
		return false, s.errf(err, "record delivery %q", id)
	}
	return n == 1, nil
}

// ForgetDeliveries implements Store.
func (s *sqlStore) ForgetDeliveries(ctx context.Context, before time.Time) (int, error) {
	return s.forget(ctx, "forget", "forget deliveries before", before)
}

// SaveEvent implements Store.
func (s *sqlStore) SaveEvent(ctx context.Context, ev WebhookEvent) (bool, error) {
	if ev.DeliveryID == "" {
		return false, errors.New("save webhook event: empty delivery id")
	}
	received, err := formatTime(ev.ReceivedAt)
	if err != nil {
		return false, fmt.Errorf("save webhook event %q: received: %w", ev.DeliveryID, err)
	}
	until := ""
	if !ev.ClaimedUntil.IsZero() {
		if until, err = formatTime(ev.ClaimedUntil); err != nil {
			return false, fmt.Errorf("save webhook event %q: claimed until: %w", ev.DeliveryID, err)
		}
	}
	payload := ev.Payload
	if payload == nil {
		payload = []byte{}
	}
	n, err := execN(ctx, s.w, s.q("saveEvent"), ev.DeliveryID, ev.Type, payload, received, ev.ClaimedBy, until)
	if err != nil {
		return false, s.errf(err, "save webhook event %q", ev.DeliveryID)
	}
	return n == 1, nil
}

// ClaimEvents implements Store. The UPDATE runs in a write transaction:
// on SQLite it holds the database's write lock; on PostgreSQL the rows it
// picks are locked, and rows another claim holds are skipped.
func (s *sqlStore) ClaimEvents(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]WebhookEvent, error) {
	if owner == "" {
		return nil, errors.New("claim webhook events: empty owner")
	}
	if lease <= 0 || max <= 0 {
		return nil, fmt.Errorf("claim webhook events: lease %s and max %d must be positive", lease, max)
	}
	nowS, err := formatTime(now)
	if err != nil {
		return nil, fmt.Errorf("claim webhook events: %w", err)
	}
	until, err := formatTime(now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim webhook events: %w", err)
	}
	var evs []WebhookEvent
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		evs = nil
		rows, err := tx.QueryContext(ctx, s.q("claimEvents"), owner, until, nowS, int64(max))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				ev                WebhookEvent
				attempts          int64
				received, claimed string
			)
			if err := rows.Scan(&ev.DeliveryID, &ev.Type, &ev.Payload, &received, &attempts, &ev.ClaimedBy, &claimed, &ev.LastError); err != nil {
				return err
			}
			ev.Attempts = int(attempts)
			if ev.ReceivedAt, err = parseTime(received); err != nil {
				return fmt.Errorf("event %q: received: %w", ev.DeliveryID, err)
			}
			if ev.ClaimedUntil, err = parseTime(claimed); err != nil {
				return fmt.Errorf("event %q: claimed until: %w", ev.DeliveryID, err)
			}
			evs = append(evs, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.errf(err, "claim webhook events for %q", owner)
	}
	// RETURNING gives no order: oldest first.
	slices.SortFunc(evs, func(a, b WebhookEvent) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(a.DeliveryID, b.DeliveryID)
	})
	return evs, nil
}

// RenewEvents implements Store, in one write transaction.
func (s *sqlStore) RenewEvents(ctx context.Context, owner string, ids []string, now time.Time, lease time.Duration) ([]string, error) {
	if owner == "" {
		return nil, errors.New("renew webhook events: empty owner")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("renew webhook events: lease %s must be positive", lease)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	until, err := formatTime(now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("renew webhook events: %w", err)
	}
	var lost []string
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		lost = nil
		for _, id := range ids {
			n, err := execN(ctx, tx, s.q("renewEvent"), until, id, owner)
			if err != nil {
				return err
			}
			if n == 0 {
				lost = append(lost, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errf(err, "renew %d webhook events for %q", len(ids), owner)
	}
	return lost, nil
}

// FinishEvent implements Store.
func (s *sqlStore) FinishEvent(ctx context.Context, id string, now time.Time, handlerErr error) error {
	done, err := formatTime(now)
	if err != nil {
		return fmt.Errorf("finish webhook event %q: %w", id, err)
	}
	// The event is done once attempts+1 reaches limit.
	limit, msg := int64(0), ""
	if handlerErr != nil {
		limit, msg = MaxEventAttempts, handlerErr.Error()
		if forge.IsPermanent(handlerErr) {
			limit = 0
		}
	}
	if _, err := s.w.ExecContext(ctx, s.q("finishEvent"), msg, limit, done, id); err != nil {
		return s.errf(err, "finish webhook event %q", id)
	}
	return nil
}

// ForgetEvents implements Store.
func (s *sqlStore) ForgetEvents(ctx context.Context, before time.Time) (int, error) {
	return s.forget(ctx, "forgetEvents", "forget webhook events done before", before)
}

// forget runs query, a DELETE of what was done before its one argument,
// with before and returns how many rows it deleted; what starts its
// errors ("forget deliveries before").
func (s *sqlStore) forget(ctx context.Context, query, what string, before time.Time) (int, error) {
	b, err := formatTime(before)
	if err != nil {
		return 0, forge.Permanent(fmt.Errorf("%s: %w", what, err))
	}
	n, err := execN(ctx, s.w, s.q(query), b)
	if err != nil {
		return 0, s.errf(err, "%s %s", what, b)
	}
	return int(n), nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execN runs a statement and returns how many rows it changed.
func execN(ctx context.Context, e execer, query string, args ...any) (int64, error) {
	res, err := e.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Close implements Store.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = s.errf(err, "close store")
		}
	})
	return s.closeErr
}

// inTx runs fn in a write transaction and commits it when fn returns nil.
func (s *sqlStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// migrate applies the migrations the database lacks, in one transaction.
func (s *sqlStore) migrate(ctx context.Context) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, createMigrations); err != nil {
			return err
		}
		var have int64
		if err := tx.QueryRowContext(ctx, s.q("migrations")).Scan(&have); err != nil {
			return err
		}
		if have > int64(len(migrations)) {
			return fmt.Errorf("the database has schema version %d; this medic knows versions up to %d", have, len(migrations))
		}
		for v := int(have) + 1; v <= len(migrations); v++ {
			for _, stmt := range migrations[v-1] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("version %d: %w", v, err)
				}
			}
			now, _ := formatTime(time.Now())
			if _, err := tx.ExecContext(ctx, s.q("migrated"), int64(v), now); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.errf(err, "migrate %s store", s.d.name)
	}
	return nil
}

// rebindDollar numbers ? placeholders as $1, $2, ... (PostgreSQL).
// medic's statements have no ? inside literals.
func rebindDollar(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
