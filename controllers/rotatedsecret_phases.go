package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/staging"
)

// Steps at which StepHook is called, each right after a write to the API server.
const (
	StepHookProviderReturned = "ProviderReturned" // the provider returned a value that is not staged yet
	StepHookGenerated        = "Generated"        // the staging Secret holds the new value; status does not know yet
	StepHookStaged           = "Staged"           // status records the pending rotation and the staged value's fingerprint
	StepHookTargetWritten    = "TargetWritten"    // one target Secret written, others not yet
	StepHookTargetsWritten   = "TargetsWritten"   // every target written; status does not know yet
	StepHookCommitted        = "Committed"        // the new revision is current
)

// phase is one step of Reconcile. It returns done to end the reconcile early (waiting, stalled or failed) and an
// error only for transient failures that the work queue should retry (conflicts, API server errors).
type phase func(ctx context.Context, s *scope) (done bool, err error)

// scope is what the phases of one reconcile share.
type scope struct {
	rs   *rotationv1alpha1.RotatedSecret // fetched by Reconcile; phases edit its status in place
	base *rotationv1alpha1.RotatedSecret // last persisted copy, the base of the next status patch
	now  time.Time                       // read once from the reconciler's clock

	ttl      time.Duration     // validate: spec.ttl
	grace    time.Duration     // validate: spec.previous.gracePeriod (0 when previous values are not kept)
	provider provider.Provider // validate: the provider of spec.provider
	staging  *corev1.Secret    // loadStaging: the staging Secret, nil when it does not exist yet

	fresh        bool          // persist: status was written in this reconcile, so the cached copy was current
	wrote        bool          // a phase wrote targets; the cache cannot show it yet, so syncTargets waits
	stalled      *stall        // a phase could not go on; summarize turns it into conditions
	backingOff   bool          // waitForBackoff: the conditions of the last failure stay as they are
	requeueAfter time.Duration // wakeAt: when to look again
}

// stall is why a rotation cannot make progress.
type stall struct{ reason, message string }

// validate parses the spec. What the schema cannot catch stalls the object until its spec changes.
func (r *RotatedSecretReconciler) validate(ctx context.Context, s *scope) (bool, error) {
	spec := s.rs.Spec
	var err error
	if s.ttl, err = spec.TTL.Parse(); err != nil {
		return r.invalid(s, fmt.Sprintf("spec.ttl: %v", err))
	}
	if keepPrevious(s.rs) {
		if s.grace, err = gracePeriod(s.rs).Parse(); err != nil {
			return r.invalid(s, fmt.Sprintf("spec.previous.gracePeriod: %v", err))
		}
	}
	if s.provider, err = r.Providers.For(spec.Provider); err != nil {
		return r.invalid(s, fmt.Sprintf("spec.provider: %v", err))
	}
	if msg := r.checkRolloutSpec(ctx, s); msg != "" {
		return r.invalid(s, msg)
	}
	outputs := declaredOutputs(spec.Provider)
	for i, t := range spec.Targets {
		if !slices.Contains(outputs, targetOutput(t)) {
			// Caught before any vendor call: a credential minted for an output nobody can write would be lost.
			return r.invalid(s, fmt.Sprintf("spec.targets[%d].from: the provider has no output %q (it has: %s)",
				i, targetOutput(t), strings.Join(outputs, ", ")))
		}
	}
	seen := map[string]bool{}
	for i, t := range spec.Targets {
		if t.GitHubActions != nil {
			id := mirrorID(*t.GitHubActions)
			if seen[id] {
				return r.invalid(s, fmt.Sprintf("spec.targets[%d]: GitHub secret %s is already a target", i, id))
			}
			seen[id] = true
			continue
		}
		id := targetNamespace(s.rs, t) + "/" + t.SecretName + "/" + t.Key
		if seen[id] {
			return r.invalid(s, fmt.Sprintf("spec.targets[%d]: key %s of Secret %s is already a target", i, t.Key, id[:strings.LastIndex(id, "/")]))
		}
		seen[id] = true
	}
	return false, nil
}

