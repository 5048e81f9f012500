package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// humanRecheck is how often a credential only a person can revoke is checked again; compromisedRecheck when it is
// compromised.
const (
	humanRecheck       = time.Hour
	compromisedRecheck = time.Minute
)

// revokePhase revokes the queued credentials. The old credential is queued only when the new one is committed
// (confirmed by rollout and validation), a failed rotation's new credential only once every target and workload
// is back on the old one; the current and pending revisions are never revoked, except a compromised one an
// emergency revokes first. Each entry backs off on its own.
func (r *RotatedSecretReconciler) revokePhase(ctx context.Context, s *scope) outcome {
	if !r.revokeQueued(ctx, s, func(rotationv1alpha1.Revocation) bool { return true }) {
		return goOnOutcome()
	}
	return next(r.persist(ctx, s))
}

// revokeQueued tries the queued revocations that pick selects and that are due; it reports whether there were any.
func (r *RotatedSecretReconciler) revokeQueued(ctx context.Context, s *scope, pick func(rotationv1alpha1.Revocation) bool) bool {
	st := &s.rs.Status
	if len(st.Revocations) == 0 {
		return false
	}
	var keep []rotationv1alpha1.Revocation
	for _, q := range st.Revocations {
		inService := q.Revision == st.CurrentRevision || (st.Pending != nil && q.Revision == st.Pending.Revision)
		if !pick(q) || (inService && !q.Compromised) {
			keep = append(keep, q) // in service, or about to be: never revoked unless compromised
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
	s.revocationPending()
	return true
}

// revocationPending sets RevocationPending while a compromised credential is not revoked yet.
func (s *scope) revocationPending() {
	var waiting []string
	for _, q := range s.rs.Status.Revocations {
		if q.Compromised {
			waiting = append(waiting, fmt.Sprintf("revision %d (%s)", q.Revision, orNone(q.Message)))
		}
	}
	c := conditions.Get(s.rs, rotationv1alpha1.ConditionRevocationPending)
	switch {
	case len(waiting) > 0:
		s.setCondition(rotationv1alpha1.ConditionRevocationPending, metav1.ConditionTrue, rotationv1alpha1.ReasonRevocationPending,
			"Compromised credential(s) not revoked yet, retried with backoff: "+strings.Join(waiting, "; "))
	case c != nil && c.Status == metav1.ConditionTrue:
		s.setCondition(rotationv1alpha1.ConditionRevocationPending, metav1.ConditionFalse, rotationv1alpha1.ReasonCompromisedRevoked,
			"Every compromised credential is revoked")
	}
}

// nextRevocationAttempt is when a queued revocation may be tried again: at once the first time, then after the
// backoff of its failed attempts, or about hourly for one only a person can carry out (every minute when it is
// compromised: the operator keeps checking until the vendor refuses it).
func nextRevocationAttempt(q rotationv1alpha1.Revocation) time.Time {
	switch {
	case q.Attempts == 0:
		return time.Time{}
	case q.HumanRequired && q.Compromised:
		return q.Since.Add(time.Duration(q.Attempts) * compromisedRecheck)
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
		if q.Compromised {
			kind, reason = "Compromised", rotationv1alpha1.ReasonCompromisedRevoked
		}
		s.event(corev1.EventTypeNormal, reason, "Revoke", "%s credential of revision %d is revoked", kind, q.Revision)
		s.noteFor(q.Revision, rotationv1alpha1.IncidentRevoked, "%s credential of revision %d is revoked", kind, q.Revision)
		return true
	case errors.As(err, &human):
		if !q.HumanRequired {
			msg := fmt.Sprintf("Revision %d: %s (owner: %s)", q.Revision, human.Message, s.rs.Spec.Owner)
			s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRevocationRequired, "Revoke", "%s", msg)
			if q.Compromised {
				// Urgent: the Emergency event is the one receivers page on.
				s.notify(rotationv1alpha1.NotifyEmergency, q.Revision, "URGENT, compromised credential: "+msg, nil)
				s.noteFor(q.Revision, rotationv1alpha1.IncidentRevocationRequested, "%s", msg)
			}
		}
		q.HumanRequired, q.KeyHint, q.Message = true, policy.Sanitize(human.Hint, 4), conditions.Bound(human.Message)
		q.Attempts++
		s.wakeAt(nextRevocationAttempt(*q), 0)
	default:
		q.Attempts++
		q.Message = conditions.Bound(fmt.Sprintf("revoking failed (attempt %d): %v", q.Attempts, err))
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonRevokeFailed, "Revoke", "Revision %d: %s", q.Revision, q.Message)
		s.noteFor(q.Revision, rotationv1alpha1.IncidentRevocationFailed, "Revision %d: %s", q.Revision, q.Message)
		q.Since = metav1.NewTime(s.now)
		s.wakeAt(s.now.Add(policy.Backoff(q.Attempts)), 0)
	}
	return false
}
