package metrics

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

func object(ns, name string) *rotationv1alpha1.RotatedSecret {
	rs := &rotationv1alpha1.RotatedSecret{}
	rs.Namespace, rs.Name = ns, name
	return rs
}

func stalled(rs *rotationv1alpha1.RotatedSecret, reason string) {
	rs.Status.Conditions = []metav1.Condition{{Type: rotationv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason}}
}

func record(rev int64, outcome rotationv1alpha1.Outcome, end *metav1.Time) rotationv1alpha1.RotationRecord {
	return rotationv1alpha1.RotationRecord{Revision: rev, StartTime: *at(time.Duration(rev) * time.Hour),
		Outcome: outcome, CompletionTime: end}
}

func TestObserveStatusFollowsTheStatus(t *testing.T) {
	g := NewWithT(t)
	rs := object("team", "jwt")
	rs.Spec.Suspend = true
	rs.Status.FailedAttempts = 2
	rs.Status.NextRotationTime = at(90 * 24 * time.Hour)
	rs.Status.Scheduled = &rotationv1alpha1.ScheduledRotation{StartTime: *at(time.Hour)}
	rs.Status.Pending = &rotationv1alpha1.PendingRotation{Revision: 3, Step: rotationv1alpha1.StepRollingOut}
	stalled(rs, rotationv1alpha1.ReasonProviderFailed)
	rs.Status.Revocations = []rotationv1alpha1.Revocation{{Revision: 2, Since: *at(2 * time.Hour)}, {Revision: 1, Since: *at(time.Hour)}}
	rs.Status.History = []rotationv1alpha1.RotationRecord{
		record(3, rotationv1alpha1.OutcomeInProgress, nil),
		record(2, rotationv1alpha1.OutcomeRolledBack, at(3*time.Hour)),
		record(1, rotationv1alpha1.OutcomeSucceeded, at(2*time.Hour)),
		{Revision: 1, Outcome: rotationv1alpha1.OutcomeRepaired, CompletionTime: at(4 * time.Hour)},
	}
	ObserveStatus(rs)
	defer Forget("team", "jwt")

	g.Expect(testutil.ToFloat64(Suspended.WithLabelValues("team", "jwt"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(FailedAttempts.WithLabelValues("team", "jwt"))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(NextRotation.WithLabelValues("team", "jwt"))).To(Equal(float64(at(90 * 24 * time.Hour).Unix())))
	g.Expect(testutil.ToFloat64(ScheduledRotation.WithLabelValues("team", "jwt"))).To(Equal(float64(at(time.Hour).Unix())))
	g.Expect(testutil.ToFloat64(Stalled.WithLabelValues("team", "jwt", "ProviderFailed"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(Rotating.WithLabelValues("team", "jwt", "RollingOut"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(RevocationsPending.WithLabelValues("team", "jwt"))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(OldestRevocation.WithLabelValues("team", "jwt"))).To(Equal(float64(at(time.Hour).Unix())))
	g.Expect(testutil.ToFloat64(LastOutcome.WithLabelValues("team", "jwt", "RolledBack"))).To(Equal(float64(at(3 * time.Hour).Unix())))
	g.Expect(testutil.ToFloat64(LastOutcome.WithLabelValues("team", "jwt", "Succeeded"))).To(Equal(float64(at(2 * time.Hour).Unix())))
	g.Expect(testutil.CollectAndCount(LastOutcome)).To(Equal(2), "Repaired and InProgress are no outcome of a rotation")

	// The rotation commits: no stall, no pending step, no revocation, no schedule, not suspended.
	rs.Spec.Suspend, rs.Status.FailedAttempts = false, 0
	rs.Status.Scheduled, rs.Status.Pending, rs.Status.Conditions, rs.Status.Revocations = nil, nil, nil, nil
	rs.Status.History[0] = record(3, rotationv1alpha1.OutcomeSucceeded, at(5*time.Hour))
	ObserveStatus(rs)
	g.Expect(testutil.CollectAndCount(Suspended)).To(Equal(0), "a series only while suspended")
	g.Expect(testutil.CollectAndCount(FailedAttempts)).To(Equal(0), "a series only while attempts fail")
	g.Expect(testutil.CollectAndCount(RevocationsPending)).To(Equal(0), "a series only while one is pending")
	g.Expect(testutil.CollectAndCount(Stalled)).To(Equal(0))
	g.Expect(testutil.CollectAndCount(Rotating)).To(Equal(0))
	g.Expect(testutil.CollectAndCount(ScheduledRotation)).To(Equal(0))
	g.Expect(testutil.CollectAndCount(OldestRevocation)).To(Equal(0))
	g.Expect(testutil.ToFloat64(LastOutcome.WithLabelValues("team", "jwt", "Succeeded"))).To(Equal(float64(at(5 * time.Hour).Unix())))
}

func TestStalledKeepsOneSeriesPerObject(t *testing.T) {
	g := NewWithT(t)
	a, b := object("team", "a"), object("team", "b")
	defer Forget("team", "a")
	defer Forget("team", "b")
	stalled(a, "ProviderFailed")
	stalled(b, "Forbidden")
	b.Spec.Suspend = true
	ObserveStatus(a)
	ObserveStatus(b)
	stalled(a, "RolledBack")
	ObserveStatus(a)
	g.Expect(testutil.CollectAndCount(Stalled)).To(Equal(2))
	g.Expect(testutil.ToFloat64(Stalled.WithLabelValues("team", "a", "RolledBack"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(Stalled.WithLabelValues("team", "b", "Forbidden"))).To(Equal(1.0))
	g.Expect(testutil.CollectAndCount(Stalled)).To(Equal(2), "reading above created no series")

	Forget("team", "a")
	g.Expect(testutil.CollectAndCount(Stalled)).To(Equal(1))
	g.Expect(testutil.CollectAndCount(Suspended)).To(Equal(1), "b's")
}

func TestCountOutcomesCountsEachStoredEndOnce(t *testing.T) {
	g := NewWithT(t)
	defer Forget("team", "c")
	count := func(o rotationv1alpha1.Outcome) float64 {
		return testutil.ToFloat64(Outcomes.WithLabelValues("team", "c", string(o)))
	}
	running := []rotationv1alpha1.RotationRecord{record(2, rotationv1alpha1.OutcomeInProgress, nil), record(1, rotationv1alpha1.OutcomeSucceeded, at(time.Hour))}
	halted := []rotationv1alpha1.RotationRecord{record(2, rotationv1alpha1.OutcomeHalted, at(2*time.Hour)), running[1]}
	rolledBack := []rotationv1alpha1.RotationRecord{record(2, rotationv1alpha1.OutcomeRolledBack, at(3*time.Hour)), running[1]}
	retried := append([]rotationv1alpha1.RotationRecord{record(3, rotationv1alpha1.OutcomeInProgress, nil)}, rolledBack...)

	CountOutcomes("team", "c", nil, running) // the first rotation's end, seen for the first time
	g.Expect(count(rotationv1alpha1.OutcomeSucceeded)).To(Equal(1.0))
	CountOutcomes("team", "c", running, running) // an unrelated status write
	CountOutcomes("team", "c", running, halted)
	CountOutcomes("team", "c", halted, halted)
	CountOutcomes("team", "c", halted, rolledBack) // a person asked for the rollback of the halted rotation
	CountOutcomes("team", "c", rolledBack, retried)
	g.Expect(count(rotationv1alpha1.OutcomeSucceeded)).To(Equal(1.0))
	g.Expect(count(rotationv1alpha1.OutcomeHalted)).To(Equal(1.0))
	g.Expect(count(rotationv1alpha1.OutcomeRolledBack)).To(Equal(1.0))
	g.Expect(count(rotationv1alpha1.OutcomeInProgress)).To(Equal(0.0))
}