// declaredOutputs lists the outputs a provider block produces.
func declaredOutputs(spec rotationv1alpha1.ProviderSpec) []string {
	switch {
	case spec.HTTP != nil:
		names := make([]string, 0, len(spec.HTTP.Outputs))
		for name := range spec.HTTP.Outputs {
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	case spec.StripeWebhook != nil:
		return []string{provider.DefaultOutput, "endpoint_id"}
	}
	return []string{provider.DefaultOutput}
}

// loadStaging reads the staging Secret from the cache. One this RotatedSecret does not control (left by a deleted
// RotatedSecret of the same name and not yet garbage-collected) is never read from: stage reports it.
func (r *RotatedSecretReconciler) loadStaging(ctx context.Context, s *scope) (bool, error) {
	var sec corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: staging.Name(s.rs.Name)}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		s.staging = nil
	case err != nil:
		return false, err
	case !metav1.IsControlledBy(&sec, s.rs):
		s.staging = nil
	default:
		s.staging = &sec
	}
	return false, nil
}

// decide starts a rotation when the policy chain says so: status.pending gets the next revision and the handled
// tokens are recorded. generate persists both together with the staged value's fingerprint, so a crash before
// that repeats the same decision for the same revision. While status.pending is set no other rotation starts.
func (r *RotatedSecretReconciler) decide(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	if st.Pending != nil {
		return false, nil
	}
	if retry, wait := backingOffAfterFailure(s); wait {
		// The last rotation was rolled back: the next automatic one waits; conditions stay as they are.
		s.backingOff = true
		s.wakeAt(retry, 0)
		return false, nil
	}
	d := r.Policy.Decide(policy.Input{Now: s.now, Object: s.rs, TTL: s.ttl})
	if !d.Rotate {
		if due, ok := policy.Due(policy.Input{Now: s.now, Object: s.rs, TTL: s.ttl}); ok && !s.rs.Spec.Suspend {
			s.wakeAt(due, policy.Jitter(string(s.rs.UID), s.ttl))
		}
		return false, nil
	}
	rev := nextRevision(*st)
	ctrl.LoggerFrom(ctx).Info("Starting rotation", "revision", rev, "trigger", d.Trigger)
	st.Pending = &rotationv1alpha1.PendingRotation{
		Revision: rev, Trigger: d.Trigger, Emergency: d.Emergency, Step: rotationv1alpha1.StepDecided,
		StartTime: metav1.NewTime(s.now), Message: d.Message,
	}
	// Any rotation satisfies a rotate request; only an emergency rotation satisfies an emergency request.
	if token := strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.RotateAnnotation]); token != "" {
		st.LastHandledRotateRequest = token
	}
	if d.Emergency {
		st.LastHandledEmergencyRequest = strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.EmergencyAnnotation])
	}
	if d.Trigger == rotationv1alpha1.TriggerManual || d.Emergency {
		// A person asked for this one: the backoff left by an earlier rolled-back rotation does not hold it.
		st.FailedAttempts, st.LastFailureTime = 0, nil
	}
	addHistory(s.rs, rotationv1alpha1.RotationRecord{
		Revision: rev, Trigger: d.Trigger, StartTime: metav1.NewTime(s.now),
		Outcome: rotationv1alpha1.OutcomeInProgress, Message: d.Message,
	})
	r.setRotating(s, rotationv1alpha1.ReasonRotationStarted, fmt.Sprintf("Rotating to revision %d: %s", rev, d.Message))
	if d.Trigger != rotationv1alpha1.TriggerCreated {
		r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonRotationStarted, "Rotate",
			"Rotation to revision %d started (%s): %s", rev, d.Trigger, d.Message)
	}
	return false, nil
}

