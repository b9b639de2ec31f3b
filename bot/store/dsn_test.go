package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSQLiteName(t *testing.T) {
	for _, c := range []struct {
		dsn, name, query, err string
	}{
		{dsn: "/var/lib/medic/medic.db", name: "/var/lib/medic/medic.db"},
		{dsn: "medic.db", name: "medic.db"},
		{dsn: "sqlite:/var/lib/medic/medic.db", name: "/var/lib/medic/medic.db"},
		{dsn: "sqlite:///var/lib/medic/medic.db", name: "/var/lib/medic/medic.db"},
		{dsn: "sqlite:medic.db", name: "medic.db"},
		{dsn: ":memory:", name: ":memory:"},
		{dsn: "file:/tmp/m.db?mode=rwc&cache=private", name: "file:/tmp/m.db", query: "cache=private&mode=rwc"},
		{dsn: "sqlite:file:/tmp/m.db?mode=rwc", name: "file:/tmp/m.db", query: "mode=rwc"},
		{dsn: "/tmp/m.db?mode=rwc", err: "file: URI"},
		{dsn: "sqlite:", err: "no database path"},
		{dsn: "file:/tmp/m.db?a=%zz", err: "query parameters"},
	} {
		name, q, err := sqliteName(c.dsn)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("sqliteName(%q) err = %v, want one saying %q", c.dsn, err, c.err)
			}
		case err != nil:
			t.Errorf("sqliteName(%q): %v", c.dsn, err)
		case name != c.name || q.Encode() != c.query:
			t.Errorf("sqliteName(%q) = %q, %q; want %q, %q", c.dsn, name, q.Encode(), c.name, c.query)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"postgres://medic:s3cret@db:5432/medic?sslmode=require", "postgres://medic:xxxxx@db:5432/medic?sslmode=require"},
		{"postgresql://medic@db/medic?password=s3cret&sslmode=disable", "postgresql://medic@db/medic?password=xxxxx&sslmode=disable"},
		{"postgres://medic@db/medic", "postgres://medic@db/medic"},
		{"postgres://medic:s3%2Fcret@db/medic", "postgres://medic:xxxxx@db/medic"},
		{"postgres://medic:s3cret@db:notaport/medic", "postgres://xxxxx@db:notaport/medic"},
		{"host=db user=medic password=s3cret dbname=medic", "host=db user=medic password=xxxxx dbname=medic"},
		{"host=db password='s3 cret' dbname=medic", "host=db password=xxxxx dbname=medic"},
		{"sqlite:/var/lib/medic/medic.db", "sqlite:/var/lib/medic/medic.db"},
	} {
		if got := Redact(c.dsn); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.dsn, got, c.want)
		}
	}
}

func TestScrub(t *testing.T) {
	secrets := dsnPasswords("postgres://medic:s3%2Fcret@db/medic")
	if strings.Join(secrets, " ") != "s3%2Fcret s3/cret" {
		t.Fatalf("dsnPasswords = %q", secrets)
	}
	err := scrub(fmt.Errorf("connect with s3/cret: %w", context.Canceled), secrets, nil)
	if strings.Contains(err.Error(), "s3/cret") || !strings.Contains(err.Error(), "connect with xxxxx") {
		t.Errorf("scrubbed error %q", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("scrubbed error %q is not context.Canceled any more", err)
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("scrubbed error unwraps to %q", errors.Unwrap(err))
	}
	plain := errors.New("no secret here")
	if scrub(plain, secrets, nil) != plain {
		t.Error("scrub replaced an error without a secret")
	}
	if scrub(nil, secrets, nil) != nil {
		t.Error("scrub(nil) != nil")
	}
}

func TestRebindDollar(t *testing.T) {
	if got := rebindDollar("a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Errorf("rebindDollar = %q", got)
	}
}

func TestTimeRange(t *testing.T) {
	if _, err := formatTime(parseMust(t, "9999-12-31T23:59:59.999999999Z")); err != nil {
		t.Error(err)
	}
	if _, err := formatTime(parseMust(t, "9999-12-31T23:59:59.999999999Z").Add(1)); err == nil {
		t.Error("formatTime accepted year 10000")
	}
}

func parseMust(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := parseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestScrubHolds(t *testing.T) {
	inner := errors.New("holds a secret in its fields")
	err := scrub(fmt.Errorf("wrap: %w", inner), nil, func(e error) bool { return errors.Is(e, inner) })
	if errors.Unwrap(err) != nil || !errors.Is(err, inner) || err.Error() != "wrap: holds a secret in its fields" {
		t.Errorf("scrub of an error holding secrets = %#v", err)
	}
}
