package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/metrics"
)

const defaultHistoryLimit = 10

// persist summarizes the conditions and patches status if it changed since the last persist, so every stored
// status is coherent even if the process dies right after. The patch carries the resourceVersion the object was
// read with: written from a stale copy it fails with a conflict instead of undoing newer progress. The Events
// queued so far are emitted once it is stored: a pass that meets a conflict tells nothing, so one fact is told
// once. The rotations the patch ends are counted, and the status gauges set from what is stored, the same way.
func (r *RotatedSecretReconciler) persist(ctx context.Context, s *scope) error {
	r.summarize(s)
	if !equality.Semantic.DeepEqual(s.base.Status, s.rs.Status) {
		if err := r.Status().Patch(ctx, s.rs, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("patching status: %w", err)
		}
		// Counted once stored: a conflict above means another pass stores and counts the same end.
		metrics.CountOutcomes(s.rs.Namespace, s.rs.Name, s.base.Status.History, s.rs.Status.History)
		s.base = s.rs.DeepCopy()
		s.fresh = true
	}
	// The gauges describe the status now stored (patched above, or found unchanged), never one that failed to be.
	metrics.ObserveStatus(s.rs)
	if r.Recorder != nil {
		for _, e := range s.events {
			r.Recorder.Eventf(s.rs, nil, e.eventType, e.reason, e.action, "%s", e.note)
		}
	}
	s.events = nil
	return nil
}

// summarize derives Ready, Reconciling, Stalled, Rotating and phase from what the phases found. persist runs it
// before every status patch.
func (r *RotatedSecretReconciler) summarize(s *scope) {
	rs, st := s.rs, &s.rs.Status
	st.ObservedGeneration = rs.Generation
	switch {
	case s.stalled != nil:
		s.setCondition(rotationv1alpha1.ConditionStalled, metav1.ConditionTrue, s.stalled.reason, s.stalled.message)
		s.setCondition(rotationv1alpha1.ConditionReady, metav1.ConditionFalse, s.stalled.reason, s.stalled.message)
		conditions.Delete(rs, rotationv1alpha1.ConditionReconciling)
		st.Phase = rotationv1alpha1.PhaseStalled
	case s.backingOff:
		// The conditions of the failed attempt stay until the next attempt.
	case st.Pending != nil && st.Pending.Step == rotationv1alpha1.StepHalted && stalledNow(rs):
		// A halted rotation stays Stalled, with its reason, through the persists of other phases that run before
		// resumeHalted (a notification delivered, an override reverted).
	case st.Pending != nil:
		conditions.Delete(rs, rotationv1alpha1.ConditionStalled)
		msg := fmt.Sprintf("Rotating to revision %d (%s)", st.Pending.Revision, st.Pending.Step)
		s.setCondition(rotationv1alpha1.ConditionReconciling, metav1.ConditionTrue, string(st.Pending.Step), msg)
		s.setCondition(rotationv1alpha1.ConditionReady, metav1.ConditionFalse, rotationv1alpha1.ReasonRotationStarted, msg)
		st.Phase = rotationv1alpha1.PhaseRotating
	default:
		conditions.Delete(rs, rotationv1alpha1.ConditionStalled)
		conditions.Delete(rs, rotationv1alpha1.ConditionReconciling)
		if c := conditions.Get(rs, rotationv1alpha1.ConditionRotating); c == nil || c.Status == metav1.ConditionTrue {
			s.setCondition(rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonUpToDate, "No rotation in progress")
		}
		ready, reason, msg, phase := metav1.ConditionTrue, rotationv1alpha1.ReasonUpToDate,
			fmt.Sprintf("Revision %d is in every target", st.CurrentRevision), rotationv1alpha1.PhaseReady
		switch {
		case st.CurrentRevision == 0 && rs.Spec.Suspend:
			ready, reason, msg, phase = metav1.ConditionFalse, rotationv1alpha1.ReasonSuspended,
				"Suspended before the first value was generated", rotationv1alpha1.PhaseSuspended
		case st.CurrentRevision == 0:
			ready, reason, msg, phase = metav1.ConditionFalse, "Pending", "No value generated yet", rotationv1alpha1.PhasePending
		case rs.Spec.Suspend:
			reason, phase = rotationv1alpha1.ReasonSuspended, rotationv1alpha1.PhaseSuspended
			msg = fmt.Sprintf("Revision %d is in every target; rotations are suspended", st.CurrentRevision)
		}
		s.setCondition(rotationv1alpha1.ConditionReady, ready, reason, msg)
		if s.queued {
			phase = rotationv1alpha1.PhaseQueued
		}
		st.Phase = phase
	}
}

// stalledNow reports whether rs has Stalled=True.
func stalledNow(rs *rotationv1alpha1.RotatedSecret) bool {
	c := conditions.Get(rs, rotationv1alpha1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue
}
