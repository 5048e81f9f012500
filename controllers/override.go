package controllers

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Steps at which StepHook is called while overrides are applied and reverted.
const (
	StepHookOverrideApplied  = "OverrideApplied"  // one key holds its override value; status does not say it is done
	StepHookOverrideReverted = "OverrideReverted" // one key holds its original value again; status still lists it
)

// maxOverrides is how many overrides status.overrides can list (its MaxItems).
const maxOverrides = 16

// applyOverrides applies spec.emergency.overrides once per emergency, before anything restarts. The order leaves
// revertOverrides what it needs after a crash at any point: (1) status.overrides lists the key with its expiry;
// (2) the staging Secret records the key's original value, or its absence (never status: it may be a Secret's
// value); (3) the key is written; (4) status records the emergency token as handled. A resumed pass finds (1)
// and (2) done and keeps the recorded original, so an overridden value is never taken for the original; a second
// emergency while an override is active extends it the same way. An object that cannot be changed (missing,
// immutable, refused by the API server) is skipped with a Warning: the emergency does not wait for it. RBAC
// refusing a read or write stops the emergency before anything is written or minted (Forbidden).
func (r *RotatedSecretReconciler) applyOverrides(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	p, token := st.Pending, st.LastHandledEmergencyRequest
	if p == nil || !p.Emergency || s.rs.Spec.Emergency == nil || len(s.rs.Spec.Emergency.Overrides) == 0 ||
		st.OverriddenEmergencyRequest == token {
		return goOnOutcome()
	}
	overrides := s.rs.Spec.Emergency.Overrides
	for _, o := range overrides {
		kind, name := overrideRef(o)
		for _, verb := range []string{"get", "patch"} {
			if err := s.actor.Check(ctx, overrideAction(verb, kind, s.rs.Namespace, name)); err != nil {
				return forbidden(err)
			}
		}
	}
	// The originals come from the records written so far, never from a cache that may lag behind them.
	if err := r.readStaging(ctx, s.actor.Reader, s); err != nil {
		return retry(err)
	}
	type change struct {
		ob   *overrideObject
		want []byte
		msg  string
	}
	var changes []change
	var skipped []string
	objs := overrideObjects{}
	for _, o := range overrides {
		kind, name := overrideRef(o)
		ob, err := r.readOverride(ctx, s, objs, kind, name, o.Key)
		if err != nil {
			return forbidden(err)
		}
		want := []byte(o.Value)
		why, err := r.cannotOverride(ctx, s, ob, want)
		if err != nil {
			return forbidden(err)
		}
		i := s.overrideIndex(kind, name, o.Key)
		if why == "" && i < 0 && len(st.Overrides) >= maxOverrides {
			why = fmt.Sprintf("%d overrides are active already", maxOverrides)
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%s not overridden for incident %s: %s", ob, token, why))
			continue
		}
		d, _ := o.Duration.Parse() // checkSpec parsed it
		expires, extends := metav1.NewTime(s.now.Add(d)), ""
		switch {
		case i < 0:
			st.Overrides = append(st.Overrides, rotationv1alpha1.OverrideStatus{Kind: kind, Name: name, Key: o.Key,
				Incident: token, AppliedAt: metav1.NewTime(s.now), ExpiresAt: expires})
		case st.Overrides[i].Incident != token:
			// A second emergency: the override lasts from now, and the first one's original is restored at its end.
			extends = st.Overrides[i].Incident
			st.Overrides[i].Incident, st.Overrides[i].ExpiresAt = token, expires
		default:
			expires = st.Overrides[i].ExpiresAt // a pass that stopped midway, resumed
		}
		changes = append(changes, change{ob: ob, want: want, msg: overrideMessage(ob, want, expires.Time, token, extends)})
	}
	s.eventAll(corev1.EventTypeWarning, rotationv1alpha1.ReasonOverrideFailed, "Override", skipped)
	if err := r.persist(ctx, s); err != nil {
		return retry(err)
	}
	for _, c := range changes {
		if o := r.overrideKey(ctx, s, c.ob, c.want); o.done() {
			return o
		}
	}
	st.OverriddenEmergencyRequest = token
	var msgs []string
	for _, c := range changes {
		s.note(token, rotationv1alpha1.IncidentOverrideApplied, "%s", c.msg)
		msgs = append(msgs, c.msg)
	}
	s.eventAll(corev1.EventTypeNormal, rotationv1alpha1.ReasonOverrideApplied, "Override", msgs)
	return next(r.persist(ctx, s))
}

