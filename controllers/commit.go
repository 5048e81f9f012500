package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/policy"
)

// StepHookCommitted is called once the new revision is current.
const StepHookCommitted = "Committed"

// commit makes the pending revision current once it is confirmed (every target holds it, the rollout is
// healthy, validation passed).
func (r *RotatedSecretReconciler) commit(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepConfirmed {
		return goOnOutcome()
	}
	old := st.CurrentRevision
	st.CurrentRevision, st.CurrentFingerprint = p.Revision, p.Fingerprint
	st.LastRotationTime = &metav1.Time{Time: s.now}
	// The TTL runs out at now+ttl; the rotation starts at the first maintenance window from then.
	next, _ := s.schedule.StartAt(s.now.Truncate(time.Second).Add(s.ttl), s.now)
	st.NextRotationTime = &metav1.Time{Time: next}
	if st.PreviousRevision > 0 {
		// A previous value still kept (a rotation inside the grace period, or an emergency) leaves service now.
		s.queueRevocation(st.PreviousRevision)
	}
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	if keepPrevious(s.rs) && !p.Emergency && old > 0 && !s.compromised(old) {
		st.PreviousRevision = old
		st.PreviousExpiryTime = &metav1.Time{Time: s.now.Add(s.grace)}
	} else if !p.Emergency || revokeOrder(s.rs) != rotationv1alpha1.RevokeFirst {
		// The old credential leaves service now: revoke it (revokePhase). A kept previous value is revoked when
		// its grace period ends. (An emergency that revokes first queued it when it started.)
		s.queueRevocation(old)
	}
	s.completeHistory(p.Revision, rotationv1alpha1.OutcomeSucceeded, p.Fingerprint)
	st.Pending, st.FailedAttempts, st.LastFailureTime = nil, 0, nil
	msg := fmt.Sprintf("Rotated to revision %d (%s) in %s", p.Revision, p.Fingerprint, s.targetSummary())
	if p.Emergency {
		msg += "; emergency: the previous value was not kept"
	}
	s.setCondition(rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonRotated, msg)
	s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonRotated, "Rotate", "%s", msg)
	s.notify(rotationv1alpha1.NotifySucceeded, p.Revision, msg, nil)
	s.startJobs(s.postRotationJobs(), p.Revision)
	if p.Emergency {
		s.startJobs(s.purgeJobs(), p.Revision)
		s.endIncident(rotationv1alpha1.IncidentOutcomeSucceeded, rotationv1alpha1.IncidentCommitted, msg)
	}
	if err := r.persist(ctx, s); err != nil {
		return retry(err)
	}
	// Counted only once the commit is stored: a conflict above means another pass commits and counts.
	ctrl.LoggerFrom(ctx).Info("Committed rotation", "revision", p.Revision, "fingerprint", p.Fingerprint)
	metrics.Rotations.WithLabelValues(s.rs.Namespace, s.rs.Name, string(p.Trigger)).Inc()
	metrics.RotationDuration.WithLabelValues(string(p.Trigger)).Observe(s.now.Sub(p.StartTime.Time).Seconds())
	if o := r.hook(StepHookCommitted); o.done() {
		return o
	}
	// With notice, wake when it must be given.
	s.wakeAt(st.NextRotationTime.Add(-s.notice), policy.Jitter(string(s.rs.UID), s.ttl))
	// A token set while this rotation ran waited for it to end: look at it now. The commit's status write wakes
	// no watch (only spec, labels and annotations do), so without this it would wait for some unrelated event; and
	// not after wakeAt's one-second floor, which a forced rotation set during the previous one's commit (its
	// token made that commit's first status write conflict) would wait on top of its own work.
	_, rotate := policy.NewRotateToken(s.rs)
	_, emergency := policy.NewEmergencyToken(s.rs)
	if rotate || emergency {
		s.wakeSoon(tokenRecheck)
	}
	if st.PreviousExpiryTime != nil {
		s.wakeAt(st.PreviousExpiryTime.Time, 0)
	}
	return goOnOutcome()
}

// expirePrevious removes the previous-value keys from the targets when the grace period is over (or when
// spec.previous.keep was turned off), and queues that revision's credential for revocation.
func (r *RotatedSecretReconciler) expirePrevious(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	if st.Pending != nil || st.PreviousRevision == 0 || s.wrote {
		return goOnOutcome()
	}
	if keepPrevious(s.rs) && st.PreviousExpiryTime != nil && s.now.Before(st.PreviousExpiryTime.Time) {
		s.wakeAt(st.PreviousExpiryTime.Time, 0)
		return goOnOutcome()
	}
	if err := s.ensureFresh(ctx, r); err != nil {
		return retry(err)
	}
	cur, o := r.currentValues(ctx, s)
	if o.done() {
		return o
	}
	for _, w := range desiredWrites(s.rs, cur, nil) {
		ctrl.LoggerFrom(ctx).Info("Removing previous value", "secret", w.String(), "revision", st.PreviousRevision)
		if o := r.applyTarget(ctx, s, w, false); o.done() {
			return o
		}
	}
	s.wrote = true
	s.queueRevocation(st.PreviousRevision)
	s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonPreviousRemoved, "RemovePrevious",
		"Grace period over: removed revision %d from the previous-value keys of %s", st.PreviousRevision, s.targetSummary())
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	return next(r.persist(ctx, s))
}
