package controllers

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// jobRun is a set of Jobs run once a revision is committed, that never roll anything back: the post-rotation Jobs
// (spec.postRotation) or an emergency's purge Jobs (spec.emergency.jobs).
type jobRun struct {
	what              string                              // "post-rotation" or "purge", for messages
	status            **rotationv1alpha1.ValidationStatus // where status records them
	jobs              []rotationv1alpha1.ValidationJob    // the spec's Jobs
	timeout           rotationv1alpha1.Duration           // for all of them
	name              func(rsName, job string, rev int64) string
	failed, succeeded string // Event reasons
}

// postRotationJobs is spec.postRotation as a jobRun.
func (s *scope) postRotationJobs() jobRun {
	pr := s.rs.Spec.PostRotation
	if pr == nil {
		pr = &rotationv1alpha1.PostRotationSpec{}
	}
	return jobRun{what: "post-rotation", status: &s.rs.Status.PostRotation, jobs: pr.Jobs, timeout: postRotationTimeout(pr),
		name: postJobName, failed: rotationv1alpha1.ReasonPostRotationFailed, succeeded: rotationv1alpha1.ReasonPostRotationSucceeded}
}

// purgeJobs is spec.emergency.jobs as a jobRun.
func (s *scope) purgeJobs() jobRun {
	e := s.rs.Spec.Emergency
	if e == nil {
		e = &rotationv1alpha1.EmergencySpec{}
	}
	return jobRun{what: "purge", status: &s.rs.Status.PurgeJobs, jobs: e.Jobs, timeout: purgeTimeout(e),
		name: purgeJobName, failed: rotationv1alpha1.ReasonPurgeFailed, succeeded: rotationv1alpha1.ReasonPurgeSucceeded}
}

// startJobs records, with the commit of rev, that run's Jobs are to run: runJobs creates them once the commit is
// stored, so a crash never runs them for a revision that did not commit.
func (s *scope) startJobs(run jobRun, rev int64) {
	if len(run.jobs) == 0 {
		return
	}
	st := &rotationv1alpha1.ValidationStatus{Revision: rev, StartTime: &metav1.Time{Time: s.now}}
	for _, j := range run.jobs {
		st.Jobs = append(st.Jobs, rotationv1alpha1.ValidationJobStatus{Name: j.Name, JobName: run.name(s.rs.Name, j.Name, rev),
			Result: rotationv1alpha1.JobRunning})
	}
	*run.status = st
}

// postRotatePhase runs the post-rotation Jobs of the current revision.
func (r *RotatedSecretReconciler) postRotatePhase(ctx context.Context, s *scope) outcome {
	return r.runJobs(ctx, s, s.postRotationJobs())
}

// runJobs runs the Jobs of the current revision (created as the RotatedSecret's actor) and waits for them. Their
// outcome is told (Event, notification, the incident's timeline) and never rolls anything back. A Job removed from
// the spec meanwhile is no longer waited for; one whose name is taken by someone else's Job fails.
func (r *RotatedSecretReconciler) runJobs(ctx context.Context, s *scope, run jobRun) outcome {
	st := &s.rs.Status
	ps := *run.status
	if ps == nil || st.Pending != nil || ps.Revision != st.CurrentRevision || !running(ps.Jobs) {
		return goOnOutcome()
	}
	timeout, _ := run.timeout.Parse()
	deadline := ps.StartTime.Add(timeout)
	for i := range ps.Jobs {
		js := &ps.Jobs[i]
		if js.Result != rotationv1alpha1.JobRunning {
			continue
		}
		j, ok := jobSpec(run.jobs, js.Name)
		switch {
		case !ok:
			js.Result = rotationv1alpha1.JobSucceeded // removed from the spec: nothing left to wait for
		case !s.now.Before(deadline):
			js.Result = rotationv1alpha1.JobFailed
		default:
			if err := r.runPostJob(ctx, s, j, js, ps.Revision); err != nil {
				return forbidden(err)
			}
		}
	}
	if running(ps.Jobs) {
		s.wakeAt(deadline, 0) // a finished Job wakes the reconcile (owned and watched); only the deadline needs a timer
		return next(r.persist(ctx, s))
	}
	r.jobsEnded(s, run, ps)
	return next(r.persist(ctx, s))
}

// jobsEnded tells how a finished jobRun went: a failure warns and notifies, and nothing is rolled back.
func (r *RotatedSecretReconciler) jobsEnded(s *scope, run jobRun, ps *rotationv1alpha1.ValidationStatus) {
	var failedJobs, results []string
	for _, js := range ps.Jobs {
		results = append(results, fmt.Sprintf("%s %s", js.JobName, js.Result))
		if js.Result == rotationv1alpha1.JobFailed {
			failedJobs = append(failedJobs, js.JobName)
		}
	}
	msg := fmt.Sprintf("Revision %d: %d %s Job(s) succeeded", ps.Revision, len(ps.Jobs), run.what)
	if len(failedJobs) > 0 {
		msg = fmt.Sprintf("%s Job(s) %s of revision %d failed or did not finish within %s; the rotation stands "+
			"(nothing is rolled back)", capitalize(run.what), strings.Join(failedJobs, ", "), ps.Revision, run.timeout)
		s.event(corev1.EventTypeWarning, run.failed, "PostRotation", "%s", msg)
	} else {
		s.event(corev1.EventTypeNormal, run.succeeded, "PostRotation", "%s", msg)
	}
	if run.what == "purge" {
		s.noteFor(ps.Revision, rotationv1alpha1.IncidentPurgeJob, "%s", strings.Join(results, ", "))
		s.notify(rotationv1alpha1.NotifyPurge, ps.Revision, msg, nil)
	} else if len(failedJobs) > 0 {
		s.notify(rotationv1alpha1.NotifyFailed, ps.Revision, msg, nil)
	}
}

// capitalize upper-cases the first letter of an ASCII word.
func capitalize(w string) string {
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// runPostJob creates the Job of a running post-rotation check if it does not exist yet, or reads its result.
func (r *RotatedSecretReconciler) runPostJob(ctx context.Context, s *scope, j rotationv1alpha1.ValidationJob,
	js *rotationv1alpha1.ValidationJobStatus, rev int64) error {
	var job batchv1.Job
	err := r.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: js.JobName}, &job)
	switch {
	case apierrors.IsNotFound(err):
		built, err := r.buildJob(s.rs, j, js.JobName, rev)
		if err == nil {
			err = s.actor.Writer.Create(ctx, built, client.FieldOwner(FieldOwner))
		}
		switch {
		case apierrors.IsAlreadyExists(err):
			return nil // ours, not in the cache yet, or someone else's: the next look tells
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			js.Result = rotationv1alpha1.JobFailed
			return nil
		case err != nil:
			return s.actor.Refused(jobAction(s.rs.Namespace), err)
		}
		return nil
	case err != nil:
		return err
	case !metav1.IsControlledBy(&job, s.rs):
		js.Result = rotationv1alpha1.JobFailed
		return nil
	}
	js.Result = jobResult(&job)
	return nil
}

// running reports whether a Job is still running.
func running(jobs []rotationv1alpha1.ValidationJobStatus) bool {
	for _, j := range jobs {
		if j.Result == rotationv1alpha1.JobRunning {
			return true
		}
	}
	return false
}

// jobSpec finds a job of the spec by name.
func jobSpec(jobs []rotationv1alpha1.ValidationJob, name string) (rotationv1alpha1.ValidationJob, bool) {
	for _, j := range jobs {
		if j.Name == name {
			return j, true
		}
	}
	return rotationv1alpha1.ValidationJob{}, false
}
