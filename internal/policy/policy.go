// Package policy decides whether a RotatedSecret should rotate now, and when to look again. Every function here
// is pure: it reads a snapshot and the time it is given, so it is table-tested without an API server.
package policy

import (
	"fmt"
	"hash/fnv"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
)

// Input is the snapshot a policy decides on.
type Input struct {
	// Now is read once per reconcile from the reconciler's clock.
	Now time.Time
	// Object is the RotatedSecret as fetched.
	Object *rotationv1alpha1.RotatedSecret
	// TTL is spec.ttl, parsed.
	TTL time.Duration
}

// Decision is the outcome of a policy chain.
type Decision struct {
	// Rotate is true when a rotation should start now.
	Rotate bool
	// Trigger is recorded in the rotation's history when Rotate is true.
	Trigger rotationv1alpha1.Trigger
	// Emergency rotations do not keep the previous value.
	Emergency bool
	// Reason is a CamelCase word for conditions and Events; Message says it to a person (never a value).
	Reason, Message string
}

// Policy looks at the input and either decides (second result true) or passes to the next policy.
type Policy func(Input) (Decision, bool)

// Chain runs policies in order; the first that decides wins. If none does, nothing rotates.
type Chain []Policy

// Decide runs the chain.
func (c Chain) Decide(in Input) Decision {
	for _, p := range c {
		if d, ok := p(in); ok {
			return d
		}
	}
	return Decision{Reason: rotationv1alpha1.ReasonUpToDate, Message: "The current value is within its TTL"}
}

// DefaultChain is the chain the operator runs. Order matters: an emergency overrides suspend; suspend holds every
// other rotation, including the first one.
func DefaultChain() Chain {
	return Chain{EmergencyRequested, Suspended, NeverRotated, ForcedByAnnotation, TTLExpired}
}

// EmergencyRequested rotates when the emergency annotation carries a token not handled before.
func EmergencyRequested(in Input) (Decision, bool) {
	token, ok := NewEmergencyToken(in.Object)
	if !ok {
		return Decision{}, false
	}
	_, reason := EmergencyToken(in.Object.Annotations[rotationv1alpha1.EmergencyAnnotation])
	if reason == "" {
		reason = "no reason given"
	}
	// The reason is capped in characters; 256 of four bytes each would not fit a condition message or Event, and
	// the message is recorded in status as it is.
	return Decision{
		Rotate: true, Trigger: rotationv1alpha1.TriggerEmergency, Emergency: true,
		Reason:  "EmergencyRequested",
		Message: conditions.Bound(fmt.Sprintf("Emergency rotation requested (token %q): %s", token, reason)),
	}, true
}

// Suspended holds every rotation while spec.suspend is true.
func Suspended(in Input) (Decision, bool) {
	if !in.Object.Spec.Suspend {
		return Decision{}, false
	}
	return Decision{Reason: rotationv1alpha1.ReasonSuspended, Message: "spec.suspend is true: rotations are paused"}, true
}

// NeverRotated rotates an object that has no value yet.
func NeverRotated(in Input) (Decision, bool) {
	if in.Object.Status.CurrentRevision > 0 {
		return Decision{}, false
	}
	return Decision{Rotate: true, Trigger: rotationv1alpha1.TriggerCreated, Reason: "Created",
		Message: "No value has been generated yet"}, true
}

// ForcedByAnnotation rotates when the rotate annotation carries a token not handled before. Any other change to
// the object (a label, another annotation) never rotates.
func ForcedByAnnotation(in Input) (Decision, bool) {
	token, ok := NewRotateToken(in.Object)
	if !ok {
		return Decision{}, false
	}
	return Decision{Rotate: true, Trigger: rotationv1alpha1.TriggerManual, Reason: "RotationRequested",
		Message: fmt.Sprintf("Rotation requested with token %q", token)}, true
}

// TTLExpired rotates when the current value has lived for spec.ttl.
func TTLExpired(in Input) (Decision, bool) {
	due, ok := Due(in)
	if !ok || in.Now.Before(due) {
		return Decision{}, false
	}
	return Decision{Rotate: true, Trigger: rotationv1alpha1.TriggerTTLExpired, Reason: "TTLExpired",
		Message: fmt.Sprintf("The value reached its TTL of %s at %s", in.Object.Spec.TTL, due.UTC().Format(time.RFC3339))}, true
}

// Due returns when the current value's TTL runs out; false when there is no current value.
func Due(in Input) (time.Time, bool) {
	last := in.Object.Status.LastRotationTime
	if in.Object.Status.CurrentRevision == 0 || last == nil {
		return time.Time{}, false
	}
	return last.Add(in.TTL), true
}

// Jitter spreads the wake-ups of objects that share a TTL over up to 1% of it (at most 5 minutes). It is derived
// from the object's UID so it is stable across restarts, and it only ever delays a wake-up: a value is never
// rotated before its TTL.
func Jitter(uid string, ttl time.Duration) time.Duration {
	max := ttl / 100
	if max > 5*time.Minute {
		max = 5 * time.Minute
	}
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64() % uint64(max))
}

// Backoff is how long to wait after failedAttempts consecutive failures: 10s, 20s, 40s ... capped at 30 minutes.
func Backoff(failedAttempts int32) time.Duration {
	if failedAttempts <= 0 {
		return 0
	}
	d := 10 * time.Second
	for i := int32(1); i < failedAttempts && d < 30*time.Minute; i++ {
		d *= 2
	}
	if d > 30*time.Minute {
		d = 30 * time.Minute
	}
	return d
}

// RetryAt is when a failed attempt may be retried; zero when nothing failed.
func RetryAt(status rotationv1alpha1.RotatedSecretStatus) time.Time {
	if status.FailedAttempts == 0 || status.LastFailureTime == nil {
		return time.Time{}
	}
	return status.LastFailureTime.Add(Backoff(status.FailedAttempts))
}
