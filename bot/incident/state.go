package incident

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// State is where an incident is in its life. States are stored as these
// strings.
type State string

// The states of an incident. StateNone is the state before the first
// transition; it is never stored as an incident's state.
const (
	StateNone State = ""
	// StateDetected: open, collecting anomalies until it settles.
	StateDetected State = "detected"
	// StateSuppressed: not acted on (flapping, cooldown or a cap); the
	// cause says which. It still absorbs its workload's anomalies, and
	// closes one grouping window after it was suppressed, so that the
	// next anomaly is judged again.
	StateSuppressed State = "suppressed"
	// StateProposing: the crew is asked, then the pull request opened.
	StateProposing State = "proposing"
	// StateProposed: medic's pull request is open.
	StateProposed State = "proposed"
	// StateMerged: the pull request merged; verification starts.
	StateMerged State = "merged"
	// StateNoAction: nothing safe to do; the cause is the reason, and no
	// pull request was opened.
	StateNoAction State = "no_action"
	// StateClosed: over, without a verdict (quiet, or the pull request
	// closed by hand).
	StateClosed State = "closed"

	// The verification and revert states (built by the next issue).
	StateVerifying    State = "verifying"
	StateRecovered    State = "recovered"
	StateNotRecovered State = "not_recovered"
	StateReverting    State = "reverting"
	StateReverted     State = "reverted"
	// StateEscalated: medic gave up and handed the incident to people.
	StateEscalated State = "escalated"
)