// nextRevision is one past every revision used so far: a rolled-back revision is never reused, so its validation
// Jobs and staged value cannot be mistaken for the next attempt's.
func nextRevision(st rotationv1alpha1.RotatedSecretStatus) int64 {
	rev := st.CurrentRevision
	for _, h := range st.History {
		rev = max(rev, h.Revision)
	}
	for _, q := range st.Revocations {
		rev = max(rev, q.Revision)
	}
	return rev + 1
}

// waitForBackoff holds a rotation whose last attempt failed until policy.RetryAt, unless the spec changed since.
func (r *RotatedSecretReconciler) waitForBackoff(_ context.Context, s *scope) (bool, error) {
	st := s.rs.Status
	if st.Pending == nil || st.FailedAttempts == 0 || s.rs.Generation != st.ObservedGeneration {
		return false, nil
	}
	if retry := policy.RetryAt(st); s.now.Before(retry) {
		s.backingOff = true
		s.wakeAt(retry, 0)
		return true, nil
	}
	return false, nil
}

// generate produces the pending revision's value and stages it. A value already staged for the revision (a
// crash came after staging) is reused: a revision never gets a second value.
func (r *RotatedSecretReconciler) generate(ctx context.Context, s *scope) (bool, error) {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepDecided {
		return false, nil
	}
	log := ctrl.LoggerFrom(ctx).WithValues("revision", p.Revision)
	req := s.providerRequest(p.Revision)
	req.Credentials = r.credentials(s)
	res, staged := staging.Get(s.staging, p.Revision)
	if since, pending := staging.Pending(s.staging, p.Revision); pending {
		if done, err := r.generateIncomplete(ctx, s, p.Revision, since); done || err != nil {
			return done, err
		}
	}
	if staged {
		log.Info("Reusing the value already staged for this revision")
	} else {
		log.Info("Generating value")
		r.setRotating(s, rotationv1alpha1.ReasonGenerating, fmt.Sprintf("Generating revision %d", p.Revision))
		if cur, ok := staging.Get(s.staging, s.rs.Status.CurrentRevision); ok {
			req.Current = cur.Values
		}
		guard := &stagingGuard{r: r, s: s, rev: p.Revision}
		req.Guard = guard
		var err error
		if res, err = s.provider.Generate(ctx, req); err != nil {
			if clearErr := guard.clear(ctx, err); clearErr != nil {
				return false, clearErr
			}
			return r.providerFailed(s, "generating", p.Revision, err)
		}
		if stop, err := r.hook(StepHookProviderReturned); stop {
			return stop, err
		}
		req.Guard, req.Current = nil, nil
		if err = s.provider.Verify(ctx, req, res); err != nil {
			// The new credential exists at the vendor but failed its check: stage it for the record and revoke it.
			if len(res.State) > 0 {
				if done, stErr := r.stage(ctx, s, p.Revision, res); done || stErr != nil {
					return done, stErr
				}
				// The next attempt gets a fresh revision: this one's staged value must never be promoted.
				s.queueRevocation(p.Revision)
				completeHistory(s.rs, p.Revision, rotationv1alpha1.OutcomeFailed, "", s.now)
				p.Revision = nextRevision(s.rs.Status)
				addHistory(s.rs, rotationv1alpha1.RotationRecord{Revision: p.Revision, Trigger: p.Trigger,
					StartTime: metav1.NewTime(s.now), Outcome: rotationv1alpha1.OutcomeInProgress, Message: p.Message})
			}
			return r.providerFailed(s, "verifying", p.Revision, err)
		}
	}
	for i, t := range s.rs.Spec.Targets {
		if _, ok := res.Values[targetOutput(t)]; !ok {
			return r.invalid(s, fmt.Sprintf("spec.targets[%d].from: the provider has no output %q (it has: %s)",
				i, targetOutput(t), strings.Join(res.Values.Names(), ", ")))
		}
	}
	if !staged {
		if done, err := r.stage(ctx, s, p.Revision, res); done || err != nil {
			return done, err
		}
		if stop, err := r.hook(StepHookGenerated); stop {
			return stop, err
		}
	}
	p.Step = rotationv1alpha1.StepStaged
	p.Fingerprint = r.Fingerprints.Of(res.Values)
	r.setRotating(s, rotationv1alpha1.ReasonStaged, fmt.Sprintf("Revision %d staged (%s)", p.Revision, p.Fingerprint))
	if err := r.persist(ctx, s); err != nil {
		return false, err
	}
	return r.hook(StepHookStaged)
}

