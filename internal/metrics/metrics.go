// Package metrics exposes the operator's Prometheus metrics on the manager's metrics endpoint. Labels name
// objects, triggers, outcomes, steps and reasons; no metric carries a value or a fingerprint.
//
// Counters count what this process did. Gauges describe the stored status of each RotatedSecret: ObserveStatus
// sets them from the status after every status write (and after every reconcile that wrote nothing), so they are
// true after each reconcile and again after a restart, once the first reconcile of each object has run.
//
// The per-object series are not client_golang vectors: at 10,000 RotatedSecrets those kept about 2 KiB an object
// (a metric, its label pairs and hashes per series). One store (store.go) keeps each object's series as a short
// list of family, label and value; what a scrape shows is what the vectors showed: names, HELP, types, labels,
// values, counters' created timestamps, and no series where the vectors had none.
//
// The endpoint (NewServer, serving Handler at /metrics on --metrics-bind-address, in place of controller-runtime's
// metrics server) writes the store's series in the text format straight from the store (text.go), into a
// pooled buffer: gathering them, a dto.Metric per series, left 17 MB of garbage a scrape at 10,000 objects. The
// rest of the registry is gathered and encoded by expfmt, and a request for another format (protobuf) is
// answered by promhttp over the whole registry, the store's series built as samples (exposition.go).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Rotations counts committed rotations by object and trigger.
	Rotations = newFamily(prometheus.CounterValue, "secret_rotator_rotations_total",
		"Rotations committed, by RotatedSecret and trigger (Created, TTLExpired, Manual, Emergency).", "trigger")

	// RotationDuration observes the time from a rotation's decision to its commit. It has no per-object series,
	// so it stays a client_golang vector.
	RotationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "secret_rotator_rotation_duration_seconds",
		Help:    "Seconds from the decision to rotate to the commit, by trigger.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
	}, []string{"trigger"})

	// Failures counts failed attempts and stalls by reason.
	Failures = newFamily(prometheus.CounterValue, "secret_rotator_failures_total",
		"Failed attempts and stalls, by RotatedSecret and reason (the Stalled condition's reason).", "reason")

	// Repairs counts targets written back because they no longer held the current value.
	Repairs = newFamily(prometheus.CounterValue, "secret_rotator_target_repairs_total",
		"Target Secrets written back without a rotation (hand edits, deleted Secrets), by RotatedSecret.", "")

	// NextRotation is when each RotatedSecret's TTL runs out, for alerts on values that are about to expire.
	NextRotation = newFamily(prometheus.GaugeValue, "secret_rotator_next_rotation_timestamp_seconds",
		"Unix time at which the current value's TTL runs out, by RotatedSecret.", "")

	// Outcomes counts how rotations ended, once each end is stored in status.history.
	Outcomes = newFamily(prometheus.CounterValue, "secret_rotator_rotation_outcomes_total",
		"Rotations ended, by RotatedSecret and outcome (Succeeded, Failed, RolledBack, Halted, Discarded), "+
			"counted when the end is stored in status.history.", "outcome")

	// LastOutcome is when the newest rotation of each outcome ended, from status.history.
	LastOutcome = newFamily(prometheus.GaugeValue, "secret_rotator_last_outcome_timestamp_seconds",
		"Unix time at which the newest rotation with this outcome ended, by RotatedSecret and outcome, "+
			"from status.history (absent when the history has none).", "outcome")

	// Stalled is 1 while a RotatedSecret has Stalled=True, with its reason; absent otherwise.
	Stalled = newFamily(prometheus.GaugeValue, "secret_rotator_stalled",
		"1 while the RotatedSecret has condition Stalled=True, with the condition's reason; absent otherwise.", "reason")

	// Rotating is 1 while a rotation is in progress (status.pending), with its step; absent otherwise.
	Rotating = newFamily(prometheus.GaugeValue, "secret_rotator_rotating",
		"1 while a rotation of the RotatedSecret is in progress (status.pending), with its step; absent otherwise.", "step")

	// Suspended is 1 while spec.suspend is true; absent otherwise.
	Suspended = newFamily(prometheus.GaugeValue, "secret_rotator_suspended",
		"1 while the RotatedSecret's spec.suspend is true; absent otherwise.", "")

	// FailedAttempts is status.failedAttempts: consecutive failed attempts, reset by a commit; absent when 0.
	FailedAttempts = newFamily(prometheus.GaugeValue, "secret_rotator_failed_attempts",
		"Consecutive failed rotation attempts (status.failedAttempts; a commit resets it), by RotatedSecret; "+
			"absent when there are none.", "")

	// ScheduledRotation is when a due rotation that waits (window, notice, dependencies) starts.
	ScheduledRotation = newFamily(prometheus.GaugeValue, "secret_rotator_scheduled_rotation_timestamp_seconds",
		"Unix time at which a due rotation waiting for its window, notice or dependencies starts "+
			"(status.scheduled.startTime); absent when none waits.", "")

	// RevocationsPending counts the credentials still to be revoked (status.revocations); absent when none is.
	RevocationsPending = newFamily(prometheus.GaugeValue, "secret_rotator_revocations_pending",
		"Credentials still to be revoked at the provider (status.revocations), by RotatedSecret; absent when "+
			"none is.", "")

	// OldestRevocation is when the oldest pending revocation was queued.
	OldestRevocation = newFamily(prometheus.GaugeValue, "secret_rotator_oldest_pending_revocation_timestamp_seconds",
		"Unix time at which the oldest credential still to be revoked was queued, by RotatedSecret; "+
			"absent when none is.", "")
)

// objects holds the series of every family above but RotationDuration; it is the one collector of all of them.
var objects = newStore(Rotations, Failures, Repairs, NextRotation, Outcomes, LastOutcome, Stalled, Rotating,
	Suspended, FailedAttempts, ScheduledRotation, RevocationsPending, OldestRevocation)

// The operator's registry is two. base is controller-runtime's registry, which everything else registers into
// (controller-runtime, client-go's adapters, the Go and process collectors, RotationDuration); own holds the
// store alone. ctrlmetrics.Registry becomes both: it registers into base and gathers from both, so its Gather
// (tests, promhttp for a protobuf scrape) returns every series as before, while Handler gathers base and writes
// the store's series itself. base also holds the store's descriptors, so a collector with one of its names is
// still refused at registration. controller-runtime's packages register into ctrlmetrics.Registry from their
// init functions, some before this one (into base itself) and some after (through the pair); replacing the
// variable is the one way to see them all without gathering the store, as a filtering Gatherer would.
var (
	base = ctrlmetrics.Registry
	own  = prometheus.NewRegistry()
)

// registry is ctrlmetrics.Registry: base's Register and Unregister, both registries' Gather.
type registry struct {
	prometheus.Registerer
	prometheus.Gatherer
}

// descriptors describes the store's families and collects nothing: it reserves their names in base.
type descriptors struct{ store *store }

// Describe sends the store's descriptors.
func (d descriptors) Describe(ch chan<- *prometheus.Desc) { d.store.Describe(ch) }

// Collect sends nothing: own collects the store.
func (descriptors) Collect(chan<- prometheus.Metric) {}

func init() {
	base.MustRegister(RotationDuration, descriptors{objects})
	own.MustRegister(objects)
	ctrlmetrics.Registry = registry{base, prometheus.Gatherers{base, own}}
}

// Forget drops the per-object series of a RotatedSecret that no longer exists.
func Forget(namespace, name string) {
	objects.forget(key{namespace, name})
}
