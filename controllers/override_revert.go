package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/staging"
)

// overrideRetry is how soon a revert that failed (RBAC refused it, the staging Secret cannot be written) is tried
// again, besides any event that wakes the object.
const overrideRetry = time.Minute

// revertOverrides reverts the overrides whose duration ended, then restarts the stages so that pods read the
// original values again. It wakes the object at the earliest expiry, and never holds the rotations: a revert that
// fails for longer than a conflict is told with a Warning and tried again, a restart waits in the background.
func (r *RotatedSecretReconciler) revertOverrides(ctx context.Context, s *scope) outcome {
	due := false
	for _, e := range s.rs.Status.Overrides {
		if e.Reverting || !s.now.Before(e.ExpiresAt.Time) {
			due = true
		} else {
			s.wakeAt(e.ExpiresAt.Time, 0)
		}
	}
	if due {
		switch o := r.revertDue(ctx, s); o.kind {
		case goOn:
		case failedAttempt, stalled:
			msg := o.message
			if o.err != nil {
				msg = o.err.Error()
			}
			s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonOverrideFailed, "Revert",
				"Reverting the overrides failed: %s; trying again in %s", msg, overrideRetry)
			s.wakeAt(s.now.Add(overrideRetry), 0)
		default:
			return o
		}
	}
	return r.restartAfterRevert(ctx, s)
}

// revertEnd is what happens to one override whose duration is over.
type revertEnd int

const (
	revertWrite   revertEnd = iota // the key holds the value the operator wrote: the original goes back
	revertDone                     // the key holds its original value (or the record is gone after the write)
	revertUnused                   // nothing was written: the pass that applied it stopped before the record
	revertKept                     // a person changed the key meanwhile: their value stays
	revertDeleted                  // a person deleted the object meanwhile: it is not recreated
)

// overrideEnd is one override whose duration is over, as found.
type overrideEnd struct {
	e     rotationv1alpha1.OverrideStatus
	ob    *overrideObject
	rec   staging.OverrideRecord
	found bool // the staging Secret has its record
}

// end decides what happens to the override. Reverting (set before the write) tells a crash after the write
// from a person's edit: with it, the original value found means reverted.
func (x overrideEnd) end() revertEnd {
	switch {
	case !x.found && x.e.Reverting:
		return revertDone // the record is removed after the write
	case !x.found:
		return revertUnused
	case x.ob.obj == nil:
		return revertDeleted
	case x.ob.holds(x.rec.Present, x.rec.Original):
		return revertDone
	case x.ob.holds(true, x.rec.Applied):
		return revertWrite
	}
	return revertKept
}

// revertDue ends every override whose duration is over. A key that holds the value the operator wrote gets its
// original back (or is removed, when it had none), after status marks the override Reverting; a key changed by
// a person keeps their value. Records leave the staging Secret before the overrides leave status.
func (r *RotatedSecretReconciler) revertDue(ctx context.Context, s *scope) outcome {
	// Status and the records must be the API server's: a stale copy could drop the original of a live override.
	if err := s.ensureFresh(ctx, r); err != nil {
		return retry(err)
	}
	if err := r.readStaging(ctx, s.actor.Reader, s); err != nil {
		return retry(err)
	}
	var ends []overrideEnd
	objs, marked := overrideObjects{}, false
	for i, e := range s.rs.Status.Overrides {
		if !e.Reverting && s.now.Before(e.ExpiresAt.Time) {
			continue
		}
		ob, err := r.readOverride(ctx, s, objs, e.Kind, e.Name, e.Key)
		if err != nil {
			return forbidden(err)
		}
		x := overrideEnd{e: e, ob: ob}
		x.rec, x.found = staging.Override(s.staging, string(e.Kind), e.Name, e.Key)
		if x.end() == revertWrite && !e.Reverting {
			s.rs.Status.Overrides[i].Reverting, marked = true, true
		}
		ends = append(ends, x)
	}
	if marked {
		if err := r.persist(ctx, s); err != nil {
			return retry(err)
		}
	}
	restart, sec := false, s.staging
	for _, x := range ends {
		switch x.end() {
		case revertWrite:
			ctrl.LoggerFrom(ctx).Info("Reverting override", "kind", x.e.Kind, "name", x.e.Name, "key", x.e.Key)
			if err := r.writeOverride(ctx, s, x.ob, x.rec.Present, x.rec.Original, false); err != nil {
				return forbidden(err)
			}
			if o := r.hook(StepHookOverrideReverted); o.done() {
				return o
			}
			restart = true
		case revertDone:
			restart = restart || x.e.Reverting
		}
		if x.found {
			sec = staging.DropOverride(sec, string(x.e.Kind), x.e.Name, x.e.Key)
		}
	}
	if sec != s.staging {
		if o := r.writeStagingRecord(ctx, s, sec); o.done() {
			return o
		}
	}
	var reverted, kept []string
	for _, x := range ends {
		s.rs.Status.Overrides = removeOverride(s.rs.Status.Overrides, x.e)
		msg := x.message()
		if end := x.end(); end == revertKept || end == revertDeleted {
			kept = append(kept, msg)
			s.note(x.e.Incident, rotationv1alpha1.IncidentOverrideKept, "%s", msg)
			continue
		}
		reverted = append(reverted, msg)
		s.note(x.e.Incident, rotationv1alpha1.IncidentOverrideReverted, "%s", msg)
	}
	s.eventAll(corev1.EventTypeNormal, rotationv1alpha1.ReasonOverrideReverted, "Revert", reverted)
	s.eventAll(corev1.EventTypeWarning, rotationv1alpha1.ReasonOverrideKept, "Revert", kept)
	if restart && s.rs.Spec.Rollout != nil {
		s.rs.Status.OverrideRestart = &rotationv1alpha1.RolloutStatus{Revision: s.now.Unix()}
	}
	return next(r.persist(ctx, s))
}

