package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// stageAttempts is how often stage tries to write a value before giving up, waiting stageRetry, then twice as long
// each time (about 16 s in all): a minted value held only in memory is not given up for a short API outage.
const (
	stageAttempts = 7
	stageRetry    = 250 * time.Millisecond
)

// stage writes res as revision rev into the staging Secret, keeping the revisions status still needs, and returns
// what is staged for rev. A failed write (an API error, or a conflict with a stale copy) is tried again on a copy
// read past the cache; if that copy already holds rev (an earlier pass staged it and its status patch failed), that
// value is returned and res is dropped: a revision never gets a second value.
func (r *RotatedSecretReconciler) stage(ctx context.Context, s *scope, rev int64, res provider.Result) (provider.Result, outcome) {
	st := s.rs.Status
	keep := []int64{st.CurrentRevision, st.PreviousRevision}
	for _, q := range st.Revocations {
		keep = append(keep, q.Revision)
	}
	var err error
	delay := stageRetry
	for attempt := 1; ; attempt++ {
		sec := staging.Put(s.staging, s.rs, rev, res, keep...)
		create := sec.ResourceVersion == ""
		if err = staging.Write(ctx, s.actor.Writer, s.rs, sec); err == nil {
			s.staging, s.stagingCreated = sec, create
			return res, goOnOutcome()
		}
		if attempt == stageAttempts || ctx.Err() != nil || apierrors.IsForbidden(err) {
			break
		}
		ctrl.LoggerFrom(ctx).Info("Staging the value failed; trying again", "revision", rev, "attempt", attempt, "error", err.Error())
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
		if rerr := r.readStaging(ctx, s.actor.Reader, s); rerr != nil {
			continue // the write below fails the same way, or the API server is back
		}
		if s.staging == nil && apierrors.IsAlreadyExists(err) {
			return res, failed(rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("secret %s/%s exists and is not this "+
				"RotatedSecret's staging Secret (someone else's, or left by a deleted RotatedSecret of the same name and "+
				"not yet garbage-collected); rename or delete it", sec.Namespace, sec.Name))
		}
		if staged, ok := staging.Get(s.staging, rev); ok {
			return staged, goOnOutcome()
		}
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return res, retry(err)
	}
	if apierrors.IsForbidden(err) {
		return res, forbidden(s.actor.Refused(tenancy.Action{Verb: "patch", Resource: "secrets", Namespace: s.rs.Namespace,
			Name: staging.Name(s.rs.Name)}, err))
	}
	return res, failed(rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("writing staging Secret %s/%s: %w",
		s.rs.Namespace, staging.Name(s.rs.Name), err))
}

// readStaging reads the staging Secret through reader (the cache, or the API server past it) into s.staging: nil
// when it does not exist, or when it is not this RotatedSecret's (never read from).
func (r *RotatedSecretReconciler) readStaging(ctx context.Context, reader client.Reader, s *scope) error {
	var sec corev1.Secret
	err := reader.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: staging.Name(s.rs.Name)}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		s.staging = nil
	case err != nil:
		return err
	case !metav1.IsControlledBy(&sec, s.rs):
		s.staging = nil
	default:
		s.staging = &sec
	}
	return nil
}

// stagingGuard is the create-pending guard: Begin writes a marker for the revision into the staging Secret
// before a provider makes a non-repeatable call.
type stagingGuard struct {
	r        *RotatedSecretReconciler
	s        *scope
	rev      int64
	begun    bool  // the marker is in the staging Secret
	beginErr error // Begin failed: the call was not made
}

