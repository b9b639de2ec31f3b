package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-bot/medic/bot/store"
)

// Environment variables of the PostgreSQL tests.
const (
	// EnvPostgresDSN names a PostgreSQL database the tests may create
	// schemas in: postgres://USER:PASSWORD@HOST:PORT/DB.
	EnvPostgresDSN = "MEDIC_TEST_POSTGRES_DSN"
	// EnvRequirePostgres set to 1 makes the PostgreSQL tests fail rather
	// than skip when EnvPostgresDSN is unset.
	EnvRequirePostgres = "MEDIC_REQUIRE_POSTGRES"
)

// DSNFunc returns the DSN of t's database, making a fresh one on t's first
// call; later calls with the same t return the same DSN, and the database
// is removed when t ends. It may skip t. It is safe for concurrent use.
type DSNFunc func(t testing.TB) string

type perTest struct {
	mu   sync.Mutex
	dsns map[testing.TB]string
}

func (p *perTest) get(t testing.TB, fresh func(t testing.TB) string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if dsn, ok := p.dsns[t]; ok {
		return dsn
	}
	dsn := fresh(t)
	if p.dsns == nil {
		p.dsns = map[testing.TB]string{}
	}
	p.dsns[t] = dsn
	t.Cleanup(func() {
		p.mu.Lock()
		delete(p.dsns, t)
		p.mu.Unlock()
	})
	return dsn
}

var sqliteDBs, postgresDBs perTest

// SQLiteDSN is a DSNFunc for a fresh SQLite file in t's temporary
// directory.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return sqliteDBs.get(t, func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "medic.db")
	})
}

// PostgresBase returns MEDIC_TEST_POSTGRES_DSN. When it is unset it skips
// t with a message saying how to run the PostgreSQL tests, or fails t when
// MEDIC_REQUIRE_POSTGRES=1.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		msg := EnvPostgresDSN + " is unset; to run the PostgreSQL tests set it to a database the test role may create schemas in, e.g. " +
			EnvPostgresDSN + "='postgres://medic_test:PASSWORD@127.0.0.1:5432/medic_test' (CI's .ci/run sets one up)"
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s", EnvRequirePostgres, msg)
		}
		t.Skip(msg)
	}
	return base
}

// PostgresDSN is a DSNFunc for a fresh schema in the database named by
// MEDIC_TEST_POSTGRES_DSN: the returned DSN sets search_path to it, and the
// schema is dropped with everything in it when t ends. Without the
// variable it skips or fails t as PostgresBase does.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresBase(t)
	return postgresDBs.get(t, func(t testing.TB) string {
		t.Helper()
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("%s: %s", EnvPostgresDSN, "not a postgres:// URL")
		}
		var b [8]byte
		rand.Read(b[:])
		schema := "medic_test_" + hex.EncodeToString(b[:])
		admin(t, base, "CREATE SCHEMA "+schema)
		t.Cleanup(func() { admin(t, base, "DROP SCHEMA "+schema+" CASCADE") })
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	})
}

// admin runs one statement on the database named by dsn.
func admin(t testing.TB, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", store.Redact(dsn), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// Opener returns an open function for Run: it opens dsn(t) with
// store.Open and closes the store when t ends. Calls with the same t open
// further Stores on the same database, as further medic replicas would.
func Opener(dsn DSNFunc) func(t *testing.T) store.Store {
	return func(t *testing.T) store.Store {
		t.Helper()
		d := dsn(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := store.Open(ctx, d)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		return s
	}
}
