package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// preempt lets a new emergency token start at once. A rotation in progress (any step) or halted is discarded: its
// credential is queued for revocation, its Jobs are left for inspection, and decide starts the emergency in this
// same pass (no window, notice, dependency, backoff, suspend or rollout slot holds it). A value that already reached
// the targets is treated as compromised too. An emergency that runs is not discarded: the new token is recorded and
// started once that one ends (the latest token wins).
func (r *RotatedSecretReconciler) preempt(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p := st.Pending
	token, ok := policy.NewEmergencyToken(s.rs)
	if !ok || p == nil {
		return goOnOutcome()
	}
	if p.Emergency && p.Step != rotationv1alpha1.StepHalted {
		if st.QueuedEmergencyRequest != token {
			st.QueuedEmergencyRequest = token
			msg := fmt.Sprintf("Emergency %s arrived while emergency revision %d runs; it starts once that one ends", token, p.Revision)
			s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonEmergencyQueued, "Emergency", "%s", msg)
			s.note("", rotationv1alpha1.IncidentQueued, "%s", msg)
		}
		return goOnOutcome()
	}
	msg := fmt.Sprintf("Revision %d (%s, step %s) discarded for emergency %s", p.Revision, p.Trigger, p.Step, token)
	reached := p.Step != rotationv1alpha1.StepDecided && p.Step != rotationv1alpha1.StepStaged
	if reached {
		s.markCompromised(p.Revision, p.Fingerprint, token)
		msg += "; its value reached the targets and is treated as compromised"
	}
	if _, marker := staging.Pending(s.staging, p.Revision); marker {
		msg += "; a vendor call for it started and its result was never recorded: check the vendor for a credential to revoke"
	}
	if v := s.rs.Status.Validation; v != nil && v.Revision == p.Revision && len(v.Jobs) > 0 {
		msg += "; its validation Jobs are left for inspection"
	}
	ctrl.LoggerFrom(ctx).Info("Discarding rotation for an emergency", "revision", p.Revision, "step", p.Step)
	s.queueRevocation(p.Revision)
	if reached {
		s.flagCompromised(p.Revision)
	}
	s.completeHistory(p.Revision, rotationv1alpha1.OutcomeDiscarded, p.Fingerprint)
	if p.Emergency {
		s.endIncident(rotationv1alpha1.IncidentOutcomeSuperseded, rotationv1alpha1.IncidentPreempted, msg)
	}
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonEmergencyPreempted, "Preempt", "%s", msg)
	s.preempted = msg
	st.Pending = nil
	return goOnOutcome()
}

// beginEmergency records an emergency rotation as decide starts it: the revision in service (and a kept previous
// one) is marked compromised, and with revoke: First queued to be revoked first (revokeEarly); the incident record
// opens with who asked and why.
func (s *scope) beginEmergency(p *rotationv1alpha1.PendingRotation, token, reason, who string) {
	st := &s.rs.Status
	st.QueuedEmergencyRequest = ""
	s.openIncident(rotationv1alpha1.Incident{Token: token, Reason: reason, RequestedBy: who,
		RequestedAt: metav1.NewTime(s.now), CompromisedRevision: st.CurrentRevision, Revision: p.Revision})
	if who == "" {
		who = "unknown"
	}
	s.note(token, rotationv1alpha1.IncidentRequested, "Emergency %s requested by %s (%s); revision %d starts", token, who, orNone(reason), p.Revision)
	if s.preempted != "" {
		s.note(token, rotationv1alpha1.IncidentPreempted, "%s", s.preempted)
	}
	first := revokeOrder(s.rs) == rotationv1alpha1.RevokeFirst
	for _, rev := range []int64{st.CurrentRevision, st.PreviousRevision} {
		if rev == 0 {
			continue
		}
		fp := st.CurrentFingerprint
		if rev != st.CurrentRevision {
			fp = ""
			if h := s.history(rev); h != nil {
				fp = h.Fingerprint
			}
		}
		s.markCompromised(rev, fp, token)
		s.note(token, rotationv1alpha1.IncidentCompromised, "Revision %d (%s) marked compromised: it is never written to any target again", rev, orNone(fp))
		if first {
			s.queueRevocation(rev)
			s.flagCompromised(rev)
		}
	}
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonEmergencyStarted, "Emergency",
		"Emergency %s (%s): revision %d replaces compromised revision %d; revoke %s", token, orNone(reason), p.Revision,
		st.CurrentRevision, revokeOrder(s.rs))
}

// revokeEarly, for an emergency with revoke: First, removes the previous-value keys from every target at once and
// revokes the compromised credentials: before the new one is issued when the provider can (the http provider; a
// Stripe key's owner is asked at once), else as soon as the replacement exists (the Stripe webhook's twin), in
// every case before the first restart. It runs before and after generate; a failed revocation is retried with
// backoff and never holds the rotation (RevocationPending).
func (r *RotatedSecretReconciler) revokeEarly(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || !p.Emergency || revokeOrder(s.rs) != rotationv1alpha1.RevokeFirst {
		return goOnOutcome()
	}
	if st.PreviousRevision > 0 {
		if o := r.removePrevious(ctx, s); o.done() {
			return o
		}
	}
	if p.Step == rotationv1alpha1.StepDecided && !provider.RevokesBeforeIssue(s.provider, s.rs.Spec.Provider) {
		return goOnOutcome()
	}
	if !r.revokeQueued(ctx, s, func(q rotationv1alpha1.Revocation) bool { return q.Compromised }) {
		return goOnOutcome()
	}
	return next(r.persist(ctx, s))
}

