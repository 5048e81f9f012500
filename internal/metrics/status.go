package metrics

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// endOutcomes are the outcomes that end a rotation. Repaired records a drift repair (target_repairs_total counts
// those) and InProgress no end.
var endOutcomes = [...]rotationv1alpha1.Outcome{
	rotationv1alpha1.OutcomeSucceeded, rotationv1alpha1.OutcomeFailed, rotationv1alpha1.OutcomeRolledBack,
	rotationv1alpha1.OutcomeHalted, rotationv1alpha1.OutcomeDiscarded,
}

func isEnd(o rotationv1alpha1.Outcome) bool { return slices.Contains(endOutcomes[:], o) }

// known are the label values the API defines for triggers, outcomes and steps, each its constant's string.
var known = map[string]string{}

func init() {
	for _, t := range []rotationv1alpha1.Trigger{rotationv1alpha1.TriggerCreated, rotationv1alpha1.TriggerTTLExpired,
		rotationv1alpha1.TriggerManual, rotationv1alpha1.TriggerEmergency, rotationv1alpha1.TriggerTargetDrift} {
		known[string(t)] = string(t)
	}
	for _, o := range endOutcomes {
		known[string(o)] = string(o)
	}
	for _, s := range []rotationv1alpha1.RotationStep{rotationv1alpha1.StepDecided, rotationv1alpha1.StepStaged,
		rotationv1alpha1.StepTargetsWritten, rotationv1alpha1.StepRollingOut, rotationv1alpha1.StepValidating,
		rotationv1alpha1.StepConfirmed, rotationv1alpha1.StepRollingBack, rotationv1alpha1.StepHalted} {
		known[string(s)] = string(s)
	}
}

// ObserveStatus sets the gauges of rs from its status and spec: the ones a reconcile just stored (or found
// unchanged). It reads only the object in hand: no API request. A gauge whose value is none (no time, zero, not
// suspended, no stall) has no series: most RotatedSecrets are not suspended, not failing and owe no revocation,
// and a series each would cost memory and scrapes for nothing.
func ObserveStatus(rs *rotationv1alpha1.RotatedSecret) {
	st := &rs.Status
	// The order below is the order the store keeps them in; see store.setGauges.
	var gauges []entry
	set := func(f *Family, label string, value float64) {
		if value != 0 {
			gauges = append(gauges, entry{family: f, label: clean(label), value: value})
		}
	}
	// A timestamp has a series whenever the status has the time, whatever its value.
	stamp := func(f *Family, label string, t *metav1.Time) {
		if t != nil {
			gauges = append(gauges, entry{family: f, label: clean(label), value: float64(t.Unix())})
		}
	}
	stamp(NextRotation, "", st.NextRotationTime)
	if st.Scheduled != nil {
		stamp(ScheduledRotation, "", &st.Scheduled.StartTime)
	}
	set(Suspended, "", boolValue(rs.Spec.Suspend))
	set(FailedAttempts, "", float64(st.FailedAttempts))

	if c := meta.FindStatusCondition(st.Conditions, rotationv1alpha1.ConditionStalled); c != nil &&
		c.Status == metav1.ConditionTrue && c.Reason != "" {
		set(Stalled, c.Reason, 1)
	}
	if st.Pending != nil && st.Pending.Step != "" {
		set(Rotating, string(st.Pending.Step), 1)
	}

	set(RevocationsPending, "", float64(len(st.Revocations)))
	var oldest *metav1.Time
	for i := range st.Revocations {
		if since := &st.Revocations[i].Since; oldest == nil || since.Before(oldest) {
			oldest = since
		}
	}
	stamp(OldestRevocation, "", oldest)

	// The newest end of each outcome; history is newest first, but a record's end is what counts.
	var last [len(endOutcomes)]*metav1.Time
	for i := range st.History {
		h := &st.History[i]
		o := slices.Index(endOutcomes[:], h.Outcome)
		if h.CompletionTime == nil || o < 0 {
			continue
		}
		if last[o] == nil || last[o].Before(h.CompletionTime) {
			last[o] = h.CompletionTime
		}
	}
	for o, t := range last {
		stamp(LastOutcome, string(endOutcomes[o]), t)
	}
	objects.setGauges(key{rs.Namespace, rs.Name}, gauges)
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

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
