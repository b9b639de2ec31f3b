package store

// createMigrations makes the table that records applied migrations.
const createMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	applied TEXT NOT NULL
)`

// migrations[v-1] holds the statements that take the schema from version
// v-1 to v. They are forward only: append, never edit a released one. The
// SQL is the common subset of SQLite and PostgreSQL.
var migrations = [][]string{
	// 1: pull requests, their numbering, and webhook deliveries.
	{
		`CREATE TABLE pr_numbers (
			repo TEXT PRIMARY KEY,
			last_number BIGINT NOT NULL
		)`,
		`CREATE TABLE pull_requests (
			repo TEXT NOT NULL,
			number BIGINT NOT NULL,
			owner TEXT NOT NULL,
			name TEXT NOT NULL,
			url TEXT NOT NULL,
			node_id TEXT NOT NULL,
			title TEXT NOT NULL,
			body TEXT NOT NULL,
			branch TEXT NOT NULL,
			base TEXT NOT NULL,
			head TEXT NOT NULL,
			incident_id TEXT NOT NULL,
			intent TEXT NOT NULL,
			state TEXT NOT NULL,
			merge_status TEXT NOT NULL,
			automerge BOOLEAN NOT NULL,
			merge_commit TEXT NOT NULL,
			labels TEXT NOT NULL,
			reviewers TEXT NOT NULL,
			created TEXT NOT NULL,
			updated TEXT NOT NULL,
			PRIMARY KEY (repo, number)
		)`,
		// One open pull request per incident and repository.
		`CREATE UNIQUE INDEX pull_requests_open_incident
			ON pull_requests (repo, incident_id) WHERE state = 'open'`,
		`CREATE TABLE deliveries (
			id TEXT PRIMARY KEY,
			received TEXT NOT NULL
		)`,
		`CREATE INDEX deliveries_received ON deliveries (received)`,
	},
	// 2: the webhook outbox: deliveries saved before they are answered,
	// claimed with a lease, finished once handled.
	{
		`CREATE TABLE webhook_events (
			id TEXT PRIMARY KEY,
			event_type TEXT NOT NULL,
			payload BYTEA NOT NULL,
			received_at TEXT NOT NULL,
			attempts INTEGER NOT NULL,
			claimed_by TEXT NOT NULL,
			claimed_until TEXT NOT NULL,
			last_error TEXT NOT NULL,
			done_at TEXT
		)`,
		`CREATE INDEX webhook_events_pending ON webhook_events (claimed_until) WHERE done_at IS NULL`,
		`CREATE INDEX webhook_events_done ON webhook_events (done_at) WHERE done_at IS NOT NULL`,
	},
	// 3: incidents, their state transitions (compare-and-set on the
	// incident's state), the steps taken for them (insert-if-absent),
	// and what was proposed and decided for them. An incident keeps its
	// last transition's time, cause and number (seq) beside its state, so
	// that a restart restores open incidents from one query. Transitions
	// copy the incident's repository and workload, so the pull-request
	// caps count them from one index. Children go with their incident.
	{
		`CREATE TABLE incidents (
			id TEXT PRIMARY KEY,
			repo_key TEXT NOT NULL,
			repo TEXT NOT NULL,
			workload TEXT NOT NULL,
			state TEXT NOT NULL,
			state_since TEXT NOT NULL,
			state_cause TEXT NOT NULL,
			seq BIGINT NOT NULL,
			document TEXT NOT NULL,
			opened TEXT NOT NULL,
			updated TEXT NOT NULL,
			closed TEXT
		)`,
		`CREATE INDEX incidents_open ON incidents (repo_key, workload) WHERE closed IS NULL`,
		`CREATE INDEX incidents_closed ON incidents (closed) WHERE closed IS NOT NULL`,
		`CREATE INDEX incidents_opened ON incidents (opened)`,
		`CREATE TABLE incident_transitions (
			incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
			seq BIGINT NOT NULL,
			repo_key TEXT NOT NULL,
			workload TEXT NOT NULL,
			from_state TEXT NOT NULL,
			to_state TEXT NOT NULL,
			event TEXT NOT NULL,
			cause TEXT NOT NULL,
			terminal BOOLEAN NOT NULL,
			occurred TEXT NOT NULL,
			PRIMARY KEY (incident_id, seq)
		)`,
		`CREATE INDEX incident_transitions_into ON incident_transitions (repo_key, to_state, occurred)`,
		`CREATE TABLE incident_steps (
			incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			result TEXT NOT NULL,
			recorded TEXT NOT NULL,
			PRIMARY KEY (incident_id, name)
		)`,
		`CREATE TABLE incident_proposals (
			incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
			seq BIGINT NOT NULL,
			proposal TEXT NOT NULL,
			decision TEXT NOT NULL,
			change_doc TEXT NOT NULL,
			pr TEXT NOT NULL,
			shadow BOOLEAN NOT NULL,
			recorded TEXT NOT NULL,
			PRIMARY KEY (incident_id, seq)
		)`,
	},
}
