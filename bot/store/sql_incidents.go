package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/medic-bot/medic/bot/forge"
)

const incidentColumns = `repo, state, state_since, state_cause, seq, document, updated, closed`

const transitionColumns = `incident_id, from_state, to_state, event, cause, terminal, occurred`

const proposalColumns = `incident_id, seq, proposal, decision, change_doc, pr, shadow, recorded`

// incidentQueries are written with ? placeholders; newSQLStore rebinds
// them.
var incidentQueries = map[string]string{
	"insertIncident": `INSERT INTO incidents (id, repo_key, repo, workload, state, state_since, state_cause, seq,
			document, opened, updated, closed)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
	"updateIncident": `UPDATE incidents SET document = ?, opened = ?,
		updated = CASE WHEN updated < ? THEN ? ELSE updated END
		WHERE id = ? AND repo_key = ? AND workload = ?`,
	"getIncident":   `SELECT ` + incidentColumns + ` FROM incidents WHERE id = ?`,
	"incidentState": `SELECT state FROM incidents WHERE id = ?`,
	"incidentKeys":  `SELECT repo, workload FROM incidents WHERE id = ?`,
	// The compare-and-set: it applies only in state From, and locks the
	// incident's row (PostgreSQL) or holds the database's write lock
	// (SQLite) until the transaction ends, so the seq it takes is this
	// transaction's alone.
	"setState": `UPDATE incidents SET state = ?, state_since = ?, state_cause = ?, seq = seq + 1, closed = ?,
		updated = CASE WHEN updated < ? THEN ? ELSE updated END
		WHERE id = ? AND state = ?`,
	// Appends the transition that took the incident to its stored seq.
	"appendTransition": `INSERT INTO incident_transitions
		(incident_id, seq, repo_key, workload, from_state, to_state, event, cause, terminal, occurred)
		SELECT id, seq, repo_key, workload, ?, ?, ?, ?, ?, ? FROM incidents WHERE id = ?`,
	"history": `SELECT ` + transitionColumns + ` FROM incident_transitions
		WHERE incident_id = ? ORDER BY seq`,
	"countInto": `SELECT COUNT(*) FROM incident_transitions
		WHERE repo_key = ? AND to_state = ? AND occurred >= ? AND from_state <> to_state`,
	"countIntoWorkload": `SELECT COUNT(*) FROM incident_transitions
		WHERE repo_key = ? AND to_state = ? AND occurred >= ? AND from_state <> to_state AND workload = ?`,
	"insertStep": `INSERT INTO incident_steps (incident_id, name, result, recorded)
		VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, name) DO NOTHING`,
	"getStep": `SELECT result, recorded FROM incident_steps WHERE incident_id = ? AND name = ?`,
	"saveProposal": `INSERT INTO incident_proposals (` + proposalColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id, seq) DO UPDATE SET proposal = excluded.proposal,
			decision = excluded.decision, change_doc = excluded.change_doc, pr = excluded.pr,
			shadow = excluded.shadow, recorded = excluded.recorded`,
	"proposals": `SELECT ` + proposalColumns + ` FROM incident_proposals
		WHERE incident_id = ? ORDER BY seq`,
	"forgetIncidents": `DELETE FROM incidents WHERE closed IS NOT NULL AND closed < ?`,
}

// namePattern is what states, events and step names may look like.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%s %q must be 1-128 letters, digits or _.:/- starting with a letter or digit", what, name)
	}
	return nil
}

// parseRepo checks "owner/name" and returns its key column.
func parseRepo(repo string) (string, error) {
	owner, name, _ := strings.Cut(repo, "/")
	r := forge.Repo{Owner: owner, Name: name}
	if err := r.Validate(); err != nil || r.String() != repo {
		return "", fmt.Errorf("repository %q must be owner/name", repo)
	}
	return repoKey(r), nil
}

