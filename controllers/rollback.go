package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/policy"
)

// Steps at which StepHook is called during a rollback.
const (
	StepHookRollbackStarted = "RollbackStarted" // status records the rollback; targets not restored yet
	StepHookTargetsRestored = "TargetsRestored" // every target holds the current value again
)

// targetsRestoredMark in status.rollout.completedStages records that a rollback has written the current value
// back (it is not a stage name: stage names cannot contain a colon).
const targetsRestoredMark = ":targets-restored"

// rotationFailed handles a failed stage or validation: spec.validation.onFailure says roll back (the default) or
// halt. Either is recorded in status before anything else happens; a rollback goes on in the same pass.
func (r *RotatedSecretReconciler) rotationFailed(ctx context.Context, s *scope, reason, msg string) outcome {
	st := &s.rs.Status
	p := st.Pending
	p.FailureReason = reason
	if h := s.history(p.Revision); h != nil {
		h.Message = msg
	}
	if p.Emergency || s.compromised(st.CurrentRevision) {
		return r.emergencyFailed(s, reason, msg)
	}
	if onFailure(s.rs) == rotationv1alpha1.FailureHalt || st.CurrentRevision == 0 {
		why, wayOut := "spec.validation.onFailure is Halt",
			"set onFailure: Rollback to roll back, or a new "+rotationv1alpha1.RotateAnnotation+" token to start a fresh rotation"
		if st.CurrentRevision == 0 {
			why, wayOut = "there is no earlier value to roll back to",
				"set a new "+rotationv1alpha1.RotateAnnotation+" token to start a fresh rotation"
		}
		p.Step = rotationv1alpha1.StepHalted
		s.completeHistory(p.Revision, rotationv1alpha1.OutcomeHalted, p.Fingerprint)
		halted := fmt.Sprintf("Revision %d halted (%s): %s; targets and workloads are left as they are; %s",
			p.Revision, why, msg, wayOut)
		s.notify(rotationv1alpha1.NotifyHalted, p.Revision, halted, nil)
		return stall(rotationv1alpha1.ReasonHalted, halted)
	}
	s.event(corev1.EventTypeWarning, reason, "Rollback", "Revision %d: %s", p.Revision, msg)
	ctrl.LoggerFrom(ctx).Info("Rolling back", "revision", p.Revision, "reason", reason)
	p.Step = rotationv1alpha1.StepRollingBack
	st.Rollout = &rotationv1alpha1.RolloutStatus{Revision: st.CurrentRevision, RollingBack: true}
	m := fmt.Sprintf("Revision %d failed (%s): %s; rolling back to revision %d", p.Revision, reason, msg, st.CurrentRevision)
	s.setRotating(rotationv1alpha1.ReasonRollingBack, m)
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRollingBack, "Rollback", "%s", m)
	if err := r.persist(ctx, s); err != nil {
		return retry(err)
	}
	return r.hook(StepHookRollbackStarted) // rollbackPhase follows in this same pass
}

// resumeHalted keeps a halted rotation waiting for a person: a new rotate token discards it (its credential is
// queued for revocation and decide starts afresh); onFailure: Rollback rolls it back.
func (r *RotatedSecretReconciler) resumeHalted(ctx context.Context, s *scope) outcome {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepHalted {
		return goOnOutcome()
	}
	st := &s.rs.Status
	if _, ok := policy.NewRotateToken(s.rs); ok {
		ctrl.LoggerFrom(ctx).Info("Discarding halted rotation", "revision", p.Revision)
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonHalted, "Discard",
			"Halted revision %d discarded for a new rotate token", p.Revision)
		s.queueRevocation(p.Revision)
		st.Pending = nil
		return goOnOutcome()
	}
	if onFailure(s.rs) == rotationv1alpha1.FailureRollback && st.CurrentRevision > 0 && !p.Emergency && !s.compromised(st.CurrentRevision) {
		return r.rotationFailed(ctx, s, p.FailureReason, "rollback requested after a halt")
	}
	if c := conditions.Get(s.base, rotationv1alpha1.ConditionStalled); c != nil {
		return stall(c.Reason, c.Message)
	}
	return waitUntil(time.Time{})
}