// stage writes res as revision rev into the staging Secret, keeping the current and previous revisions. The
// write carries the resourceVersion it was read with, so a stale cache yields a conflict, never a lost value.
func (r *RotatedSecretReconciler) stage(ctx context.Context, s *scope, rev int64, res provider.Result) (bool, error) {
	st := s.rs.Status
	sec := staging.Put(s.staging, s.rs, rev, res, append(revocationRevisions(st), st.CurrentRevision, st.PreviousRevision)...)
	var err error
	if s.staging == nil {
		if err = controllerutil.SetControllerReference(s.rs, sec, r.Scheme()); err != nil {
			return false, err
		}
		err = r.Create(ctx, sec, client.FieldOwner(FieldOwner))
	} else {
		err = r.Update(ctx, sec, client.FieldOwner(FieldOwner))
	}
	switch {
	case err == nil:
		s.staging = sec
		return false, nil
	case apierrors.IsConflict(err):
		return false, err
	case apierrors.IsAlreadyExists(err):
		// Either the cache has not seen our own earlier create yet (retry), or someone else's Secret has the name.
		var other corev1.Secret
		if getErr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(sec), &other); getErr == nil && !metav1.IsControlledBy(&other, s.rs) {
			return r.fail(s, rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("secret %s/%s exists and is not this "+
				"RotatedSecret's staging Secret (someone else's, or left by a deleted RotatedSecret of the same name and "+
				"not yet garbage-collected); rename or delete it", sec.Namespace, sec.Name))
		}
		return false, err
	}
	return r.fail(s, rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("writing staging Secret %s/%s: %w", sec.Namespace, sec.Name, err))
}

// writeTargets writes the staged value, and the previous one under the suffix unless this is an emergency, to
// every target. When targets span several Secrets all writes are first dry-run, so a missing namespace or a
// refused write is found before any Secret holds the new value.
func (r *RotatedSecretReconciler) writeTargets(ctx context.Context, s *scope) (bool, error) {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepStaged {
		return false, nil
	}
	if fresh, err := r.ensureFresh(ctx, s); !fresh || err != nil {
		return true, err
	}
	next, err := r.stagedValues(ctx, s, p.Revision)
	if err != nil {
		return true, err
	}
	if next == nil {
		// Someone deleted or edited the staging Secret before every target had the value. Nothing was committed,
		// so the rotation starts over from generation, for the same revision.
		r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonStagingLost, "Rotate",
			"The staged value of revision %d is gone from Secret %s/%s; generating it again",
			p.Revision, s.rs.Namespace, staging.Name(s.rs.Name))
		p.Step, p.Fingerprint = rotationv1alpha1.StepDecided, ""
		s.wakeAt(s.now, 0)
		return true, nil
	}
	var prev provider.Values
	if keepPrevious(s.rs) && !p.Emergency && s.rs.Status.CurrentRevision > 0 {
		if res, ok := staging.Get(s.staging, s.rs.Status.CurrentRevision); ok {
			prev = res.Values
		}
	}
	writes := desiredWrites(s.rs, next, prev)
	r.setRotating(s, rotationv1alpha1.ReasonWritingTargets, fmt.Sprintf("Writing revision %d to %d Secret(s)", p.Revision, len(writes)))
	if len(writes) > 1 {
		for _, w := range writes {
			if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, true); err != nil {
				return r.targetFailed(s, w, err)
			}
		}
	}
	// External mirrors first: they are the likelier to fail (network, tokens), and until they succeed no
	// Kubernetes target changes.
	if err := r.mirrorTargets(ctx, s, p.Revision, next); err != nil {
		return r.fail(s, rotationv1alpha1.ReasonMirrorFailed, err)
	}
	for i, w := range writes {
		ctrl.LoggerFrom(ctx).Info("Writing target", "secret", w.String(), "keys", w.Keys(), "revision", p.Revision)
		if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, false); err != nil {
			return r.targetFailed(s, w, err)
		}
		if i < len(writes)-1 {
			if stop, err := r.hook(StepHookTargetWritten); stop {
				return stop, err
			}
		}
	}
	// Not persisted on its own: the next phase (rollout or commit) follows at once and records it. A crash before
	// that finds the rotation at StepStaged and writes the same bytes again, which changes nothing.
	s.wrote = true
	p.Step = rotationv1alpha1.StepTargetsWritten
	return r.hook(StepHookTargetsWritten)
}

