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
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
)

// humanRecheck is how often a credential only a person can revoke is checked again.
const humanRecheck = time.Hour

// queueRevocation records that rev's credential must be revoked at the provider. The random provider registers
// nothing anywhere, so nothing is queued for it.
func (s *scope) queueRevocation(rev int64) {
	if s.rs.Spec.Provider.Random != nil {
		return
	}
	if h := s.rs.Spec.Provider.HTTP; h != nil && h.Revoke == nil {
		return // the vendor API has no revoke call: nothing to do, nothing to announce
	}
	if rev == 0 && s.rs.Spec.Provider.StripeWebhook == nil {
		// Only a Stripe webhook knows what was in service before the operator took over (spec.endpointID or
		// spec.url); for the others there is nothing to revoke or track.
		return
	}
	for _, q := range s.rs.Status.Revocations {
		if q.Revision == rev {
			return
		}
	}
	s.rs.Status.Revocations = append(s.rs.Status.Revocations, rotationv1alpha1.Revocation{Revision: rev, Since: metav1.NewTime(s.now)})
}

// revokePhase revokes the queued credentials. The old credential is queued only when the new one is committed
// (confirmed by rollout and validation), a failed rotation's new credential only once every target and workload
// is back on the old one; the current and pending revisions are never revoked.
func (r *RotatedSecretReconciler) revokePhase(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	if len(st.Revocations) == 0 {
		return false, nil
	}
	var keep []rotationv1alpha1.Revocation
	for _, q := range st.Revocations {
		if q.Revision == st.CurrentRevision || (st.Pending != nil && q.Revision == st.Pending.Revision) {
			keep = append(keep, q) // in service, or about to be: never revoked (cannot be queued, but be sure)
			continue
		}
		if q.Attempts > 0 && q.HumanRequired {
			if next := q.Since.Add(time.Duration(q.Attempts) * humanRecheck); s.now.Before(next) {
				keep = append(keep, q)
				s.wakeAt(next, 0)
				continue
			}
		}
		if !q.HumanRequired && q.Attempts > 0 {
			if next := q.Since.Add(policy.Backoff(q.Attempts)); s.now.Before(next) {
				keep = append(keep, q)
				s.wakeAt(next, 0)
				continue
			}
		}
		old, _ := staging.Get(s.staging, q.Revision)
		req := s.providerRequest(q.Revision)
		req.Credentials = r.credentials(s)
		if cur, ok := staging.Get(s.staging, st.CurrentRevision); ok {
			req.Current = cur.Values // lets a provider refuse to revoke what is in service
		}
		ctrl.LoggerFrom(ctx).Info("Revoking credential", "revision", q.Revision)
		err := s.provider.Revoke(ctx, req, old)
		var human *provider.HumanRevocationError
		switch {
		case err == nil:
			kind := "Old"
			if q.Revision > st.CurrentRevision {
				kind = "New"
			}
			reason := rotationv1alpha1.ReasonOldCredentialRevoked
			if kind == "New" {
				reason = rotationv1alpha1.ReasonNewCredentialRevoked
			}
			r.event(s, corev1.EventTypeNormal, reason, "Revoke", "%s credential of revision %d is revoked", kind, q.Revision)
			continue
		case errors.As(err, &human):
			if !q.HumanRequired {
				r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonRevocationRequired, "Revoke",
					"Revision %d: %s (owner: %s)", q.Revision, human.Message, s.rs.Spec.Owner)
			}
			q.HumanRequired, q.KeyHint, q.Message = true, human.Hint, human.Message
			q.Attempts++
			s.wakeAt(s.now.Add(humanRecheck), 0)
		default:
			q.Attempts++
			q.Message = fmt.Sprintf("revoking failed (attempt %d): %v", q.Attempts, err)
			r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonRevokeFailed, "Revoke", "Revision %d: %s", q.Revision, q.Message)
			q.Since = metav1.NewTime(s.now)
			s.wakeAt(s.now.Add(policy.Backoff(q.Attempts)), 0)
		}
		keep = append(keep, q)
	}
	st.Revocations = keep
	return false, r.persist(ctx, s)
}

// revocationRevisions lists the revisions whose staged values must stay until they are revoked.
func revocationRevisions(st rotationv1alpha1.RotatedSecretStatus) []int64 {
	var revs []int64
	for _, q := range st.Revocations {
		revs = append(revs, q.Revision)
	}
	return revs
}