// Begin implements provider.Guard. When the marker write fails the call is not made; since the write may still
// have landed (its answer was lost), a marker found past the cache is removed again, so that no marker ever stands
// for a call that was never made.
func (g *stagingGuard) Begin(ctx context.Context) error {
	sec := staging.MarkPending(g.s.staging, g.s.rs, g.rev, g.s.now.UTC().Format(time.RFC3339))
	err := staging.Write(ctx, g.s.actor.Writer, g.s.rs, sec)
	if err == nil {
		g.s.staging, g.begun = sec, true
		return nil
	}
	g.beginErr = fmt.Errorf("recording the pending call in the staging Secret: %w", err)
	// The write may have landed with its answer lost: find out past the cache and take a landed marker back,
	// trying for about as long as stage does. The vendor is not called either way.
	delay := stageRetry
	for attempt := 1; attempt <= stageAttempts && ctx.Err() == nil; attempt++ {
		if g.r.readStaging(ctx, g.s.actor.Reader, g.s) == nil {
			if _, pending := staging.Pending(g.s.staging, g.rev); !pending {
				return g.beginErr
			}
			if g.clear(ctx) == nil {
				return g.beginErr
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
	}
	g.begun = true // it may still be there: generateFailed tries once more to take it back
	return g.beginErr
}

// clear removes the marker after a call that failed cleanly (the vendor answered with an error, so nothing was
// created).
func (g *stagingGuard) clear(ctx context.Context) error {
	sec := staging.ClearPending(g.s.staging, g.rev)
	if err := staging.Write(ctx, g.s.actor.Writer, g.s.rs, sec); err != nil {
		return err
	}
	g.s.staging = sec
	return nil
}

// idempotencyKey is the key of revision rev's non-repeatable provider call: the RotatedSecret's UID, the provider
// kind, the revision and the time of the create-pending marker, which the first attempt writes and every repeat of
// an ambiguous call keeps (staging.MarkPending). Only a call that failed cleanly (the marker is dropped) or a
// person's go-ahead after GenerateIncomplete starts a new key. No value and nothing secret is part of it.
func idempotencyKey(s *scope, rev int64) string {
	since, pending := staging.Pending(s.staging, rev)
	if !pending {
		since = s.now.UTC().Format(time.RFC3339) // what Begin is about to write
	}
	kind, _ := provider.Kind(s.rs.Spec.Provider)
	return fmt.Sprintf("secret-rotator/%s/%s/r%d/%s", s.rs.UID, kind, rev, since)
}

// keyDeadline is when the idempotency key of a call first attempted at since stops being safe to repeat: the
// provider's KeyWindow after it. Zero when the provider sends no key or since does not parse (a marker edited by
// hand).
func keyDeadline(s *scope, since string) time.Time {
	window := provider.KeyWindow(s.provider, s.rs.Spec.Provider)
	t, err := time.Parse(time.RFC3339, since)
	if window <= 0 || err != nil {
		return time.Time{}
	}
	return t.Add(window)
}

// repeatable reports whether a call whose marker dates from since may be made again with the same key: the
// provider sends one, the vendor still keeps it, and no person was asked to look at the vendor first (a rotation
// stalled with GenerateIncomplete waits for their go-ahead, which drops the marker and starts a new key).
func (r *RotatedSecretReconciler) repeatable(s *scope, since string) bool {
	if c := meta.FindStatusCondition(s.rs.Status.Conditions, rotationv1alpha1.ConditionStalled); c != nil &&
		c.Status == metav1.ConditionTrue && c.Reason == rotationv1alpha1.ReasonGenerateIncomplete {
		return false
	}
	deadline := keyDeadline(s, since)
	return !deadline.IsZero() && s.now.Before(deadline)
}

// generateIncomplete stalls a rotation whose non-repeatable call was started but whose result was never staged,
// and which cannot be repeated with its idempotency key (the provider sends none, the vendor may have forgotten it,
// or it refused the repeat). A new rotate token is a person's go-ahead: the marker is dropped and the call is made
// again, with a new key.
func (r *RotatedSecretReconciler) generateIncomplete(ctx context.Context, s *scope, rev int64, since string) outcome {
	if token, ok := policy.NewRotateToken(s.rs); ok || s.goAhead {
		if ok {
			s.rs.Status.LastHandledRotateRequest = token
		}
		guard := &stagingGuard{r: r, s: s, rev: rev}
		return next(guard.clear(ctx))
	}
	return stall(rotationv1alpha1.ReasonGenerateIncomplete, fmt.Sprintf(
		"the provider call for revision %d started at %s but its result was never recorded (the operator stopped in "+
			"between, or the vendor's answer could not be read); it is not repeated, so no second credential is "+
			"minted: check the vendor for a credential created then, revoke it if present, then set a new %s token "+
			"to try again", rev, policy.Sanitize(since, 64), rotationv1alpha1.RotateAnnotation))
}
