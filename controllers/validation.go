package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// StepHookJobCreated is called once a validation Job exists.
const StepHookJobCreated = "JobCreated"

// defaultJobTTL is the ttlSecondsAfterFinished of validation Jobs whose template sets none.
const defaultJobTTL = int32(3600)

// validatePhase runs the validation Jobs of the pending revision and waits for them. Job names are
// deterministic, so a resumed pass finds the Jobs it created instead of creating more.
func (r *RotatedSecretReconciler) validatePhase(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepValidating {
		return goOnOutcome()
	}
	spec := s.rs.Spec.Validation
	if spec == nil || len(spec.Jobs) == 0 {
		// Validation was removed from the spec while it ran: nothing is left to wait for.
		p.Step = rotationv1alpha1.StepConfirmed
		return goOnOutcome()
	}
	rev := p.Revision
	if st.Validation == nil || st.Validation.Revision != rev {
		st.Validation = &rotationv1alpha1.ValidationStatus{Revision: rev, StartTime: &metav1.Time{Time: s.now}}
		st.Validation.Jobs = validationJobs(s.rs, nil, rev)
		s.setRotating(rotationv1alpha1.ReasonValidating, fmt.Sprintf("Validating revision %d with %d Job(s)", rev, len(spec.Jobs)))
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonValidating, "Validate",
			"Validating revision %d with %d Job(s)", rev, len(spec.Jobs))
		if err := r.persist(ctx, s); err != nil {
			return retry(err)
		}
	}
	// Jobs added, removed or reordered in the spec while validating: results follow the spec by job name.
	v := s.rs.Status.Validation
	v.Jobs = validationJobs(s.rs, v.Jobs, rev)
	failedJob, running := "", 0
	for i, j := range spec.Jobs {
		js := &v.Jobs[i]
		if js.Result == rotationv1alpha1.JobRunning {
			if o := r.observeJob(ctx, s, j, js, rev); o.done() {
				return o
			}
		}
		switch js.Result {
		case rotationv1alpha1.JobFailed:
			failedJob = js.JobName
		case rotationv1alpha1.JobRunning:
			running++
		}
	}
	if failedJob != "" {
		s.note("", rotationv1alpha1.IncidentValidation, "Validation Job %s of revision %d failed", failedJob, rev)
		return r.rotationFailed(ctx, s, rotationv1alpha1.ReasonValidationFailed, fmt.Sprintf("validation Job %s failed", failedJob))
	}
	if running == 0 {
		s.rs.Status.Pending.Step = rotationv1alpha1.StepConfirmed
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonValidationPassed, "Validate",
			"Revision %d passed %d validation Job(s)", rev, len(spec.Jobs))
		s.note("", rotationv1alpha1.IncidentValidation, "Revision %d passed %d validation Job(s)", rev, len(spec.Jobs))
		return next(r.persist(ctx, s))
	}
	timeout, _ := validationTimeout(spec).Parse()
	deadline := v.StartTime.Add(timeout)
	if !s.now.Before(deadline) {
		return r.rotationFailed(ctx, s, rotationv1alpha1.ReasonValidationFailed,
			fmt.Sprintf("validation did not finish within %s (%d Job(s) still running)", validationTimeout(spec), running))
	}
	// Jobs are owned and watched: a finished Job wakes the reconcile. Only the deadline needs a timer.
	return waitFor(deadline, rotationv1alpha1.ReasonValidating, fmt.Sprintf("Validating revision %d: %d of %d Job(s) running",
		rev, running, len(spec.Jobs)))
}

// validationJobs lists the validation Jobs of rev in spec order, keeping the result already known for a job name.
func validationJobs(rs *rotationv1alpha1.RotatedSecret, known []rotationv1alpha1.ValidationJobStatus, rev int64) []rotationv1alpha1.ValidationJobStatus {
	out := make([]rotationv1alpha1.ValidationJobStatus, 0, len(rs.Spec.Validation.Jobs))
	for _, j := range rs.Spec.Validation.Jobs {
		js := rotationv1alpha1.ValidationJobStatus{Name: j.Name, JobName: validationJobName(rs.Name, j.Name, rev), Result: rotationv1alpha1.JobRunning}
		for _, k := range known {
			if k.Name == j.Name && k.JobName == js.JobName {
				js = k
			}
		}
		out = append(out, js)
	}
	return out
}

