package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/sink"
)

// rollbackPhase puts the current revision back: every target gets the current value again (and the previous one
// under the suffix, as before the rotation), the stages restart on the current revision in the same order, and
// once they are healthy the rotation ends as RolledBack, the new credential is queued for revocation and the next
// automatic attempt backs off. Each part is idempotent, so a crash anywhere repeats only no-ops.
func (r *RotatedSecretReconciler) rollbackPhase(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepRollingBack {
		return false, nil
	}
	if st.Rollout == nil || !st.Rollout.RollingBack {
		st.Rollout = &rotationv1alpha1.RolloutStatus{Revision: st.CurrentRevision, RollingBack: true}
	}
	if !s.restored() {
		if fresh, err := r.ensureFresh(ctx, s); !fresh || err != nil {
			return true, err
		}
		writes, cur, ok, err := r.currentWrites(ctx, s)
		if !ok || err != nil {
			return true, err
		}
		for _, w := range writes {
			ctrl.LoggerFrom(ctx).Info("Restoring target", "secret", w.String(), "revision", st.CurrentRevision)
			if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, false); err != nil {
				return r.targetFailed(s, w, err)
			}
		}
		if err := r.mirrorTargets(ctx, s, st.CurrentRevision, cur); err != nil {
			return r.fail(s, rotationv1alpha1.ReasonMirrorFailed, err)
		}
		s.wrote = true
		st.Rollout.CompletedStages = append(st.Rollout.CompletedStages, targetsRestoredMark)
		if err := r.persist(ctx, s); err != nil {
			return false, err
		}
		if stop, err := r.hook(StepHookTargetsRestored); stop {
			return stop, err
		}
	}
	if s.rs.Spec.Rollout != nil {
		done, failure, err := r.runStages(ctx, s, st.CurrentRevision)
		if err != nil {
			return true, err
		}
		if failure != nil {
			// Nothing is left to fall back to: say so and keep waiting for the workloads.
			r.setRotating(s, failure.reason, "Rolling back: "+failure.message)
			s.wakeAt(s.now.Add(rolloutPoll), 0)
			return true, r.persist(ctx, s)
		}
		if !done {
			return true, nil
		}
	}
	msg := fmt.Sprintf("Revision %d rolled back (%s: %s): revision %d is back in every target",
		p.Revision, p.FailureReason, historyMessage(s.rs, p.Revision), st.CurrentRevision)
	if s.rs.Spec.Rollout != nil {
		msg += " and every stage is healthy on it"
	}
	completeHistory(s.rs, p.Revision, rotationv1alpha1.OutcomeRolledBack, p.Fingerprint, s.now)
	// Nothing uses the new credential any more: revoke it (revokePhase).
	s.queueRevocation(p.Revision)
	st.Pending = nil
	st.FailedAttempts++
	st.LastFailureTime = &metav1.Time{Time: s.now}
	wait := policy.Backoff(st.FailedAttempts)
	s.wakeAt(s.now.Add(wait), 0)
	r.setCondition(s, rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonRolledBack, msg)
	ctrl.LoggerFrom(ctx).Info("Rolled back", "revision", p.Revision, "current", st.CurrentRevision)
	_, err := r.stallOn(s, rotationv1alpha1.ReasonRolledBack, fmt.Sprintf("%s; no automatic rotation for %s (until %s); "+
		"set a new %s token to try again now", msg, wait, s.now.Add(wait).UTC().Format(time.RFC3339), rotationv1alpha1.RotateAnnotation))
	return false, err // revokePhase follows in this pass and revokes the new credential
}

// targetsRestoredMark in status.rollout.completedStages records that a rollback has written the current value
// back (it is not a stage name: stage names cannot contain a colon).
const targetsRestoredMark = ":targets-restored"

func (s *scope) restored() bool {
	ro := s.rs.Status.Rollout
	if ro == nil {
		return false
	}
	for _, c := range ro.CompletedStages {
		if c == targetsRestoredMark {
			return true
		}
	}
	return false
}

// backingOffAfterFailure holds a new automatic rotation after a rolled-back one until the backoff is over; a new
// rotate or emergency token goes ahead at once.
func backingOffAfterFailure(s *scope) (time.Time, bool) {
	st := s.rs.Status
	if st.Pending != nil || st.FailedAttempts == 0 {
		return time.Time{}, false
	}
	if tok := strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.RotateAnnotation]); tok != "" && tok != st.LastHandledRotateRequest {
		return time.Time{}, false
	}
	if tok := strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.EmergencyAnnotation]); tok != "" && tok != st.LastHandledEmergencyRequest {
		return time.Time{}, false
	}
	retry := policy.RetryAt(st)
	return retry, s.now.Before(retry)
}
