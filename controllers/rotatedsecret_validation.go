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

// defaultJobTTL is the ttlSecondsAfterFinished of validation Jobs whose template sets none.
const defaultJobTTL = int32(3600)

// validatePhase runs the validation Jobs of the pending revision and waits for them. Job names are
// deterministic, so a resumed pass finds the Jobs it created instead of creating more.
func (r *RotatedSecretReconciler) validatePhase(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepValidating {
		return false, nil
	}
	spec := s.rs.Spec.Validation
	if spec == nil || len(spec.Jobs) == 0 {
		// Validation was removed from the spec while it ran: nothing is left to wait for.
		p.Step = rotationv1alpha1.StepConfirmed
		return false, nil
	}
	if st.Validation == nil || st.Validation.Revision != p.Revision {
		st.Validation = &rotationv1alpha1.ValidationStatus{Revision: p.Revision, StartTime: &metav1.Time{Time: s.now}}
		for _, j := range spec.Jobs {
			st.Validation.Jobs = append(st.Validation.Jobs, rotationv1alpha1.ValidationJobStatus{
				Name: j.Name, JobName: validationJobName(s.rs.Name, j.Name, p.Revision), Result: rotationv1alpha1.JobRunning})
		}
		r.setRotating(s, rotationv1alpha1.ReasonValidating, fmt.Sprintf("Validating revision %d with %d Job(s)", p.Revision, len(spec.Jobs)))
		r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonValidating, "Validate",
			"Validating revision %d with %d Job(s)", p.Revision, len(spec.Jobs))
		if err := r.persist(ctx, s); err != nil {
			return false, err
		}
		p = st.Pending // a persist decodes the response into s.rs: re-read what it replaced
	}
	failed, running := "", 0
	for i, j := range spec.Jobs {
		js := &st.Validation.Jobs[i]
		if js.Result != rotationv1alpha1.JobRunning {
			if js.Result == rotationv1alpha1.JobFailed {
				failed = js.JobName
			}
			continue
		}
		var job batchv1.Job
		err := r.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: js.JobName}, &job)
		if apierrors.IsNotFound(err) {
			if err := r.createJob(ctx, s, j, js.JobName, p.Revision); errors.Is(err, errForeignJob) {
				return r.foreignJob(ctx, s, js.JobName)
			} else if err != nil {
				return r.jobFailed(ctx, s, err)
			}
			running++
			continue
		}
		if err != nil {
			return false, err
		}
		if !metav1.IsControlledBy(&job, s.rs) {
			return r.foreignJob(ctx, s, js.JobName)
		}
		js.Result = jobResult(&job)
		switch js.Result {
		case rotationv1alpha1.JobFailed:
			failed = js.JobName
		case rotationv1alpha1.JobRunning:
			running++
		}
	}
	if failed != "" {
		return r.failRotation(ctx, s, rotationv1alpha1.ReasonValidationFailed, fmt.Sprintf("validation Job %s failed", failed))
	}
	if running == 0 {
		p.Step = rotationv1alpha1.StepConfirmed
		r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonValidationPassed, "Validate",
			"Revision %d passed %d validation Job(s)", p.Revision, len(spec.Jobs))
		return false, r.persist(ctx, s)
	}
	timeout, _ := validationTimeout(spec).Parse()
	deadline := st.Validation.StartTime.Add(timeout)
	if !s.now.Before(deadline) {
		return r.failRotation(ctx, s, rotationv1alpha1.ReasonValidationFailed,
			fmt.Sprintf("validation did not finish within %s (%d Job(s) still running)", validationTimeout(spec), running))
	}
	r.setRotating(s, rotationv1alpha1.ReasonValidating, fmt.Sprintf("Validating revision %d: %d of %d Job(s) running",
		p.Revision, running, len(spec.Jobs)))
	// Jobs are owned and watched: a finished Job wakes the reconcile. Only the deadline needs a timer.
	s.wakeAt(deadline, 0)
	return true, r.persist(ctx, s)
}

