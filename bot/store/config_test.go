package store_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/bot/store/storetest"
	"github.com/medic-bot/medic/detect"
)

func TestConfigValidate(t *testing.T) {
	if err := store.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	err := store.Config{MaxDocumentBytes: 0, MaxCauseBytes: 10}.Validate()
	for _, want := range []string{"max_document_bytes 0", "max_cause_bytes 10"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate of a bad config: err = %v, want it to name %s", err, want)
		}
	}
	if _, err := store.OpenConfig(ctx(t), storetest.SQLiteDSN(t), store.Config{}); err == nil || !strings.Contains(err.Error(), "max_document_bytes") {
		t.Errorf("OpenConfig with a zero config: err = %v, want one naming max_document_bytes", err)
	}
}

// TestOpenConfigLimits: the limits OpenConfig is given are the ones
// applied, on both backends.
func TestOpenConfigLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		s, err := store.OpenConfig(ctx(t), dsn, store.Config{MaxDocumentBytes: 2048, MaxCauseBytes: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		at := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
		in := incident.Incident{ID: "inc-1", Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}, Opened: at}
		if err := s.SaveIncident(ctx(t), store.IncidentRecord{Incident: in, Repo: "acme/infra", State: "detected"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Transition(ctx(t), store.Transition{IncidentID: "inc-1", From: "detected", To: "proposing", Event: "e", Cause: strings.Repeat("c", 500), At: at}); err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx(t), "inc-1")
		if err != nil {
			t.Fatal(err)
		}
		if c := h[len(h)-1].Cause; len(c) > 100 || !strings.HasSuffix(c, "[truncated]") {
			t.Errorf("a 500-byte cause with max_cause_bytes 100 was stored as %d bytes: %q", len(c), c)
		}
		doc := json.RawMessage(`"` + strings.Repeat("x", 3000) + `"`)
		err = s.SaveProposal(ctx(t), store.ProposalRecord{IncidentID: "inc-1", Seq: 1, Change: doc, At: at})
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "change is 3002 bytes, over max_document_bytes 2048") {
			t.Errorf("SaveProposal over max_document_bytes: err = %v, want a permanent error naming the document, its size and the limit", err)
		}
		_, _, err = s.RecordStep(ctx(t), store.StepRecord{IncidentID: "inc-1", Name: "push:1", Result: doc, At: at})
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "step result is 3002 bytes, over max_document_bytes 2048") {
			t.Errorf("RecordStep over max_document_bytes: err = %v, want a permanent error naming the document, its size and the limit", err)
		}
		big := in
		big.ID = "inc-2"
		big.Anomalies = []detect.Anomaly{{Workload: in.Workload, Summary: strings.Repeat("y", 3000)}}
		err = s.SaveIncident(ctx(t), store.IncidentRecord{Incident: big, Repo: "acme/infra", State: "detected"})
		if err == nil || !forge.IsPermanent(err) || !strings.Contains(err.Error(), "incident document is") || !strings.Contains(err.Error(), "over max_document_bytes 2048") {
			t.Errorf("SaveIncident over max_document_bytes: err = %v, want a permanent error naming the document and the limit", err)
		}
		if _, err := s.GetIncident(ctx(t), "inc-2"); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("an incident over the limit was stored: %v", err)
		}
	})
}

// TestMigrateFromVersion2 upgrades a database medic's previous schema
// (version 2) made: its pull requests stay, and incidents work.
func TestMigrateFromVersion2(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		repo := forge.Repo{Owner: "acme", Name: "infra"}
		if _, err := s.CreatePR(ctx(t), forge.PullRequest{Repo: repo, IncidentID: "old"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Back to version 2: without the tables migration 3 makes.
		for _, stmt := range []string{
			"DROP TABLE incident_proposals", "DROP TABLE incident_steps", "DROP TABLE incident_transitions", "DROP TABLE incidents",
			"DELETE FROM schema_migrations WHERE version = 3",
		} {
			exec(t, dsn, stmt)
		}
		if got := rawQuery(t, dsn, "SELECT MAX(version) FROM schema_migrations"); got != "2" {
			t.Fatalf("schema version = %s, want 2", got)
		}
		s = open(t, dsn)
		if pr, err := s.PR(ctx(t), repo, 1); err != nil || pr.IncidentID != "old" {
			t.Errorf("pull request after the upgrade: %+v, %v", pr, err)
		}
		in := incident.Incident{ID: "inc-1", Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}, Opened: time.Now()}
		if err := s.SaveIncident(ctx(t), store.IncidentRecord{Incident: in, Repo: "acme/infra", State: "detected"}); err != nil {
			t.Errorf("SaveIncident after the upgrade: %v", err)
		}
		if got := rawQuery(t, dsn, "SELECT MAX(version) FROM schema_migrations"); got != "3" {
			t.Errorf("schema version after the upgrade = %s, want 3", got)
		}
	})
}

// exec runs a statement on dsn's database without the store.
func exec(t *testing.T, dsn, stmt string) {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres") {
		conn, err := pgx.Connect(ctx(t), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx(t))
		if _, err := conn.Exec(ctx(t), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx(t), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
