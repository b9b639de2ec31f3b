package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/medic-bot/medic/bot/incident"
)

// Incidents is the incident half of Store: the incidents medic opened, the
// transitions of their states, the external actions (steps) taken for
// them, and what was proposed and decided for them. States, events and
// step names are bot/incident's, stored as strings. Implementations are
// safe for concurrent use, also by several Stores on one database.
//
// Every text stored through these methods is scrubbed of credentials
// first (bot/redact's rules: every string of a JSON document, also read
// as key=value with its member's name, and a transition's cause), and
// what is returned is what was stored. Invalid input is refused with a
// permanent error (forge.IsPermanent); an unknown incident wraps
// forge.ErrNotFound and a failed compare-and-set forge.ErrConflict.
type Incidents interface {
	// SaveIncident stores rec's document. A new incident is stored in
	// rec.State (closed at rec.Closed when that is set), and its History
	// starts with a transition from "" into that state, with no event, at
	// rec.Updated. On an incident already stored, SaveIncident replaces
	// the document and Opened, moves Updated forward (never back), and
	// ignores State and Closed: a state changes only through a
	// transition. It is refused with forge.ErrConflict when the stored
	// incident has another repository or workload.
	SaveIncident(ctx context.Context, rec IncidentRecord) error
	// Apply stores one update of an incident, as bot/incident's Grouper
	// returns them, in one transaction: rec's document (as SaveIncident
	// does), and t when it is not nil. A t from "" (bot/incident's
	// StateNone) creates the incident in t.To, with t as its first
	// transition, and is refused with forge.ErrConflict when the incident
	// exists. Any other t is a compare-and-set as in Transition; when it
	// fails, the document is not stored either. rec.State must be t.To or
	// empty, and t.IncidentID rec's id.
	Apply(ctx context.Context, rec IncidentRecord, t *Transition) error
	// GetIncident returns incident id.
	GetIncident(ctx context.Context, id string) (IncidentRecord, error)
	// ListIncidents returns the incidents f selects, most recently opened
	// first (then by id).
	ListIncidents(ctx context.Context, f IncidentFilter) ([]IncidentRecord, error)

	// Transition moves incident t.IncidentID from state t.From to t.To,
	// if and only if its stored state is t.From (compare-and-set): it
	// updates the state and appends t to the History in one transaction.
	// Of concurrent Transitions from one state, across every Store on the
	// database, one applies and the others fail with forge.ErrConflict
	// naming the stored state. t.From may equal t.To (an event that keeps
	// the state is still recorded). t.Terminal closes the incident at
	// t.At; a non-terminal To reopens it. t.From must name a state:
	// creating an incident takes its document (Apply).
	Transition(ctx context.Context, t Transition) error
	// History returns incident id's transitions, oldest first; the first
	// is from "" (its creation). The n-th has Seq n in IncidentRecord's
	// terms: after it, the record's Seq is n.
	History(ctx context.Context, id string) ([]Transition, error)
	// CountTransitions counts the transitions into q.To (From differs
	// from To: a first save counts, an event that keeps the state does
	// not) at or after q.Since, of the incidents of repository q.Repo,
	// and of workload q.Workload when it is not empty. The pull-request
	// caps count with it, so they hold across restarts and replicas.
	CountTransitions(ctx context.Context, q TransitionQuery) (int, error)

	// RecordStep stores step s unless incident s.IncidentID already has a
	// step named s.Name, and returns the stored step: s (scrubbed) and
	// first true, or the step recorded earlier and first false. Of
	// concurrent calls with one name, across every Store on the database,
	// exactly one reports first. A caller records a step before or after
	// its external action, so that after a restart it neither repeats nor
	// skips it.
	RecordStep(ctx context.Context, s StepRecord) (stored StepRecord, first bool, err error)
	// Step returns incident id's step named name, or forge.ErrNotFound.
	Step(ctx context.Context, id, name string) (StepRecord, error)

	// SaveProposal stores p, replacing the proposal of p.IncidentID with
	// the same Seq (so that its pull request can be filled in later).
	SaveProposal(ctx context.Context, p ProposalRecord) error
	// Proposals returns incident id's proposals by Seq.
	Proposals(ctx context.Context, id string) ([]ProposalRecord, error)

	// ForgetIncidents deletes the incidents closed before before, with
	// their transitions, steps and proposals, and returns how many
	// incidents it deleted. Open incidents are kept however old. A
	// deleted incident's transitions no longer count in CountTransitions:
	// keep incidents longer than the longest cap window.
	ForgetIncidents(ctx context.Context, before time.Time) (int, error)
}