// message says how the override ended (after the revert: the key holds what end found, or the original). A
// ConfigMap's original value is named; a Secret's never is.
func (x overrideEnd) message() string {
	what := fmt.Sprintf("%s: the override of incident %s ended", x.ob, x.e.Incident)
	switch x.end() {
	case revertUnused:
		return what + "; it had not been written, so nothing is reverted"
	case revertKept:
		return fmt.Sprintf("%s was changed by someone else during the override of incident %s: their value is kept "+
			"and nothing is reverted", x.ob, x.e.Incident)
	case revertDeleted:
		return fmt.Sprintf("%s %s was deleted during the override of incident %s: it is not recreated", x.e.Kind,
			x.e.Name, x.e.Incident)
	}
	switch {
	case x.found && !x.rec.Present:
		return what + "; the key is removed again (it did not exist before)"
	case x.found && x.e.Kind == rotationv1alpha1.OverrideConfigMap:
		return fmt.Sprintf("%s; its original value %q is back", what, policy.Sanitize(string(x.rec.Original), 64))
	}
	return what + "; its original value is back"
}

// removeOverride returns list without e's key.
func removeOverride(list []rotationv1alpha1.OverrideStatus, e rotationv1alpha1.OverrideStatus) []rotationv1alpha1.OverrideStatus {
	var out []rotationv1alpha1.OverrideStatus
	for _, o := range list {
		if o.Kind != e.Kind || o.Name != e.Name || o.Key != e.Key {
			out = append(out, o)
		}
	}
	return out
}

// restartAfterRevert restarts the stages of spec.rollout after a revert (status.overrideRestart): stage by stage,
// each waiting for health, the override annotation set to the revert's time. While a rotation is pending it
// waits (that rotation restarts the stages too, and goes first); the stage in progress then starts again, with a
// fresh timeout. A stage that fails or times out ends the restart with a Warning: the values are reverted, and
// pods keep the override only until they restart.
func (r *RotatedSecretReconciler) restartAfterRevert(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	switch ro := st.OverrideRestart; {
	case ro == nil:
		return goOnOutcome()
	case s.rs.Spec.Rollout == nil:
		st.OverrideRestart = nil
		return goOnOutcome()
	case st.Pending != nil:
		ro.Stage, ro.StageStartTime, ro.Workloads = "", nil, nil
		return goOnOutcome()
	}
	o := r.restartStages(ctx, s, stageRun{
		record: func(st *rotationv1alpha1.RotatedSecretStatus) *rotationv1alpha1.RolloutStatus {
			return st.OverrideRestart
		},
		key: rollout.OverrideAnnotationKey(s.rs.Name), value: st.OverrideRestart.Revision, what: "the reverted overrides",
	})
	switch o.kind {
	case goOn:
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonOverrideReverted, "Restart",
			"Every stage restarted after the override revert: pods read the original values")
	case waiting:
		s.wakeAt(o.until, 0)
		return goOnOutcome()
	case stalled:
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonOverrideFailed, "Restart", "The restart after the "+
			"override revert stopped: %s; the values are reverted, pods keep the override until they restart", o.message)
	default:
		return o
	}
	st.OverrideRestart = nil
	return next(r.persist(ctx, s))
}
