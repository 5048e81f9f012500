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

// postJobName names a post-rotation Job: <rotatedsecret>-post-<job>-r<revision>.
func postJobName(rsName, job string, rev int64) string {
	return fmt.Sprintf("%s-post-%s-r%d", rsName, job, rev)
}

// startPostRotation records, with the commit of rev, that rev's post-rotation Jobs are to run: postRotatePhase
// creates them once the commit is stored, so a crash never runs them for a revision that did not commit.
func (s *scope) startPostRotation(rev int64) {
	pr := s.rs.Spec.PostRotation
	if pr == nil || len(pr.Jobs) == 0 {
		return
	}
	st := &rotationv1alpha1.ValidationStatus{Revision: rev, StartTime: &metav1.Time{Time: s.now}}
	for _, j := range pr.Jobs {
		st.Jobs = append(st.Jobs, rotationv1alpha1.ValidationJobStatus{Name: j.Name, JobName: postJobName(s.rs.Name, j.Name, rev),
			Result: rotationv1alpha1.JobRunning})
	}
	s.rs.Status.PostRotation = st
}

// postRotatePhase runs the post-rotation Jobs of the current revision (created as the RotatedSecret's actor) and
// waits for them. Their outcome is told (Event, notification) and never rolls anything back. A Job removed from the
// spec meanwhile is no longer waited for; one whose name is taken by someone else's Job fails.
func (r *RotatedSecretReconciler) postRotatePhase(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	ps := st.PostRotation
	pr := s.rs.Spec.PostRotation
	if ps == nil || st.Pending != nil || ps.Revision != st.CurrentRevision || !running(ps.Jobs) {
		return goOnOutcome()
	}
	if pr == nil {
		pr = &rotationv1alpha1.PostRotationSpec{}
	}
	timeout, _ := postRotationTimeout(pr).Parse()
	deadline := ps.StartTime.Add(timeout)
	for i := range ps.Jobs {
		js := &ps.Jobs[i]
		if js.Result != rotationv1alpha1.JobRunning {
			continue
		}
		j, ok := jobSpec(pr.Jobs, js.Name)
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
	var failedJobs []string
	for _, js := range ps.Jobs {
		if js.Result == rotationv1alpha1.JobFailed {
			failedJobs = append(failedJobs, js.JobName)
		}
	}
	if len(failedJobs) > 0 {
		msg := fmt.Sprintf("Post-rotation Job(s) %s of revision %d failed or did not finish within %s; the rotation "+
			"stands (nothing is rolled back)", strings.Join(failedJobs, ", "), ps.Revision, postRotationTimeout(pr))
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonPostRotationFailed, "PostRotation", "%s", msg)
		s.notify(rotationv1alpha1.NotifyFailed, ps.Revision, msg, nil)
	} else {
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonPostRotationSucceeded, "PostRotation",
			"Revision %d: %d post-rotation Job(s) succeeded", ps.Revision, len(ps.Jobs))
	}
	return next(r.persist(ctx, s))
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
