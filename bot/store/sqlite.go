package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeout is how long, in milliseconds, a connection waits for
// another process's lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = "10000"

// sqliteReaders is the number of read connections of a file database.
const sqliteReaders = 4

func openSQLite(ctx context.Context, dsn string, cfg Config) (Store, error) {
	name, query, err := sqliteName(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	memory := name == ":memory:" || strings.HasPrefix(name, "file::memory:") || query.Get("mode") == "memory"

	wq := cloneValues(query)
	wq.Set("_busy_timeout", sqliteBusyTimeout)
	wq.Set("_foreign_keys", "on")
	wq.Set("_txlock", "immediate")
	if !memory {
		wq.Set("_journal_mode", "WAL")
	}
	w, err := sql.Open("sqlite", name+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	// One writer connection: writers in this process queue in Go rather
	// than meet SQLITE_BUSY. It is never closed while the store is open,
	// which also keeps an in-memory database alive.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r := w
	if !memory {
		rq := cloneValues(query)
		rq.Set("_busy_timeout", sqliteBusyTimeout)
		rq.Set("_foreign_keys", "on")
		rq.Set("_query_only", "on")
		if r, err = sql.Open("sqlite", name+"?"+rq.Encode()); err != nil {
			w.Close()
			return nil, fmt.Errorf("open store %s: %w", dsn, err)
		}
		r.SetMaxOpenConns(sqliteReaders)
		r.SetMaxIdleConns(sqliteReaders)
	}
	s := newSQLStore(dialect{
		name:           "sqlite",
		rebind:         func(q string) string { return q },
		violated:       sqliteViolated,
		lockMigrations: func(context.Context, *sql.Tx) error { return nil }, // BEGIN IMMEDIATE holds the write lock
	}, cfg, w, r)
	if err := w.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open store %s: %w", dsn, err), s.Close())
	}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open store %s: %w", dsn, err), s.Close())
	}
	return s, nil
}

// sqliteName splits an SQLite DSN into the name modernc.org/sqlite opens
// (a path, or a file: URI) and its query parameters.
func sqliteName(dsn string) (string, url.Values, error) {
	if rest, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		dsn = rest
		if p, ok := strings.CutPrefix(rest, "//"); ok {
			dsn = p // sqlite:///abs/path
		}
	}
	if dsn == "" {
		return "", nil, errors.New("no database path")
	}
	name, rawQuery, hasQuery := strings.Cut(dsn, "?")
	if hasQuery && !strings.HasPrefix(name, "file:") {
		return "", nil, errors.New("query parameters need a file: URI (file:PATH?...)")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("query parameters: %w", err)
	}
	return name, q, nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// sqliteViolated tells the constraints apart by their extended result
// codes: pull_requests has one primary key and one unique index, and the
// incident tables' foreign keys name their incident.
func sqliteViolated(err error) conflict {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return conflictNumber
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return conflictIncident
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return conflictMissing
	}
	return ""
}
