package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/rollout"
)

// Steps at which StepHook is called during a rollout, validation or rollback.
const (
	StepHookRolloutStarted  = "RolloutStarted"  // status.rollout records the first stage; no workload patched yet
	StepHookWorkloadPatched = "WorkloadPatched" // one workload's pod template carries the revision
	StepHookStageHealthy    = "StageHealthy"    // a stage is recorded as completed
	StepHookJobCreated      = "JobCreated"      // a validation Job exists
	StepHookRollbackStarted = "RollbackStarted" // status records the rollback; targets not restored yet
	StepHookTargetsRestored = "TargetsRestored" // every target holds the current value again
)

// rolloutPoll is how soon a waiting stage looks again when no watch event would wake it: a workload in another
// namespace (events are mapped by namespace) or one that does not exist yet. Only while a stage waits.
const rolloutPoll = 2 * time.Second

// needsPoll reports whether a waiting stage has a workload whose changes the watches do not map back to the
// RotatedSecret.
func needsPoll(namespace string, statuses []rotationv1alpha1.WorkloadStatus) bool {
	for _, w := range statuses {
		if !w.Ready && (w.Namespace != namespace || w.Message == "not found") {
			return true
		}
	}
	return false
}

// rolloutPhase restarts the stages in order once every target holds the pending revision. Patching a pod template
// to the revision it already carries is a no-op, and a completed stage is recorded before the next starts, so a
// retried or resumed pass never restarts a workload twice.
func (r *RotatedSecretReconciler) rolloutPhase(ctx context.Context, s *scope) (bool, error) {
	p := s.rs.Status.Pending
	if p == nil || (p.Step != rotationv1alpha1.StepTargetsWritten && p.Step != rotationv1alpha1.StepRollingOut) {
		return false, nil
	}
	if s.rs.Spec.Rollout == nil {
		// No rollout, or it was removed from the spec while one ran: go on with what follows it.
		p.Step = afterRollout(s.rs)
		return false, nil
	}
	if p.Step == rotationv1alpha1.StepTargetsWritten {
		p.Step = rotationv1alpha1.StepRollingOut
		s.rs.Status.Rollout = &rotationv1alpha1.RolloutStatus{Revision: p.Revision}
		if err := r.persist(ctx, s); err != nil {
			return false, err
		}
		if stop, err := r.hook(StepHookRolloutStarted); stop {
			return stop, err
		}
	}
	if ro := s.rs.Status.Rollout; ro == nil || ro.Revision != p.Revision || ro.RollingBack {
		// Status lost its record (edited by hand): start the record again; restarts already done are no-ops.
		s.rs.Status.Rollout = &rotationv1alpha1.RolloutStatus{Revision: p.Revision}
	}
	done, failure, err := r.runStages(ctx, s, p.Revision)
	p = s.rs.Status.Pending // a persist decodes the response into s.rs: re-read what it replaced
	if err != nil || failure != nil {
		if failure != nil {
			return r.failRotation(ctx, s, failure.reason, failure.message)
		}
		return true, err
	}
	if !done {
		return true, nil
	}
	p.Step = afterRollout(s.rs)
	return false, r.persist(ctx, s)
}

