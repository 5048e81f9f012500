package policy

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/schedule"
)

// TestPlanAndExpected covers when the upcoming rotation starts: the window moves a TTL rotation (and a manual one
// only with respect-window), notice is given before the planned start (or at once when that is past), and notice
// already given for the same rotation holds it.
func TestPlanAndExpected(t *testing.T) {
	day := 24 * time.Hour
	// start is Thursday 2026-01-01 12:00 UTC; the window opens every day at 02:00 for 2h.
	nightly, err := schedule.Parse([]schedule.WindowSpec{{Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
		Start: "02:00", Duration: "2h"}}, "UTC", "")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	nextNight := time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC)
	noticed := func(due, at time.Time) opt {
		return func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Status.Scheduled = &rotationv1alpha1.ScheduledRotation{Trigger: rotationv1alpha1.TriggerTTLExpired,
				DueTime: metav1.Time{Time: due}, NoticeTime: &metav1.Time{Time: at}}
		}
	}
	cases := []struct {
		name                 string
		obj                  *rotationv1alpha1.RotatedSecret
		sched                schedule.Schedule
		notice               time.Duration
		wantOK               bool
		wantTrigger          rotationv1alpha1.Trigger
		wantDue, wantPlanned time.Time
		wantNotice, wantGo   time.Time
	}{
		{name: "first value: nothing waits", obj: object()},
		{name: "suspended: nothing is upcoming", obj: object(rotated(1, start.Add(-91*day)), suspended)},
		{name: "emergency: nothing waits", obj: object(rotated(1, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e1 leak"))},
		{name: "TTL ahead, no window, no notice", obj: object(rotated(1, start)), wantOK: true, wantTrigger: rotationv1alpha1.TriggerTTLExpired,
			wantDue: start.Add(90 * day), wantPlanned: start.Add(90 * day), wantGo: start.Add(90 * day)},
		{name: "TTL due, waits for the window", obj: object(rotated(1, start.Add(-90*day-time.Hour))), sched: nightly, wantOK: true,
			wantTrigger: rotationv1alpha1.TriggerTTLExpired, wantDue: start.Add(-time.Hour), wantPlanned: nextNight, wantGo: nextNight},
		{name: "notice before the window", obj: object(rotated(1, start.Add(-90*day-time.Hour))), sched: nightly, notice: 10 * time.Minute,
			wantOK: true, wantTrigger: rotationv1alpha1.TriggerTTLExpired, wantDue: start.Add(-time.Hour), wantPlanned: nextNight,
			wantNotice: nextNight.Add(-10 * time.Minute), wantGo: nextNight},
		{name: "notice due now: given now, starts when it has run", obj: object(rotated(1, start.Add(-90*day-time.Hour))),
			notice: time.Hour, wantOK: true, wantTrigger: rotationv1alpha1.TriggerTTLExpired, wantDue: start.Add(-time.Hour),
			wantPlanned: start.Add(-time.Hour), wantNotice: start, wantGo: start.Add(time.Hour)},
		{name: "notice given earlier holds", obj: object(rotated(1, start.Add(-90*day-time.Hour)),
			noticed(start.Add(-time.Hour), start.Add(-30*time.Minute))), notice: time.Hour, wantOK: true,
			wantTrigger: rotationv1alpha1.TriggerTTLExpired, wantDue: start.Add(-time.Hour), wantPlanned: start.Add(-time.Hour),
			wantNotice: start.Add(-30 * time.Minute), wantGo: start.Add(30 * time.Minute)},
		{name: "notice of another rotation does not count", obj: object(rotated(1, start.Add(-90*day-time.Hour)),
			noticed(start.Add(-48*time.Hour), start.Add(-47*time.Hour))), notice: time.Hour, wantOK: true,
			wantTrigger: rotationv1alpha1.TriggerTTLExpired, wantDue: start.Add(-time.Hour), wantPlanned: start.Add(-time.Hour),
			wantNotice: start, wantGo: start.Add(time.Hour)},
		{name: "manual ignores the window", obj: object(rotated(1, start), annotated(rotationv1alpha1.RotateAnnotation, "t1")),
			sched: nightly, wantOK: true, wantTrigger: rotationv1alpha1.TriggerManual, wantDue: start, wantPlanned: start, wantGo: start},
		{name: "manual with respect-window waits for it", obj: object(rotated(1, start), annotated(rotationv1alpha1.RotateAnnotation, "t1"),
			annotated(rotationv1alpha1.RespectWindowAnnotation, "true")), sched: nightly, wantOK: true,
			wantTrigger: rotationv1alpha1.TriggerManual, wantDue: start, wantPlanned: nextNight, wantGo: nextNight},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			timing, ok := Plan(c.obj, start, 90*day, c.sched, c.notice)
			g.Expect(ok).To(Equal(c.wantOK))
			if !ok {
				return
			}
			g.Expect(timing.Trigger).To(Equal(c.wantTrigger))
			g.Expect(timing.Due).To(Equal(c.wantDue))
			g.Expect(timing.Planned).To(Equal(c.wantPlanned))
			noticeAt, begin := timing.Expected(start, c.notice)
			g.Expect(noticeAt).To(Equal(c.wantNotice))
			g.Expect(begin).To(Equal(c.wantGo))
		})
	}
}

func TestDependencyDone(t *testing.T) {
	due := start.Add(-time.Hour)
	dep := func(outcome rotationv1alpha1.Outcome, began time.Time, ready metav1.ConditionStatus) *rotationv1alpha1.RotatedSecret {
		done := metav1.NewTime(began.Add(time.Minute))
		return &rotationv1alpha1.RotatedSecret{Status: rotationv1alpha1.RotatedSecretStatus{
			History:    []rotationv1alpha1.RotationRecord{{Revision: 2, Outcome: outcome, StartTime: metav1.NewTime(began), CompletionTime: &done}},
			Conditions: []metav1.Condition{{Type: rotationv1alpha1.ConditionReady, Status: ready, LastTransitionTime: done}},
		}}
	}
	cases := []struct {
		name      string
		dep       *rotationv1alpha1.RotatedSecret
		wantUntil time.Time
		wantWhy   string
	}{
		{name: "rotated before it was due", dep: dep(rotationv1alpha1.OutcomeSucceeded, due.Add(-time.Minute), metav1.ConditionTrue),
			wantWhy: "has not completed a rotation started since 2026-01-01T11:00:00Z: rotate it first"},
		{name: "rolled back", dep: dep(rotationv1alpha1.OutcomeRolledBack, due, metav1.ConditionTrue),
			wantWhy: "has not completed a rotation started since"},
		{name: "not Ready", dep: dep(rotationv1alpha1.OutcomeSucceeded, due, metav1.ConditionFalse), wantWhy: "is not Ready"},
		{name: "soaking", dep: dep(rotationv1alpha1.OutcomeSucceeded, start.Add(-20*time.Minute), metav1.ConditionTrue),
			wantUntil: start.Add(-19*time.Minute + 30*time.Minute), wantWhy: "must stay Ready for 30m0s"},
		{name: "done", dep: dep(rotationv1alpha1.OutcomeSucceeded, due, metav1.ConditionTrue)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			until, why := DependencyDone(c.dep, due, start, 30*time.Minute)
			g.Expect(until).To(Equal(c.wantUntil))
			if c.wantWhy == "" {
				g.Expect(why).To(BeEmpty())
				return
			}
			g.Expect(why).To(ContainSubstring(c.wantWhy))
		})
	}
}
