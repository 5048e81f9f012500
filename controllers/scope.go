package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/schedule"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// scope is what the phases of one reconcile share. Each field says which phase fills it.
type scope struct {
	rs   *rotationv1alpha1.RotatedSecret // Reconcile: as fetched; phases edit its status in place
	base *rotationv1alpha1.RotatedSecret // persist: the last persisted copy, the base of the next status patch
	now  time.Time                       // Reconcile: read once from the reconciler's clock

	ttl      time.Duration     // checkSpec: spec.ttl
	grace    time.Duration     // checkSpec: spec.previous.gracePeriod (0 when previous values are not kept)
	provider provider.Provider // checkSpec: the provider of spec.provider
	actor    tenancy.Actor     // checkSpec: who the operator acts as for this RotatedSecret (its ServiceAccount)
	schedule schedule.Schedule // checkSpec: spec.schedule (no windows: any time)
	notice   time.Duration     // checkSpec: spec.notice
	soak     time.Duration     // checkSpec: spec.dependsOnSoak
	staging  *corev1.Secret    // loadStaging: the staging Secret, nil when it does not exist yet

	stagingCreated bool // stage: this pass created the staging Secret (no pass before it staged anything)

	mirrorTokens map[rotationv1alpha1.SecretKeyRef][]byte // mirrorToken: GitHub tokens read in this pass

	backingOff   bool          // backoff: a failed attempt's backoff holds new attempts; its conditions stay
	holding      bool          // when: a due rotation waits for its window, notice or dependencies
	windowMissed bool          // when: no window opened within maxDelay; decide tells when it starts
	queued       bool          // decide: the rotation waits for a rollout slot (phase Queued)
	goAhead      bool          // backoff: a new rotate token was handled in this pass for the pending rotation
	preempted    string        // preempt: what an emergency token discarded in this pass, for the incident record
	fresh        bool          // persist: status was written in this reconcile, so the cached copy was current
	wrote        bool          // writeTargets, rollback, expirePrevious, syncTargets: targets written; the cache lags
	stalled      *cause        // conclude: why nothing can go on; summarize turns it into conditions
	events       []queuedEvent // event: told by persist once the status that makes them true is stored
	requeueAfter time.Duration // wakeAt: when to look again
}

// cause is why a rotation cannot make progress.
type cause struct{ reason, message string }

// queuedEvent is an Event waiting for the status patch that makes it true.
type queuedEvent struct{ eventType, reason, action, note string }

// event queues an Event about the RotatedSecret. Notes name revisions, keys and fingerprints, never values.
func (s *scope) event(eventType, reason, action, format string, args ...any) {
	s.events = append(s.events, queuedEvent{eventType, reason, action, conditions.Bound(fmt.Sprintf(format, args...))})
}

// setCondition sets one condition (always with the generation it describes).
func (s *scope) setCondition(condType string, status metav1.ConditionStatus, reason, msg string) {
	conditions.SetAt(s.rs, condType, status, reason, msg, s.now)
}

// setRotating marks a rotation in progress with the step's reason.
func (s *scope) setRotating(reason, msg string) {
	s.setCondition(rotationv1alpha1.ConditionRotating, metav1.ConditionTrue, reason, msg)
}

// result is when to look at the object again: at the next due time (TTL or grace period end), or after a backoff.
func (s *scope) result() ctrl.Result {
	if s.requeueAfter <= 0 {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}
}

