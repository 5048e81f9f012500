package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/sink"
)

const defaultHistoryLimit = 10

// persist summarizes the conditions and patches status if it changed since the last persist, so every stored
// status is coherent even if the process dies right after. The patch carries the resourceVersion the object was
// read with: written from a stale copy it fails with a conflict instead of undoing newer progress.
func (r *RotatedSecretReconciler) persist(ctx context.Context, s *scope) error {
	r.summarize(s)
	if equality.Semantic.DeepEqual(s.base.Status, s.rs.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, s.rs, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	s.base = s.rs.DeepCopy()
	s.fresh = true
	return nil
}

// summarize derives Ready, Reconciling, Stalled, Rotating and phase from what the phases found. persist runs it
// before every status patch.
func (r *RotatedSecretReconciler) summarize(s *scope) {
	rs, st := s.rs, &s.rs.Status
	st.ObservedGeneration = rs.Generation
	if st.NextRotationTime != nil {
		metrics.NextRotation.WithLabelValues(rs.Namespace, rs.Name).Set(float64(st.NextRotationTime.Unix()))
	}
	switch {
	case s.stalled != nil:
		r.setCondition(s, rotationv1alpha1.ConditionStalled, metav1.ConditionTrue, s.stalled.reason, s.stalled.message)
		r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, s.stalled.reason, s.stalled.message)
		conditions.Delete(rs, rotationv1alpha1.ConditionReconciling)
		st.Phase = rotationv1alpha1.PhaseStalled
	case s.backingOff:
		// The conditions of the failed attempt stay until the next attempt.
	case st.Pending != nil:
		conditions.Delete(rs, rotationv1alpha1.ConditionStalled)
		msg := fmt.Sprintf("Rotating to revision %d (%s)", st.Pending.Revision, st.Pending.Step)
		r.setCondition(s, rotationv1alpha1.ConditionReconciling, metav1.ConditionTrue, string(st.Pending.Step), msg)
		r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, rotationv1alpha1.ReasonRotationStarted, msg)
		st.Phase = rotationv1alpha1.PhaseRotating
	default:
		conditions.Delete(rs, rotationv1alpha1.ConditionStalled)
		conditions.Delete(rs, rotationv1alpha1.ConditionReconciling)
		if c := conditions.Get(rs, rotationv1alpha1.ConditionRotating); c == nil || c.Status == metav1.ConditionTrue {
			r.setCondition(s, rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonUpToDate, "No rotation in progress")
		}
		switch {
		case st.CurrentRevision == 0 && rs.Spec.Suspend:
			r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, rotationv1alpha1.ReasonSuspended, "Suspended before the first value was generated")
			st.Phase = rotationv1alpha1.PhaseSuspended
		case st.CurrentRevision == 0:
			r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, "Pending", "No value generated yet")
			st.Phase = rotationv1alpha1.PhasePending
		case rs.Spec.Suspend:
			r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionTrue, rotationv1alpha1.ReasonSuspended,
				fmt.Sprintf("Revision %d is in every target; rotations are suspended", st.CurrentRevision))
			st.Phase = rotationv1alpha1.PhaseSuspended
		default:
			r.setCondition(s, rotationv1alpha1.ConditionReady, metav1.ConditionTrue, rotationv1alpha1.ReasonUpToDate,
				fmt.Sprintf("Revision %d is in every target", st.CurrentRevision))
			st.Phase = rotationv1alpha1.PhaseReady
		}
	}
}

// setRotating marks a rotation in progress with the step's reason.
func (r *RotatedSecretReconciler) setRotating(s *scope, reason, msg string) {
	r.setCondition(s, rotationv1alpha1.ConditionRotating, metav1.ConditionTrue, reason, msg)
}

func (r *RotatedSecretReconciler) setCondition(s *scope, condType string, status metav1.ConditionStatus, reason, msg string) {
	conditions.Set(s.rs, condType, status, reason, msg)
}

// invalid stalls the object until its spec changes: no retry, no failed attempt counted.
func (r *RotatedSecretReconciler) invalid(s *scope, msg string) (bool, error) {
	return r.stallOn(s, rotationv1alpha1.ReasonInvalidSpec, msg)
}