// formatEventTime formats a time the caller must set.
func formatEventTime(what string, t time.Time) (string, error) {
	if t.IsZero() {
		return "", fmt.Errorf("%s is not set", what)
	}
	s, err := formatTime(t)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// nullTime is NULL for the zero time.
func nullTime(what string, t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	return formatEventTime(what, t)
}

// docText is a scrubbed document's column value: "" for none.
func docText(doc json.RawMessage) string { return string(doc) }

// docOf reads a document column.
func docOf(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// queryRower is a *sql.DB or a *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stateOf returns incident id's stored state, or forge.ErrNotFound.
func (s *sqlStore) stateOf(ctx context.Context, q queryRower, id string) (string, error) {
	var state string
	err := q.QueryRowContext(ctx, s.q("incidentState"), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		err = forge.ErrNotFound
	}
	return state, err
}

// ofIncident returns the rows query lists for incident id, read by scan;
// none is forge.ErrNotFound when the incident is absent.
func ofIncident[T any](ctx context.Context, s *sqlStore, query, id string, scan func(scanner) (T, error)) ([]T, error) {
	out, err := queryAll(ctx, s.r, s.q(query), []any{id}, scan)
	if err == nil && len(out) == 0 {
		_, err = s.stateOf(ctx, s.r, id)
	}
	return out, err
}

// SaveIncident implements Incidents.
func (s *sqlStore) SaveIncident(ctx context.Context, rec IncidentRecord) error {
	return s.Apply(ctx, rec, nil)
}

// incidentRow is an IncidentRecord checked and formatted for its row.
type incidentRow struct {
	id, repoKey, repo, workload string
	doc, opened, updated        string
}

// prepareIncident checks rec and formats its columns; the errors name
// what is wrong but not the incident (the caller's wrapping does).
func (s *sqlStore) prepareIncident(rec IncidentRecord) (incidentRow, error) {
	in := rec.Incident
	row := incidentRow{id: in.ID, workload: in.Workload.Key()}
	var err error
	if row.opened, err = formatEventTime("opened", in.Opened); err != nil {
		return row, err
	}
	if rec.Updated.IsZero() {
		rec.Updated = in.Opened
	}
	if row.updated, err = formatEventTime("updated", rec.Updated); err != nil {
		return row, err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return row, err
	}
	if row.repo, err = recordRepo(rec.Repo, raw); err != nil {
		return row, err
	}
	if row.repo != "" {
		if row.repoKey, err = parseRepo(row.repo); err != nil {
			return row, err
		}
	}
	doc, err := scrubJSON("incident document", raw, s.cfg.MaxDocumentBytes)
	row.doc = string(doc)
	return row, err
}

// recordRepo is the record's repository: repo, or else the incident
// document's "repo" member (bot/incident's Incident.Repo); when both are
// set they must name one repository.
func recordRepo(repo string, doc []byte) (string, error) {
	var d struct {
		Repo string `json:"repo"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", err
	}
	switch {
	case repo == "":
		return d.Repo, nil
	case d.Repo != "" && !strings.EqualFold(d.Repo, repo):
		return "", fmt.Errorf("record repository %q is not the incident's %q", repo, d.Repo)
	}
	return repo, nil
}

// preparedTransition is a Transition checked and formatted for its row.
type preparedTransition struct {
	t      Transition // its cause cleaned
	at     string
	closed any // at when terminal, else NULL
}

// prepareTransition checks t; From may be "" only when creating.
func (s *sqlStore) prepareTransition(t Transition, creating bool) (preparedTransition, error) {
	p := preparedTransition{t: t}
	var errs []error
	if !creating {
		errs = append(errs, checkName("from state", t.From))
	}
	errs = append(errs, checkName("to state", t.To), checkName("event", t.Event))
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	var err error
	if p.at, err = formatEventTime("at", t.At); err != nil {
		return p, err
	}
	if t.Terminal {
		p.closed = p.at
	}
	p.t.Cause = cleanCause(t.Cause, s.cfg.MaxCauseBytes)
	return p, nil
}

// Apply implements Incidents.
func (s *sqlStore) Apply(ctx context.Context, rec IncidentRecord, t *Transition) error {
	id := rec.Incident.ID
	if err := rec.Incident.Validate(); err != nil {
		return forge.Permanent(fmt.Errorf("save incident: %w", err))
	}
	fail := func(err error) error {
		return forge.Permanent(fmt.Errorf("save incident %s: %w", id, err))
	}
	var tr preparedTransition
	if t != nil {
		switch {
		case t.IncidentID != id:
			return fail(fmt.Errorf("its transition is of incident %q", t.IncidentID))
		case rec.State != "" && rec.State != t.To:
			return fail(fmt.Errorf("state %q is not its transition's to state %q", rec.State, t.To))
		}
		var err error
		if tr, err = s.prepareTransition(*t, t.From == ""); err != nil {
			return fail(err)
		}
		rec.State = t.To
	} else if err := checkName("state", rec.State); err != nil {
		return fail(err)
	}
	row, err := s.prepareIncident(rec)
	if err != nil {
		return fail(err)
	}
	closed, err := nullTime("closed", rec.Closed)
	if err != nil {
		return fail(err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		switch {
		case t == nil:
			// A first save without a transition: the history starts
			// with one from "" into its state.
			first := Transition{IncidentID: id, To: rec.State, Terminal: closed != nil}
			created, err := s.insertIncident(ctx, tx, row, first, row.updated, closed)
			if err != nil || created {
				return err
			}
			return s.updateDocument(ctx, tx, row)
		case t.From == "":
			created, err := s.insertIncident(ctx, tx, row, tr.t, tr.at, tr.closed)
			if err != nil || created {
				return err
			}
			state, err := s.stateOf(ctx, tx, id)
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: the incident exists, in state %s", forge.ErrConflict, state)
		default:
			if err := s.updateDocument(ctx, tx, row); err != nil {
				return err
			}
			return s.compareAndSet(ctx, tx, tr)
		}
	})
	if err != nil {
		return s.errf(err, "save incident %s", id)
	}
	return nil
}

// insertIncident inserts row in first.To, entered at at with first's
// cause and closed at closed, and appends first as its first transition,
// unless the incident exists: then it changes nothing and returns false.
func (s *sqlStore) insertIncident(ctx context.Context, tx *sql.Tx, row incidentRow, first Transition, at string, closed any) (bool, error) {
	updated := max(row.updated, at)
	n, err := execN(ctx, tx, s.q("insertIncident"), row.id, row.repoKey, row.repo, row.workload,
		first.To, at, first.Cause, row.doc, row.opened, updated, closed)
	if err != nil || n == 0 {
		return false, err
	}
	return true, s.appendTransition(ctx, tx, first, at)
}

// updateDocument replaces a stored incident's document; it is
// forge.ErrNotFound when the incident is absent and forge.ErrConflict
// when it is stored for another repository or workload.
func (s *sqlStore) updateDocument(ctx context.Context, tx *sql.Tx, row incidentRow) error {
	n, err := execN(ctx, tx, s.q("updateIncident"), row.doc, row.opened, row.updated, row.updated, row.id, row.repoKey, row.workload)
	if err != nil || n == 1 {
		return err
	}
	var haveRepo, haveWorkload string
	err = tx.QueryRowContext(ctx, s.q("incidentKeys"), row.id).Scan(&haveRepo, &haveWorkload)
	if errors.Is(err, sql.ErrNoRows) {
		return forge.ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: it is stored for workload %s in repository %q, not %s in %q",
		forge.ErrConflict, haveWorkload, haveRepo, row.workload, row.repo)
}

// compareAndSet moves the incident from tr.From to tr.To if it is in
// tr.From, and appends tr to its history.
func (s *sqlStore) compareAndSet(ctx context.Context, tx *sql.Tx, tr preparedTransition) error {
	t := tr.t
	n, err := execN(ctx, tx, s.q("setState"), t.To, tr.at, t.Cause, tr.closed, tr.at, tr.at, t.IncidentID, t.From)
	if err != nil {
		return err
	}
	if n == 0 {
		state, err := s.stateOf(ctx, tx, t.IncidentID)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: the incident is %s now", forge.ErrConflict, state)
	}
	return s.appendTransition(ctx, tx, t, tr.at)
}

// appendTransition appends t, its cause already clean, to the history
// under the incident's stored seq; at is t.At formatted.
func (s *sqlStore) appendTransition(ctx context.Context, tx *sql.Tx, t Transition, at string) error {
	_, err := tx.ExecContext(ctx, s.q("appendTransition"), t.From, t.To, t.Event, t.Cause, t.Terminal, at, t.IncidentID)
	return err
}

func scanIncident(row scanner) (IncidentRecord, error) {
	var (
		rec                 IncidentRecord
		since, doc, updated string
		seq                 int64
		closed              sql.NullString
	)
	if err := row.Scan(&rec.Repo, &rec.State, &since, &rec.Cause, &seq, &doc, &updated, &closed); err != nil {
		return IncidentRecord{}, err
	}
	rec.Seq = int(seq)
	if err := json.Unmarshal([]byte(doc), &rec.Incident); err != nil {
		return IncidentRecord{}, fmt.Errorf("document: %w", err)
	}
	var err error
	if rec.Since, err = parseTime(since); err != nil {
		return IncidentRecord{}, fmt.Errorf("since: %w", err)
	}
	if rec.Updated, err = parseTime(updated); err != nil {
		return IncidentRecord{}, fmt.Errorf("updated: %w", err)
	}
	if closed.Valid {
		if rec.Closed, err = parseTime(closed.String); err != nil {
			return IncidentRecord{}, fmt.Errorf("closed: %w", err)
		}
	}
	return rec, nil
}

// GetIncident implements Incidents.
func (s *sqlStore) GetIncident(ctx context.Context, id string) (IncidentRecord, error) {
	rec, err := scanIncident(s.r.QueryRowContext(ctx, s.q("getIncident"), id))
	if errors.Is(err, sql.ErrNoRows) {
		err = forge.ErrNotFound
	}
	if err != nil {
		return IncidentRecord{}, s.errf(err, "get incident %q", id)
	}
	return rec, nil
}

// ListIncidents implements Incidents.
func (s *sqlStore) ListIncidents(ctx context.Context, f IncidentFilter) ([]IncidentRecord, error) {
	var (
		where []string
		args  []any
	)
	if f.Repo != "" {
		key, err := parseRepo(f.Repo)
		if err != nil {
			return nil, forge.Permanent(fmt.Errorf("list incidents: %w", err))
		}
		where, args = append(where, "repo_key = ?"), append(args, key)
	}
	if f.Workload != "" {
		where, args = append(where, "workload = ?"), append(args, f.Workload)
	}
	if f.Open {
		where = append(where, "closed IS NULL")
	}
	if !f.Since.IsZero() {
		since, err := formatTime(f.Since)
		if err != nil {
			return nil, forge.Permanent(fmt.Errorf("list incidents: since: %w", err))
		}
		where, args = append(where, "updated >= ?"), append(args, since)
	}
	if f.Limit < 0 {
		return nil, forge.Permanent(fmt.Errorf("list incidents: negative limit %d", f.Limit))
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY opened DESC, id`
	if f.Limit > 0 {
		q, args = q+` LIMIT ?`, append(args, int64(f.Limit))
	}
	recs, err := queryAll(ctx, s.r, s.d.rebind(q), args, scanIncident)
	if err != nil {
		return nil, s.errf(err, "list incidents")
	}
	return recs, nil
}

// Transition implements Incidents.
func (s *sqlStore) Transition(ctx context.Context, t Transition) error {
	tr, err := s.prepareTransition(t, false)
	if err != nil {
		if t.From == "" {
			err = fmt.Errorf("%w (a transition from no state creates the incident: Apply it with its document)", err)
		}
		return forge.Permanent(fmt.Errorf("transition incident %q from %q to %q: %w", t.IncidentID, t.From, t.To, err))
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error { return s.compareAndSet(ctx, tx, tr) })
	if err != nil {
		return s.errf(err, "transition incident %q from %s to %s", t.IncidentID, t.From, t.To)
	}
	return nil
}

// History implements Incidents.
func (s *sqlStore) History(ctx context.Context, id string) ([]Transition, error) {
	ts, err := ofIncident(ctx, s, "history", id, scanTransition)
	if err != nil {
		return nil, s.errf(err, "history of incident %q", id)
	}
	return ts, nil
}

func scanTransition(row scanner) (Transition, error) {
	var (
		t  Transition
		at string
	)
	err := row.Scan(&t.IncidentID, &t.From, &t.To, &t.Event, &t.Cause, &t.Terminal, &at)
	if err == nil {
		if t.At, err = parseTime(at); err != nil {
			err = fmt.Errorf("at: %w", err)
		}
	}
	return t, err
}

// CountTransitions implements Incidents.
func (s *sqlStore) CountTransitions(ctx context.Context, q TransitionQuery) (int, error) {
	fail := func(err error) error {
		return forge.Permanent(fmt.Errorf("count transitions into %q: %w", q.To, err))
	}
	key, err := parseRepo(q.Repo)
	if err != nil {
		return 0, fail(err)
	}
	if err := checkName("state", q.To); err != nil {
		return 0, fail(err)
	}
	since, err := formatTime(q.Since)
	if err != nil {
		return 0, fail(fmt.Errorf("since: %w", err))
	}
	var n int64
	if q.Workload == "" {
		err = s.r.QueryRowContext(ctx, s.q("countInto"), key, q.To, since).Scan(&n)
	} else {
		err = s.r.QueryRowContext(ctx, s.q("countIntoWorkload"), key, q.To, since, q.Workload).Scan(&n)
	}
	if err != nil {
		return 0, s.errf(err, "count transitions into %s in %s", q.To, q.Repo)
	}
	return int(n), nil
}

// RecordStep implements Incidents.
func (s *sqlStore) RecordStep(ctx context.Context, st StepRecord) (StepRecord, bool, error) {
	fail := func(err error) error {
		return forge.Permanent(fmt.Errorf("record step %q of incident %q: %w", st.Name, st.IncidentID, err))
	}
	if err := checkName("step name", st.Name); err != nil {
		return StepRecord{}, false, fail(err)
	}
	at, err := formatEventTime("at", st.At)
	if err != nil {
		return StepRecord{}, false, fail(err)
	}
	if st.Result, err = scrubJSON("step result", st.Result, s.cfg.MaxDocumentBytes); err != nil {
		return StepRecord{}, false, fail(err)
	}
	n, err := execN(ctx, s.w, s.q("insertStep"), st.IncidentID, st.Name, docText(st.Result), at)
	if s.d.violated(err) == conflictMissing {
		err = forge.ErrNotFound
	}
	if err == nil && n == 1 {
		st.At, err = parseTime(at) // as stored: in UTC
		return st, true, err
	}
	if err == nil {
		// Recorded before: by this caller before a restart, or by another
		// Store now (its insert committed first).
		st, err = s.Step(ctx, st.IncidentID, st.Name)
		return st, false, err
	}
	return StepRecord{}, false, s.errf(err, "record step %q of incident %q", st.Name, st.IncidentID)
}

// Step implements Incidents.
func (s *sqlStore) Step(ctx context.Context, id, name string) (StepRecord, error) {
	st := StepRecord{IncidentID: id, Name: name}
	var result, at string
	err := s.r.QueryRowContext(ctx, s.q("getStep"), id, name).Scan(&result, &at)
	if errors.Is(err, sql.ErrNoRows) {
		err = forge.ErrNotFound
	}
	if err == nil {
		st.Result = docOf(result)
		st.At, err = parseTime(at)
	}
	if err != nil {
		return StepRecord{}, s.errf(err, "get step %q of incident %q", name, id)
	}
	return st, nil
}

// SaveProposal implements Incidents.
func (s *sqlStore) SaveProposal(ctx context.Context, p ProposalRecord) error {
	fail := func(err error) error {
		return forge.Permanent(fmt.Errorf("save proposal %d of incident %q: %w", p.Seq, p.IncidentID, err))
	}
	if p.Seq < 0 {
		return fail(fmt.Errorf("negative seq %d", p.Seq))
	}
	at, err := formatEventTime("at", p.At)
	if err != nil {
		return fail(err)
	}
	docs := []*json.RawMessage{&p.Proposal, &p.Decision, &p.Change, &p.PR}
	for i, name := range []string{"proposal", "decision", "change", "pull request"} {
		if *docs[i], err = scrubJSON(name, *docs[i], s.cfg.MaxDocumentBytes); err != nil {
			return fail(err)
		}
	}
	_, err = s.w.ExecContext(ctx, s.q("saveProposal"), p.IncidentID, int64(p.Seq), docText(p.Proposal),
		docText(p.Decision), docText(p.Change), docText(p.PR), p.Shadow, at)
	if s.d.violated(err) == conflictMissing {
		err = forge.ErrNotFound
	}
	if err != nil {
		return s.errf(err, "save proposal %d of incident %q", p.Seq, p.IncidentID)
	}
	return nil
}

// Proposals implements Incidents.
func (s *sqlStore) Proposals(ctx context.Context, id string) ([]ProposalRecord, error) {
	ps, err := ofIncident(ctx, s, "proposals", id, scanProposal)
	if err != nil {
		return nil, s.errf(err, "proposals of incident %q", id)
	}
	return ps, nil
}

func scanProposal(row scanner) (ProposalRecord, error) {
	var (
		p                              ProposalRecord
		seq                            int64
		proposal, decision, change, pr string
		at                             string
	)
	if err := row.Scan(&p.IncidentID, &seq, &proposal, &decision, &change, &pr, &p.Shadow, &at); err != nil {
		return ProposalRecord{}, err
	}
	p.Seq = int(seq)
	p.Proposal, p.Decision, p.Change, p.PR = docOf(proposal), docOf(decision), docOf(change), docOf(pr)
	var err error
	if p.At, err = parseTime(at); err != nil {
		return ProposalRecord{}, fmt.Errorf("proposal %d: at: %w", p.Seq, err)
	}
	return p, nil
}

// ForgetIncidents implements Incidents.
func (s *sqlStore) ForgetIncidents(ctx context.Context, before time.Time) (int, error) {
	return s.forget(ctx, "forgetIncidents", "forget incidents closed before", before)
}
