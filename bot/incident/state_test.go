package incident

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)

// valid is the state machine written out by hand: every (state, event)
// that Next accepts, and what it must return. Anything else is an error.
var valid = []struct {
	from    State
	ev      EventType
	to      State
	actions []Action
}{
	{StateNone, EventOpened, StateDetected, nil},
	{StateDetected, EventSettled, StateProposing, []Action{ActionSuggest, ActionPropose}},
	{StateDetected, EventSuppressed, StateSuppressed, nil},
	{StateProposing, EventSuppressed, StateSuppressed, nil},
	{StateProposing, EventNoProposal, StateNoAction, nil},
	{StateProposing, EventPROpened, StateProposed, nil},
	{StateProposing, EventFailed, StateEscalated, nil},
	{StateProposed, EventPRUpdated, StateProposed, nil},
	{StateProposed, EventPRMerged, StateMerged, []Action{ActionVerify}},
	{StateProposed, EventPRClosed, StateClosed, nil},
	{StateProposed, EventFailed, StateEscalated, []Action{ActionComment}},
	{StateSuppressed, EventQuiet, StateClosed, nil},
	{StateNoAction, EventQuiet, StateClosed, nil},
	{StateMerged, EventQuiet, StateClosed, nil},
	{StateMerged, EventVerifying, StateVerifying, nil},
	{StateMerged, EventFailed, StateEscalated, []Action{ActionComment}},
	{StateVerifying, EventRecovered, StateRecovered, []Action{ActionComment}},
	{StateVerifying, EventNotRecovered, StateNotRecovered, []Action{ActionRevert}},
	{StateVerifying, EventFailed, StateEscalated, []Action{ActionComment}},
	{StateNotRecovered, EventRevertOpened, StateReverting, nil},
	{StateNotRecovered, EventFailed, StateEscalated, []Action{ActionComment}},
	{StateReverting, EventRevertMerged, StateReverted, []Action{ActionComment}},
	{StateReverting, EventFailed, StateEscalated, []Action{ActionComment}},
	// An anomaly joins every open incident without changing its state.
	{StateDetected, EventAnomaly, StateDetected, nil},
	{StateSuppressed, EventAnomaly, StateSuppressed, nil},
	{StateProposing, EventAnomaly, StateProposing, nil},
	{StateProposed, EventAnomaly, StateProposed, nil},
	{StateMerged, EventAnomaly, StateMerged, nil},
	{StateNoAction, EventAnomaly, StateNoAction, nil},
	{StateVerifying, EventAnomaly, StateVerifying, nil},
	{StateNotRecovered, EventAnomaly, StateNotRecovered, nil},
	{StateReverting, EventAnomaly, StateReverting, nil},
}

func TestNextValid(t *testing.T) {
	for _, c := range valid {
		t.Run(string(c.from)+"/"+string(c.ev), func(t *testing.T) {
			to, actions, err := Next(c.from, Event{Type: c.ev, At: t0, Cause: "because"})
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if to != c.to || !slices.Equal(actions, c.actions) {
				t.Fatalf("Next = %s %v, want %s %v", to, actions, c.to, c.actions)
			}
		})
	}
}

func TestNextInvalid(t *testing.T) {
	ok := map[[2]string]bool{}
	for _, c := range valid {
		ok[[2]string{string(c.from), string(c.ev)}] = true
	}
	n := 0
	for _, s := range append([]State{StateNone}, States()...) {
		for _, ev := range EventTypes() {
			if ok[[2]string{string(s), string(ev)}] {
				continue
			}
			n++
			to, actions, err := Next(s, Event{Type: ev, At: t0, Cause: "because"})
			if err == nil {
				t.Errorf("Next(%q, %s) = %s %v, want an error", s, ev, to, actions)
				continue
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("Next(%q, %s) error %v is not ErrInvalidEvent", s, ev, err)
			}
			if to != s || actions != nil {
				t.Errorf("Next(%q, %s) moved to %q %v on error", s, ev, to, actions)
			}
			if name := stateName(s); !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), `"`+string(ev)+`"`) {
				t.Errorf("Next(%q, %s) error %q does not name both", s, ev, err)
			}
		}
	}
	// 14 states (with none) × 16 events, minus the valid ones.
	if want := 14*16 - len(valid); n != want {
		t.Fatalf("checked %d invalid pairs, want %d", n, want)
	}
}