// eventAll tells several facts of one reason in one Event: the events API merges Events of one object with the
// same reason and action into a series that keeps a single note, so separate Events would lose all but one.
func (s *scope) eventAll(eventType, reason, action string, msgs []string) {
	if len(msgs) > 0 {
		s.event(eventType, reason, action, "%s", strings.Join(msgs, "; "))
	}
}

// overrideMessage says what an applied override does. A ConfigMap's value is named; a Secret's never is.
func overrideMessage(ob *overrideObject, want []byte, expires time.Time, token, extends string) string {
	msg := fmt.Sprintf("%s overridden until %s (incident %s", ob, expires.UTC().Format(time.RFC3339), token)
	if ob.kind == rotationv1alpha1.OverrideConfigMap {
		msg = fmt.Sprintf("%s set to %q until %s (incident %s", ob, policy.Sanitize(string(want), 64),
			expires.UTC().Format(time.RFC3339), token)
	}
	if extends != "" {
		return msg + fmt.Sprintf("; extends the override of incident %s, whose original value is restored then)", extends)
	}
	return msg + ")"
}

// overrideKey records the key's original value in the staging Secret, unless a record exists (an earlier pass, or
// an override still active), then writes the override value.
func (r *RotatedSecretReconciler) overrideKey(ctx context.Context, s *scope, ob *overrideObject, want []byte) outcome {
	rec, ok := staging.Override(s.staging, string(ob.kind), ob.name, ob.key)
	if !ok {
		present, value := ob.current()
		rec = staging.OverrideRecord{Kind: string(ob.kind), Name: ob.name, Key: ob.key, Present: present, Original: value}
	}
	if !ok || !bytes.Equal(rec.Applied, want) {
		rec.Applied = want
		if o := r.writeStagingRecord(ctx, s, staging.PutOverride(s.staging, s.rs, rec)); o.done() {
			return o
		}
	}
	if ob.holds(true, want) {
		return goOnOutcome()
	}
	ctrl.LoggerFrom(ctx).Info("Overriding key", "kind", ob.kind, "name", ob.name, "key", ob.key)
	if err := r.writeOverride(ctx, s, ob, true, want, false); err != nil {
		return forbidden(err)
	}
	return r.hook(StepHookOverrideApplied)
}

// writeStagingRecord stores the staging Secret with its override records changed.
func (r *RotatedSecretReconciler) writeStagingRecord(ctx context.Context, s *scope, sec *corev1.Secret) outcome {
	err := staging.Write(ctx, s.actor.Writer, s.rs, sec)
	switch {
	case err == nil:
		s.staging = sec
		return goOnOutcome()
	case apierrors.IsAlreadyExists(err) && s.staging == nil:
		return failed(rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("secret %s/%s exists and is not this "+
			"RotatedSecret's staging Secret; rename or delete it", sec.Namespace, sec.Name))
	}
	return forbidden(s.actor.Refused(tenancy.Action{Verb: "patch", Resource: "secrets", Namespace: sec.Namespace, Name: sec.Name}, err))
}

// overrideIndex is the position of kind/name/key in status.overrides, -1 when it is not there.
func (s *scope) overrideIndex(kind rotationv1alpha1.OverrideKind, name, key string) int {
	for i, e := range s.rs.Status.Overrides {
		if e.Kind == kind && e.Name == name && e.Key == key {
			return i
		}
	}
	return -1
}
