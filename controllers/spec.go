package controllers

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/specs"
)

// checkSpec parses the spec and finds what the CRD schema cannot (specs.Check, which `kubectl rotation plan` runs
// too): anything here stalls the object with InvalidSpec until its spec changes, before any vendor call or write.
// Then what needs other objects: a dependency cycle, the objects the emergency overrides name, and (once per spec
// generation) the server-side dry run of the Job templates.
func (r *RotatedSecretReconciler) checkSpec(ctx context.Context, s *scope) outcome {
	if o := r.checkRules(s.rs); o.done() {
		return o
	}
	var err error
	if s.actor, err = r.actorFor(s.rs); err != nil {
		return retry(err)
	}
	parsed, err := specs.Check(s.rs, r.Providers)
	// What parsed before a refusal is kept, as the phases filled it before.
	s.ttl, s.grace, s.provider = parsed.TTL, parsed.Grace, parsed.Provider
	s.schedule, s.notice, s.soak = parsed.Schedule, parsed.Notice, parsed.Soak
	if err != nil {
		return invalid("%v", err)
	}
	if cycle := dependencyCycle(ctx, r.Client, s.rs); cycle != "" {
		return invalid("spec.dependsOn: a cycle: %s; a RotatedSecret cannot wait for itself", cycle)
	}
	if o := r.checkOverrides(ctx, s.rs); o.done() {
		return o
	}
	return r.checkValidation(ctx, s)
}

// checkRollout checks the stages: timeouts, selectors and workload references.
func checkRollout(ro *rotationv1alpha1.RolloutSpec) outcome {
	if err := specs.CheckRollout(ro); err != nil {
		return invalid("%v", err)
	}
	return goOnOutcome()
}

// checkValidation creates each Job template (validation, post-rotation, purge) as a server-side dry run as the
// RotatedSecret's actor, once per spec generation while no rotation is pending: a template the API server refuses
// is InvalidSpec. Names and metadata were checked by specs.Check.
func (r *RotatedSecretReconciler) checkValidation(ctx context.Context, s *scope) outcome {
	if s.rs.Generation == s.rs.Status.ObservedGeneration || s.rs.Status.Pending != nil {
		return goOnOutcome()
	}
	rev := nextRevision(s.rs.Status)
	for _, set := range specs.JobSets(s.rs) {
		for i, j := range set.Jobs {
			job, err := r.buildJob(s.rs, j, set.Name(s.rs.Name, j.Name, rev), rev)
			if err == nil {
				err = s.actor.Writer.Create(ctx, job, client.DryRunAll, client.FieldOwner(FieldOwner))
			}
			if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
				return invalid("%s.jobs[%d].template: the API server refuses it: %v", set.Field, i, err)
			}
		}
	}
	return goOnOutcome()
}

// The spec's defaults and derived names, as internal/specs reads them.
var (
	targetNamespace     = specs.TargetNamespace
	targetOutput        = specs.TargetOutput
	keepPrevious        = specs.KeepPrevious
	previousSuffix      = specs.PreviousSuffix
	gracePeriod         = specs.GracePeriod
	stageTimeout        = specs.StageTimeout
	validationTimeout   = specs.ValidationTimeout
	postRotationTimeout = specs.PostRotationTimeout
	purgeTimeout        = specs.PurgeTimeout
	onFailure           = specs.OnFailure
	maxDelay            = specs.MaxDelay
	jobServiceAccount   = specs.JobServiceAccount
	validationJobName   = specs.ValidationJobName
	postJobName         = specs.PostJobName
	purgeJobName        = specs.PurgeJobName
	mirrorID            = specs.MirrorID
	hasMirror           = specs.HasMirror
	nextRevision        = specs.NextRevision
)

func containsString(list []string, s string) bool { return slices.Contains(list, s) }
