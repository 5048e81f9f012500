package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/policy"
)

// when decides when the next TTL or manual rotation may start, and holds decide until then: the maintenance
// window (spec.schedule; a manual one only with rotation.tribi.io/respect-window), the notice (spec.notice, given
// once, recorded in status.scheduled with the start time it promises) and the dependencies (spec.dependsOn). The
// first value and an emergency never wait. status.nextRotationTime is the real, window-adjusted start.
func (r *RotatedSecretReconciler) when(ctx context.Context, s *scope) outcome {
	st := &s.rs.Status
	if st.Pending != nil || s.backingOff {
		return goOnOutcome()
	}
	// Status keeps whole seconds: plan in whole seconds, so the plan read back is the plan made.
	now := s.now.Truncate(time.Second)
	t, ok := policy.Plan(s.rs, now, s.ttl, s.schedule, s.notice)
	if !ok {
		return goOnOutcome() // decide starts it at once, or finds nothing due
	}
	trigger, due, planned, missed, start, noticeTime := t.Trigger, t.Due, t.Planned, t.WindowMissed, t.Start, t.NoticeTime
	if trigger == rotationv1alpha1.TriggerTTLExpired && (st.NextRotationTime == nil || !st.NextRotationTime.Time.Equal(start)) {
		st.NextRotationTime = &metav1.Time{Time: start}
	}
	giveNotice := s.notice > 0 && noticeTime == nil
	if giveNotice && now.Before(planned.Add(-s.notice)) {
		s.wakeAt(planned.Add(-s.notice), policy.Jitter(string(s.rs.UID), s.ttl))
		return s.hold(now, trigger, due, planned, nil, missed, planned, "")
	}
	if giveNotice || !now.Before(start) {
		// The dependencies come before the notice, so a notice promises a start that holds.
		if o := r.waitForDependencies(ctx, s, now, due); o.done() || s.holding {
			// Keep the plan, so the rotation stays due since the same time while it waits.
			s.record(trigger, due, start, noticeTime, missed)
			return o
		}
	}
	if giveNotice {
		start = later(planned, now.Add(s.notice))
		msg := fmt.Sprintf("%s rotation scheduled for %s (notice of %s given at %s)", trigger, rfc3339(start),
			s.rs.Spec.Notice, rfc3339(now))
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonRotationNotice, "Schedule", "%s", msg)
		s.notify(rotationv1alpha1.NotifyScheduled, nextRevision(*st), msg, &start)
		if trigger == rotationv1alpha1.TriggerTTLExpired {
			st.NextRotationTime = &metav1.Time{Time: start}
		}
		return s.hold(now, trigger, due, start, &metav1.Time{Time: now}, missed, start, msg)
	}
	if now.Before(start) {
		return s.hold(now, trigger, due, start, noticeTime, missed, start, "")
	}
	// Free to start: decide starts it (or queues it for a rollout slot) and clears the plan.
	s.windowMissed = missed
	return goOnOutcome()
}

// started clears the plan of a rotation that starts now, and tells that no window opened in time if so.
func (s *scope) started(trigger rotationv1alpha1.Trigger) {
	if sc := s.rs.Status.Scheduled; s.windowMissed && sc != nil {
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonWindowMissed, "Schedule",
			"No maintenance window (%s) opened within maxDelay %s of %s: rotating now", s.schedule.Describe(),
			maxDelay(s.rs), rfc3339(sc.DueTime.Time))
	}
	s.unschedule(rotationv1alpha1.ReasonRotationStarted, fmt.Sprintf("%s rotation started at %s", trigger, rfc3339(s.now)))
}

// hold records the plan in status.scheduled and keeps decide from starting the rotation until start. Before the
// notice is given (notice nil with spec.notice set) nothing is shown yet.
func (s *scope) hold(now time.Time, trigger rotationv1alpha1.Trigger, due, start time.Time, notice *metav1.Time,
	missed bool, wake time.Time, msg string) outcome {
	s.holding = true
	jitter := time.Duration(0)
	if trigger == rotationv1alpha1.TriggerTTLExpired {
		// A thousand values sharing a TTL do not all wake in the same second (never before their time).
		jitter = policy.Jitter(string(s.rs.UID), s.ttl)
	}
	s.wakeAt(wake, jitter)
	if now.Before(due) && notice == nil {
		// Not due yet and no notice given: nothing to plan or show (status.nextRotationTime says when).
		s.rs.Status.Scheduled = nil
		return goOnOutcome()
	}
	s.record(trigger, due, start, notice, missed)
	{
		reason := rotationv1alpha1.ReasonWaitingForWindow
		if msg == "" {
			msg = fmt.Sprintf("%s rotation due since %s waits for the maintenance window (%s): starts at %s",
				trigger, rfc3339(due), s.schedule.Describe(), rfc3339(start))
		}
		if notice != nil {
			reason = rotationv1alpha1.ReasonRotationNotice
			if c := conditions.Get(s.rs, rotationv1alpha1.ConditionRotationScheduled); c != nil && c.Reason == reason && msg != c.Message {
				msg = c.Message // the notice's own message stays until the rotation starts
			}
		}
		s.setCondition(rotationv1alpha1.ConditionRotationScheduled, metav1.ConditionTrue, reason, msg)
	}
	return goOnOutcome()
}

// record keeps the plan in status.scheduled (written only when it changed).
func (s *scope) record(trigger rotationv1alpha1.Trigger, due, start time.Time, notice *metav1.Time, missed bool) {
	sc := &rotationv1alpha1.ScheduledRotation{Trigger: trigger, DueTime: metav1.Time{Time: due},
		StartTime: metav1.Time{Time: start}, NoticeTime: notice, WindowMissed: missed}
	if old := s.rs.Status.Scheduled; old == nil || !equalScheduled(*old, *sc) {
		s.rs.Status.Scheduled = sc
	}
}

// unschedule clears the plan once the rotation starts or nothing is due.
func (s *scope) unschedule(reason, msg string) {
	s.rs.Status.Scheduled = nil
	if c := conditions.Get(s.rs, rotationv1alpha1.ConditionRotationScheduled); c != nil && c.Status == metav1.ConditionTrue {
		s.setCondition(rotationv1alpha1.ConditionRotationScheduled, metav1.ConditionFalse, reason, msg)
	}
}

func equalScheduled(a, b rotationv1alpha1.ScheduledRotation) bool {
	return a.Trigger == b.Trigger && a.DueTime.Time.Equal(b.DueTime.Time) && a.StartTime.Time.Equal(b.StartTime.Time) &&
		(a.NoticeTime == nil) == (b.NoticeTime == nil) && (a.NoticeTime == nil || a.NoticeTime.Time.Equal(b.NoticeTime.Time)) &&
		a.WindowMissed == b.WindowMissed
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