// afterRollout is the step that follows a finished (or absent) rollout.
func afterRollout(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.RotationStep {
	if rs.Spec.Validation != nil && len(rs.Spec.Validation.Jobs) > 0 {
		return rotationv1alpha1.StepValidating
	}
	return rotationv1alpha1.StepConfirmed
}

// runStages drives status.rollout: it restarts the workloads of the first stage not yet completed and records
// the stage once they are all healthy on rev. It returns done when every stage is completed, or a failure
// (a stage timed out, a Deployment exceeded its progress deadline) that the caller turns into a rollback or halt.
//
// It reads status.rollout through s.rs each time: a persist decodes the API server's response into s.rs.
func (r *RotatedSecretReconciler) runStages(ctx context.Context, s *scope, rev int64) (done bool, failure *stall, err error) {
	log := ctrl.LoggerFrom(ctx).WithValues("revision", rev, "rollingBack", s.rs.Status.Rollout.RollingBack)
	key := rollout.AnnotationKey(s.rs.Name)
	for _, stage := range s.rs.Spec.Rollout.Stages {
		if slices.Contains(s.rs.Status.Rollout.CompletedStages, stage.Name) {
			continue
		}
		if s.rs.Status.Rollout.Stage != stage.Name {
			s.rs.Status.Rollout.Stage, s.rs.Status.Rollout.StageStartTime, s.rs.Status.Rollout.Workloads = stage.Name, &metav1.Time{Time: s.now}, nil
			r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonRollingOut, "Restart",
				"Stage %s started: restarting its workloads on revision %d", stage.Name, rev)
			if err := r.persist(ctx, s); err != nil {
				return false, nil, err
			}
		}
		workloads, err := rollout.Resolve(ctx, r.Client, s.rs.Namespace, stage)
		if err != nil {
			return false, &stall{rotationv1alpha1.ReasonInvalidSpec, fmt.Sprintf("stage %s: %v", stage.Name, err)}, nil
		}
		statuses, waitReason, failure, err := r.restartStage(ctx, s, stage, workloads, key, rev)
		if err != nil || failure != nil {
			return false, failure, err
		}
		s.rs.Status.Rollout.Workloads = statuses
		if waitReason == "" {
			log.Info("Stage healthy", "stage", stage.Name)
			s.rs.Status.Rollout.CompletedStages = append(s.rs.Status.Rollout.CompletedStages, stage.Name)
			s.rs.Status.Rollout.Stage, s.rs.Status.Rollout.StageStartTime = "", nil
			r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonStageHealthy, "Restart",
				"Stage %s healthy: %d workload(s) on revision %d", stage.Name, len(statuses), rev)
			if err := r.persist(ctx, s); err != nil {
				return false, nil, err
			}
			if stop, err := r.hook(StepHookStageHealthy); stop {
				return false, nil, err
			}
			continue
		}
		timeout, _ := stageTimeout(stage).Parse()
		deadline := s.rs.Status.Rollout.StageStartTime.Add(timeout)
		if !s.now.Before(deadline) {
			return false, &stall{rotationv1alpha1.ReasonStageTimedOut, fmt.Sprintf(
				"stage %s was not healthy on revision %d within %s: %s", stage.Name, rev, stageTimeout(stage), waitingSummary(statuses))}, nil
		}
		msg := fmt.Sprintf("Stage %s: waiting for %s", stage.Name, waitingSummary(statuses))
		if s.rs.Status.Rollout.RollingBack {
			msg = "Rolling back to revision " + fmt.Sprint(rev) + ". " + msg
		}
		r.setRotating(s, waitReason, msg)
		if needsPoll(s.rs.Namespace, statuses) || key != rotationv1alpha1.RestartAnnotationPrefix+s.rs.Name {
			// (A long name is shortened in the annotation key, which the watch cannot map back.)
			s.wakeAt(s.now.Add(rolloutPoll), 0)
		}
		s.wakeAt(deadline, 0)
		return false, nil, r.persist(ctx, s)
	}
	s.rs.Status.Rollout.Stage, s.rs.Status.Rollout.StageStartTime, s.rs.Status.Rollout.Workloads = "", nil, nil
	return true, nil, nil
}

// restartStage patches every workload of a stage that does not carry rev yet and reports their health. The
// returned waitReason is empty when all are healthy on rev; otherwise it is the condition reason to show
// (RollingOut, WorkloadNotFound, WorkloadPaused).
func (r *RotatedSecretReconciler) restartStage(ctx context.Context, s *scope, stage rotationv1alpha1.RolloutStage,
	workloads []rollout.Workload, key string, rev int64) ([]rotationv1alpha1.WorkloadStatus, string, *stall, error) {
	var statuses []rotationv1alpha1.WorkloadStatus
	waitReason := ""
	wait := func(reason string) {
		if waitReason == "" || waitReason == rotationv1alpha1.ReasonRollingOut {
			waitReason = reason
		}
	}
	for _, w := range workloads {
		ws := rotationv1alpha1.WorkloadStatus{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Revision: rev}
		if w.Object == nil {
			ws.Message = "not found"
			statuses = append(statuses, ws)
			r.warnOnce(s, rotationv1alpha1.ReasonWorkloadNotFound, fmt.Sprintf("Stage %s: %s %s/%s does not exist", stage.Name, w.Kind, w.Namespace, w.Name))
			wait(rotationv1alpha1.ReasonWorkloadNotFound)
			continue
		}
		patched, err := rollout.Restart(ctx, r.Client, w.Object, key, rev)
		if err != nil {
			return nil, "", nil, fmt.Errorf("restarting %s %s/%s: %w", w.Kind, w.Namespace, w.Name, err)
		}
		if patched {
			ctrl.LoggerFrom(ctx).Info("Restarted workload", "kind", w.Kind, "workload", client.ObjectKeyFromObject(w.Object), "revision", rev)
			if stop, err := r.hook(StepHookWorkloadPatched); stop {
				return nil, "", nil, err
			}
		}
		h := rollout.Health(w.Object)
		got, _ := rollout.TemplateRevision(w.Object, key)
		ws.Ready, ws.Message = h.Ready && got == rev, h.Message
		statuses = append(statuses, ws)
		switch {
		case h.Failed:
			return nil, "", &stall{rotationv1alpha1.ReasonRolloutFailed, fmt.Sprintf("stage %s: %s", stage.Name, h.Message)}, nil
		case h.Paused:
			r.warnOnce(s, rotationv1alpha1.ReasonWorkloadPaused, fmt.Sprintf("Stage %s: %s", stage.Name, h.Message))
			wait(rotationv1alpha1.ReasonWorkloadPaused)
		case !ws.Ready:
			wait(rotationv1alpha1.ReasonRollingOut)
		}
	}
	return statuses, waitReason, nil, nil
}

