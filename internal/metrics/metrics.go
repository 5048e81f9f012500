// Package metrics exposes the operator's Prometheus metrics on the manager's metrics endpoint. Labels name
// objects, triggers, outcomes, steps and reasons; no metric carries a value or a fingerprint.
//
// Counters count what this process did. Gauges describe the stored status of each RotatedSecret: ObserveStatus
// sets them from the status after every status write (and after every reconcile that wrote nothing), so they are
// true after each reconcile and again after a restart, once the first reconcile of each object has run.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Rotations counts committed rotations by object and trigger.
	Rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secret_rotator_rotations_total",
		Help: "Rotations committed, by RotatedSecret and trigger (Created, TTLExpired, Manual, Emergency).",
	}, []string{"namespace", "name", "trigger"})

	// RotationDuration observes the time from a rotation's decision to its commit.
	RotationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "secret_rotator_rotation_duration_seconds",
		Help:    "Seconds from the decision to rotate to the commit, by trigger.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
	}, []string{"trigger"})

	// Failures counts failed attempts and stalls by reason.
	Failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secret_rotator_failures_total",
		Help: "Failed attempts and stalls, by RotatedSecret and reason (the Stalled condition's reason).",
	}, []string{"namespace", "name", "reason"})

	// Repairs counts targets written back because they no longer held the current value.
	Repairs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secret_rotator_target_repairs_total",
		Help: "Target Secrets written back without a rotation (hand edits, deleted Secrets), by RotatedSecret.",
	}, []string{"namespace", "name"})

	// NextRotation is when each RotatedSecret's TTL runs out, for alerts on values that are about to expire.
	NextRotation = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_next_rotation_timestamp_seconds",
		Help: "Unix time at which the current value's TTL runs out, by RotatedSecret.",
	}, []string{"namespace", "name"})

	// Outcomes counts how rotations ended, once each end is stored in status.history.
	Outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secret_rotator_rotation_outcomes_total",
		Help: "Rotations ended, by RotatedSecret and outcome (Succeeded, Failed, RolledBack, Halted, Discarded), " +
			"counted when the end is stored in status.history.",
	}, []string{"namespace", "name", "outcome"})

	// LastOutcome is when the newest rotation of each outcome ended, from status.history.
	LastOutcome = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_last_outcome_timestamp_seconds",
		Help: "Unix time at which the newest rotation with this outcome ended, by RotatedSecret and outcome, " +
			"from status.history (absent when the history has none).",
	}, []string{"namespace", "name", "outcome"})

	// Stalled is 1 while a RotatedSecret has Stalled=True, with its reason; absent otherwise.
	Stalled = newOneOf(prometheus.GaugeOpts{
		Name: "secret_rotator_stalled",
		Help: "1 while the RotatedSecret has condition Stalled=True, with the condition's reason; absent otherwise.",
	}, "reason")

	// Rotating is 1 while a rotation is in progress (status.pending), with its step; absent otherwise.
	Rotating = newOneOf(prometheus.GaugeOpts{
		Name: "secret_rotator_rotating",
		Help: "1 while a rotation of the RotatedSecret is in progress (status.pending), with its step; absent otherwise.",
	}, "step")

	// Suspended is 1 while spec.suspend is true; absent otherwise.
	Suspended = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_suspended",
		Help: "1 while the RotatedSecret's spec.suspend is true; absent otherwise.",
	}, []string{"namespace", "name"})

	// FailedAttempts is status.failedAttempts: consecutive failed attempts, reset by a commit; absent when 0.
	FailedAttempts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_failed_attempts",
		Help: "Consecutive failed rotation attempts (status.failedAttempts; a commit resets it), by RotatedSecret; " +
			"absent when there are none.",
	}, []string{"namespace", "name"})

	// ScheduledRotation is when a due rotation that waits (window, notice, dependencies) starts.
	ScheduledRotation = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_scheduled_rotation_timestamp_seconds",
		Help: "Unix time at which a due rotation waiting for its window, notice or dependencies starts " +
			"(status.scheduled.startTime); absent when none waits.",
	}, []string{"namespace", "name"})

	// RevocationsPending counts the credentials still to be revoked (status.revocations); absent when none is.
	RevocationsPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_revocations_pending",
		Help: "Credentials still to be revoked at the provider (status.revocations), by RotatedSecret; absent when " +
			"none is.",
	}, []string{"namespace", "name"})

	// OldestRevocation is when the oldest pending revocation was queued.
	OldestRevocation = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secret_rotator_oldest_pending_revocation_timestamp_seconds",
		Help: "Unix time at which the oldest credential still to be revoked was queued, by RotatedSecret; " +
			"absent when none is.",
	}, []string{"namespace", "name"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(Rotations, RotationDuration, Failures, Repairs, NextRotation, Outcomes,
		LastOutcome, Stalled.vec, Rotating.vec, Suspended, FailedAttempts, ScheduledRotation, RevocationsPending, OldestRevocation)
}

// Forget drops the per-object series of a RotatedSecret that no longer exists.
func Forget(namespace, name string) {
	labels := prometheus.Labels{"namespace": namespace, "name": name}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{Rotations, Failures, Repairs, NextRotation, Outcomes, LastOutcome, Suspended, FailedAttempts, ScheduledRotation,
		RevocationsPending, OldestRevocation} {
		v.DeletePartialMatch(labels)
	}
	Stalled.Set(namespace, name, "")
	Rotating.Set(namespace, name, "")
}