// removePrevious drops the previous-value keys from every target with a merge patch that names only them: the keys
// that hold the value in service are not touched (not even rewritten with the bytes they hold, which may be a
// discarded rotation's value rather than the current revision's). The replacement takes their place when written.
func (r *RotatedSecretReconciler) removePrevious(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	for _, w := range desiredWrites(s.rs, nil, nil) {
		drop := map[string]any{}
		for key := range w.Data {
			drop[key+previousSuffix(s.rs)] = nil
		}
		patch, err := json.Marshal(map[string]any{"data": drop})
		if err != nil {
			return retry(err)
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Name}}
		err = s.actor.Writer.Patch(ctx, sec, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(s.fieldManager()))
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return forbidden(s.actor.Refused(tenancy.Action{Verb: "patch", Resource: "secrets", Namespace: w.Namespace, Name: w.Name}, err))
		}
	}
	s.wrote = true
	msg := fmt.Sprintf("Removed the previous-value keys (%s) of %s", previousSuffix(s.rs), s.targetSummary())
	s.note("", rotationv1alpha1.IncidentPreviousRemoved, "%s", msg)
	s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonPreviousRemoved, "RemovePrevious", "%s", msg)
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	return next(r.persist(ctx, s))
}

// revokeOrder is spec.emergency.revoke, First by default.
func revokeOrder(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.EmergencyRevoke {
	if e := rs.Spec.Emergency; e != nil && e.Revoke == rotationv1alpha1.RevokeAfterReplacement {
		return rotationv1alpha1.RevokeAfterReplacement
	}
	return rotationv1alpha1.RevokeFirst
}

// compromised reports whether rev was in service when an emergency was requested.
func (s *scope) compromised(rev int64) bool {
	for _, c := range s.rs.Status.Compromised {
		if c.Revision == rev {
			return true
		}
	}
	return false
}

// markCompromised records rev as compromised (kept beyond revisionHistoryLimit; the oldest go past MaxCompromised).
func (s *scope) markCompromised(rev int64, fp, token string) {
	if rev == 0 || s.compromised(rev) {
		return
	}
	list := append(s.rs.Status.Compromised, rotationv1alpha1.CompromisedRevision{Revision: rev, Fingerprint: fp,
		Since: metav1.NewTime(s.now), Incident: token})
	if n := len(list) - rotationv1alpha1.MaxCompromised; n > 0 {
		list = list[n:]
	}
	s.rs.Status.Compromised = list
}

// flagCompromised marks rev's queued revocation as one to run first.
func (s *scope) flagCompromised(rev int64) {
	for i := range s.rs.Status.Revocations {
		if s.rs.Status.Revocations[i].Revision == rev {
			s.rs.Status.Revocations[i].Compromised = true
		}
	}
}

// incidentOf is the token of the emergency that produced or compromised rev, "" when none did.
func (s *scope) incidentOf(rev int64) string {
	for _, inc := range s.rs.Status.Incidents {
		if inc.Revision == rev {
			return inc.Token
		}
	}
	for _, c := range s.rs.Status.Compromised {
		if c.Revision == rev {
			return c.Incident
		}
	}
	return ""
}

// emergencyFailed halts an emergency rotation (or any rotation whose fallback is compromised) on its NEW value:
// the compromised one is never written back, whatever onFailure says.
func (r *RotatedSecretReconciler) emergencyFailed(s *scope, reason, msg string) outcome {
	st := &s.rs.Status
	p := st.Pending
	p.Step = rotationv1alpha1.StepHalted
	s.completeHistory(p.Revision, rotationv1alpha1.OutcomeHalted, p.Fingerprint)
	halted := fmt.Sprintf("Revision %d failed (%s: %s) and halts on its new value: revision %d is compromised and is "+
		"never written back, whatever onFailure says; targets and workloads are left as they are; fix the cause, then "+
		"set a new %s or %s token", p.Revision, reason, msg, st.CurrentRevision, rotationv1alpha1.RotateAnnotation,
		rotationv1alpha1.EmergencyAnnotation)
	s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonEmergencyValidationFailed, "Halt", "%s", halted)
	s.notify(rotationv1alpha1.NotifyHalted, p.Revision, halted, nil)
	s.endIncident(rotationv1alpha1.IncidentOutcomeHalted, rotationv1alpha1.IncidentHalted, halted)
	if st.QueuedEmergencyRequest != "" {
		// An emergency token arrived while this one ran: it was to start once this one ended, and a halt is an
		// end. The next pass discards the halted revision for it (preempt); a stall would wait for a person.
		return waitUntil(s.now)
	}
	return stall(rotationv1alpha1.ReasonEmergencyValidationFailed, halted)
}

// purgePhase runs an emergency's purge Jobs once its new value is in service.
func (r *RotatedSecretReconciler) purgePhase(ctx context.Context, s *scope) outcome {
	return r.runJobs(ctx, s, s.purgeJobs())
}

// orNone is s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