// warnOnce emits a Warning Event unless the Rotating condition already says the same.
func (r *RotatedSecretReconciler) warnOnce(s *scope, reason, msg string) {
	if c := conditions.Get(s.base, rotationv1alpha1.ConditionRotating); c != nil && c.Reason == reason {
		return
	}
	r.event(s, corev1.EventTypeWarning, reason, "Restart", "%s", msg)
}

// waitingSummary names the workloads that are not ready yet and why.
func waitingSummary(statuses []rotationv1alpha1.WorkloadStatus) string {
	var parts []string
	for _, w := range statuses {
		if !w.Ready {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", w.Kind, w.Name, w.Message))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func stageTimeout(stage rotationv1alpha1.RolloutStage) rotationv1alpha1.Duration {
	if stage.Timeout != "" {
		return stage.Timeout
	}
	return "10m"
}

// failRotation handles a failed stage or validation: spec.validation.onFailure says roll back (the default) or
// halt. Both are recorded in status before anything else happens.
func (r *RotatedSecretReconciler) failRotation(ctx context.Context, s *scope, reason, msg string) (bool, error) {
	st := &s.rs.Status
	p := st.Pending
	p.FailureReason = reason
	if onFailure(s.rs) == rotationv1alpha1.FailureHalt || st.CurrentRevision == 0 {
		why := "spec.validation.onFailure is Halt"
		if st.CurrentRevision == 0 {
			why = "there is no earlier value to roll back to"
		}
		p.Step = rotationv1alpha1.StepHalted
		completeHistory(s.rs, p.Revision, rotationv1alpha1.OutcomeHalted, p.Fingerprint, s.now)
		setHistoryMessage(s.rs, p.Revision, msg)
		wayOut := "set onFailure: Rollback to roll back, or a new " + rotationv1alpha1.RotateAnnotation + " token to start a fresh rotation"
		if st.CurrentRevision == 0 {
			wayOut = "set a new " + rotationv1alpha1.RotateAnnotation + " token to start a fresh rotation"
		}
		return r.stallOn(s, rotationv1alpha1.ReasonHalted, fmt.Sprintf("Revision %d halted (%s): %s; targets and "+
			"workloads are left as they are; %s", p.Revision, why, msg, wayOut))
	}
	r.event(s, corev1.EventTypeWarning, reason, "Rollback", "Revision %d: %s", p.Revision, msg)
	ctrl.LoggerFrom(ctx).Info("Rolling back", "revision", p.Revision, "reason", reason)
	p.Step = rotationv1alpha1.StepRollingBack
	st.Rollout = &rotationv1alpha1.RolloutStatus{Revision: st.CurrentRevision, RollingBack: true}
	setHistoryMessage(s.rs, p.Revision, msg)
	m := fmt.Sprintf("Revision %d failed (%s): %s; rolling back to revision %d", p.Revision, reason, msg, st.CurrentRevision)
	r.setRotating(s, rotationv1alpha1.ReasonRollingBack, m)
	r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonRollingBack, "Rollback", "%s", m)
	if err := r.persist(ctx, s); err != nil {
		return false, err
	}
	if stop, err := r.hook(StepHookRollbackStarted); stop {
		return stop, err
	}
	return false, nil // rollbackPhase follows in this same pass
}

// resumeHalted rolls a halted rotation back once a person sets onFailure to Rollback.
func (r *RotatedSecretReconciler) resumeHalted(ctx context.Context, s *scope) (bool, error) {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepHalted {
		return false, nil
	}
	st := &s.rs.Status
	if tok := strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.RotateAnnotation]); tok != "" && tok != st.LastHandledRotateRequest {
		// A person gives up on the halted revision: it is discarded (and its credential revoked) and decide
		// starts a fresh rotation for the token.
		ctrl.LoggerFrom(ctx).Info("Discarding halted rotation", "revision", p.Revision)
		r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonHalted, "Discard",
			"Halted revision %d discarded for a new rotate token", p.Revision)
		s.queueRevocation(p.Revision)
		st.Pending = nil
		return false, nil
	}
	if onFailure(s.rs) == rotationv1alpha1.FailureRollback && st.CurrentRevision > 0 {
		return r.failRotation(ctx, s, p.FailureReason, "rollback requested after a halt")
	}
	c := conditions.Get(s.base, rotationv1alpha1.ConditionStalled)
	if c != nil {
		s.stalled = &stall{c.Reason, c.Message}
	}
	return true, nil
}

func onFailure(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.FailurePolicy {
	if rs.Spec.Validation != nil && rs.Spec.Validation.OnFailure != "" {
		return rs.Spec.Validation.OnFailure
	}
	return rotationv1alpha1.FailureRollback
}

// setHistoryMessage sets the message of rev's newest history record.
func setHistoryMessage(rs *rotationv1alpha1.RotatedSecret, rev int64, msg string) {
	for i := range rs.Status.History {
		if rs.Status.History[i].Revision == rev {
			rs.Status.History[i].Message = msg
			return
		}
	}
}

// historyMessage is the message of rev's newest history record.
func historyMessage(rs *rotationv1alpha1.RotatedSecret, rev int64) string {
	for _, h := range rs.Status.History {
		if h.Revision == rev {
			return h.Message
		}
	}
	return ""
}
