package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL connection pool limits of one Store (one medic replica).
const (
	pgMaxConns    = 8
	pgMaxIdle     = 4
	pgMaxIdleTime = 5 * time.Minute
)

// migrationLockClass is the first key of the advisory lock that
// serializes migrations; the second is a hash of the current schema.
const migrationLockClass = 0x6d656463 // "medc"

func openPostgres(ctx context.Context, dsn string, limits Config) (Store, error) {
	secrets := dsnPasswords(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, scrub(fmt.Errorf("open store %s: %w", Redact(dsn), err), secrets, pgHoldsSecrets)
	}
	if cfg.Password != "" {
		secrets = append(secrets, cfg.Password)
	}
	db := sql.OpenDB(&pgConnector{cfg: cfg})
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxIdle)
	db.SetConnMaxIdleTime(pgMaxIdleTime)
	s := newSQLStore(dialect{
		name:     "postgres",
		rebind:   rebindDollar,
		violated: pgViolated,
		lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, int64(migrationLockClass))
			return err
		},
		skipLocked:   "FOR UPDATE SKIP LOCKED",
		secrets:      secrets,
		holdsSecrets: pgHoldsSecrets,
	}, limits, db, db)
	if err := db.PingContext(ctx); err != nil {
		return nil, scrub(errors.Join(fmt.Errorf("open store %s: %w", Redact(dsn), err), s.Close()), secrets, pgHoldsSecrets)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, scrub(errors.Join(fmt.Errorf("open store %s: %w", Redact(dsn), err), s.Close()), secrets, pgHoldsSecrets)
	}
	return s, nil
}

func pgViolated(err error) conflict {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return ""
	}
	if e.Code == "23503" { // foreign_key_violation: the incident is absent
		return conflictMissing
	}
	if e.Code != "23505" { // unique_violation
		return ""
	}
	switch e.ConstraintName {
	case "pull_requests_pkey":
		return conflictNumber
	case "pull_requests_open_incident":
		return conflictIncident
	}
	return ""
}

// pgHoldsSecrets reports pgx errors that carry the connection
// configuration, password included.
func pgHoldsSecrets(err error) bool {
	var c *pgconn.ConnectError
	var p *pgconn.ParseConfigError
	return errors.As(err, &c) || errors.As(err, &p)
}
