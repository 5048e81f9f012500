package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/staging"
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

// checkRules applies the admin's guard rails to the spec: the RotatedSecret's own namespace, and the namespace of
// every target and named workload.
func (r *RotatedSecretReconciler) checkRules(rs *rotationv1alpha1.RotatedSecret) outcome {
	err := r.Rules.CheckHome(rs.Namespace)
	for i, t := range rs.Spec.Targets {
		if err == nil && t.GitHubActions == nil {
			err = r.Rules.CheckRef(rs.Namespace, fmt.Sprintf("spec.targets[%d]", i), t.Namespace)
		}
	}
	for i, d := range rs.Spec.DependsOn {
		if err == nil {
			err = r.Rules.CheckRef(rs.Namespace, fmt.Sprintf("spec.dependsOn[%d]", i), d.Namespace)
		}
	}
	if ro := rs.Spec.Rollout; ro != nil {
		for i, st := range ro.Stages {
			for j, w := range st.Workloads {
				if err == nil {
					err = r.Rules.CheckRef(rs.Namespace, fmt.Sprintf("spec.rollout.stages[%d].workloads[%d]", i, j), w.Namespace)
				}
			}
		}
	}
	var rule *tenancy.RuleError
	switch {
	case !errors.As(err, &rule):
		return goOnOutcome()
	case rule.CrossNamespace:
		return stall(rotationv1alpha1.ReasonCrossNamespaceRef, rule.Message)
	}
	return stall(rotationv1alpha1.ReasonProtectedNamespace, rule.Message)
}

// checkAccess asks RBAC, as the RotatedSecret's ServiceAccount, for everything a rotation will do, before the
// provider is called: write the staging Secret and every target, restart every workload of every stage (as they
// resolve now), create the validation Jobs and run them as their ServiceAccount. A refusal fails the attempt with
// Forbidden, naming what was refused, while nothing is minted or written. The operator's own identity is not
// checked (single-tenant mode).
func (r *RotatedSecretReconciler) checkAccess(ctx context.Context, s *scope) outcome {
	if !s.actor.Impersonated() {
		return goOnOutcome()
	}
	ns := s.rs.Namespace
	actions := []tenancy.Action{
		{Verb: "create", Resource: "secrets", Namespace: ns},
		{Verb: "patch", Resource: "secrets", Namespace: ns, Name: staging.Name(s.rs.Name)},
	}
	for _, t := range s.rs.Spec.Targets {
		if t.GitHubActions == nil {
			actions = append(actions, tenancy.Action{Verb: "patch", Resource: "secrets", Namespace: targetNamespace(s.rs, t), Name: t.SecretName})
		}
	}
	if ro := s.rs.Spec.Rollout; ro != nil {
		for _, stage := range ro.Stages {
			workloads, err := rollout.Resolve(ctx, r.Client, ns, stage)
			if err != nil {
				return retry(err)
			}
			for _, w := range workloads {
				actions = append(actions, tenancy.Action{Verb: "patch", Group: "apps", Resource: strings.ToLower(string(w.Kind)) + "s",
					Namespace: w.Namespace, Name: w.Name})
			}
		}
	}
	var jobs []rotationv1alpha1.ValidationJob
	if v := s.rs.Spec.Validation; v != nil {
		jobs = append(jobs, v.Jobs...)
	}
	if pr := s.rs.Spec.PostRotation; pr != nil {
		jobs = append(jobs, pr.Jobs...)
	}
	if len(jobs) > 0 {
		actions = append(actions, jobAction(ns))
		for _, j := range jobs {
			// Running a pod as a ServiceAccount hands it that ServiceAccount's token: the RotatedSecret's own
			// ServiceAccount must be allowed to mint one itself.
			if sa := jobServiceAccount(j); sa != s.actor.ServiceAccount {
				actions = append(actions, tenancy.Action{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: ns, Name: sa})
			}
		}
	}
	seen := map[tenancy.Action]bool{}
	for _, a := range actions {
		if seen[a] {
			continue
		}
		seen[a] = true
		if err := s.actor.Check(ctx, a); err != nil {
			return forbidden(err)
		}
	}
	return goOnOutcome()
}

// jobAction is creating a Job in namespace.
func jobAction(namespace string) tenancy.Action {
	return tenancy.Action{Verb: "create", Group: "batch", Resource: "jobs", Namespace: namespace}
}

// jobServiceAccount is the ServiceAccount a validation Job's pods run as.
func jobServiceAccount(j rotationv1alpha1.ValidationJob) string {
	if sa := j.Template.Spec.Template.Spec.ServiceAccountName; sa != "" {
		return sa
	}
	return "default"
}

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

// mayTake decides whether keys of w that other field managers own may be taken over: keys this RotatedSecret
// claimed before, or, with the adopt annotation, keys of anyone but another RotatedSecret.
func (s *scope) mayTake(w sink.SecretWrite, conflicts []sink.Conflict) outcome {
	adopt := s.rs.Annotations[rotationv1alpha1.AdoptAnnotation] == "true"
	var owners []string
	hint := fmt.Sprintf("to take it over, set the annotation %s: \"true\" on this RotatedSecret", rotationv1alpha1.AdoptAnnotation)
	for _, c := range conflicts {
		rotated := strings.HasPrefix(c.Manager, sink.FieldManagerPrefix)
		if c.Key == "" || s.claimed(w, c.Key) || (adopt && !rotated) {
			continue
		}
		if rotated {
			hint = "another RotatedSecret writes it: remove that target from one of them (keys of another RotatedSecret are never adopted)"
		}
		owners = append(owners, fmt.Sprintf("key %s is owned by field manager %q", c.Key, c.Manager))
	}
	if len(owners) == 0 {
		return goOnOutcome()
	}
	return stall(rotationv1alpha1.ReasonTargetOwnedElsewhere, fmt.Sprintf("target Secret %s: %s; nothing was written; %s",
		w, strings.Join(owners, ", "), hint))
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
	if _, ok := sec.Labels[rotationv1alpha1.RotatedSecretLabel]; ok {
		return "it is the staging Secret of RotatedSecret " + sec.Labels[rotationv1alpha1.RotatedSecretLabel]
	}
	if key.Name == fingerprint.KeySecretName {
		return "it is the name of the operator's fingerprint key"
	}
	if name, ok := strings.CutSuffix(key.Name, staging.Suffix); ok && name != "" {
		var other rotationv1alpha1.RotatedSecret
		if r.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: name}, &other) == nil {
			return "it is the name of the staging Secret of RotatedSecret " + name
		}
	}
	return ""
}
