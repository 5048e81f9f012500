package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EmergencyRevoke is when an emergency revokes the compromised credential.
// +kubebuilder:validation:Enum=First;AfterReplacement
type EmergencyRevoke string

// Emergency revocation orders.
const (
	// RevokeFirst revokes the compromised credential before any restart: previous-value keys leave every target at
	// once, the http provider's revoke runs before the new credential is issued, a Stripe webhook's compromised
	// endpoint is deleted as soon as its twin exists, and a Stripe key's revocation is asked of its owner at once.
	RevokeFirst EmergencyRevoke = "First"
	// RevokeAfterReplacement revokes it once the new value is confirmed, as a normal rotation does.
	RevokeAfterReplacement EmergencyRevoke = "AfterReplacement"
)

// EmergencySpec is what an emergency rotation (rotation.tribi.io/emergency) does beyond replacing the value.
type EmergencySpec struct {
	// Revoke is when the compromised credential is revoked: First (the default) or AfterReplacement. A failed
	// revocation never stops the rotation: it is retried with backoff and shown as RevocationPending.
	// +kubebuilder:default=First
	// +optional
	Revoke EmergencyRevoke `json:"revoke,omitempty"`

	// Overrides temporarily harden the application while an emergency runs (e.g. RATE_LIMIT_CODES_PER_DAY=2 for
	// 24h): each is applied when the emergency starts, before any restart, and reverted (followed by a restart of
	// the stages) when its duration ends. A person who changes the key meanwhile wins: it is not reverted.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Overrides []Override `json:"overrides,omitempty"`

	// Jobs run once the new value is in service (purge sessions, clear CDN caches): same template rules as
	// validation Jobs, named <rotatedsecret>-purge-<name>-r<revision>. Their result is recorded and notified;
	// they never roll back.
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	// +optional
	Jobs []ValidationJob `json:"jobs,omitempty"`

	// JobsTimeout is how long the Jobs may take; default 15m, at least 1m.
	// +optional
	JobsTimeout Duration `json:"jobsTimeout,omitempty"`
}

// ObjectRef names an object in the RotatedSecret's namespace.
type ObjectRef struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// Override sets one key of a ConfigMap or Secret, in the RotatedSecret's namespace, for a while.
// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) != has(self.secretRef)",message="set exactly one of configMapRef or secretRef"
type Override struct {
	// ConfigMapRef is the ConfigMap to change.
	// +optional
	ConfigMapRef *ObjectRef `json:"configMapRef,omitempty"`
	// SecretRef is the Secret to change. Its original value is recorded in the staging Secret, never in status.
	// +optional
	SecretRef *ObjectRef `json:"secretRef,omitempty"`
	// Key to set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
	// Value to set while the override is active.
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
	// Duration the override stays ("24h"); a second emergency meanwhile extends it.
	Duration Duration `json:"duration"`
}

// OverrideKind is the kind of object an override changes.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type OverrideKind string

// Override kinds.
const (
	OverrideConfigMap OverrideKind = "ConfigMap"
	OverrideSecret    OverrideKind = "Secret"
)

// OverrideStatus is one active override.
type OverrideStatus struct {
	// Kind and Name of the object changed.
	Kind OverrideKind `json:"kind"`
	Name string       `json:"name"`
	// Key changed.
	Key string `json:"key"`
	// Incident is the emergency token that applied (or last extended) it.
	// +optional
	Incident string `json:"incident,omitempty"`
	// AppliedAt is when it was applied.
	AppliedAt metav1.Time `json:"appliedAt"`
	// ExpiresAt is when it is reverted.
	ExpiresAt metav1.Time `json:"expiresAt"`
	// Reverting is set once the revert has begun (so a crash in between is not mistaken for a person's edit).
	// +optional
	Reverting bool `json:"reverting,omitempty"`
}

// CompromisedRevision is a revision that was in service when an emergency was requested: its value is never
// written to any target again, never rolled back to and never accepted as a new value.
type CompromisedRevision struct {
	// Revision compromised.
	Revision int64 `json:"revision"`
	// Fingerprint of its value.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// Since is when it was marked.
	Since metav1.Time `json:"since"`
	// Incident is the emergency token that marked it.
	// +optional
	Incident string `json:"incident,omitempty"`
}