// commit makes the pending revision current once every target holds it.
func (r *RotatedSecretReconciler) commit(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	p := st.Pending
	if p == nil || p.Step != rotationv1alpha1.StepConfirmed {
		return false, nil
	}
	old := st.CurrentRevision
	st.CurrentRevision, st.CurrentFingerprint = p.Revision, p.Fingerprint
	st.LastRotationTime = &metav1.Time{Time: s.now}
	st.NextRotationTime = &metav1.Time{Time: s.now.Add(s.ttl)}
	if st.PreviousRevision > 0 {
		// A previous value still kept (a rotation inside the grace period, or an emergency) leaves service now.
		s.queueRevocation(st.PreviousRevision)
	}
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	if keepPrevious(s.rs) && !p.Emergency && old > 0 {
		st.PreviousRevision = old
		st.PreviousExpiryTime = &metav1.Time{Time: s.now.Add(s.grace)}
	} else {
		// The old credential leaves service now: revoke it (revokePhase). A kept previous value is revoked when
		// its grace period ends.
		s.queueRevocation(old)
	}
	completeHistory(s.rs, p.Revision, rotationv1alpha1.OutcomeSucceeded, p.Fingerprint, s.now)
	st.Pending, st.FailedAttempts, st.LastFailureTime = nil, 0, nil
	msg := fmt.Sprintf("Rotated to revision %d (%s) in %s", p.Revision, p.Fingerprint, s.targetSummary())
	if p.Emergency {
		msg += "; emergency: the previous value was not kept"
	}
	r.setCondition(s, rotationv1alpha1.ConditionRotating, metav1.ConditionFalse, rotationv1alpha1.ReasonRotated, msg)
	if err := r.persist(ctx, s); err != nil {
		return false, err
	}
	// Told only once the commit is stored: a conflict above means another pass commits and tells.
	ctrl.LoggerFrom(ctx).Info("Committed rotation", "revision", p.Revision, "fingerprint", p.Fingerprint)
	r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonRotated, "Rotate", "%s", msg)
	metrics.Rotations.WithLabelValues(s.rs.Namespace, s.rs.Name, string(p.Trigger)).Inc()
	metrics.RotationDuration.WithLabelValues(string(p.Trigger)).Observe(s.now.Sub(p.StartTime.Time).Seconds())
	if stop, err := r.hook(StepHookCommitted); stop {
		return stop, err
	}
	s.wakeAt(st.NextRotationTime.Time, policy.Jitter(string(s.rs.UID), s.ttl))
	if st.PreviousExpiryTime != nil {
		s.wakeAt(st.PreviousExpiryTime.Time, 0)
	}
	return false, nil
}

