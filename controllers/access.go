package controllers

import (
	"context"
	"errors"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// actorFor returns who the operator is for this RotatedSecret: its ServiceAccount, impersonated, or (no
// Identities, or single-tenant mode) the operator itself.
func (r *RotatedSecretReconciler) actorFor(rs *rotationv1alpha1.RotatedSecret) (tenancy.Actor, error) {
	if r.Identities == nil {
		return tenancy.Actor{Writer: r.Client, Reader: r.APIReader}, nil
	}
	return r.Identities.For(rs.Namespace, rs.Spec.ServiceAccountName)
}

// checkRules applies the admin's guard rails to the spec (tenancy.Rules.CheckSpec): the RotatedSecret's own
// namespace, and the namespace of every target, dependency and named workload.
func (r *RotatedSecretReconciler) checkRules(rs *rotationv1alpha1.RotatedSecret) outcome {
	var rule *tenancy.RuleError
	switch err := r.Rules.CheckSpec(rs); {
	case !errors.As(err, &rule):
		return goOnOutcome()
	case rule.CrossNamespace:
		return stall(rotationv1alpha1.ReasonCrossNamespaceRef, rule.Message)
	}
	return stall(rotationv1alpha1.ReasonProtectedNamespace, rule.Message)
}

// checkAccess asks RBAC, as the RotatedSecret's ServiceAccount, for everything a rotation will do
// (tenancy.Preflight), before the provider is called: write the staging Secret and every target, restart every
// workload of every stage (as they resolve now), create the validation Jobs and run them as their ServiceAccount.
// A refusal fails the attempt with Forbidden, naming what was refused, while nothing is minted or written. The
// operator's own identity is not checked (single-tenant mode).
func (r *RotatedSecretReconciler) checkAccess(ctx context.Context, s *scope) outcome {
	if !s.actor.Impersonated() {
		return goOnOutcome()
	}
	var workloads []rollout.Workload
	if ro := s.rs.Spec.Rollout; ro != nil {
		for _, stage := range ro.Stages {
			resolved, err := rollout.Resolve(ctx, r.Client, s.rs.Namespace, stage)
			if err != nil {
				return retry(err)
			}
			workloads = append(workloads, resolved...)
		}
	}
	for _, a := range tenancy.Preflight(s.rs, workloads, s.actor.ServiceAccount) {
		if err := s.actor.Check(ctx, a); err != nil {
			return forbidden(err)
		}
	}
	return goOnOutcome()
}

// jobAction is creating a Job in namespace.
var jobAction = tenancy.JobAction

// forbidden fails the attempt on an RBAC refusal (it backs off: an admin may grant the right meanwhile), and
// hands any other error to the work queue.
func forbidden(err error) outcome {
	if tenancy.IsForbidden(err) {
		return failed(rotationv1alpha1.ReasonForbidden, err)
	}
	return retry(err)
}

// applyTarget writes w as the RotatedSecret's actor. Keys it has claimed before are taken back with force (drift
// repair); the first write of a key takes it from nobody: if another field manager owns it the write stalls with
// TargetOwnedElsewhere, unless a person has set rotation.tribi.io/adopt: "true" and the owner is not another
// RotatedSecret. Written keys are claimed in status.
func (r *RotatedSecretReconciler) applyTarget(ctx context.Context, s *scope, w sink.SecretWrite, dryRun bool) outcome {
	write := func(force bool) error {
		err := sink.Apply(ctx, s.actor.Writer, s.fieldManager(), w, dryRun, force)
		return s.actor.Refused(tenancy.Action{Verb: "patch", Resource: "secrets", Namespace: w.Namespace, Name: w.Name}, err)
	}
	err := write(s.claimedAll(w))
	if conflicts := sink.Conflicts(err); conflicts != nil {
		if o := s.mayTake(w, conflicts); o.done() {
			return o
		}
		err = write(true)
	}
	switch {
	case tenancy.IsForbidden(err):
		return forbidden(err)
	case err != nil:
		return targetFailed(w, err)
	}
	if !dryRun {
		s.claim(w)
	}
	return goOnOutcome()
}

// mayTake decides whether keys of w that other field managers own may be taken over (sink.Blocking): keys this
// RotatedSecret claimed before, or, with the adopt annotation, keys of anyone but another RotatedSecret.
func (s *scope) mayTake(w sink.SecretWrite, conflicts []sink.Conflict) outcome {
	adopt := s.rs.Annotations[rotationv1alpha1.AdoptAnnotation] == "true"
	if msg := sink.Blocking(w, conflicts, func(key string) bool { return s.claimed(w, key) }, adopt); msg != "" {
		return stall(rotationv1alpha1.ReasonTargetOwnedElsewhere, msg)
	}
	return goOnOutcome()
}

// claimID names one key of one Secret in status.claimedKeys.
func claimID(w sink.SecretWrite, key string) string { return w.Namespace + "/" + w.Name + "/" + key }

// claimed reports whether this RotatedSecret has written key of w before.
func (s *scope) claimed(w sink.SecretWrite, key string) bool {
	return slices.Contains(s.rs.Status.ClaimedKeys, claimID(w, key))
}

// claimedAll reports whether every key of w was written by this RotatedSecret before.
func (s *scope) claimedAll(w sink.SecretWrite) bool {
	for k := range w.Data {
		if !s.claimed(w, k) {
			return false
		}
	}
	return true
}

// claim records the keys of w as this RotatedSecret's, and forgets claims on keys the spec no longer names.
func (s *scope) claim(w sink.SecretWrite) {
	named := map[string]bool{}
	for _, t := range s.rs.Spec.Targets {
		if t.GitHubActions == nil {
			id := claimID(sink.SecretWrite{Namespace: targetNamespace(s.rs, t), Name: t.SecretName}, t.Key)
			named[id], named[id+previousSuffix(s.rs)] = true, true
		}
	}
	claims := slices.DeleteFunc(slices.Clone(s.rs.Status.ClaimedKeys), func(id string) bool { return !named[id] })
	for k := range w.Data {
		if id := claimID(w, k); !slices.Contains(claims, id) {
			claims = append(claims, id)
		}
	}
	slices.Sort(claims)
	s.rs.Status.ClaimedKeys = claims
}

// reserved says why a target Secret (sec: as read, empty when it does not exist) is one the operator keeps for
// itself and never writes as a target ("" when it is not): a staging Secret of any RotatedSecret, existing or
// not yet created, or the fingerprint key.
func (r *RotatedSecretReconciler) reserved(ctx context.Context, key client.ObjectKey, sec *corev1.Secret) string {
	return sink.Reserved(key.Namespace, key.Name, sec, func(namespace, name string) bool {
		var other rotationv1alpha1.RotatedSecret
		return r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &other) == nil
	})
}
