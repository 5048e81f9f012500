// Package metrics exposes the operator's Prometheus metrics on the manager's metrics endpoint. Labels name
// objects, triggers and reasons; no metric carries a value or a fingerprint.
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
)

func init() {
	ctrlmetrics.Registry.MustRegister(Rotations, RotationDuration, Failures, Repairs, NextRotation)
}

// Forget drops the per-object series of a RotatedSecret that no longer exists.
func Forget(namespace, name string) {
	labels := prometheus.Labels{"namespace": namespace, "name": name}
	Rotations.DeletePartialMatch(labels)
	Failures.DeletePartialMatch(labels)
	Repairs.DeletePartialMatch(labels)
	NextRotation.DeletePartialMatch(labels)
}
