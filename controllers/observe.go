package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/rollout"
)

// observePhase watches every workload of every stage for spec.observe.duration after a commit. The first time one
// is not healthy the RotatedSecret gets Degraded=True, a Warning Event and a Degraded notification; with
// onDegraded: Rollback, while the previous value is still kept, the previous revision becomes current again and
// rollbackPhase restores it everywhere, as after a failed validation. Workload changes wake it (watched); so does
// the end of the watch.
func (r *RotatedSecretReconciler) observePhase(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	obs := s.rs.Spec.Observe
	if obs == nil || st.Pending != nil || st.CurrentRevision == 0 || st.LastRotationTime == nil || s.rs.Spec.Rollout == nil {
		return goOnOutcome()
	}
	d, err := obs.Duration.Parse()
	if err != nil {
		return invalid("spec.observe.duration: %v", err)
	}
	until := st.LastRotationTime.Add(d)
	o := st.Observation
	if o == nil || o.Revision != st.CurrentRevision {
		if !s.now.Before(until) {
			return goOnOutcome() // committed before observe was set, or long ago
		}
		o = &rotationv1alpha1.ObservationStatus{Revision: st.CurrentRevision, Until: metav1.Time{Time: until}}
		st.Observation = o
		s.setCondition(rotationv1alpha1.ConditionDegraded, metav1.ConditionFalse, rotationv1alpha1.ReasonObserving,
			fmt.Sprintf("Watching the workloads on revision %d until %s", o.Revision, rfc3339(until)))
	}
	if !s.now.Before(o.Until.Time) {
		if c := conditions.Get(s.rs, rotationv1alpha1.ConditionDegraded); !o.Degraded && c != nil && c.Reason == rotationv1alpha1.ReasonObserving {
			s.setCondition(rotationv1alpha1.ConditionDegraded, metav1.ConditionFalse, rotationv1alpha1.ReasonObserved,
				fmt.Sprintf("Every workload stayed healthy on revision %d until %s", o.Revision, rfc3339(o.Until.Time)))
		}
		return goOnOutcome()
	}
	s.wakeAt(o.Until.Time, 0)
	if o.Degraded {
		return goOnOutcome()
	}
	sick, err := r.unhealthy(ctx, s, o.Revision)
	if err != nil {
		return retry(err)
	}
	if sick == "" {
		return goOnOutcome()
	}
	o.Degraded, o.Message = true, conditions.Bound(sick)
	msg := fmt.Sprintf("Revision %d: %s", o.Revision, sick)
	ctrl.LoggerFrom(ctx).Info("Workloads degraded after the rotation", "revision", o.Revision)
	s.setCondition(rotationv1alpha1.ConditionDegraded, metav1.ConditionTrue, rotationv1alpha1.ReasonDegraded, msg)
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonDegraded, "Observe", "%s", msg)
	s.notify(rotationv1alpha1.NotifyDegraded, o.Revision, msg, nil)
	if obs.OnDegraded == rotationv1alpha1.DegradedRollback {
		return r.revertDegraded(ctx, s, msg)
	}
	return next(r.persist(ctx, s))
}

// unhealthy names the workloads of the stages that are not healthy on rev ("" when all are).
func (r *RotatedSecretReconciler) unhealthy(ctx context.Context, s *scope, rev int64) (string, error) {
	key := rollout.AnnotationKey(s.rs.Name)
	var sick []string
	for _, stage := range s.rs.Spec.Rollout.Stages {
		workloads, err := rollout.Resolve(ctx, r.Client, s.rs.Namespace, stage)
		if err != nil {
			return "", err
		}
		for _, w := range workloads {
			if w.Object == nil {
				sick = append(sick, w.String()+" is gone")
				continue
			}
			if got, _ := rollout.TemplateRevision(w.Object, key); got != rev {
				continue // restarted for another revision since: no longer this rotation's to judge
			}
			if h := rollout.Health(w.Object); h.Failed || !h.Ready {
				sick = append(sick, fmt.Sprintf("%s is not healthy (%s)", w, h.Message))
			}
		}
	}
	return strings.Join(sick, ", "), nil
}

// revertDegraded makes the previous revision current again and hands over to rollbackPhase (next pass), when the
// previous value is still kept and its record says which value it was. Otherwise it only tells.
func (r *RotatedSecretReconciler) revertDegraded(ctx context.Context, s *scope, msg string) outcome {
	st := &s.rs.Status
	prev := s.history(st.PreviousRevision)
	if st.PreviousRevision == 0 || prev == nil || prev.Fingerprint == "" {
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonDegraded, "Observe",
			"Revision %d is degraded and onDegraded is Rollback, but the previous value is no longer kept: not rolling back", st.CurrentRevision)
		return next(r.persist(ctx, s))
	}
	cur := st.CurrentRevision
	st.Pending = &rotationv1alpha1.PendingRotation{Revision: cur, Trigger: rotationv1alpha1.TriggerManual,
		Step: rotationv1alpha1.StepRollingBack, StartTime: metav1.NewTime(s.now), Fingerprint: st.CurrentFingerprint,
		FailureReason: rotationv1alpha1.ReasonDegraded, Message: msg}
	if h := s.history(cur); h != nil {
		h.Outcome, h.CompletionTime, h.Message = rotationv1alpha1.OutcomeInProgress, nil, msg // ends RolledBack
	}
	st.CurrentRevision, st.CurrentFingerprint = st.PreviousRevision, prev.Fingerprint
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	st.Rollout = &rotationv1alpha1.RolloutStatus{Revision: st.CurrentRevision, RollingBack: true}
	m := fmt.Sprintf("%s; rolling back to revision %d", msg, st.CurrentRevision)
	s.setRotating(rotationv1alpha1.ReasonRollingBack, m)
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRollingBack, "Rollback", "%s", m)
	s.wakeAt(s.now, 0)
	return next(r.persist(ctx, s))
}
