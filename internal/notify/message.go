package notify

import "time"

// Message is everything a notification may carry. It carries no secret value by construction: no field holds a
// value, only names, a revision number, a keyed fingerprint (see package fingerprint) and texts the operator
// wrote. Message, the free text, must come from the operator's own sanitised texts (condition messages, reasons),
// which never hold a value either. A zero time is unknown and left out of what Render writes.
type Message struct {
	// ID is the delivery id, from DeliveryID: the same for every attempt of one notification.
	ID string
	// Event is what happened; Render refuses an Event that is not Valid.
	Event Event
	// Name and Namespace are the RotatedSecret's.
	Name, Namespace string
	// Owner is who answers for the secret (spec.owner), e.g. a team.
	Owner string
	// Description says what the secret is (spec.description). Free text: cut first when the body is too long.
	Description string
	// Revision is the revision the event is about; 0 when there is none yet.
	Revision int64
	// Trigger is why the rotation started, e.g. "TTLExpired" (status history trigger).
	Trigger string
	// Outcome is how the rotation ended, e.g. "Succeeded" or "RolledBack"; empty while it runs.
	Outcome string
	// Fingerprint is the keyed fingerprint of the revision's value, e.g. "hmac-sha256:3f9a0c1e77b2".
	Fingerprint string
	// ScheduledFor is when a scheduled rotation is due.
	ScheduledFor time.Time
	// StartTime is when the rotation started.
	StartTime time.Time
	// CompletionTime is when the rotation ended.
	CompletionTime time.Time
	// Message is free text from the reconciler, e.g. a condition message. Cut when the body is too long.
	Message string
	// Urgent marks a notification people should act on now (an emergency, a halt); Slack text starts with
	// UrgentPrefix.
	Urgent bool
}