// stallOn stalls the object; a Warning Event and the failures metric count it once per distinct reason and
// message (every failed attempt has its own message).
func (r *RotatedSecretReconciler) stallOn(s *scope, reason, msg string) (bool, error) {
	if c := conditions.Get(s.base, rotationv1alpha1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue ||
		c.Reason != reason || c.Message != msg {
		r.event(s, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
		metrics.Failures.WithLabelValues(s.rs.Namespace, s.rs.Name, reason).Inc()
	}
	s.stalled = &stall{reason: reason, message: msg}
	return true, nil
}

// fail records a failed attempt: status counts it, the next attempt waits policy.Backoff (a new spec generation
// retries at once), and the Stalled condition and a Warning Event say why. The error text must not carry a
// value; provider and API errors here name objects and keys only.
func (r *RotatedSecretReconciler) fail(s *scope, reason string, err error) (bool, error) {
	st := &s.rs.Status
	if provider.IsPermanent(err) {
		return r.invalid(s, err.Error())
	}
	st.FailedAttempts++
	st.LastFailureTime = &metav1.Time{Time: s.now}
	wait := policy.Backoff(st.FailedAttempts)
	s.wakeAt(s.now.Add(wait), 0)
	return r.stallOn(s, reason, fmt.Sprintf("%v (attempt %d; next attempt in %s or when the spec changes)", err, st.FailedAttempts, wait))
}

// event emits an Event about the RotatedSecret. Notes name revisions, keys and fingerprints, never values.
func (r *RotatedSecretReconciler) event(s *scope, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(s.rs, nil, eventType, reason, action, note, args...)
	}
}

// addHistory puts a record first in status.history and trims it to spec.revisionHistoryLimit.
func addHistory(rs *rotationv1alpha1.RotatedSecret, rec rotationv1alpha1.RotationRecord) {
	limit := defaultHistoryLimit
	if rs.Spec.RevisionHistoryLimit != nil {
		limit = int(*rs.Spec.RevisionHistoryLimit)
	}
	h := append([]rotationv1alpha1.RotationRecord{rec}, rs.Status.History...)
	if len(h) > limit {
		h = h[:limit]
	}
	rs.Status.History = h
}

// completeHistory closes the in-progress record of rev.
func completeHistory(rs *rotationv1alpha1.RotatedSecret, rev int64, outcome rotationv1alpha1.Outcome, fp string, now time.Time) {
	for i := range rs.Status.History {
		h := &rs.Status.History[i]
		if h.Revision == rev && h.Outcome == rotationv1alpha1.OutcomeInProgress {
			h.Outcome, h.Fingerprint, h.CompletionTime = outcome, fp, &metav1.Time{Time: now}
			return
		}
	}
}

// desiredWrites groups the targets by Secret: each target key gets its output of cur and, when prev is not nil,
// <key><suffix> gets the same output of prev. Order follows spec.targets.
func desiredWrites(rs *rotationv1alpha1.RotatedSecret, cur, prev provider.Values) []sink.SecretWrite {
	var writes []sink.SecretWrite
	index := map[string]int{}
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions != nil {
			continue // mirrored by mirrorTargets
		}
		ns := targetNamespace(rs, t)
		id := ns + "/" + t.SecretName
		i, ok := index[id]
		if !ok {
			i = len(writes)
			index[id] = i
			writes = append(writes, sink.SecretWrite{Namespace: ns, Name: t.SecretName, Data: map[string][]byte{}})
		}
		writes[i].Data[t.Key] = cur[targetOutput(t)]
		if v, ok := prev[targetOutput(t)]; ok {
			writes[i].Data[t.Key+previousSuffix(rs)] = v
		}
	}
	return writes
}

func targetNamespace(rs *rotationv1alpha1.RotatedSecret, t rotationv1alpha1.Target) string {
	if t.Namespace != "" {
		return t.Namespace
	}
	return rs.Namespace
}

func targetOutput(t rotationv1alpha1.Target) string {
	if t.From != "" {
		return t.From
	}
	return provider.DefaultOutput
}

func keepPrevious(rs *rotationv1alpha1.RotatedSecret) bool {
	return rs.Spec.Previous != nil && rs.Spec.Previous.Keep
}

func previousSuffix(rs *rotationv1alpha1.RotatedSecret) string {
	if rs.Spec.Previous != nil && rs.Spec.Previous.Suffix != "" {
		return rs.Spec.Previous.Suffix
	}
	return "_PREVIOUS"
}

func gracePeriod(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.Duration {
	if rs.Spec.Previous != nil && rs.Spec.Previous.GracePeriod != "" {
		return rs.Spec.Previous.GracePeriod
	}
	return "24h"
}