// errForeignJob: a Job with the validation Job's name exists and is not this RotatedSecret's.
var errForeignJob = errors.New("job exists and belongs to someone else")

// foreignJob fails the rotation: the operator never adopts or waits on someone else's Job.
func (r *RotatedSecretReconciler) foreignJob(ctx context.Context, s *scope, name string) (bool, error) {
	return r.failRotation(ctx, s, rotationv1alpha1.ReasonValidationFailed,
		fmt.Sprintf("Job %s exists and does not belong to this RotatedSecret", name))
}

// jobFailed handles a Job that could not be created: a template the API server refuses fails the rotation,
// anything else is retried.
func (r *RotatedSecretReconciler) jobFailed(ctx context.Context, s *scope, err error) (bool, error) {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
		return r.failRotation(ctx, s, rotationv1alpha1.ReasonValidationFailed, fmt.Sprintf("creating validation Job: %v", err))
	}
	return false, err
}

// createJob creates the validation Job of one check for rev.
func (r *RotatedSecretReconciler) createJob(ctx context.Context, s *scope, j rotationv1alpha1.ValidationJob, name string, rev int64) error {
	job, err := r.buildJob(s.rs, j, name, rev)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Creating validation Job", "job", name, "revision", rev)
	if err := r.Create(ctx, job, client.FieldOwner(FieldOwner)); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		// Our own earlier create that the cache has not seen yet, or someone else's Job (the cache holds only
		// labelled Jobs): only the API server can tell.
		var other batchv1.Job
		if getErr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), &other); getErr == nil && !metav1.IsControlledBy(&other, s.rs) {
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
	job.Name, job.Namespace, job.GenerateName = name, rs.Namespace, ""
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

func validationJobName(rsName, job string, rev int64) string {
	return fmt.Sprintf("%s-%s-r%d", rsName, job, rev)
}

func validationTimeout(v *rotationv1alpha1.ValidationSpec) rotationv1alpha1.Duration {
	if v.Timeout != "" {
		return v.Timeout
	}
	return "15m"
}

// maxJobName keeps validation Job names usable as label values (the Job controller labels pods with them).
const maxJobName = 63

// checkRolloutSpec finds what the schema cannot: stage timeouts that do not parse, Job names that would be too
// long, and (once per spec generation, with a server-side dry run) Job templates the API server refuses. It
// returns "" when all is well.
func (r *RotatedSecretReconciler) checkRolloutSpec(ctx context.Context, s *scope) string {
	if ro := s.rs.Spec.Rollout; ro != nil {
		for i, stage := range ro.Stages {
			if _, err := stageTimeout(stage).Parse(); err != nil {
				return fmt.Sprintf("spec.rollout.stages[%d].timeout: %v", i, err)
			}
		}
	}
	v := s.rs.Spec.Validation
	if v == nil {
		return ""
	}
	if _, err := validationTimeout(v).Parse(); err != nil {
		return fmt.Sprintf("spec.validation.timeout: %v", err)
	}
	rev := nextRevision(s.rs.Status)
	for i, j := range v.Jobs {
		name := validationJobName(s.rs.Name, j.Name, rev+999999)
		if len(name) > maxJobName {
			return fmt.Sprintf("spec.validation.jobs[%d]: Job names %s-%s-r<revision> would exceed %d characters; "+
				"shorten the job name", i, s.rs.Name, j.Name, maxJobName)
		}
	}
	if s.rs.Generation == s.rs.Status.ObservedGeneration || s.rs.Status.Pending != nil {
		return ""
	}
	for i, j := range v.Jobs {
		job, err := r.buildJob(s.rs, j, validationJobName(s.rs.Name, j.Name, rev), rev)
		if err == nil {
			err = r.Create(ctx, job, client.DryRunAll, client.FieldOwner(FieldOwner))
		}
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			return fmt.Sprintf("spec.validation.jobs[%d].template: the API server refuses it: %v", i, err)
		}
	}
	return ""
}