// expirePrevious removes the previous-value keys from the targets when the grace period is over (or when
// spec.previous.keep was turned off).
func (r *RotatedSecretReconciler) expirePrevious(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	if st.Pending != nil || st.PreviousRevision == 0 || s.wrote {
		return false, nil
	}
	if keepPrevious(s.rs) && st.PreviousExpiryTime != nil && s.now.Before(st.PreviousExpiryTime.Time) {
		s.wakeAt(st.PreviousExpiryTime.Time, 0)
		return false, nil
	}
	if fresh, err := r.ensureFresh(ctx, s); !fresh || err != nil {
		return true, err
	}
	cur, ok, err := r.currentValues(ctx, s)
	if !ok || err != nil {
		return true, err
	}
	writes := desiredWrites(s.rs, cur, nil)
	for _, w := range writes {
		ctrl.LoggerFrom(ctx).Info("Removing previous value", "secret", w.String(), "revision", st.PreviousRevision)
		if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, false); err != nil {
			return r.targetFailed(s, w, err)
		}
	}
	s.wrote = true
	s.queueRevocation(st.PreviousRevision)
	r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonPreviousRemoved, "RemovePrevious",
		"Grace period over: removed revision %d from the previous-value keys of %s", st.PreviousRevision, s.targetSummary())
	st.PreviousRevision, st.PreviousExpiryTime = 0, nil
	return false, r.persist(ctx, s)
}

// syncTargets restores targets that no longer hold the current value (a hand edit, a deleted Secret, a target
// added to the spec). Nothing is rotated: the current revision is written back.
func (r *RotatedSecretReconciler) syncTargets(ctx context.Context, s *scope) (bool, error) {
	st := &s.rs.Status
	if st.Pending != nil || st.CurrentRevision == 0 || s.wrote {
		return false, nil
	}
	writes, _, ok, err := r.currentWrites(ctx, s)
	if !ok || err != nil {
		return true, err
	}
	for _, w := range writes {
		var sec corev1.Secret
		missing, changed, labelled, err := r.targetState(ctx, r.Client, w, &sec)
		if err != nil || (len(missing) == 0 && len(changed) == 0 && labelled) {
			if err != nil {
				return false, err
			}
			continue
		}
		// The cache can lag behind our own last write, and our own status behind the API server: confirm both
		// before writing anything back.
		if fresh, err := r.ensureFresh(ctx, s); !fresh || err != nil {
			return true, err
		}
		if missing, changed, labelled, err = r.targetState(ctx, r.APIReader, w, &sec); err != nil {
			return false, err
		}
		if len(missing) == 0 && len(changed) == 0 && labelled {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Restoring target", "secret", w.String(), "missing", missing, "changed", changed)
		if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, false); err != nil {
			return r.targetFailed(s, w, err)
		}
		s.wrote = true
		switch {
		case len(changed) > 0:
			msg := fmt.Sprintf("Key(s) %s of Secret %s were changed outside the operator; restored revision %d",
				strings.Join(changed, ", "), w, st.CurrentRevision)
			r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonTargetDrift, "Restore", "%s", msg)
			metrics.Repairs.WithLabelValues(s.rs.Namespace, s.rs.Name).Inc()
			addHistory(s.rs, rotationv1alpha1.RotationRecord{
				Revision: st.CurrentRevision, Trigger: rotationv1alpha1.TriggerTargetDrift, StartTime: metav1.NewTime(s.now),
				CompletionTime: &metav1.Time{Time: s.now}, Outcome: rotationv1alpha1.OutcomeRepaired,
				Message: msg, Fingerprint: st.CurrentFingerprint,
			})
		case len(missing) > 0:
			r.event(s, corev1.EventTypeNormal, rotationv1alpha1.ReasonTargetSynced, "Write",
				"Wrote revision %d to key(s) %s of Secret %s", st.CurrentRevision, strings.Join(missing, ", "), w)
		}
	}
	return false, r.persist(ctx, s)
}

// currentWrites returns what every target holds when nothing is in progress: the current values and, while
// kept, the previous ones under the suffix. ok is false when the current values are gone (the object stalls).
func (r *RotatedSecretReconciler) currentWrites(ctx context.Context, s *scope) ([]sink.SecretWrite, provider.Values, bool, error) {
	cur, ok, err := r.currentValues(ctx, s)
	if !ok || err != nil {
		return nil, nil, false, err
	}
	var prev provider.Values
	if rev := s.rs.Status.PreviousRevision; rev > 0 {
		if res, ok := staging.Get(s.staging, rev); ok {
			prev = res.Values
		}
	}
	return desiredWrites(s.rs, cur, prev), cur, true, nil
}

