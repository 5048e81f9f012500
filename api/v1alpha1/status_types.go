package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Trigger says why a rotation started.
// +kubebuilder:validation:Enum=Created;TTLExpired;Manual;Emergency;TargetDrift
type Trigger string

// Rotation triggers.
const (
	TriggerCreated     Trigger = "Created"
	TriggerTTLExpired  Trigger = "TTLExpired"
	TriggerManual      Trigger = "Manual"
	TriggerEmergency   Trigger = "Emergency"
	TriggerTargetDrift Trigger = "TargetDrift"
)

// Outcome is how a history record ended.
type Outcome string

// Outcomes of a history record.
const (
	OutcomeInProgress Outcome = "InProgress"
	OutcomeSucceeded  Outcome = "Succeeded"
	OutcomeFailed     Outcome = "Failed"
	// OutcomeRepaired records a TargetDrift repair: the current value was written back, no new revision.
	OutcomeRepaired Outcome = "Repaired"
	// OutcomeRolledBack: a stage timed out or validation failed; the previous value is back everywhere.
	OutcomeRolledBack Outcome = "RolledBack"
	// OutcomeHalted: a stage timed out or validation failed and onFailure is Halt (or it was an emergency).
	OutcomeHalted Outcome = "Halted"
	// OutcomeDiscarded: an emergency discarded the rotation before it ended.
	OutcomeDiscarded Outcome = "Discarded"
)

// Phase summarises status for `kubectl get`.
type Phase string

// Phases.
const (
	PhasePending   Phase = "Pending"
	PhaseRotating  Phase = "Rotating"
	PhaseReady     Phase = "Ready"
	PhaseStalled   Phase = "Stalled"
	PhaseSuspended Phase = "Suspended"
	// PhaseQueued: a rotation is due and waits for a rollout slot (--max-concurrent-rollouts).
	PhaseQueued Phase = "Queued"
)

// RotationStep is how far an in-progress rotation has got. Each step is persisted before the next begins.
type RotationStep string

// Rotation steps, in order.
const (
	// StepDecided: the rotation and its revision are decided; nothing is staged yet. Seen in status only when the
	// attempt failed before staging (e.g. the provider failed).
	StepDecided RotationStep = "Decided"
	// StepStaged: the new value is in the staging Secret and its fingerprint in status; targets are being written.
	StepStaged RotationStep = "Staged"
	// StepTargetsWritten: every target holds the new value; the rollout (or, without one, the commit) follows.
	StepTargetsWritten RotationStep = "TargetsWritten"
	// StepRollingOut: workloads are being restarted stage by stage (status.rollout).
	StepRollingOut RotationStep = "RollingOut"
	// StepValidating: validation Jobs run (status.validation).
	StepValidating RotationStep = "Validating"
	// StepConfirmed: the rollout is healthy and validation passed (or neither is configured); the commit follows.
	StepConfirmed RotationStep = "Confirmed"
	// StepRollingBack: the rotation failed; the current value is back in every target and the stages restart.
	StepRollingBack RotationStep = "RollingBack"
	// StepHalted: the rotation failed and spec.validation.onFailure is Halt; a person decides.
	StepHalted RotationStep = "Halted"
)

// PendingRotation is the rotation in progress. While it is set, status.conditions has Rotating=True and no other
// rotation starts; it is cleared when the rotation commits.
type PendingRotation struct {
	// Revision the rotation produces (currentRevision + 1).
	Revision int64 `json:"revision"`
	// Trigger that started it.
	Trigger Trigger `json:"trigger"`
	// Emergency rotations do not keep the previous value.
	// +optional
	Emergency bool `json:"emergency,omitempty"`
	// Step reached so far.
	Step RotationStep `json:"step"`
	// StartTime of the rotation.
	StartTime metav1.Time `json:"startTime"`
	// Fingerprint of the staged value, set at StepStaged.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// Message says why the rotation started (the emergency reason, the token, the TTL).
	// +optional
	Message string `json:"message,omitempty"`
	// FailureReason is why a rollout or validation failed, set when the rotation starts rolling back or halts.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
}

// RotationRecord is one entry of status.history.
type RotationRecord struct {
	// Revision produced (or repaired) by this rotation.
	Revision int64 `json:"revision"`
	// Trigger that started it.
	Trigger Trigger `json:"trigger"`
	// StartTime of the rotation.
	StartTime metav1.Time `json:"startTime"`
	// CompletionTime of the rotation; empty while in progress.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Outcome: InProgress, Succeeded, Failed, Repaired, RolledBack or Halted.
	Outcome Outcome `json:"outcome"`
	// Message gives details (never a value).
	// +optional
	Message string `json:"message,omitempty"`
	// Fingerprint of the value this revision produced.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
}

