package policy

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/schedule"
)

// Upcoming returns the next rotation that may have to wait: a manual token not handled yet (due when it was first
// seen, as status.scheduled recorded it, else now), else the TTL expiry (possibly still ahead). None for the first
// value, an emergency token, or while suspended: those never wait.
func Upcoming(rs *rotationv1alpha1.RotatedSecret, now time.Time, ttl time.Duration) (rotationv1alpha1.Trigger, time.Time, bool) {
	st := rs.Status
	if _, ok := NewEmergencyToken(rs); ok || st.CurrentRevision == 0 || rs.Spec.Suspend {
		return "", time.Time{}, false
	}
	if _, ok := NewRotateToken(rs); ok {
		if sc := st.Scheduled; sc != nil && sc.Trigger == rotationv1alpha1.TriggerManual {
			return rotationv1alpha1.TriggerManual, sc.DueTime.Time, true
		}
		return rotationv1alpha1.TriggerManual, now, true
	}
	due, ok := Due(Input{Now: now, Object: rs, TTL: ttl})
	return rotationv1alpha1.TriggerTTLExpired, due, ok
}

// Windowed reports whether a rotation of trigger waits for a maintenance window: a TTL rotation, or a manual one
// whose RotatedSecret carries rotation.tribi.io/respect-window: "true".
func Windowed(rs *rotationv1alpha1.RotatedSecret, trigger rotationv1alpha1.Trigger) bool {
	return trigger == rotationv1alpha1.TriggerTTLExpired || rs.Annotations[rotationv1alpha1.RespectWindowAnnotation] == "true"
}

// Timing is when the upcoming rotation of a RotatedSecret starts, before its dependencies are asked.
type Timing struct {
	// Trigger and Due: which rotation, and since when it is (or will be) due.
	Trigger rotationv1alpha1.Trigger
	Due     time.Time
	// Planned is Due moved to the next maintenance window when the rotation waits for one; WindowMissed says no
	// window opened within spec.schedule.maxDelay, so it runs outside one.
	Planned      time.Time
	WindowMissed bool
	// NoticeTime is when notice of this rotation was given (status.scheduled); nil before.
	NoticeTime *metav1.Time
	// Start is when it may start: Planned, or later when notice given at NoticeTime has not run yet.
	Start time.Time
}

// Plan computes the Timing of the upcoming rotation at now (whole seconds: status keeps whole seconds): the window
// of sched moves a windowed rotation, and notice given earlier (status.scheduled of the same trigger and due time)
// holds it until the notice has run. False when no rotation is upcoming (see Upcoming).
func Plan(rs *rotationv1alpha1.RotatedSecret, now time.Time, ttl time.Duration, sched schedule.Schedule,
	notice time.Duration) (Timing, bool) {
	trigger, due, ok := Upcoming(rs, now, ttl)
	if !ok {
		return Timing{}, false
	}
	t := Timing{Trigger: trigger, Due: due, Planned: due}
	if Windowed(rs, trigger) {
		t.Planned, t.WindowMissed = sched.StartAt(due, now)
	}
	t.Start = t.Planned
	if sc := rs.Status.Scheduled; sc != nil && sc.Trigger == trigger && sc.DueTime.Time.Equal(due) && sc.NoticeTime != nil {
		// An older plan (another TTL, another token) does not count: its notice was for another rotation.
		t.NoticeTime = sc.NoticeTime
		t.Start = later(t.Planned, sc.NoticeTime.Add(notice))
	}
	return t, true
}

// Expected says when notice of the rotation is given (zero without spec.notice) and when it then starts, as the
// operator will do it looking at now: notice already given holds; else notice is given at Planned-notice (or at
// once, when that is past) and the rotation starts once it has run. Dependencies may hold it longer.
func (t Timing) Expected(now time.Time, notice time.Duration) (noticeAt, start time.Time) {
	switch {
	case t.NoticeTime != nil:
		return t.NoticeTime.Time, t.Start
	case notice <= 0:
		return time.Time{}, t.Start
	case now.Before(t.Planned.Add(-notice)):
		return t.Planned.Add(-notice), t.Planned
	}
	return now, later(t.Planned, now.Add(notice))
}

// DependencyDone says what dep, a RotatedSecret depended on, still lacks for a rotation due since due (and until
// when, if only the soak's time is missing); "" when it is done: dep completed a successful rotation that started
// at or after due, is Ready, and has been since for soak.
func DependencyDone(dep *rotationv1alpha1.RotatedSecret, due, now time.Time, soak time.Duration) (time.Time, string) {
	var rotated *rotationv1alpha1.RotationRecord
	for i := range dep.Status.History {
		h := &dep.Status.History[i]
		if h.Outcome == rotationv1alpha1.OutcomeSucceeded && !h.StartTime.Time.Before(due) && h.CompletionTime != nil {
			rotated = h
			break
		}
	}
	if rotated == nil {
		return time.Time{}, fmt.Sprintf("has not completed a rotation started since %s: rotate it first", rfc3339(due))
	}
	ready := conditions.Get(dep, rotationv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		return time.Time{}, "is not Ready"
	}
	since := later(rotated.CompletionTime.Time, ready.LastTransitionTime.Time)
	if until := since.Add(soak); now.Before(until) {
		return until, fmt.Sprintf("rotated at %s and must stay Ready for %s, until %s", rfc3339(rotated.CompletionTime.Time),
			soak, rfc3339(until))
	}
	return time.Time{}, ""
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