// targetState compares a target Secret, read through reader, with what w wants.
func (r *RotatedSecretReconciler) targetState(ctx context.Context, reader client.Reader, w sink.SecretWrite, sec *corev1.Secret) (missing, changed []string, labelled bool, err error) {
	err = reader.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, sec)
	if apierrors.IsNotFound(err) {
		missing, changed = sink.Diff(nil, w)
		return missing, changed, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	missing, changed = sink.Diff(sec, w)
	return missing, changed, sink.Labelled(sec), nil
}

// stagedValues returns the staged values of rev, nil when the staging Secret does not hold them. When the cache
// lacks them the API server is asked before concluding they are gone.
func (r *RotatedSecretReconciler) stagedValues(ctx context.Context, s *scope, rev int64) (provider.Values, error) {
	if res, ok := staging.Get(s.staging, rev); ok {
		return res.Values, nil
	}
	var sec corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: staging.Name(s.rs.Name)}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.staging = &sec
	res, _ := staging.Get(&sec, rev)
	return res.Values, nil
}

// currentValues returns the current revision's staged values. If they are gone (someone deleted or edited the
// staging Secret) the object stalls: targets hold a value the operator no longer has, and only a new rotation
// can replace it.
func (r *RotatedSecretReconciler) currentValues(ctx context.Context, s *scope) (provider.Values, bool, error) {
	rev := s.rs.Status.CurrentRevision
	values, err := r.stagedValues(ctx, s, rev)
	if values != nil || err != nil {
		return values, err == nil, err
	}
	_, err = r.stallOn(s, rotationv1alpha1.ReasonStagingLost, fmt.Sprintf(
		"the staging Secret %s/%s no longer holds revision %d (deleted or edited by someone else); targets keep their "+
			"values; set a new %s token to generate a fresh value (the previous value cannot be kept)",
		s.rs.Namespace, staging.Name(s.rs.Name), rev, rotationv1alpha1.RotateAnnotation))
	return nil, false, err
}

// ensureFresh makes sure the status the phases act on is the API server's: after a persist in this reconcile it
// is; otherwise one uncached read compares resourceVersions. A stale cache ends the reconcile with errRetry (no
// status patch: it would conflict) and it runs again shortly.
func (r *RotatedSecretReconciler) ensureFresh(ctx context.Context, s *scope) (bool, error) {
	if s.fresh {
		return true, nil
	}
	var live rotationv1alpha1.RotatedSecret
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.rs), &live); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if live.ResourceVersion != s.rs.ResourceVersion {
		return false, errRetry
	}
	s.fresh = true
	return true, nil
}

// targetFailed records a failed target write. A missing namespace gets its own reason: a person must create it
// or fix the spec.
func (r *RotatedSecretReconciler) targetFailed(s *scope, w sink.SecretWrite, err error) (bool, error) {
	if apierrors.IsConflict(err) {
		return false, err
	}
	if sink.IsNamespaceNotFound(err) {
		return r.fail(s, rotationv1alpha1.ReasonTargetNamespaceNotFound,
			fmt.Errorf("target Secret %s: namespace %q does not exist", w, w.Namespace))
	}
	return r.fail(s, rotationv1alpha1.ReasonTargetWriteFailed, fmt.Errorf("writing target Secret %s: %w", w, err))
}

// hook calls StepHook after a persisted step.
func (r *RotatedSecretReconciler) hook(step string) (bool, error) {
	if r.stopAt(step) {
		return true, errStopped
	}
	return false, nil
}

func (s *scope) providerRequest(rev int64) provider.Request {
	return provider.Request{Namespace: s.rs.Namespace, Name: s.rs.Name, Revision: rev, Spec: s.rs.Spec.Provider}
}

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