// IncidentEntryType is what happened in an incident.
// +kubebuilder:validation:Enum=Requested;Queued;Preempted;PreviousRemoved;Revoked;RevocationFailed;RevocationRequested;TargetsWritten;StageHealthy;Validation;OverrideApplied;OverrideReverted;OverrideKept;PurgeJob;Notified;Committed;Halted
type IncidentEntryType string

// Incident entry types.
const (
	IncidentRequested           IncidentEntryType = "Requested"
	IncidentQueued              IncidentEntryType = "Queued"
	IncidentPreempted           IncidentEntryType = "Preempted"
	IncidentPreviousRemoved     IncidentEntryType = "PreviousRemoved"
	IncidentRevoked             IncidentEntryType = "Revoked"
	IncidentRevocationFailed    IncidentEntryType = "RevocationFailed"
	IncidentRevocationRequested IncidentEntryType = "RevocationRequested"
	IncidentTargetsWritten      IncidentEntryType = "TargetsWritten"
	IncidentStageHealthy        IncidentEntryType = "StageHealthy"
	IncidentValidation          IncidentEntryType = "Validation"
	IncidentOverrideApplied     IncidentEntryType = "OverrideApplied"
	IncidentOverrideReverted    IncidentEntryType = "OverrideReverted"
	IncidentOverrideKept        IncidentEntryType = "OverrideKept"
	IncidentPurgeJob            IncidentEntryType = "PurgeJob"
	IncidentNotified            IncidentEntryType = "Notified"
	IncidentCommitted           IncidentEntryType = "Committed"
	IncidentHalted              IncidentEntryType = "Halted"
)

// IncidentEntry is one step of an incident's timeline.
type IncidentEntry struct {
	// Time it happened.
	Time metav1.Time `json:"time"`
	// Type of step.
	Type IncidentEntryType `json:"type"`
	// Message says what (never a value), at most 300 characters.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// IncidentOutcome is how an incident's rotation ended.
// +kubebuilder:validation:Enum=InProgress;Succeeded;Halted;Superseded
type IncidentOutcome string

// Incident outcomes.
const (
	IncidentOutcomeInProgress IncidentOutcome = "InProgress"
	IncidentOutcomeSucceeded  IncidentOutcome = "Succeeded"
	IncidentOutcomeHalted     IncidentOutcome = "Halted"
	// IncidentOutcomeSuperseded: a later emergency token replaced this one's rotation before it ended.
	IncidentOutcomeSuperseded IncidentOutcome = "Superseded"
)

// MaxIncidentEntries is how many steps one incident's timeline keeps (the first ones and the newest), and
// MaxIncidentMessage how many characters each message: 20 incidents stay well under the size of an object.
const (
	MaxIncidentEntries = 40
	MaxIncidentMessage = 300
)

// MaxIncidents is how many incidents status.incidents keeps (the newest).
const MaxIncidents = 20

// MaxCompromised is how many compromised revisions status.compromised keeps (the newest).
const MaxCompromised = 100

// Incident is the durable record of one emergency: enough to write the post-incident review days later, when the
// Events are long gone.
type Incident struct {
	// Token of the rotation.tribi.io/emergency annotation.
	Token string `json:"token"`
	// Reason given after the token.
	// +optional
	Reason string `json:"reason,omitempty"`
	// RequestedBy is the field manager that last set the annotation (e.g. kubectl-annotate), from managedFields.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty"`
	// RequestedAt is when the operator first saw the token.
	RequestedAt metav1.Time `json:"requestedAt"`
	// CompromisedRevision was in service when the emergency was requested (0: none yet).
	// +optional
	CompromisedRevision int64 `json:"compromisedRevision,omitempty"`
	// Revision is the emergency rotation's new revision.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// Outcome: InProgress, Succeeded, Halted or Superseded.
	Outcome IncidentOutcome `json:"outcome"`
	// EndTime is when the rotation ended.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// Timeline of what happened, oldest first (the first 12 entries and the newest).
	// +kubebuilder:validation:MaxItems=40
	// +listType=atomic
	// +optional
	Timeline []IncidentEntry `json:"timeline,omitempty"`
}