// rollbackPhase puts the current revision back: every target gets the current value again (and the previous one
// under the suffix, as before the rotation), the stages restart on the current revision in the same order, and
// once they are healthy the rotation ends as RolledBack, the new credential is queued for revocation and the next
// automatic attempt backs off. Each part is idempotent, so a crash anywhere repeats only no-ops.
func (r *RotatedSecretReconciler) rollbackPhase(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepRollingBack {
		return goOnOutcome()
	}
	if st.Rollout == nil || !st.Rollout.RollingBack {
		st.Rollout = &rotationv1alpha1.RolloutStatus{Revision: st.CurrentRevision, RollingBack: true}
	}
	if !s.restored() {
		if o := r.restoreTargets(ctx, s); o.done() {
			return o
		}
	}
	if s.rs.Spec.Rollout != nil {
		o := r.runStages(ctx, s, s.rs.Status.CurrentRevision)
		if o.kind == stalled {
			// Nothing is left to fall back to: say so once and wait for the workloads (their changes wake the
			// reconcile), never retrying in a loop.
			o.message = fmt.Sprintf("Rolling back to revision %d: %s; waiting for the workloads to become healthy",
				s.rs.Status.CurrentRevision, o.message)
			if needsPoll(s.rs.Namespace, s.rs.Status.Rollout.Workloads) {
				s.wakeAt(s.now.Add(rolloutPoll), 0)
			}
			return o
		}
		if o.done() {
			return o
		}
	}
	st, p = &s.rs.Status, s.rs.Status.Pending // a persist decodes the response into s.rs
	msg := fmt.Sprintf("Revision %d rolled back (%s: %s): revision %d is back in every target",
		p.Revision, p.FailureReason, historyMessage(s, p.Revision), st.CurrentRevision)
	if s.rs.Spec.Rollout != nil {
		msg += " and every stage is healthy on it"
	}
	s.completeHistory(p.Revision, rotationv1alpha1.OutcomeRolledBack, p.Fingerprint)
	s.notify(rotationv1alpha1.NotifyRolledBack, p.Revision, msg, nil)
	// Nothing uses the new credential any more: revoke it (revokePhase, in the next pass, a second from now).
	s.queueRevocation(p.Revision)
	s.wakeAt(s.now, 0)
	st.Pending = nil
	s.setCondition(rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonRolledBack, msg)
	ctrl.LoggerFrom(ctx).Info("Rolled back", "revision", p.Revision, "current", st.CurrentRevision)
	return failed(rotationv1alpha1.ReasonRolledBack, fmt.Errorf("%s", msg))
}

// restoreTargets writes the current value (and a kept previous one) back to every target and mirror and records
// it in status.rollout.
func (r *RotatedSecretReconciler) restoreTargets(ctx context.Context, s *scope) outcome {
	if err := s.ensureFresh(ctx, r); err != nil {
		return retry(err)
	}
	writes, cur, o := r.currentWrites(ctx, s)
	if o.done() {
		return o
	}
	st := &s.rs.Status
	for _, w := range writes {
		ctrl.LoggerFrom(ctx).Info("Restoring target", "secret", w.String(), "revision", st.CurrentRevision)
		if o := r.applyTarget(ctx, s, w, false); o.done() {
			return o
		}
	}
	if o := r.writeMirrors(ctx, s, st.CurrentRevision, cur); o.done() {
		return o
	}
	s.wrote = true
	st.Rollout.CompletedStages = append(st.Rollout.CompletedStages, targetsRestoredMark)
	if err := r.persist(ctx, s); err != nil {
		return retry(err)
	}
	return r.hook(StepHookTargetsRestored)
}

// historyMessage is the message of rev's newest history record.
func historyMessage(s *scope, rev int64) string {
	if h := s.history(rev); h != nil {
		return h.Message
	}
	return ""
}
