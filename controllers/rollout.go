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
	"github.com/tribi/secret-rotator/internal/rollout"
)

// Steps at which StepHook is called during a rollout.
const (
	StepHookRolloutStarted  = "RolloutStarted"  // status.rollout records the first stage; no workload patched yet
	StepHookWorkloadPatched = "WorkloadPatched" // one workload's pod template carries the revision
	StepHookStageHealthy    = "StageHealthy"    // a stage is recorded as completed
)

// rolloutPoll is how soon a waiting stage looks again when no watch event would wake it: a workload in another
// namespace (events are mapped by namespace) or one that does not exist yet. Only while a stage waits.
const rolloutPoll = 2 * time.Second

// rolloutPhase restarts the stages in order once every target holds the pending revision. Patching a pod template
// to the revision it already carries is a no-op, and a completed stage is recorded before the next starts, so a
// retried or resumed pass never restarts a workload twice.
func (r *RotatedSecretReconciler) rolloutPhase(ctx context.Context, s *scope) outcome {
	p := s.rs.Status.Pending
	if p == nil || (p.Step != rotationv1alpha1.StepTargetsWritten && p.Step != rotationv1alpha1.StepRollingOut) {
		return goOnOutcome()
	}
	if s.rs.Spec.Rollout == nil {
		// No rollout, or it was removed from the spec while one ran: go on with what follows it.
		p.Step = afterRollout(s.rs)
		return goOnOutcome()
	}
	if p.Step == rotationv1alpha1.StepTargetsWritten {
		p.Step = rotationv1alpha1.StepRollingOut
		s.rs.Status.Rollout = &rotationv1alpha1.RolloutStatus{Revision: p.Revision}
		if err := r.persist(ctx, s); err != nil {
			return retry(err)
		}
		if o := r.hook(StepHookRolloutStarted); o.done() {
			return o
		}
	}
	if ro := s.rs.Status.Rollout; ro == nil || ro.Revision != p.Revision || ro.RollingBack {
		// Status lost its record (edited by hand): start the record again; restarts already done are no-ops.
		s.rs.Status.Rollout = &rotationv1alpha1.RolloutStatus{Revision: p.Revision}
	}
	o := r.runStages(ctx, s, p.Revision)
	if o.kind == stalled {
		return r.rotationFailed(ctx, s, o.reason, o.message)
	}
	if o.done() {
		return o
	}
	s.rs.Status.Pending.Step = afterRollout(s.rs) // a persist decodes the response into s.rs: p may be stale
	return next(r.persist(ctx, s))
}

// afterRollout is the step that follows a finished (or absent) rollout.
func afterRollout(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.RotationStep {
	if rs.Spec.Validation != nil && len(rs.Spec.Validation.Jobs) > 0 {
		return rotationv1alpha1.StepValidating
	}
	return rotationv1alpha1.StepConfirmed
}

// runStages drives status.rollout: it restarts the workloads of the first stage not yet completed and records
// the stage once they are all healthy on rev. It returns goOn when every stage is completed, a wait while one is
// not, and a stall (reason and message) when a stage failed: it timed out, or a Deployment exceeded its progress
// deadline. The caller turns that into a rollback or halt.
func (r *RotatedSecretReconciler) runStages(ctx context.Context, s *scope, rev int64) outcome {
	return r.restartStages(ctx, s, stageRun{
		record: func(st *rotationv1alpha1.RotatedSecretStatus) *rotationv1alpha1.RolloutStatus { return st.Rollout },
		key:    rollout.AnnotationKey(s.rs.Name), value: rev, what: fmt.Sprintf("revision %d", rev),
	})
}

// stageRun is one pass of the stages: a rotation's rollout (status.rollout, the restart annotation set to the
// revision) or the restart after an override revert (status.overrideRestart, the override annotation).
type stageRun struct {
	// record returns the status record of the run; it is read again after every persist (a persist decodes the
	// API server's response into s.rs).
	record func(*rotationv1alpha1.RotatedSecretStatus) *rotationv1alpha1.RolloutStatus
	key    string // pod-template annotation
	value  int64  // its value: restarted means the template carries it
	what   string // what the workloads restart on, for messages ("revision 4")
}

// restartStages drives a stageRun as runStages describes.
func (r *RotatedSecretReconciler) restartStages(ctx context.Context, s *scope, run stageRun) outcome {
	key, rev := run.key, run.value
	for _, stage := range s.rs.Spec.Rollout.Stages {
		ro := run.record(&s.rs.Status)
		if slices.Contains(ro.CompletedStages, stage.Name) {
			continue
		}
		if ro.Stage != stage.Name {
			ro.Stage, ro.StageStartTime, ro.Workloads = stage.Name, &metav1.Time{Time: s.now}, nil
			s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonRollingOut, "Restart",
				"Stage %s started: restarting its workloads on %s%s", stage.Name, run.what, rollingBackNote(ro))
			if err := r.persist(ctx, s); err != nil {
				return retry(err)
			}
		}
		workloads, err := rollout.Resolve(ctx, r.Client, s.rs.Namespace, stage)
		if err != nil {
			return retry(fmt.Errorf("stage %s: %w", stage.Name, err))
		}
		statuses, wait := r.restartStage(ctx, s, stage, workloads, key, rev)
		if wait.kind != goOn && wait.kind != waiting {
			return wait
		}
		ro = run.record(&s.rs.Status)
		ro.Workloads = statuses
		if wait.kind == goOn {
			ctrl.LoggerFrom(ctx).Info("Stage healthy", "stage", stage.Name, "revision", rev, "rollingBack", ro.RollingBack)
			ro.CompletedStages = append(ro.CompletedStages, stage.Name)
			ro.Stage, ro.StageStartTime, ro.Workloads = "", nil, nil
			s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonStageHealthy, "Restart",
				"Stage %s healthy: %d workload(s) on %s%s", stage.Name, len(statuses), run.what, rollingBackNote(ro))
			s.note("", rotationv1alpha1.IncidentStageHealthy, "Stage %s healthy: %d workload(s) on %s", stage.Name, len(statuses), run.what)
			if err := r.persist(ctx, s); err != nil {
				return retry(err)
			}
			if o := r.hook(StepHookStageHealthy); o.done() {
				return o
			}
			continue
		}
		timeout, _ := stageTimeout(stage).Parse()
		deadline := ro.StageStartTime.Add(timeout)
		if !s.now.Before(deadline) {
			return stall(rotationv1alpha1.ReasonStageTimedOut, fmt.Sprintf("stage %s was not healthy on %s "+
				"within %s: %s", stage.Name, run.what, stageTimeout(stage), waitingSummary(statuses)))
		}
		if ro.RollingBack {
			wait.message = fmt.Sprintf("Rolling back to revision %d. %s", rev, wait.message)
		}
		wait.until = deadline
		if needsPoll(s.rs.Namespace, statuses) || !strings.HasSuffix(key, "/"+s.rs.Name) {
			// (A long name is shortened in the annotation key, which the watch cannot map back.)
			wait.until = s.now.Add(rolloutPoll)
		}
		return wait // persisted with the Rotating condition it sets
	}
	ro := run.record(&s.rs.Status)
	ro.Stage, ro.StageStartTime, ro.Workloads = "", nil, nil
	return goOnOutcome()
}

