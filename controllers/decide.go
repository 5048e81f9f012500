package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
)

// loadStaging reads the staging Secret from the cache. One this RotatedSecret does not control (left by a deleted
// RotatedSecret of the same name and not yet garbage-collected) is never read from: staging it reports it.
func (r *RotatedSecretReconciler) loadStaging(ctx context.Context, s *scope) outcome {
	if err := r.readStaging(ctx, r.Client, s); err != nil {
		return retry(err)
	}
	s.discardUnrecordedFirstValue(ctx, r.Fingerprints.Of)
	return goOnOutcome()
}

// backoff is the one backoff gate: after a failed attempt (status.failedAttempts, lastFailureTime) nothing is
// tried again before policy.RetryAt. A person's go-ahead lifts it at once: a new rotate token (or, with nothing
// pending, an emergency token), or a spec change. While nothing is pending the other
// phases (revocation, repairs) still run; decide starts nothing.
func (r *RotatedSecretReconciler) backoff(_ context.Context, s *scope) outcome {
	st := &s.rs.Status
	retryAt := policy.RetryAt(*st)
	if retryAt.IsZero() || !s.now.Before(retryAt) {
		return goOnOutcome()
	}
	if token, ok := policy.NewRotateToken(s.rs); ok {
		if st.Pending != nil {
			// decide will not look at the token while a rotation is pending: it is handled here, once, and is the
			// go-ahead generate needs to repeat an incomplete vendor call.
			st.LastHandledRotateRequest = token
			st.FailedAttempts, st.LastFailureTime = 0, nil
			s.goAhead = true
		}
		return goOnOutcome()
	}
	if _, ok := policy.NewEmergencyToken(s.rs); ok && st.Pending == nil {
		return goOnOutcome()
	}
	if s.rs.Generation != st.ObservedGeneration {
		return goOnOutcome()
	}
	s.backingOff = true
	if st.Pending != nil {
		return waitUntil(retryAt)
	}
	s.wakeAt(retryAt, 0)
	return goOnOutcome()
}

// decide starts a rotation when the policy chain says so: status.pending gets the next revision and the handled
// tokens are recorded. generate persists both together with the staged value's fingerprint, so a crash before
// that repeats the same decision for the same revision. While status.pending is set no other rotation starts.
func (r *RotatedSecretReconciler) decide(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	if st.Pending != nil || s.backingOff {
		return goOnOutcome()
	}
	if msg, refused := policy.RefusedRequest(s.rs); refused {
		return stall(rotationv1alpha1.ReasonInvalidRequest, msg)
	}
	in := policy.Input{Now: s.now, Object: s.rs, TTL: s.ttl}
	d := r.Policy.Decide(in)
	if s.holding && !d.Emergency {
		return goOnOutcome() // when holds it: a window, the notice or a dependency
	}
	if !d.Rotate {
		if due, ok := policy.Due(in); ok && !s.rs.Spec.Suspend {
			s.wakeAt(due, policy.Jitter(string(s.rs.UID), s.ttl))
		}
		s.unschedule(rotationv1alpha1.ReasonUpToDate, "No rotation is due")
		return goOnOutcome()
	}
	due := s.dueOf(d.Trigger, in)
	if ok, err := r.admit(ctx, s, d.Emergency, due); err != nil || !ok {
		if sc := st.Scheduled; sc == nil || !sc.DueTime.Time.Equal(due) {
			s.record(d.Trigger, due, due, nil, false)
		}
		return next(err)
	}
	// Any rotation satisfies a rotate request; only an emergency rotation satisfies an emergency request.
	if token := policy.RotateToken(s.rs); token != "" {
		st.LastHandledRotateRequest = token
	}
	token, reason := policy.EmergencyToken(s.rs.Annotations[rotationv1alpha1.EmergencyAnnotation])
	if d.Emergency {
		st.LastHandledEmergencyRequest = token
	}
	if d.Trigger == rotationv1alpha1.TriggerManual || d.Emergency {
		// A person asked for this one: the backoff left by an earlier rolled-back rotation does not hold it.
		st.FailedAttempts, st.LastFailureTime = 0, nil
	}
	s.started(d.Trigger)
	p := s.startAttempt(d.Trigger, d.Emergency, d.Message)
	if d.Emergency {
		s.beginEmergency(p, token, reason, r.requester(ctx, s.rs))
	}
	ctrl.LoggerFrom(ctx).Info("Starting rotation", "revision", p.Revision, "trigger", d.Trigger)
	s.setRotating(rotationv1alpha1.ReasonRotationStarted, fmt.Sprintf("Rotating to revision %d: %s", p.Revision, d.Message))
	if d.Trigger != rotationv1alpha1.TriggerCreated {
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonRotationStarted, "Rotate",
			"Rotation to revision %d started (%s): %s", p.Revision, d.Trigger, d.Message)
	}
	return goOnOutcome()
}

// dueOf is since when the rotation about to start has been due: as planned (status.scheduled), else the TTL
// expiry, the object's creation for the first value, or now for a request.
func (s *scope) dueOf(trigger rotationv1alpha1.Trigger, in policy.Input) time.Time {
	if sc := s.rs.Status.Scheduled; sc != nil && sc.Trigger == trigger {
		return sc.DueTime.Time
	}
	switch trigger {
	case rotationv1alpha1.TriggerTTLExpired:
		if due, ok := policy.Due(in); ok {
			return due
		}
	case rotationv1alpha1.TriggerCreated:
		return s.rs.CreationTimestamp.Time
	}
	return s.now.Truncate(time.Second)
}
