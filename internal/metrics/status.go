package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// endOutcomes are the outcomes that end a rotation. Repaired records a drift repair (target_repairs_total counts
// those) and InProgress no end.
var endOutcomes = []rotationv1alpha1.Outcome{
	rotationv1alpha1.OutcomeSucceeded, rotationv1alpha1.OutcomeFailed, rotationv1alpha1.OutcomeRolledBack,
	rotationv1alpha1.OutcomeHalted, rotationv1alpha1.OutcomeDiscarded,
}

func isEnd(o rotationv1alpha1.Outcome) bool {
	for _, e := range endOutcomes {
		if o == e {
			return true
		}
	}
	return false
}

// ObserveStatus sets the gauges of rs from its status and spec: the ones a reconcile just stored (or found
// unchanged). It reads only the object in hand: no API request.
func ObserveStatus(rs *rotationv1alpha1.RotatedSecret) {
	ns, name, st := rs.Namespace, rs.Name, &rs.Status
	setOrDelete(NextRotation, ns, name, st.NextRotationTime)
	var scheduled *metav1.Time
	if st.Scheduled != nil {
		scheduled = &st.Scheduled.StartTime
	}
	setOrDelete(ScheduledRotation, ns, name, scheduled)
	setNonZero(Suspended, ns, name, boolValue(rs.Spec.Suspend))
	setNonZero(FailedAttempts, ns, name, float64(st.FailedAttempts))

	reason := ""
	if c := meta.FindStatusCondition(st.Conditions, rotationv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		reason = c.Reason
	}
	Stalled.Set(ns, name, reason)
	step := ""
	if st.Pending != nil {
		step = string(st.Pending.Step)
	}
	Rotating.Set(ns, name, step)

	setNonZero(RevocationsPending, ns, name, float64(len(st.Revocations)))
	var oldest *metav1.Time
	for i := range st.Revocations {
		if since := &st.Revocations[i].Since; oldest == nil || since.Before(oldest) {
			oldest = since
		}
	}
	setOrDelete(OldestRevocation, ns, name, oldest)

	// The newest end of each outcome; history is newest first, but a record's end is what counts.
	last := map[rotationv1alpha1.Outcome]*metav1.Time{}
	for i := range st.History {
		h := &st.History[i]
		if h.CompletionTime == nil || !isEnd(h.Outcome) {
			continue
		}
		if t := last[h.Outcome]; t == nil || t.Before(h.CompletionTime) {
			last[h.Outcome] = h.CompletionTime
		}
	}
	for _, o := range endOutcomes {
		if t := last[o]; t != nil {
			LastOutcome.WithLabelValues(ns, name, string(o)).Set(float64(t.Unix()))
		} else {
			LastOutcome.DeleteLabelValues(ns, name, string(o))
		}
	}
}

// CountOutcomes counts the rotations that status.history shows ended between two stored versions of it: a record
// with an end outcome in after that before did not have (a record is its revision and start time). A rotation
// that halted and is then rolled back counts both.
func CountOutcomes(namespace, name string, before, after []rotationv1alpha1.RotationRecord) {
	for _, h := range after {
		if !isEnd(h.Outcome) || h.CompletionTime == nil {
			continue
		}
		counted := false
		for _, b := range before {
			if b.Revision == h.Revision && b.StartTime.Equal(&h.StartTime) && b.Outcome == h.Outcome {
				counted = true
				break
			}
		}
		if !counted {
			Outcomes.WithLabelValues(namespace, name, string(h.Outcome)).Inc()
		}
	}
}

// gaugeVec is a per-object gauge vector.
type gaugeVec interface {
	WithLabelValues(...string) prometheus.Gauge
	DeleteLabelValues(...string) bool
}

// setOrDelete sets the object's series to t, or removes it when t is nil.
func setOrDelete(v gaugeVec, namespace, name string, t *metav1.Time) {
	if t == nil {
		v.DeleteLabelValues(namespace, name)
		return
	}
	v.WithLabelValues(namespace, name).Set(float64(t.Unix()))
}

// setNonZero sets the object's series to v, or removes it when v is 0: most RotatedSecrets are not suspended, not
// failing and owe no revocation, and a series each would cost memory and scrapes for nothing (about 4 MiB per
// metric at 10,000 RotatedSecrets).
func setNonZero(v gaugeVec, namespace, name string, value float64) {
	if value == 0 {
		v.DeleteLabelValues(namespace, name)
		return
	}
	v.WithLabelValues(namespace, name).Set(value)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
