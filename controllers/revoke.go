package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
)

// humanRecheck is how often a credential only a person can revoke is checked again.
const humanRecheck = time.Hour

// revokePhase revokes the queued credentials. The old credential is queued only when the new one is committed
// (confirmed by rollout and validation), a failed rotation's new credential only once every target and workload
// is back on the old one; the current and pending revisions are never revoked. Each entry backs off on its own.
func (r *RotatedSecretReconciler) revokePhase(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	if len(st.Revocations) == 0 {
		return goOnOutcome()
	}
	var keep []rotationv1alpha1.Revocation
	for _, q := range st.Revocations {
		if q.Revision == st.CurrentRevision || (st.Pending != nil && q.Revision == st.Pending.Revision) {
			keep = append(keep, q) // in service, or about to be: never revoked (cannot be queued, but be sure)
			continue
		}
		if next := nextRevocationAttempt(q); s.now.Before(next) {
			keep = append(keep, q)
			s.wakeAt(next, 0)
			continue
		}
		if r.revoke(ctx, s, &q) {
			continue
		}
		keep = append(keep, q)
	}
	st.Revocations = keep
	return next(r.persist(ctx, s))
}

// nextRevocationAttempt is when a queued revocation may be tried again: at once the first time, then after the
// backoff of its failed attempts, or about hourly for one only a person can carry out.
func nextRevocationAttempt(q rotationv1alpha1.Revocation) time.Time {
	switch {
	case q.Attempts == 0:
		return time.Time{}
	case q.HumanRequired:
		return q.Since.Add(time.Duration(q.Attempts) * humanRecheck)
	}
	return q.Since.Add(policy.Backoff(q.Attempts))
}

// revoke asks the provider to revoke q's credential. It returns true when the credential is gone; otherwise q
// records what happens next.
func (r *RotatedSecretReconciler) revoke(ctx context.Context, s *scope, q *rotationv1alpha1.Revocation) bool {
	st := s.rs.Status
	old, _ := staging.Get(s.staging, q.Revision)
	ctrl.LoggerFrom(ctx).Info("Revoking credential", "revision", q.Revision)
	err := s.provider.Revoke(ctx, s.providerRequest(q.Revision, r.credentials(s)), old)
	var human *provider.HumanRevocationError
	switch {
	case err == nil:
		kind, reason := "Old", rotationv1alpha1.ReasonOldCredentialRevoked
		if q.Revision > st.CurrentRevision {
			kind, reason = "New", rotationv1alpha1.ReasonNewCredentialRevoked
		}
		s.event(corev1.EventTypeNormal, reason, "Revoke", "%s credential of revision %d is revoked", kind, q.Revision)
		return true
	case errors.As(err, &human):
		if !q.HumanRequired {
			s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRevocationRequired, "Revoke",
				"Revision %d: %s (owner: %s)", q.Revision, human.Message, s.rs.Spec.Owner)
		}
		q.HumanRequired, q.KeyHint, q.Message = true, policy.Sanitize(human.Hint, 4), conditions.Bound(human.Message)
		q.Attempts++
		s.wakeAt(s.now.Add(humanRecheck), 0)
	default:
		q.Attempts++
		q.Message = conditions.Bound(fmt.Sprintf("revoking failed (attempt %d): %v", q.Attempts, err))
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRevokeFailed, "Revoke", "Revision %d: %s", q.Revision, q.Message)
		q.Since = metav1.NewTime(s.now)
		s.wakeAt(s.now.Add(policy.Backoff(q.Attempts)), 0)
	}
	return false
}