// IncidentRecord is an incident as stored.
type IncidentRecord struct {
	// Incident is stored as its JSON document; its ID, Workload.Key()
	// and Opened are also the record's keys.
	Incident incident.Incident `json:"incident"`
	// Repo is the repository that owns the workload, "owner/name"
	// (matched case-insensitively), or "" when none does. Empty in a
	// record to save, it is the incident document's "repo" member
	// (bot/incident's Incident.Repo), if any; when both are set they must
	// agree.
	Repo string `json:"repo,omitempty"`
	// State is the incident's state (bot/incident's State).
	State string `json:"state"`
	// Since is when the incident entered State, and Cause the cause of
	// that transition; Seq is how many transitions it has had, its
	// creation included. They are set by the store from the transitions
	// and ignored by SaveIncident and Apply; with State they are what
	// bot/incident's Tracked needs to restore an open incident.
	Since time.Time `json:"since"`
	Cause string    `json:"cause,omitempty"`
	Seq   int       `json:"seq"`
	// Updated is when the incident last changed, in event time; zero
	// means Incident.Opened.
	Updated time.Time `json:"updated"`
	// Closed is when the incident reached a terminal state; zero while it
	// is open.
	Closed time.Time `json:"closed,omitzero"`
}

// IncidentFilter selects incidents; its zero value selects all.
type IncidentFilter struct {
	// Repo, "owner/name", selects one repository's incidents.
	Repo string
	// Workload, a detect.Workload Key(), selects one workload's.
	Workload string
	// Open selects the incidents not closed.
	Open bool
	// Since selects the incidents updated at or after it.
	Since time.Time
	// Limit caps how many are returned; 0 means no cap.
	Limit int
}

// Transition is one change of an incident's state, as History returns it.
type Transition struct {
	IncidentID string `json:"incident_id"`
	From       string `json:"from"`
	To         string `json:"to"`
	// Event is what caused the transition (bot/incident's EventType).
	Event string `json:"event,omitempty"`
	// Cause says why in words; it is scrubbed and cut to
	// Config.MaxCauseBytes.
	Cause string    `json:"cause,omitempty"`
	At    time.Time `json:"at"`
	// Terminal marks To as a terminal state: the incident is closed at
	// At.
	Terminal bool `json:"terminal,omitempty"`
}

// TransitionQuery selects the transitions CountTransitions counts.
type TransitionQuery struct {
	// Repo, "owner/name", is required.
	Repo string
	// Workload, a detect.Workload Key(), narrows the count to one
	// workload when not empty.
	Workload string
	// To is the state entered.
	To string
	// Since is the start of the window, inclusive.
	Since time.Time
}

// StepRecord is an external action taken for an incident.
type StepRecord struct {
	IncidentID string `json:"incident_id"`
	// Name keys the step within the incident (bot/incident's StepName).
	Name string `json:"name"`
	// Result is what the caller needs to carry on without repeating the
	// action (a pull request's number, a pushed commit), as JSON; it may
	// be empty.
	Result json.RawMessage `json:"result,omitempty"`
	At     time.Time       `json:"at"`
}

// ProposalRecord is what was proposed for an incident and what became of
// it. Its JSON fields are the documents of the proposal, the policy's
// decision, the planned change and the pull request; any may be empty.
type ProposalRecord struct {
	IncidentID string          `json:"incident_id"`
	Seq        int             `json:"seq"`
	Proposal   json.RawMessage `json:"proposal,omitempty"`
	Decision   json.RawMessage `json:"decision,omitempty"`
	Change     json.RawMessage `json:"change,omitempty"`
	PR         json.RawMessage `json:"pr,omitempty"`
	// Shadow marks a proposal made in shadow mode: nothing was opened.
	Shadow bool      `json:"shadow,omitempty"`
	At     time.Time `json:"at"`
}
