package v1alpha1

// Condition types of a RotatedSecret.
const (
	// ConditionReady is True when every target holds the current revision and nothing is pending or failing.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is working towards Ready (kstatus).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without a change from a person (kstatus).
	ConditionStalled = "Stalled"
	// ConditionRotating is True while a rotation is in progress. It is both the trigger and the lock: no other
	// rotation starts until it is cleared by completion.
	ConditionRotating = "Rotating"
)

// Condition reasons. Event reasons are the same strings, so `kubectl describe` tells one story.
const (
	// ReasonUpToDate: every target holds the current revision.
	ReasonUpToDate = "UpToDate"
	// ReasonSuspended: spec.suspend is true.
	ReasonSuspended = "Suspended"
	// ReasonRotationStarted: a rotation was decided and recorded.
	ReasonRotationStarted = "RotationStarted"
	// ReasonGenerating: the provider is producing the new value.
	ReasonGenerating = "Generating"
	// ReasonStaged: the new value is in the staging Secret.
	ReasonStaged = "Staged"
	// ReasonWritingTargets: the new value is being written to the targets.
	ReasonWritingTargets = "WritingTargets"
	// ReasonRotated: a rotation committed.
	ReasonRotated = "Rotated"
	// ReasonPreviousRemoved: the grace period ended and the previous-value keys were removed.
	ReasonPreviousRemoved = "PreviousRemoved"
	// ReasonTargetDrift: a managed key was changed by someone else and has been restored.
	ReasonTargetDrift = "TargetDrift"
	// ReasonTargetSynced: a managed key was missing (new target, deleted Secret) and has been written.
	ReasonTargetSynced = "TargetSynced"
	// ReasonTargetNamespaceNotFound: a target names a namespace that does not exist.
	ReasonTargetNamespaceNotFound = "TargetNamespaceNotFound"
	// ReasonTargetWriteFailed: writing a target failed for another reason (RBAC, admission, conflict).
	ReasonTargetWriteFailed = "TargetWriteFailed"
	// ReasonInvalidSpec: the spec passed the schema but cannot work (e.g. a target reads an output the provider lacks).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonProviderFailed: the provider failed to produce a value.
	ReasonProviderFailed = "ProviderFailed"
	// ReasonStagingFailed: the staging Secret could not be read or written.
	ReasonStagingFailed = "StagingFailed"
	// ReasonStagingLost: the staging Secret lost a value that targets already hold; a person must look.
	ReasonStagingLost = "StagingLost"
	// ReasonBackingOff: the last attempt failed; the next one waits (status.failedAttempts, lastFailureTime).
	ReasonBackingOff = "BackingOff"
)