// RotatedSecretStatus is what the operator observed and did.
type RotatedSecretStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled (kstatus, for `kubectl wait` and GitOps health checks) and Rotating
	// (a rotation is in progress; it is both the trigger and the lock).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase summarises the conditions: Pending, Rotating, Ready, Stalled, Suspended or Queued.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// CurrentRevision is the revision every target holds; 0 before the first rotation.
	// +optional
	CurrentRevision int64 `json:"currentRevision,omitempty"`

	// CurrentFingerprint identifies the current value: a prefix of HMAC-SHA256 keyed with the operator's own key,
	// never a plain hash, so it can be compared but not brute-forced.
	// +optional
	CurrentFingerprint string `json:"currentFingerprint,omitempty"`

	// PreviousRevision is the revision still written under the previous-value keys; 0 when none is.
	// +optional
	PreviousRevision int64 `json:"previousRevision,omitempty"`

	// PreviousExpiryTime is when the previous-value keys are removed.
	// +optional
	PreviousExpiryTime *metav1.Time `json:"previousExpiryTime,omitempty"`

	// LastRotationTime is when the current revision was committed.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// NextRotationTime is when the TTL of the current revision runs out.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// LastHandledRotateRequest is the last rotation.tribi.io/rotate token acted on (at most 128 printable
	// characters: a longer or unprintable token is refused and never copied here).
	// +optional
	LastHandledRotateRequest string `json:"lastHandledRotateRequest,omitempty"`

	// LastHandledEmergencyRequest is the token (the first word) of the last rotation.tribi.io/emergency value acted
	// on; editing only the reason after it is not a new request.
	// +optional
	LastHandledEmergencyRequest string `json:"lastHandledEmergencyRequest,omitempty"`

	// FailedAttempts counts consecutive failed attempts; retries back off exponentially from it.
	// +optional
	FailedAttempts int32 `json:"failedAttempts,omitempty"`

	// LastFailureTime is when the last attempt failed.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// Scheduled is the rotation that is due and waits for its start time (a maintenance window, the notice, its
	// dependencies); nil when none is.
	// +optional
	Scheduled *ScheduledRotation `json:"scheduled,omitempty"`

	// PostRotation is the post-rotation Jobs of the last committed revision (spec.postRotation).
	// +optional
	PostRotation *ValidationStatus `json:"postRotation,omitempty"`

	// Observation is the watch over the workloads after the last commit (spec.observe).
	// +optional
	Observation *ObservationStatus `json:"observation,omitempty"`

	// Notifications records what was notified and what is still to be delivered.
	// +optional
	Notifications *NotificationStatus `json:"notifications,omitempty"`

	// Pending is the rotation in progress, if any.
	// +optional
	Pending *PendingRotation `json:"pending,omitempty"`

	// Rollout is the rollout in progress (or the last one, with every stage completed).
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`

	// Validation is the validation in progress or last finished.
	// +optional
	Validation *ValidationStatus `json:"validation,omitempty"`

	// ClaimedKeys are the target keys this RotatedSecret has written, as "<namespace>/<secret>/<key>" (previous-value
	// keys included). Only these are taken back with force when someone else changed them (drift repair); the first
	// write of any other key never takes it from another field manager.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	ClaimedKeys []string `json:"claimedKeys,omitempty"`

	// Mirrors records the revision each external (write-only) target holds.
	// +listType=atomic
	// +optional
	Mirrors []MirrorStatus `json:"mirrors,omitempty"`

	// Revocations are credentials still to be revoked at the provider (the old one once the new one is confirmed,
	// the new one after a failed rotation), including those only a person can revoke.
	// +listType=atomic
	// +optional
	Revocations []Revocation `json:"revocations,omitempty"`

	// Compromised are the revisions in service when an emergency was requested, newest last (at most 100, never
	// trimmed by revisionHistoryLimit). Their values are never written to any target again.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Compromised []CompromisedRevision `json:"compromised,omitempty"`

	// QueuedEmergencyRequest is an emergency token set while an emergency rotation runs: it is handled once that
	// one ends (the latest token wins).
	// +optional
	QueuedEmergencyRequest string `json:"queuedEmergencyRequest,omitempty"`

	// Overrides are the active temporary overrides of spec.emergency.overrides, with their expiry.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Overrides []OverrideStatus `json:"overrides,omitempty"`

	// OverrideRestart is the restart of the stages after an override was reverted (so pods read the original value
	// again); nil when none runs.
	// +optional
	OverrideRestart *RolloutStatus `json:"overrideRestart,omitempty"`

	// OverriddenEmergencyRequest is the emergency token whose spec.emergency.overrides were applied (or extended):
	// an emergency applies them once, even when they expire before its rotation ends.
	// +optional
	OverriddenEmergencyRequest string `json:"overriddenEmergencyRequest,omitempty"`

	// PurgeJobs are the spec.emergency.jobs of the last emergency rotation.
	// +optional
	PurgeJobs *ValidationStatus `json:"purgeJobs,omitempty"`

	// Incidents records every emergency, newest first (at most 20, never trimmed by revisionHistoryLimit).
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Incidents []Incident `json:"incidents,omitempty"`

	// History of rotations, newest first, at most spec.revisionHistoryLimit entries.
	// +listType=atomic
	// +optional
	History []RotationRecord `json:"history,omitempty"`
}
