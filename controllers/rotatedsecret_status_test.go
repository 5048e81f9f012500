package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/testgen"
)

func TestSummarize(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &RotatedSecretReconciler{}
	newScope := func(opts ...testgen.Option) *scope {
		rs := testgen.RotatedSecret("jwt", "backend", opts...)
		rs.Generation = 2
		return &scope{rs: rs, base: rs.DeepCopy(), now: now}
	}
	cases := []struct {
		name      string
		scope     func() *scope
		phase     rotationv1alpha1.Phase
		ready     metav1.ConditionStatus
		reason    string
		stalled   bool
		rotating  bool
		reconcile bool
	}{
		{name: "nothing yet", scope: func() *scope { return newScope() }, phase: rotationv1alpha1.PhasePending,
			ready: metav1.ConditionFalse, reason: "Pending"},
		{name: "up to date", scope: func() *scope {
			s := newScope()
			s.rs.Status.CurrentRevision = 4
			return s
		}, phase: rotationv1alpha1.PhaseReady, ready: metav1.ConditionTrue, reason: rotationv1alpha1.ReasonUpToDate},
		{name: "rotating", scope: func() *scope {
			s := newScope()
			s.rs.Status.CurrentRevision = 4
			s.rs.Status.Pending = &rotationv1alpha1.PendingRotation{Revision: 5, Step: rotationv1alpha1.StepStaged}
			conditions.Set(s.rs, rotationv1alpha1.ConditionRotating, metav1.ConditionTrue, rotationv1alpha1.ReasonStaged, "staged")
			return s
		}, phase: rotationv1alpha1.PhaseRotating, ready: metav1.ConditionFalse, reason: rotationv1alpha1.ReasonRotationStarted,
			rotating: true, reconcile: true},
		{name: "stalled", scope: func() *scope {
			s := newScope()
			s.stalled = &cause{reason: rotationv1alpha1.ReasonTargetNamespaceNotFound, message: "namespace x does not exist"}
			return s
		}, phase: rotationv1alpha1.PhaseStalled, ready: metav1.ConditionFalse, reason: rotationv1alpha1.ReasonTargetNamespaceNotFound,
			stalled: true},
		{name: "suspended with a value", scope: func() *scope {
			s := newScope(testgen.Suspended)
			s.rs.Status.CurrentRevision = 1
			return s
		}, phase: rotationv1alpha1.PhaseSuspended, ready: metav1.ConditionTrue, reason: rotationv1alpha1.ReasonSuspended},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			s := c.scope()
			r.summarize(s)
			g.Expect(s.rs.Status.Phase).To(Equal(c.phase))
			g.Expect(s.rs.Status.ObservedGeneration).To(BeEquivalentTo(2))
			ready := conditions.Get(s.rs, rotationv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(c.ready))
			g.Expect(ready.Reason).To(Equal(c.reason))
			g.Expect(conditions.IsTrue(s.rs, rotationv1alpha1.ConditionStalled)).To(Equal(c.stalled))
			g.Expect(conditions.IsTrue(s.rs, rotationv1alpha1.ConditionRotating)).To(Equal(c.rotating))
			g.Expect(conditions.IsTrue(s.rs, rotationv1alpha1.ConditionReconciling)).To(Equal(c.reconcile))
		})
	}
}

func TestHistoryIsTrimmedAndCompleted(t *testing.T) {
	g := NewWithT(t)
	rs := testgen.RotatedSecret("jwt", "backend", testgen.WithHistoryLimit(3))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &scope{rs: rs, now: now}
	for rev := int64(1); rev <= 5; rev++ {
		s.addHistory(rotationv1alpha1.RotationRecord{Revision: rev, Outcome: rotationv1alpha1.OutcomeInProgress})
	}
	g.Expect(rs.Status.History).To(HaveLen(3))
	g.Expect(rs.Status.History[0].Revision).To(BeEquivalentTo(5), "newest first")

	s.completeHistory(4, rotationv1alpha1.OutcomeSucceeded, "hmac-sha256:abc")
	g.Expect(rs.Status.History[1].Outcome).To(Equal(rotationv1alpha1.OutcomeSucceeded))
	g.Expect(rs.Status.History[1].CompletionTime.Time).To(Equal(now))
	g.Expect(rs.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeInProgress))
}

func TestDesiredWrites(t *testing.T) {
	g := NewWithT(t)
	rs := testgen.RotatedSecret("cy", "backend",
		testgen.WithTarget("backend-env", "API_KEY"),
		testgen.WithTargetIn("workers", "worker-env", "API_KEY"),
		testgen.WithPrevious("_OLD", "1h"),
		func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{SecretName: "backend-env", Key: "PARTNER", From: "partner_id"})
		})
	cur := provider.Values{"value": []byte("new"), "partner_id": []byte("p2")}
	prev := provider.Values{"value": []byte("old"), "partner_id": []byte("p1")}

	writes := desiredWrites(rs, cur, prev)
	g.Expect(writes).To(HaveLen(2), "one write per Secret")
	g.Expect(writes[0].String()).To(Equal("backend/backend-env"))
	g.Expect(writes[0].Data).To(Equal(map[string][]byte{
		"API_KEY": []byte("new"), "API_KEY_OLD": []byte("old"), "PARTNER": []byte("p2"), "PARTNER_OLD": []byte("p1"),
	}))
	g.Expect(writes[1].String()).To(Equal("workers/worker-env"))

	writes = desiredWrites(rs, cur, nil)
	g.Expect(writes[0].Keys()).To(Equal([]string{"API_KEY", "PARTNER"}), "no previous keys once it is gone")
}
