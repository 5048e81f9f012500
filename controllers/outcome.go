package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
)

// outcomeKind is what a phase found.
type outcomeKind int

const (
	// goOn: this phase is done (or had nothing to do); the next one runs.
	goOn outcomeKind = iota
	// waiting: something outside must happen first (a rollout, a Job, a person staging a value, a backoff); the
	// pass ends and runs again at until, or when a watched object changes.
	waiting
	// stalled: nothing will change without a person (bad spec, lost staged value, halted rotation).
	stalled
	// failedAttempt: this attempt failed; status counts it and the next one backs off (policy.Backoff).
	failedAttempt
	// transient: an API error the work queue retries with its own backoff (the cache was behind, a conflict).
	transient
)

// outcome is the one thing a phase returns. conclude turns it into conditions, Events, metrics and backoff.
type outcome struct {
	kind outcomeKind
	// until is when a waiting pass looks again; zero means only a watch event wakes it.
	until time.Time
	// reason and message: the Rotating condition while waiting, the Stalled condition otherwise. A message
	// names objects, keys, revisions and fingerprints, never a value.
	reason, message string
	// warn emits a Warning Event when a wait starts (the Rotating reason changes), not on every look.
	warn bool
	// err is the transient error, or the cause of a failed attempt.
	err error
}

// goOnOutcome lets the next phase run.
func goOnOutcome() outcome { return outcome{} }

// waitUntil ends the pass until t (zero: until a watch event), leaving the conditions as they are.
func waitUntil(t time.Time) outcome { return outcome{kind: waiting, until: t} }

// waitFor ends the pass until t while Rotating=True says what it waits for.
func waitFor(t time.Time, reason, msg string) outcome {
	return outcome{kind: waiting, until: t, reason: reason, message: msg}
}

// warnWaiting is waitFor with a Warning Event when the wait starts (a paused or missing workload).
func warnWaiting(t time.Time, reason, msg string) outcome {
	return outcome{kind: waiting, until: t, reason: reason, message: msg, warn: true}
}

// stall ends the pass until a person changes something: Stalled=True with reason and message.
func stall(reason, msg string) outcome { return outcome{kind: stalled, reason: reason, message: msg} }

// invalid is a stall on a spec that cannot work: no retry, no failed attempt counted.
func invalid(format string, args ...any) outcome {
	return stall(rotationv1alpha1.ReasonInvalidSpec, fmt.Sprintf(format, args...))
}

// failed counts a failed attempt: the next one waits policy.Backoff. A provider.PermanentError is a stall on the
// spec instead: retrying cannot fix it.
func failed(reason string, err error) outcome {
	return outcome{kind: failedAttempt, reason: reason, err: err}
}

// retry hands err to the work queue.
func retry(err error) outcome { return outcome{kind: transient, err: err} }

// next is goOn when err is nil, else retry(err): for a persist or read in the middle of a phase.
func next(err error) outcome {
	if err != nil {
		return retry(err)
	}
	return goOnOutcome()
}

// done reports whether the pass ends here.
func (o outcome) done() bool { return o.kind != goOn }

var (
	// errStopped ends a reconcile at a StepHook, skipping the deferred status patch.
	errStopped = errors.New("stopped by step hook")
	// errRetry ends a reconcile whose cached copy was stale, skipping the deferred status patch (it would
	// conflict too) and asking for another look after conflictRetry.
	errRetry = errors.New("cache behind the API server")
)

// conclude is the one place an outcome becomes conditions, Events, metrics and backoff. It returns the error for
// the work queue, if any.
func (r *RotatedSecretReconciler) conclude(ctx context.Context, s *scope, o outcome) error {
	switch o.kind {
	case transient:
		if apierrors.IsConflict(o.err) || apierrors.IsAlreadyExists(o.err) || errors.Is(o.err, errRetry) {
			// Our cached copy was behind the API server; nothing was overwritten. Look again shortly.
			ctrl.LoggerFrom(ctx).V(1).Info("Cache was behind the API server; retrying", "error", o.err.Error())
			return errRetry
		}
		return o.err
	case waiting:
		s.wakeAt(o.until, 0)
		if o.reason == "" {
			return nil
		}
		if c := conditions.Get(s.base, rotationv1alpha1.ConditionRotating); o.warn && (c == nil || c.Reason != o.reason) {
			s.event(corev1.EventTypeWarning, o.reason, "Wait", "%s", o.message)
		}
		s.setCondition(rotationv1alpha1.ConditionRotating, metav1.ConditionTrue, o.reason, o.message)
	case failedAttempt:
		if provider.IsPermanent(o.err) {
			r.stallOn(s, rotationv1alpha1.ReasonInvalidSpec, o.err.Error())
			return nil
		}
		st := &s.rs.Status
		st.FailedAttempts++
		st.LastFailureTime = &metav1.Time{Time: s.now}
		if o.reason != rotationv1alpha1.ReasonRolledBack {
			rev := nextRevision(*st) - 1
			if st.Pending != nil {
				rev = st.Pending.Revision
			}
			s.notify(rotationv1alpha1.NotifyFailed, rev, fmt.Sprintf("%s: %v", o.reason, o.err), nil)
		}
		wait := policy.Backoff(st.FailedAttempts)
		s.wakeAt(s.now.Add(wait), 0)
		at := s.now.Add(wait).UTC().Format(time.RFC3339)
		if st.Pending == nil {
			// Nothing is left to retry (a rollback ended the rotation): only a rotation that is due starts again.
			r.stallOn(s, o.reason, fmt.Sprintf("%v (attempt %d; no new rotation starts before %s, in %s: then one "+
				"starts if the value is due, or at once for a new %s token or a spec change)", o.err, st.FailedAttempts,
				at, wait, rotationv1alpha1.RotateAnnotation))
			break
		}
		r.stallOn(s, o.reason, fmt.Sprintf("%v (attempt %d; next attempt in %s, at %s, or at once for a new %s "+
			"token or a spec change)", o.err, st.FailedAttempts, wait, at, rotationv1alpha1.RotateAnnotation))
	case stalled:
		r.stallOn(s, o.reason, o.message)
	}
	return nil
}

// stallOn records a stall for summarize; a Warning Event and the failures metric count it once per distinct
// reason and message (every failed attempt has its own message).
func (r *RotatedSecretReconciler) stallOn(s *scope, reason, msg string) {
	msg = conditions.Bound(msg)
	if c := conditions.Get(s.base, rotationv1alpha1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue ||
		c.Reason != reason || c.Message != msg {
		s.event(corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
		metrics.Failures.WithLabelValues(s.rs.Namespace, s.rs.Name, reason).Inc()
	}
	s.stalled = &cause{reason: reason, message: msg}
}
