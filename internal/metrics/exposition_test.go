package metrics

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// perObjectFamilies are the metrics with a series per RotatedSecret.
var perObjectFamilies = []string{"secret_rotator_rotations_total", "secret_rotator_failures_total",
	"secret_rotator_target_repairs_total", "secret_rotator_next_rotation_timestamp_seconds",
	"secret_rotator_rotation_outcomes_total", "secret_rotator_last_outcome_timestamp_seconds",
	"secret_rotator_stalled", "secret_rotator_rotating", "secret_rotator_suspended", "secret_rotator_failed_attempts",
	"secret_rotator_scheduled_rotation_timestamp_seconds", "secret_rotator_revocations_pending",
	"secret_rotator_oldest_pending_revocation_timestamp_seconds"}

// exposition is what /metrics shows for the objects TestExpositionOfObjectsInEachState sets up: the names, HELP,
// types, labels and values dashboards and alerts rely on, and no series where a state has none (t0 is Unix
// 1767268800). It was produced by client_golang's vectors and must not change by accident.
const exposition = `
# HELP secret_rotator_failed_attempts Consecutive failed rotation attempts (status.failedAttempts; a commit resets it), by RotatedSecret; absent when there are none.
# TYPE secret_rotator_failed_attempts gauge
secret_rotator_failed_attempts{name="stalled",namespace="expo"} 3
# HELP secret_rotator_failures_total Failed attempts and stalls, by RotatedSecret and reason (the Stalled condition's reason).
# TYPE secret_rotator_failures_total counter
secret_rotator_failures_total{name="recovered",namespace="expo",reason="Forbidden"} 1
secret_rotator_failures_total{name="stalled",namespace="expo",reason="ProviderFailed"} 2
# HELP secret_rotator_last_outcome_timestamp_seconds Unix time at which the newest rotation with this outcome ended, by RotatedSecret and outcome, from status.history (absent when the history has none).
# TYPE secret_rotator_last_outcome_timestamp_seconds gauge
secret_rotator_last_outcome_timestamp_seconds{name="first",namespace="expo",outcome="Succeeded"} 1767268860
secret_rotator_last_outcome_timestamp_seconds{name="rotating",namespace="expo",outcome="RolledBack"} 1767276000
secret_rotator_last_outcome_timestamp_seconds{name="stalled",namespace="expo",outcome="Succeeded"} 1767268860
# HELP secret_rotator_next_rotation_timestamp_seconds Unix time at which the current value's TTL runs out, by RotatedSecret.
# TYPE secret_rotator_next_rotation_timestamp_seconds gauge
secret_rotator_next_rotation_timestamp_seconds{name="first",namespace="expo"} 1775044800
secret_rotator_next_rotation_timestamp_seconds{name="stalled",namespace="expo"} 1767272400
# HELP secret_rotator_oldest_pending_revocation_timestamp_seconds Unix time at which the oldest credential still to be revoked was queued, by RotatedSecret; absent when none is.
# TYPE secret_rotator_oldest_pending_revocation_timestamp_seconds gauge
secret_rotator_oldest_pending_revocation_timestamp_seconds{name="revoking",namespace="expo"} 1767283200
# HELP secret_rotator_revocations_pending Credentials still to be revoked at the provider (status.revocations), by RotatedSecret; absent when none is.
# TYPE secret_rotator_revocations_pending gauge
secret_rotator_revocations_pending{name="revoking",namespace="expo"} 2
# HELP secret_rotator_rotating 1 while a rotation of the RotatedSecret is in progress (status.pending), with its step; absent otherwise.
# TYPE secret_rotator_rotating gauge
secret_rotator_rotating{name="rotating",namespace="expo",step="Validating"} 1
# HELP secret_rotator_rotation_outcomes_total Rotations ended, by RotatedSecret and outcome (Succeeded, Failed, RolledBack, Halted, Discarded), counted when the end is stored in status.history.
# TYPE secret_rotator_rotation_outcomes_total counter
secret_rotator_rotation_outcomes_total{name="first",namespace="expo",outcome="Succeeded"} 1
secret_rotator_rotation_outcomes_total{name="rotating",namespace="expo",outcome="RolledBack"} 1
# HELP secret_rotator_rotations_total Rotations committed, by RotatedSecret and trigger (Created, TTLExpired, Manual, Emergency).
# TYPE secret_rotator_rotations_total counter
secret_rotator_rotations_total{name="first",namespace="expo",trigger="Created"} 1
secret_rotator_rotations_total{name="first",namespace="other",trigger="Manual"} 1
# HELP secret_rotator_scheduled_rotation_timestamp_seconds Unix time at which a due rotation waiting for its window, notice or dependencies starts (status.scheduled.startTime); absent when none waits.
# TYPE secret_rotator_scheduled_rotation_timestamp_seconds gauge
secret_rotator_scheduled_rotation_timestamp_seconds{name="suspended",namespace="expo"} 1767279600
# HELP secret_rotator_stalled 1 while the RotatedSecret has condition Stalled=True, with the condition's reason; absent otherwise.
# TYPE secret_rotator_stalled gauge
secret_rotator_stalled{name="stalled",namespace="expo",reason="ProviderFailed"} 1
# HELP secret_rotator_suspended 1 while the RotatedSecret's spec.suspend is true; absent otherwise.
# TYPE secret_rotator_suspended gauge
secret_rotator_suspended{name="suspended",namespace="expo"} 1
# HELP secret_rotator_target_repairs_total Target Secrets written back without a rotation (hand edits, deleted Secrets), by RotatedSecret.
# TYPE secret_rotator_target_repairs_total counter
secret_rotator_target_repairs_total{name="revoking",namespace="expo"} 2
`

