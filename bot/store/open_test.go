package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/bot/store/storetest"
)

// backends names each backend's DSNFunc.
var backends = []struct {
	name string
	dsn  storetest.DSNFunc
}{
	{"sqlite", storetest.SQLiteDSN},
	{"postgres", storetest.PostgresDSN},
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.dsn(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, dsn string) store.Store {
	t.Helper()
	s, err := store.Open(ctx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawQuery runs a query on dsn's database without the store and returns
// the first column of the first row.
func rawQuery(t *testing.T, dsn, query string) string {
	t.Helper()
	var out string
	if strings.HasPrefix(dsn, "postgres") {
		conn, err := pgx.Connect(ctx(t), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx(t))
		var v any
		if err := conn.QueryRow(ctx(t), query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return fmt.Sprint(v)
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx(t), query).Scan(&out); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func TestMigrationsOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		for range 3 {
			s, err := store.Open(ctx(t), dsn)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		got := rawQuery(t, dsn, "SELECT COUNT(*) || ' ' || MAX(version) FROM schema_migrations")
		if got != "3 3" {
			t.Errorf("schema_migrations count and max = %q after three opens, want \"3 3\"", got)
		}
	})
}

// TestConcurrentOpen opens one fresh database from 8 goroutines at once,
// as replicas starting together: all must succeed, migrating once.
func TestConcurrentOpen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		const n = 8
		stores := make([]store.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = store.Open(ctx(t), dsn)
			})
		}
		close(start)
		wg.Wait()
		for _, s := range stores {
			if s != nil {
				t.Cleanup(func() { s.Close() })
			}
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got := rawQuery(t, dsn, "SELECT COUNT(*) FROM schema_migrations"); got != "3" {
			t.Errorf("schema_migrations has %s rows, want 3", got)
		}
		pr, err := stores[3].CreatePR(ctx(t), forge.PullRequest{Repo: forge.Repo{Owner: "a", Name: "b"}, IncidentID: "i"})
		if err != nil || pr.Number != 1 {
			t.Errorf("CreatePR after concurrent opens = #%d, %v", pr.Number, err)
		}
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		rawQuery(t, dsn, "INSERT INTO schema_migrations (version, applied) VALUES (99, 'test') RETURNING version")
		_, err := store.Open(ctx(t), dsn)
		if err == nil || !strings.Contains(err.Error(), "schema version 99") {
			t.Errorf("Open of a database at schema version 99: err = %v, want one naming the version", err)
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	open(t, dsn)
	for q, want := range map[string]string{
		"PRAGMA journal_mode": "wal",
	} {
		if got := rawQuery(t, dsn, q); got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
}

func TestSQLiteMemory(t *testing.T) {
	a := open(t, ":memory:")
	b := open(t, ":memory:")
	repo := forge.Repo{Owner: "acme", Name: "infra"}
	if _, err := a.CreatePR(ctx(t), forge.PullRequest{Repo: repo, IncidentID: "i"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PR(ctx(t), repo, 1); err != nil {
		t.Errorf("PR from the in-memory store that created it: %v", err)
	}
	if _, err := b.PR(ctx(t), repo, 1); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("another :memory: store sees the first's records: err = %v", err)
	}
}

func TestOpenPaths(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite:" + filepath.Join(dir, "prefixed.db"),
		"sqlite://" + filepath.Join(dir, "slashes.db"),
		"file:" + filepath.Join(dir, "uri.db") + "?mode=rwc",
	} {
		s, err := store.Open(ctx(t), dsn)
		if err != nil {
			t.Errorf("Open(%q): %v", dsn, err)
			continue
		}
		s.Close()
	}
	for _, dsn := range []string{"", "mysql://medic:pw@db/medic", "sqlite:", filepath.Join(dir, "q.db") + "?mode=rwc"} {
		if s, err := store.Open(ctx(t), dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

// errorTexts returns the text of err and of every error it wraps.
func errorTexts(err error) []string {
	if err == nil {
		return nil
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		texts = append(texts, errorTexts(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			texts = append(texts, errorTexts(e)...)
		}
	}
	return texts
}

func TestPasswordNotInErrors(t *testing.T) {
	const secret = "Sup3rS3cretPassw0rd"
	dsns := []string{
		"postgres://medic:" + secret + "@127.0.0.1:1/medic?connect_timeout=5",
		"postgresql://medic@127.0.0.1:1/medic?connect_timeout=5&password=" + secret,
		"postgres://medic:" + secret + "@127.0.0.1:notaport/medic",
		"postgres://medic:" + secret + "@[::1/medic",
		"postgres://medic:" + secret + "@127.0.0.1:1/medic?sslmode=bogus",
		"mysql://medic:" + secret + "@db/medic",
	}
	if base := storetestBase(t); base != "" {
		// A wrong password against the real server, and the right one
		// with a schema that does not exist (migrations fail).
		u, _ := url.Parse(base)
		good, _ := u.User.Password()
		u.User = url.UserPassword(u.User.Username(), secret)
		dsns = append(dsns, u.String())
		u.User = url.UserPassword(u.User.Username(), good)
		q := u.Query()
		q.Set("search_path", "medic_no_such_schema")
		u.RawQuery = q.Encode()
		bad := u.String()
		_, err := store.Open(ctx(t), bad)
		if err == nil {
			t.Fatalf("Open with a missing schema succeeded")
		}
		for _, text := range errorTexts(err) {
			if good != "" && strings.Contains(text, good) {
				t.Errorf("error reveals the password: %s", text)
			}
		}
	}
	for _, dsn := range dsns {
		_, err := store.Open(ctx(t), dsn)
		if err == nil {
			t.Errorf("Open(%s) succeeded", store.Redact(dsn))
			continue
		}
		t.Logf("Open(%s): %v", store.Redact(dsn), err)
		for _, text := range errorTexts(err) {
			if strings.Contains(text, secret) {
				t.Errorf("error reveals the password: %s", text)
			}
		}
		if strings.Contains(store.Redact(dsn), secret) {
			t.Errorf("Redact(dsn) reveals the password: %s", store.Redact(dsn))
		}
	}
}

// storetestBase is MEDIC_TEST_POSTGRES_DSN, or "" without failing or
// skipping when it is unset (the other cases still run).
func storetestBase(t *testing.T) string {
	var base string
	t.Run("postgres-configured", func(t *testing.T) { base = storetest.PostgresBase(t) })
	return base
}

// TestPostgresReconnects terminates the store's server connections: the
// store must carry on over new ones.
func TestPostgresReconnects(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	var b [6]byte
	rand.Read(b[:])
	app := "medic-store-test-" + hex.EncodeToString(b[:])
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s := open(t, u.String())
	repo := forge.Repo{Owner: "acme", Name: "infra"}
	for i := range 3 {
		if _, err := s.CreatePR(ctx(t), forge.PullRequest{Repo: repo, IncidentID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		killed := rawQuery(t, dsn, fmt.Sprintf(
			"SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '%s'", app))
		if killed == "0" {
			t.Fatalf("no connection of %s to terminate", app)
		}
		time.Sleep(1100 * time.Millisecond) // past the idle time after which connections are pinged
		if _, err := s.PR(ctx(t), repo, i+1); err != nil {
			t.Errorf("after the server dropped the connections: %v", err)
		}
	}
}

// TestWritersAcrossStores writes from several Stores on one database at
// once, as replicas do: no write may fail (SQLite: no SQLITE_BUSY).
func TestWritersAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		const stores, workers, each = 3, 4, 10
		var all []store.Store
		for range stores {
			all = append(all, open(t, dsn))
		}
		repo := forge.Repo{Owner: "acme", Name: "infra"}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			numbers = map[int]bool{}
		)
		for w := range stores * workers {
			wg.Go(func() {
				s := all[w%stores]
				for i := range each {
					pr, err := s.CreatePR(ctx(t), forge.PullRequest{Repo: repo, IncidentID: fmt.Sprintf("w%d-%d", w, i)})
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := s.FirstDelivery(ctx(t), fmt.Sprintf("d%d", i), time.Now()); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					numbers[pr.Number] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if want := stores * workers * each; len(numbers) != want {
			t.Errorf("%d distinct numbers, want %d", len(numbers), want)
		}
	})
}