// restartStage patches every workload of a stage that does not carry rev yet and reports their health: goOn when
// all are healthy on rev, a wait saying what for (RollingOut, or a Warning for WorkloadNotFound and
// WorkloadPaused), or a stall with RolloutFailed.
func (r *RotatedSecretReconciler) restartStage(ctx context.Context, s *scope, stage rotationv1alpha1.RolloutStage,
	workloads []rollout.Workload, key string, rev int64) ([]rotationv1alpha1.WorkloadStatus, outcome) {
	var statuses []rotationv1alpha1.WorkloadStatus
	wait := goOnOutcome()
	waitOn := func(o outcome) {
		// A paused or missing workload is worth a Warning; plain rolling out only when nothing else is wrong.
		if wait.kind == goOn || (!wait.warn && o.warn) {
			wait = o
		}
	}
	for _, w := range workloads {
		ws := rotationv1alpha1.WorkloadStatus{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Revision: rev}
		if w.Object == nil {
			ws.Message = "not found"
			statuses = append(statuses, ws)
			waitOn(warnWaiting(time.Time{}, rotationv1alpha1.ReasonWorkloadNotFound, ""))
			continue
		}
		patched, err := rollout.Restart(ctx, s.actor.Writer, w.Object, key, rev)
		if err != nil {
			return nil, retry(fmt.Errorf("restarting %s %s/%s: %w", w.Kind, w.Namespace, w.Name, err))
		}
		if patched {
			ctrl.LoggerFrom(ctx).Info("Restarted workload", "kind", w.Kind, "workload", client.ObjectKeyFromObject(w.Object), "revision", rev)
			if o := r.hook(StepHookWorkloadPatched); o.done() {
				return nil, o
			}
		}
		h := rollout.Health(w.Object)
		got, _ := rollout.TemplateRevision(w.Object, key)
		ws.Ready, ws.Message = h.Ready && got == rev, h.Message
		statuses = append(statuses, ws)
		switch {
		case h.Failed:
			return nil, stall(rotationv1alpha1.ReasonRolloutFailed, fmt.Sprintf("stage %s: %s", stage.Name, h.Message))
		case h.Paused:
			waitOn(warnWaiting(time.Time{}, rotationv1alpha1.ReasonWorkloadPaused, ""))
		case !ws.Ready:
			waitOn(waitFor(time.Time{}, rotationv1alpha1.ReasonRollingOut, ""))
		}
	}
	if wait.kind == waiting {
		wait.message = fmt.Sprintf("Stage %s: waiting for %s", stage.Name, waitingSummary(statuses))
	}
	return statuses, wait
}

// rollingBackNote tells a rollback's stage Events from the same stage's Events of the first rollout.
func rollingBackNote(ro *rotationv1alpha1.RolloutStatus) string {
	if ro.RollingBack {
		return " (rolling back)"
	}
	return ""
}

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
