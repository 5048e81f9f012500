package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
)

// A RotatedSecret's first value usually goes to one Secret that does not exist yet, and nothing else sees it before
// the commit: no workload restarts, no Job runs, no vendor holds a credential, no notification is due. For such a
// rotation the staging Secret alone records the decision, and generate skips the status write between staging and
// the target write: with 1,000 RotatedSecrets applied at once that write was one in six of the operator's
// requests and the API server's costliest (a custom resource's status). Every later rotation, and any first one
// that restarts, validates, mirrors, notifies or calls a vendor, records status.pending before the first target.

// quietFirstValue reports whether the pending rotation is such a first value (res is its provider's result).
func (s *scope) quietFirstValue(res provider.Result) bool {
	base, st, p := &s.base.Status, &s.rs.Status, s.rs.Status.Pending
	if !neverStaged(base) || p.Revision != 1 || p.Trigger != rotationv1alpha1.TriggerCreated || p.Emergency ||
		len(res.State) != 0 {
		return false
	}
	// A token decide handled in this pass is recorded only by a status write.
	if st.LastHandledRotateRequest != base.LastHandledRotateRequest ||
		st.LastHandledEmergencyRequest != base.LastHandledEmergencyRequest {
		return false
	}
	spec := &s.rs.Spec
	if spec.Rollout != nil || spec.Validation != nil || len(spec.Notify) > 0 {
		return false
	}
	secrets := map[string]bool{}
	for _, t := range spec.Targets {
		if t.GitHubActions != nil {
			return false
		}
		secrets[targetNamespace(s.rs, t)+"/"+t.SecretName] = true
	}
	return len(secrets) == 1
}

// neverStaged reports whether status knows of no value at all: nothing current, pending, recorded or revoked.
func neverStaged(st *rotationv1alpha1.RotatedSecretStatus) bool {
	return st.Pending == nil && st.CurrentRevision == 0 && len(st.History) == 0 && len(st.Revocations) == 0 &&
		len(st.Compromised) == 0
}

// discardUnrecordedFirstValue keeps an emergency from reusing a first value that is staged but unknown to status
// (a quiet first value whose pass ended before its commit): that value may have reached the target, so it is
// taken up as revision 1 with its targets written, and preempt discards it as compromised; the emergency gets
// revision 2. Without an emergency, decide and generate take the staged value up again as usual. It runs after
// loadStaging.
func (s *scope) discardUnrecordedFirstValue(ctx context.Context, fingerprints func(provider.Values) string) {
	st := &s.rs.Status
	if !neverStaged(st) || s.staging == nil {
		return
	}
	if _, ok := policy.NewEmergencyToken(s.rs); !ok {
		return
	}
	res, ok := staging.Get(s.staging, 1)
	if !ok {
		return
	}
	p := s.startAttempt(rotationv1alpha1.TriggerCreated, false, "No value has been generated yet")
	p.Step, p.Fingerprint = rotationv1alpha1.StepTargetsWritten, fingerprints(res.Values)
	ctrl.LoggerFrom(ctx).Info("An emergency found a first value staged but not recorded; it is discarded as compromised",
		"revision", p.Revision, "fingerprint", p.Fingerprint)
	s.setRotating(rotationv1alpha1.ReasonStaged, fmt.Sprintf("Revision %d (%s) was staged before an interruption", p.Revision, p.Fingerprint))
}