func TestNextTerminalAcceptsNothing(t *testing.T) {
	for _, s := range States() {
		if !s.Terminal() {
			continue
		}
		for _, ev := range EventTypes() {
			if _, _, err := Next(s, Event{Type: ev, At: t0, Cause: "x"}); err == nil {
				t.Errorf("terminal %s accepted %s", s, ev)
			}
		}
	}
}

func TestNextAutomerge(t *testing.T) {
	for _, c := range []struct {
		from State
		ev   EventType
		want []Action
	}{
		{StateProposing, EventPROpened, []Action{ActionMerge}},
		{StateNotRecovered, EventRevertOpened, []Action{ActionMerge}},
		// Automerge means nothing on other events.
		{StateProposed, EventPRMerged, []Action{ActionVerify}},
	} {
		_, actions, err := Next(c.from, Event{Type: c.ev, At: t0, Automerge: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(actions, c.want) {
			t.Errorf("%s/%s with automerge: actions %v, want %v", c.from, c.ev, actions, c.want)
		}
	}
}

func TestNextRefusesMissingTimeAndCause(t *testing.T) {
	if _, _, err := Next(StateNone, Event{Type: EventOpened}); err == nil || !strings.Contains(err.Error(), "no time") {
		t.Errorf("event without time: err %v", err)
	}
	for _, c := range []struct {
		from State
		ev   EventType
	}{
		{StateDetected, EventSuppressed},
		{StateProposing, EventNoProposal},
		{StateProposing, EventFailed},
	} {
		if _, _, err := Next(c.from, Event{Type: c.ev, At: t0}); err == nil || !strings.Contains(err.Error(), "needs a cause") {
			t.Errorf("%s/%s without cause: err %v", c.from, c.ev, err)
		}
	}
}

func TestStatePredicates(t *testing.T) {
	for _, c := range []struct {
		s                      State
		open, terminal, active bool
	}{
		{StateNone, false, false, false},
		{State("bogus"), false, false, false},
		{StateDetected, true, false, true},
		{StateSuppressed, true, false, false},
		{StateProposing, true, false, true},
		{StateProposed, true, false, true},
		{StateMerged, true, false, true},
		{StateNoAction, true, false, false},
		{StateClosed, false, true, false},
		{StateVerifying, true, false, true},
		{StateRecovered, false, true, false},
		{StateNotRecovered, true, false, true},
		{StateReverting, true, false, true},
		{StateReverted, false, true, false},
		{StateEscalated, false, true, false},
	} {
		if c.s.Open() != c.open || c.s.Terminal() != c.terminal || c.s.Active() != c.active {
			t.Errorf("%q: open %v terminal %v active %v, want %v %v %v",
				c.s, c.s.Open(), c.s.Terminal(), c.s.Active(), c.open, c.terminal, c.active)
		}
	}
}

func TestStepName(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range []Action{ActionSuggest, ActionPropose, ActionMerge, ActionVerify, ActionRevert, ActionComment} {
		for seq := 1; seq <= 12; seq++ {
			n := StepName(a, seq)
			if n != StepName(a, seq) {
				t.Fatalf("StepName(%s, %d) is not stable", a, seq)
			}
			if seen[n] {
				t.Fatalf("StepName(%s, %d) = %q twice", a, seq, n)
			}
			seen[n] = true
		}
	}
	if got := StepName(ActionPropose, 2); got != "propose-2" {
		t.Fatalf("StepName(propose, 2) = %q", got)
	}
}
