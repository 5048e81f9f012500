package controllers

import (
	"context"
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
		if missing, changed, labelled, err = targetState(ctx, r.APIReader, w, &sec); err != nil {
			return retry(err)
		}
		if len(missing) == 0 && len(changed) == 0 && labelled {
			continue
		}
		if why := sink.Refused(&sec); why != "" {
			return stall(rotationv1alpha1.ReasonTargetRefused, fmt.Sprintf("target Secret %s: %s; it is not repaired", w, why))
		}
		ctrl.LoggerFrom(ctx).Info("Restoring target", "secret", w.String(), "missing", missing, "changed", changed)
		if err := sink.Apply(ctx, r.Client, s.fieldManager(), w, false); err != nil {
			return targetFailed(w, err)
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
		if res, ok := staging.Get(s.staging, rev); ok {
			prev = res.Values
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
// lacks them the API server is asked before concluding they are gone.
func (r *RotatedSecretReconciler) stagedValues(ctx context.Context, s *scope, rev int64) (provider.Values, error) {
	if res, ok := staging.Get(s.staging, rev); ok {
		return res.Values, nil
	}
	if err := r.readStaging(ctx, r.APIReader, s); err != nil {
		return nil, err
	}
	res, _ := staging.Get(s.staging, rev)
	return res.Values, nil
}

// currentValues returns the current revision's staged values. If they are gone (someone deleted or edited the
// staging Secret) the object stalls: targets hold a value the operator no longer has, and only a new rotation
// can replace it.
func (r *RotatedSecretReconciler) currentValues(ctx context.Context, s *scope) (provider.Values, outcome) {
	rev := s.rs.Status.CurrentRevision
	values, err := r.stagedValues(ctx, s, rev)
	if err != nil {
		return nil, retry(err)
	}
	if values != nil {
		return values, goOnOutcome()
	}
	return nil, stall(rotationv1alpha1.ReasonStagingLost, fmt.Sprintf(
		"the staging Secret %s/%s no longer holds revision %d (deleted or edited by someone else); targets keep their "+
			"values; set a new %s token to generate a fresh value (the previous value cannot be kept)",
		s.rs.Namespace, staging.Name(s.rs.Name), rev, rotationv1alpha1.RotateAnnotation))
}