// observeJob creates the Job of a running check if it does not exist yet, or reads its result into js.
func (r *RotatedSecretReconciler) observeJob(ctx context.Context, s *scope, j rotationv1alpha1.ValidationJob,
	js *rotationv1alpha1.ValidationJobStatus, rev int64) outcome {
	var job batchv1.Job
	err := r.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: js.JobName}, &job)
	switch {
	case apierrors.IsNotFound(err):
		err = r.createJob(ctx, s, j, js.JobName, rev)
		switch {
		case errors.Is(err, errForeignJob):
			return r.foreignJob(ctx, s, js.JobName)
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err):
			// A template the API server refuses fails the rotation; anything else is retried.
			return r.rotationFailed(ctx, s, rotationv1alpha1.ReasonValidationFailed, fmt.Sprintf("creating validation Job: %v", err))
		}
		return next(err)
	case err != nil:
		return retry(err)
	case !metav1.IsControlledBy(&job, s.rs):
		return r.foreignJob(ctx, s, js.JobName)
	}
	js.Result = jobResult(&job)
	return goOnOutcome()
}

// errForeignJob: a Job with the validation Job's name exists and is not this RotatedSecret's.
var errForeignJob = errors.New("job exists and belongs to someone else")

// foreignJob fails the rotation: the operator never adopts or waits on someone else's Job.
func (r *RotatedSecretReconciler) foreignJob(ctx context.Context, s *scope, name string) outcome {
	return r.rotationFailed(ctx, s, rotationv1alpha1.ReasonValidationFailed,
		fmt.Sprintf("Job %s exists and does not belong to this RotatedSecret", name))
}

// createJob creates the validation Job of one check for rev.
func (r *RotatedSecretReconciler) createJob(ctx context.Context, s *scope, j rotationv1alpha1.ValidationJob, name string, rev int64) error {
	job, err := r.buildJob(s.rs, j, name, rev)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Creating validation Job", "job", name, "revision", rev)
	if err := s.actor.Writer.Create(ctx, job, client.FieldOwner(FieldOwner)); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		// Our own earlier create that the cache has not seen yet, or someone else's Job (the cache holds only
		// labelled Jobs): only the API server can tell.
		var other batchv1.Job
		if getErr := s.actor.Reader.Get(ctx, client.ObjectKeyFromObject(job), &other); getErr == nil && !metav1.IsControlledBy(&other, s.rs) {
			return errForeignJob
		}
		return nil
	}
	if r.stopAt(StepHookJobCreated) {
		return errStopped
	}
	return nil
}

// buildJob turns a validation template into the Job for rev: deterministic name, the revision as env var and
// label, a TTL after it finishes, and the RotatedSecret as controller.
func (r *RotatedSecretReconciler) buildJob(rs *rotationv1alpha1.RotatedSecret, j rotationv1alpha1.ValidationJob, name string, rev int64) (*batchv1.Job, error) {
	tpl := j.Template.DeepCopy()
	job := &batchv1.Job{ObjectMeta: tpl.ObjectMeta, Spec: tpl.Spec}
	job.Name, job.Namespace, job.GenerateName, job.OwnerReferences = name, rs.Namespace, "", nil
	revision := strconv.FormatInt(rev, 10)
	labels := map[string]string{rotationv1alpha1.RevisionLabel: revision, rotationv1alpha1.RotatedSecretLabel: rs.Name}
	for k, v := range labels {
		if job.Labels == nil {
			job.Labels = map[string]string{}
		}
		job.Labels[k] = v
		if job.Spec.Template.Labels == nil {
			job.Spec.Template.Labels = map[string]string{}
		}
		job.Spec.Template.Labels[k] = v
	}
	if job.Spec.TTLSecondsAfterFinished == nil {
		ttl := defaultJobTTL
		job.Spec.TTLSecondsAfterFinished = &ttl
	}
	for i := range job.Spec.Template.Spec.Containers {
		c := &job.Spec.Template.Spec.Containers[i]
		c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == rotationv1alpha1.RevisionEnv })
		c.Env = append(c.Env, corev1.EnvVar{Name: rotationv1alpha1.RevisionEnv, Value: revision})
	}
	if err := controllerutil.SetControllerReference(rs, job, r.Scheme()); err != nil {
		return nil, err
	}
	return job, nil
}

// jobResult reads a Job's terminal conditions.
func jobResult(job *batchv1.Job) rotationv1alpha1.JobResult {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return rotationv1alpha1.JobSucceeded
		case batchv1.JobFailed:
			return rotationv1alpha1.JobFailed
		}
	}
	return rotationv1alpha1.JobRunning
}