// wakeAt asks for a reconcile at t plus jitter (the earliest of all asks wins); a zero t asks for nothing.
func (s *scope) wakeAt(t time.Time, jitter time.Duration) {
	if t.IsZero() {
		return
	}
	d := t.Sub(s.now) + jitter
	if d < time.Second {
		d = time.Second
	}
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

// wakeSoon asks for a reconcile after d, below wakeAt's one-second floor: for work that waits now.
func (s *scope) wakeSoon(d time.Duration) {
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

// providerRequest describes revision rev to the provider.
func (s *scope) providerRequest(rev int64, creds provider.Credentials) provider.Request {
	req := provider.Request{Namespace: s.rs.Namespace, Name: s.rs.Name, Revision: rev, Spec: s.rs.Spec.Provider, Credentials: creds}
	if cur, ok := staging.Get(s.staging, s.rs.Status.CurrentRevision); ok {
		req.Current = cur.Values // lets a provider tell a new value from the one in service
	}
	return req
}

// fieldManager is the server-side apply field manager of this RotatedSecret's target writes.
func (s *scope) fieldManager() string { return sink.FieldManager(s.rs.Namespace, s.rs.Name) }

// targetSummary names the target Secrets and keys, e.g. "backend/backend-env[JWT_SECRET]".
func (s *scope) targetSummary() string {
	var parts []string
	for _, t := range s.rs.Spec.Targets {
		if t.GitHubActions != nil {
			parts = append(parts, mirrorID(*t.GitHubActions))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s/%s[%s]", targetNamespace(s.rs, t), t.SecretName, t.Key))
	}
	return strings.Join(parts, ", ")
}

// queueRevocation records that rev's credential must be revoked at the provider once nothing uses it, if the
// provider revokes (or tracks) that revision at all.
func (s *scope) queueRevocation(rev int64) {
	if !s.provider.Revocable(s.rs.Spec.Provider, rev) {
		return
	}
	for _, q := range s.rs.Status.Revocations {
		if q.Revision == rev {
			return
		}
	}
	s.rs.Status.Revocations = append(s.rs.Status.Revocations, rotationv1alpha1.Revocation{Revision: rev, Since: metav1.NewTime(s.now)})
}

// startAttempt makes a fresh revision the pending rotation and opens its history record. A rotation whose
// candidate failed verification starts a new attempt the same way: a revision is never given a second value.
func (s *scope) startAttempt(trigger rotationv1alpha1.Trigger, emergency bool, msg string) *rotationv1alpha1.PendingRotation {
	p := &rotationv1alpha1.PendingRotation{
		Revision: nextRevision(s.rs.Status), Trigger: trigger, Emergency: emergency, Step: rotationv1alpha1.StepDecided,
		StartTime: metav1.NewTime(s.now), Message: msg,
	}
	s.rs.Status.Pending = p
	s.addHistory(rotationv1alpha1.RotationRecord{Revision: p.Revision, Trigger: trigger, StartTime: p.StartTime,
		Outcome: rotationv1alpha1.OutcomeInProgress, Message: msg})
	event := rotationv1alpha1.NotifyStarted
	if emergency {
		event = rotationv1alpha1.NotifyEmergency
	}
	s.notify(event, p.Revision, fmt.Sprintf("Rotation to revision %d started (%s): %s", p.Revision, trigger, msg), nil)
	return p
}

// restored reports whether a rollback has written the current value back to every target.
func (s *scope) restored() bool {
	ro := s.rs.Status.Rollout
	return ro != nil && ro.RollingBack && containsString(ro.CompletedStages, targetsRestoredMark)
}

// addHistory puts a record first in status.history and trims it to spec.revisionHistoryLimit.
func (s *scope) addHistory(rec rotationv1alpha1.RotationRecord) {
	limit := defaultHistoryLimit
	if s.rs.Spec.RevisionHistoryLimit != nil {
		limit = int(*s.rs.Spec.RevisionHistoryLimit)
	}
	h := append([]rotationv1alpha1.RotationRecord{rec}, s.rs.Status.History...)
	if len(h) > limit {
		h = h[:limit]
	}
	s.rs.Status.History = h
}

// history returns rev's newest record, nil when history no longer has it.
func (s *scope) history(rev int64) *rotationv1alpha1.RotationRecord {
	for i := range s.rs.Status.History {
		if s.rs.Status.History[i].Revision == rev {
			return &s.rs.Status.History[i]
		}
	}
	return nil
}

// completeHistory closes the in-progress record of rev.
func (s *scope) completeHistory(rev int64, outcome rotationv1alpha1.Outcome, fp string) {
	if h := s.history(rev); h != nil && h.Outcome == rotationv1alpha1.OutcomeInProgress {
		h.Outcome, h.Fingerprint, h.CompletionTime = outcome, fp, &metav1.Time{Time: s.now}
	}
}

// ensureFresh makes sure the status the phases act on is the API server's: after a persist in this reconcile it
// is; otherwise one uncached read compares resourceVersions. A stale cache is errRetry: no status patch (it would
// conflict), and the reconcile runs again shortly.
func (s *scope) ensureFresh(ctx context.Context, r *RotatedSecretReconciler) error {
	if s.fresh {
		return nil
	}
	var live rotationv1alpha1.RotatedSecret
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.rs), &live); err != nil {
		if apierrors.IsNotFound(err) {
			return errRetry // deleted meanwhile: the next reconcile finds out
		}
		return err
	}
	if live.ResourceVersion != s.rs.ResourceVersion {
		return errRetry
	}
	s.fresh = true
	return nil
}
