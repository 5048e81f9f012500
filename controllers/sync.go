package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/staging"
)

// syncTargets restores targets that no longer hold the current value (a hand edit, a deleted Secret, a target
// added to the spec). Nothing is rotated: the current revision is written back.
func (r *RotatedSecretReconciler) syncTargets(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	if st.Pending != nil || st.CurrentRevision == 0 || s.wrote {
		return goOnOutcome()
	}
	writes, _, o := r.currentWrites(ctx, s)
	if o.done() {
		return o
	}
	for _, w := range writes {
		var sec corev1.Secret
		missing, changed, labelled, err := targetState(ctx, r.Client, w, &sec)
		if err != nil {
			return retry(err)
		}
		if len(missing) == 0 && len(changed) == 0 && labelled {
			continue
		}
		// The cache can lag behind our own last write, and our own status behind the API server: confirm both
		// before writing anything back.
		if err := s.ensureFresh(ctx, r); err != nil {
			return retry(err)
		}
		if missing, changed, labelled, err = targetState(ctx, s.actor.Reader, w, &sec); err != nil {
			return retry(err)
		}
		if len(missing) == 0 && len(changed) == 0 && labelled {
			continue
		}
		if why := sink.Refused(&sec); why != "" {
			return stall(rotationv1alpha1.ReasonTargetRefused, fmt.Sprintf("target Secret %s: %s; it is not repaired", w, why))
		}
		ctrl.LoggerFrom(ctx).Info("Restoring target", "secret", w.String(), "missing", missing, "changed", changed)
		if o := r.applyTarget(ctx, s, w, false); o.done() {
			return o
		}
		s.wrote = true
		switch {
		case len(changed) > 0:
			msg := fmt.Sprintf("Key(s) %s of Secret %s were changed outside the operator; restored revision %d",
				strings.Join(changed, ", "), w, st.CurrentRevision)
			s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonTargetDrift, "Restore", "%s", msg)
			metrics.Repairs.WithLabelValues(s.rs.Namespace, s.rs.Name).Inc()
			s.addHistory(rotationv1alpha1.RotationRecord{
				Revision: st.CurrentRevision, Trigger: rotationv1alpha1.TriggerTargetDrift, StartTime: metav1.NewTime(s.now),
				CompletionTime: &metav1.Time{Time: s.now}, Outcome: rotationv1alpha1.OutcomeRepaired,
				Message: msg, Fingerprint: st.CurrentFingerprint,
			})
		case len(missing) > 0:
			s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonTargetSynced, "Write",
				"Wrote revision %d to key(s) %s of Secret %s", st.CurrentRevision, strings.Join(missing, ", "), w)
		}
	}
	return next(r.persist(ctx, s))
}

// currentWrites returns what every target holds when nothing is in progress: the current values and, while
// kept, the previous ones under the suffix. When the current values are gone the object stalls.
func (r *RotatedSecretReconciler) currentWrites(ctx context.Context, s *scope) ([]sink.SecretWrite, provider.Values, outcome) {
	cur, o := r.currentValues(ctx, s)
	if o.done() {
		return nil, nil, o
	}
	var prev provider.Values
	if rev := s.rs.Status.PreviousRevision; rev > 0 {
		var err error
		if prev, err = r.verifiedValues(s, rev); err != nil {
			return nil, nil, stagedFailed(err)
		}
	}
	return desiredWrites(s.rs, cur, prev), cur, goOnOutcome()
}

// targetState compares a target Secret, read through reader, with what w wants.
func targetState(ctx context.Context, reader client.Reader, w sink.SecretWrite, sec *corev1.Secret) (missing, changed []string, labelled bool, err error) {
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
// lacks them the API server is asked before concluding they are gone. Values that do not match the fingerprint
// status recorded for rev are a tamperedError: they are written nowhere.
func (r *RotatedSecretReconciler) stagedValues(ctx context.Context, s *scope, rev int64) (provider.Values, error) {
	if _, ok := staging.Get(s.staging, rev); !ok {
		if err := r.readStaging(ctx, s.actor.Reader, s); err != nil {
			return nil, err
		}
	}
	return r.verifiedValues(s, rev)
}

// verifiedValues returns rev's values from the staging Secret as read (nil when it does not hold them), checked
// against the fingerprint status recorded for rev: the pending one, the current one, or the history's.
func (r *RotatedSecretReconciler) verifiedValues(s *scope, rev int64) (provider.Values, error) {
	res, ok := staging.Get(s.staging, rev)
	if !ok {
		return nil, nil
	}
	st := s.rs.Status
	if s.compromised(rev) && (st.Pending == nil || st.Pending.Revision != rev) {
		return nil, &compromisedError{rev: rev}
	}
	want := ""
	switch {
	case st.Pending != nil && st.Pending.Revision == rev:
		want = st.Pending.Fingerprint
	case rev == st.CurrentRevision:
		want = st.CurrentFingerprint
	case s.history(rev) != nil:
		want = s.history(rev).Fingerprint
	}
	if got := r.Fingerprints.Of(res.Values); want != "" && got != want {
		return nil, &tamperedError{rev: rev, got: got, want: want}
	}
	return res.Values, nil
}

// tamperedError: a staged value is not the one status recorded.
type tamperedError struct {
	rev       int64
	got, want string
}

func (e *tamperedError) Error() string {
	return fmt.Sprintf("the staged value of revision %d has fingerprint %s, not %s as recorded when it was staged: "+
		"someone changed the staging Secret; it is written nowhere; check who did, then set a new %s token",
		e.rev, e.got, e.want, rotationv1alpha1.RotateAnnotation)
}

// compromisedError: a write would put a compromised value into a target.
type compromisedError struct{ rev int64 }

func (e *compromisedError) Error() string {
	return fmt.Sprintf("revision %d is compromised (an emergency was requested while it was in service): it is "+
		"written to no target again, not even to repair one; set a new %s or %s token for a fresh value",
		e.rev, rotationv1alpha1.RotateAnnotation, rotationv1alpha1.EmergencyAnnotation)
}

// stagedFailed turns a failure to read staged values into an outcome: a tampered value stalls, anything else is
// retried.
func stagedFailed(err error) outcome {
	var t *tamperedError
	if errors.As(err, &t) {
		return stall(rotationv1alpha1.ReasonStagingTampered, t.Error())
	}
	var c *compromisedError
	if errors.As(err, &c) {
		return stall(rotationv1alpha1.ReasonCompromisedValue, c.Error())
	}
	return retry(err)
}

// currentValues returns the current revision's staged values. If they are gone (someone deleted or edited the
// staging Secret) the object stalls: targets hold a value the operator no longer has, and only a new rotation
// can replace it.
func (r *RotatedSecretReconciler) currentValues(ctx context.Context, s *scope) (provider.Values, outcome) {
	rev := s.rs.Status.CurrentRevision
	values, err := r.stagedValues(ctx, s, rev)
	if err != nil {
		return nil, stagedFailed(err)
	}
	if values != nil {
		return values, goOnOutcome()
	}
	return nil, stall(rotationv1alpha1.ReasonStagingLost, fmt.Sprintf(
		"the staging Secret %s/%s no longer holds revision %d (deleted or edited by someone else); targets keep their "+
			"values; set a new %s token to generate a fresh value (the previous value cannot be kept)",
		s.rs.Namespace, staging.Name(s.rs.Name), rev, rotationv1alpha1.RotateAnnotation))
}
