package notify

import (
	"errors"
	"fmt"
	"strings"
)

// Event is what a notification is about; spec.notify[].on lists the events a sink receives.
type Event string

// The events of a rotation, in the order they usually happen.
const (
	// EventScheduled: a rotation is due at a known time (ScheduledFor).
	EventScheduled Event = "Scheduled"
	// EventStarted: a rotation began (StartTime).
	EventStarted Event = "Started"
	// EventSucceeded: the new revision is committed everywhere.
	EventSucceeded Event = "Succeeded"
	// EventFailed: an attempt failed; the rotation may be retried.
	EventFailed Event = "Failed"
	// EventRolledBack: a stage timed out or validation failed and the previous value is back everywhere.
	EventRolledBack Event = "RolledBack"
	// EventHalted: a stage timed out or validation failed and onFailure is Halt: a human must act.
	EventHalted Event = "Halted"
	// EventEmergency: an emergency rotation was requested.
	EventEmergency Event = "Emergency"
	// EventDegraded: the RotatedSecret cannot make progress (stalled, or its targets drifted).
	EventDegraded Event = "Degraded"
	// EventPurge: an emergency's purge Jobs (spec.emergency.jobs) finished; the message says how.
	EventPurge Event = "Purge"
)

// ErrUnknownEvent matches, with errors.Is, every error about an event that is not one of Events().
var ErrUnknownEvent = errors.New("unknown notification event")

// Events returns every event, in the order of the constants. The slice is the caller's.
func Events() []Event {
	return []Event{EventScheduled, EventStarted, EventSucceeded, EventFailed, EventRolledBack, EventHalted,
		EventEmergency, EventDegraded, EventPurge}
}

// Valid tells whether e is one of Events() (case-sensitive, as in the CRD).
func (e Event) Valid() bool {
	for _, known := range Events() {
		if e == known {
			return true
		}
	}
	return false
}

// ParseEvent returns s as an Event, or an error wrapping ErrUnknownEvent that quotes at most the first
// MaxField bytes of s and lists the events there are.
func ParseEvent(s string) (Event, error) {
	if e := Event(s); e.Valid() {
		return e, nil
	}
	names := make([]string, 0, len(Events()))
	for _, e := range Events() {
		names = append(names, string(e))
	}
	return "", fmt.Errorf("%w %q: want one of %s", ErrUnknownEvent, clip(s, MaxField), strings.Join(names, ", "))
}