// TestExpositionOfObjectsInEachState compares the text /metrics serves for RotatedSecrets in several states:
// first generation, stalled, rotating, suspended and waiting, revocations pending, recovered from a stall, and
// forgotten.
func TestExpositionOfObjectsInEachState(t *testing.T) {
	g := NewWithT(t)
	start := time.Now()
	defer observeEachState()()

	g.Expect(testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(exposition), perObjectFamilies...)).To(Succeed())

	// Counters carry the time their series was created, as the protobuf exposition shows it.
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	counted := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if m.Counter == nil || !strings.HasPrefix(f.GetName(), "secret_rotator_") {
				continue
			}
			created := m.GetCounter().GetCreatedTimestamp().AsTime()
			g.Expect(created).To(BeTemporally(">=", start.Truncate(time.Microsecond)), f.GetName())
			g.Expect(created).To(BeTemporally("<=", time.Now()), f.GetName())
			counted++
		}
	}
	g.Expect(counted).To(Equal(7))
}

// observeEachState sets up RotatedSecrets in several states through the calls the controllers make: first
// generation, stalled, rotating, suspended and waiting, revocations pending, recovered from a stall, and
// forgotten. It returns a function that forgets them.
func observeEachState() (forget func()) {
	first := object("expo", "first")
	first.Status.NextRotationTime = at(90 * 24 * time.Hour)
	first.Status.History = []rotationv1alpha1.RotationRecord{record(1, rotationv1alpha1.OutcomeSucceeded, at(time.Minute))}
	Rotations.WithLabelValues("expo", "first", "Created").Inc()
	CountOutcomes("expo", "first", nil, first.Status.History)
	ObserveStatus(first)
	Rotations.WithLabelValues("other", "first", "Manual").Inc() // the same name in another namespace

	stalledRS := object("expo", "stalled") // as after a restart: no counter but its failures
	stalledRS.Status.NextRotationTime = at(time.Hour)
	stalledRS.Status.FailedAttempts = 3
	stalledRS.Status.History = first.Status.History
	stalled(stalledRS, rotationv1alpha1.ReasonProviderFailed)
	Failures.WithLabelValues("expo", "stalled", rotationv1alpha1.ReasonProviderFailed).Inc()
	Failures.WithLabelValues("expo", "stalled", rotationv1alpha1.ReasonProviderFailed).Inc()
	ObserveStatus(stalledRS)

	rotating := object("expo", "rotating")
	rotating.Status.Pending = &rotationv1alpha1.PendingRotation{Revision: 2, Step: rotationv1alpha1.StepRollingOut}
	rotating.Status.History = []rotationv1alpha1.RotationRecord{record(2, rotationv1alpha1.OutcomeInProgress, nil),
		record(1, rotationv1alpha1.OutcomeRolledBack, at(2*time.Hour))}
	ObserveStatus(rotating)
	rotating.Status.Pending.Step = rotationv1alpha1.StepValidating // the step's series replaces the last one
	CountOutcomes("expo", "rotating", nil, rotating.Status.History)
	ObserveStatus(rotating)

	suspended := object("expo", "suspended")
	suspended.Spec.Suspend = true
	suspended.Status.Scheduled = &rotationv1alpha1.ScheduledRotation{StartTime: *at(3 * time.Hour)}
	ObserveStatus(suspended)

	revoking := object("expo", "revoking")
	revoking.Status.Revocations = []rotationv1alpha1.Revocation{{Revision: 2, Since: *at(5 * time.Hour)},
		{Revision: 1, Since: *at(4 * time.Hour)}}
	Repairs.WithLabelValues("expo", "revoking").Inc()
	Repairs.WithLabelValues("expo", "revoking").Inc()
	ObserveStatus(revoking)

	recovered := object("expo", "recovered")
	stalled(recovered, rotationv1alpha1.ReasonForbidden)
	recovered.Status.FailedAttempts = 1
	Failures.WithLabelValues("expo", "recovered", rotationv1alpha1.ReasonForbidden).Inc()
	ObserveStatus(recovered)
	recovered.Status.Conditions, recovered.Status.FailedAttempts = nil, 0
	ObserveStatus(recovered)

	gone := object("expo", "gone")
	gone.Spec.Suspend = true
	gone.Status = *stalledRS.Status.DeepCopy()
	Rotations.WithLabelValues("expo", "gone", "Created").Inc()
	Failures.WithLabelValues("expo", "gone", rotationv1alpha1.ReasonProviderFailed).Inc()
	ObserveStatus(gone)
	Forget("expo", "gone")

	return func() {
		for _, n := range []string{"first", "stalled", "rotating", "suspended", "revoking", "recovered"} {
			Forget("expo", n)
		}
		Forget("other", "first")
	}
}