// States lists every stored state, in the order of an incident's life.
func States() []State {
	return []State{
		StateDetected, StateSuppressed, StateProposing, StateProposed, StateMerged,
		StateNoAction, StateClosed, StateVerifying, StateRecovered, StateNotRecovered,
		StateReverting, StateReverted, StateEscalated,
	}
}

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, v := range States() {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether s ends the incident: no event moves it on.
func (s State) Terminal() bool {
	switch s {
	case StateClosed, StateRecovered, StateReverted, StateEscalated:
		return true
	}
	return false
}

// Open reports whether the incident is still alive: a stored, non-terminal
// state. Open incidents absorb their workload's anomalies and are what a
// restart restores.
func (s State) Open() bool { return s.Valid() && !s.Terminal() }

// Active reports whether medic is acting, or may act, on the incident:
// open and neither suppressed nor no_action. Only active incidents count
// towards a repository's max_open_per_repo.
func (s State) Active() bool {
	return s.Open() && s != StateSuppressed && s != StateNoAction
}

// EventType names what happened to an incident.
type EventType string

// The events of an incident's life.
const (
	// EventOpened: the grouper opened the incident (StateNone → detected).
	EventOpened EventType = "opened"
	// EventAnomaly: an anomaly joined. It changes no state.
	EventAnomaly EventType = "anomaly"
	// EventSettled: the settle delay passed; ask the crew.
	EventSettled EventType = "settled"
	// EventSuppressed: flapping, cooldown or a cap (Cause says which).
	EventSuppressed EventType = "suppressed"
	// EventNoProposal: the crew proposed nothing safe (Cause is why).
	EventNoProposal EventType = "no_proposal"
	// EventPROpened: the pull request is open; Automerge says whether
	// the policy lets it merge on its own.
	EventPROpened EventType = "pr_opened"
	// EventPRUpdated: the pull request's branch changed. No state change.
	EventPRUpdated EventType = "pr_updated"
	// EventPRMerged: the pull request merged.
	EventPRMerged EventType = "pr_merged"
	// EventPRClosed: the pull request was closed without merging.
	EventPRClosed EventType = "pr_closed"
	// EventQuiet: the grouping window passed (see Grouper.Tick).
	EventQuiet EventType = "quiet"
	// EventVerifying: verification checks started.
	EventVerifying EventType = "verifying"
	// EventRecovered: the checks say the workload recovered.
	EventRecovered EventType = "recovered"
	// EventNotRecovered: the checks say it did not.
	EventNotRecovered EventType = "not_recovered"
	// EventRevertOpened: the revert pull request is open.
	EventRevertOpened EventType = "revert_opened"
	// EventRevertMerged: the revert pull request merged.
	EventRevertMerged EventType = "revert_merged"
	// EventFailed: a step failed for good (Cause is the error); people
	// take over.
	EventFailed EventType = "failed"
)

// EventTypes lists every event type.
func EventTypes() []EventType {
	return []EventType{
		EventOpened, EventAnomaly, EventSettled, EventSuppressed, EventNoProposal,
		EventPROpened, EventPRUpdated, EventPRMerged, EventPRClosed, EventQuiet,
		EventVerifying, EventRecovered, EventNotRecovered, EventRevertOpened,
		EventRevertMerged, EventFailed,
	}
}

// Event is one thing that happened to an incident, in event time.
type Event struct {
	Type EventType
	// At is the event time (the telemetry's or the forge's clock).
	At time.Time
	// Cause says why, in words; it is stored with the transition.
	// EventSuppressed, EventNoProposal and EventFailed require one.
	Cause string
	// Automerge, on EventPROpened and EventRevertOpened, is the policy's
	// decision that the pull request may merge without a person.
	Automerge bool
}

// Action is an external step the caller performs after recording a
// transition. Each is keyed by (incident id, StepName(action, seq)), so a
// restart neither repeats nor skips it.
type Action string

// The actions Next asks for.
const (
	// ActionSuggest asks the crew for proposals (stored as the step's
	// result, so a restart does not ask twice).
	ActionSuggest Action = "suggest"
	// ActionPropose plans the first proposal, asks the policy and opens
	// the pull request; call Grouper.AdmitPR first, and send
	// EventNoProposal when the suggest step returned nothing.
	ActionPropose Action = "propose"
	// ActionMerge merges the pull request the policy let automerge.
	ActionMerge Action = "merge"
	// ActionVerify starts the verification checks (next issue).
	ActionVerify Action = "verify"
	// ActionRevert opens the revert pull request (next issue).
	ActionRevert Action = "revert"
	// ActionComment comments the outcome on the incident's pull request.
	ActionComment Action = "comment"
)

// StepName is the stable name of an action's step: the action and seq,
// the 1-based number of the incident's transition that asked for it (its
// position in the stored history). The same transition always yields the
// same names, and two transitions never share one.
func StepName(a Action, seq int) string { return string(a) + "-" + strconv.Itoa(seq) }

// Transition is one stored change of an incident's state.
type Transition struct {
	IncidentID string    `json:"incident_id"`
	From       State     `json:"from"`
	To         State     `json:"to"`
	Event      EventType `json:"event"`
	Cause      string    `json:"cause,omitempty"`
	At         time.Time `json:"at"`
}

type edge struct {
	from State
	ev   EventType
}

type move struct {
	to      State
	actions []Action
}

// machine is the whole state machine. A move to the same state is no
// transition: the event is recorded on the incident, not in its history.
var machine = func() map[edge]move {
	m := map[edge]move{
		{StateNone, EventOpened}:               {StateDetected, nil},
		{StateDetected, EventSettled}:          {StateProposing, []Action{ActionSuggest, ActionPropose}},
		{StateDetected, EventSuppressed}:       {StateSuppressed, nil},
		{StateProposing, EventSuppressed}:      {StateSuppressed, nil},
		{StateProposing, EventNoProposal}:      {StateNoAction, nil},
		{StateProposing, EventPROpened}:        {StateProposed, nil}, // + ActionMerge on Automerge
		{StateProposing, EventFailed}:          {StateEscalated, nil},
		{StateProposed, EventPRUpdated}:        {StateProposed, nil},
		{StateProposed, EventPRMerged}:         {StateMerged, []Action{ActionVerify}},
		{StateProposed, EventPRClosed}:         {StateClosed, nil},
		{StateProposed, EventFailed}:           {StateEscalated, []Action{ActionComment}},
		{StateSuppressed, EventQuiet}:          {StateClosed, nil},
		{StateNoAction, EventQuiet}:            {StateClosed, nil},
		{StateMerged, EventQuiet}:              {StateClosed, nil},
		{StateMerged, EventVerifying}:          {StateVerifying, nil},
		{StateMerged, EventFailed}:             {StateEscalated, []Action{ActionComment}},
		{StateVerifying, EventRecovered}:       {StateRecovered, []Action{ActionComment}},
		{StateVerifying, EventNotRecovered}:    {StateNotRecovered, []Action{ActionRevert}},
		{StateVerifying, EventFailed}:          {StateEscalated, []Action{ActionComment}},
		{StateNotRecovered, EventRevertOpened}: {StateReverting, nil}, // + ActionMerge on Automerge
		{StateNotRecovered, EventFailed}:       {StateEscalated, []Action{ActionComment}},
		{StateReverting, EventRevertMerged}:    {StateReverted, []Action{ActionComment}},
		{StateReverting, EventFailed}:          {StateEscalated, []Action{ActionComment}},
	}
	for _, s := range States() {
		if s.Open() {
			m[edge{s, EventAnomaly}] = move{s, nil}
		}
	}
	return m
}()

// ErrInvalidEvent marks an event that is not valid in the incident's
// state (errors.Is). A late forge event for an incident medic already gave
// up on is one: the caller logs and drops it.
var ErrInvalidEvent = errors.New("event not valid in this state")

// Next is the incident state machine: the state after e in s, and the
// actions the caller must perform once the transition is stored. It is
// pure. An event not valid in s is an error naming both; so is an event
// without a time, and a suppression, no-proposal or failure without a
// cause. When the returned state equals s the event is recorded on the
// incident but is no Transition.
func Next(s State, e Event) (State, []Action, error) {
	m, ok := machine[edge{s, e.Type}]
	if !ok {
		return s, nil, fmt.Errorf("incident in state %q: event %q: %w", stateName(s), e.Type, ErrInvalidEvent)
	}
	if e.At.IsZero() {
		return s, nil, fmt.Errorf("incident in state %q: event %q has no time", stateName(s), e.Type)
	}
	switch e.Type {
	case EventSuppressed, EventNoProposal, EventFailed:
		if e.Cause == "" {
			return s, nil, fmt.Errorf("incident in state %q: event %q needs a cause", stateName(s), e.Type)
		}
	}
	actions := append([]Action(nil), m.actions...)
	if e.Automerge && (e.Type == EventPROpened || e.Type == EventRevertOpened) {
		actions = append(actions, ActionMerge)
	}
	return m.to, actions, nil
}

func stateName(s State) string {
	if s == StateNone {
		return "none"
	}
	return string(s)
}
