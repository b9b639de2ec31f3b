// Package store keeps medic's durable state: the pull-request records that
// bot/forge reads and writes through forge.Records, and the webhook
// deliveries already handled, so that GitHub's redeliveries are processed
// once.
//
// It is also the webhook receiver's outbox: SaveEvent keeps a delivery
// before GitHub is answered, ClaimEvents leases pending events to one
// receiver (UPDATE ... RETURNING over rows picked FOR UPDATE SKIP LOCKED on
// PostgreSQL; inside the single write transaction on SQLite), RenewEvents
// extends the leases a receiver still holds while it has the events queued
// or in hand (so a short lease, after which a crashed receiver's events are
// claimed again, survives long handling), FinishEvent
// marks them done or releases them for another attempt, up to
// MaxEventAttempts, and ForgetEvents deletes done ones.
//
// It keeps the incident loop's state (Incidents): each incident's JSON
// document with its repository, workload, state and times, and its last
// transition's time, cause and number, which is what a restart needs to
// restore it; every transition of its state, applied by compare-and-set
// on the stored state in one transaction with the history row (and, with
// Apply, with the document), so that of two replicas advancing or
// creating one incident exactly one wins (forge.ErrConflict for the
// other); the steps (external actions) taken for it, recorded
// insert-if-absent under (incident, step name), so that a restarted
// medic finds what it already did instead of doing it again; and what
// was proposed and decided (also in shadow mode). CountTransitions counts
// entries into a state per repository and workload, from an index, for
// the pull-request caps across restarts; ForgetIncidents deletes closed
// incidents with everything recorded for them. Every text stored with an
// incident is scrubbed of credentials with bot/redact's rules first, and
// documents are bounded by Config.
//
// Two backends implement Store behind one Open:
//
//   - SQLite (modernc.org/sqlite, no cgo), the embedded default: a single
//     file in WAL mode with a busy timeout and foreign keys on. Writes go
//     through one connection, so writers in one process never see
//     SQLITE_BUSY; several processes on one file (medic replicas on a shared
//     volume) wait for each other through the busy timeout, and every write
//     transaction starts with BEGIN IMMEDIATE so it never has to upgrade a
//     read lock. Reads use a small pool of read-only connections.
//   - PostgreSQL (github.com/jackc/pgx/v5), for several medic replicas that
//     share state. Numbers, the one-open-pull-request-per-incident rule and
//     delivery dedupe are enforced by the database, so they hold across
//     replicas.
//
// Open applies the schema's migrations, in order and forward only, recording
// each in the schema_migrations table; opening an up-to-date database
// changes nothing, and a database migrated by a newer medic is refused. On
// PostgreSQL a transaction-scoped advisory lock keyed by the current schema
// makes replicas that open at once migrate one after the other.
//
// Times are stored in UTC as fixed-width RFC 3339 text with nanoseconds, so
// they round-trip exactly (PostgreSQL's timestamptz keeps microseconds only)
// and sort as text in time order. Labels and reviewers are stored as JSON
// text. Repositories are matched case-insensitively, as GitHub matches them.
//
// A DSN's password never appears in the errors this package returns; use
// Redact to log a DSN.
//
// The sibling package storetest holds the contract suite every backend
// passes and helpers that make fresh test databases.
package store
