package v1alpha1

// Condition types of a RotatedSecret.
const (
	// ConditionReady is True when every target holds the current revision and nothing is pending or failing.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is working towards Ready (kstatus).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without a change from a person (kstatus).
	ConditionStalled = "Stalled"
	// ConditionRotating is True while a rotation is in progress, with the reason of its current step (or of what
	// it waits for); False with the reason of how the last one ended (Rotated, RolledBack) or UpToDate. It
	// reports the rotation to people: the lock is status.pending, which only a commit, a rollback or a discard
	// clears.
	ConditionRotating = "Rotating"
	// ConditionRotationScheduled is True while a due rotation waits for its start time (notice, window,
	// dependencies); the message says when it starts and why it waits.
	ConditionRotationScheduled = "RotationScheduled"
	// ConditionNotificationFailing is True while a notification could not be delivered; rotations go on.
	ConditionNotificationFailing = "NotificationFailing"
	// ConditionDegraded is True when a workload stopped being healthy while a new value was observed
	// (spec.observe); False once the watch ended or the workloads are healthy again.
	ConditionDegraded = "Degraded"
	// ConditionRevocationPending is True while a compromised credential an emergency revokes first is not revoked
	// yet (a failed call retried with backoff, or a person asked to revoke it); the rotation goes on regardless.
	ConditionRevocationPending = "RevocationPending"
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
	// ReasonInvalidRequest: a rotate or emergency token is too long or not printable; nothing rotates for it and
	// it is copied nowhere.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonTargetRefused: a target Secret is one the operator never writes (immutable, or of a type Kubernetes
	// owns: service-account token, TLS, docker config, bootstrap token); found before any target was written.
	ReasonTargetRefused = "TargetRefused"

	// ReasonForbidden: Kubernetes RBAC refused an action the operator tried as the RotatedSecret's ServiceAccount;
	// the message names the verb, the resource and the ServiceAccount. Found before any target was written.
	ReasonForbidden = "Forbidden"
	// ReasonCrossNamespaceRef: a target or workload names another namespace and the operator runs with
	// --no-cross-namespace-refs.
	ReasonCrossNamespaceRef = "CrossNamespaceRef"
	// ReasonProtectedNamespace: the RotatedSecret, or a target or workload it names, is in a namespace the operator
	// is told to leave alone (--protected-namespaces).
	ReasonProtectedNamespace = "ProtectedNamespace"
	// ReasonTargetOwnedElsewhere: a target key is owned by another field manager (the message names it); the
	// RotatedSecret takes it over only once a person sets rotation.tribi.io/adopt: "true".
	ReasonTargetOwnedElsewhere = "TargetOwnedElsewhere"
	// ReasonStagingTampered: a staged value no longer matches the fingerprint status recorded for it (someone
	// edited the staging Secret); it is written nowhere.
	ReasonStagingTampered = "StagingTampered"

	// ReasonRotationNotice: notice was given of a rotation (Event; RotationScheduled's reason while the notice runs).
	ReasonRotationNotice = "RotationNotice"
	// ReasonWaitingForWindow: a due rotation waits for the next maintenance window.
	ReasonWaitingForWindow = "WaitingForWindow"
	// ReasonWindowMissed: no window opened within spec.schedule.maxDelay; the rotation starts anyway.
	ReasonWindowMissed = "WindowMissed"
	// ReasonWaitingForDependency: a due rotation waits for a RotatedSecret it depends on (named in the message).
	ReasonWaitingForDependency = "WaitingForDependency"
	// ReasonDegraded: a workload stopped being healthy while the new value was observed.
	ReasonDegraded = "Degraded"
	// ReasonObserving: the workloads are healthy and still watched after a commit.
	ReasonObserving = "Observing"
	// ReasonObserved: the watch after the commit ended with every workload healthy.
	ReasonObserved = "Observed"
	// ReasonPostRotationFailed: a post-rotation Job failed or did not finish in time; nothing is rolled back.
	ReasonPostRotationFailed = "PostRotationFailed"
	// ReasonPostRotationSucceeded: every post-rotation Job succeeded.
	ReasonPostRotationSucceeded = "PostRotationSucceeded"
	// ReasonQueued: a due rotation waits for a rollout slot (--max-concurrent-rollouts).
	ReasonQueued = "Queued"
	// ReasonValueReused: a new value equals the current, previous or a past value of a RotatedSecret (named in the
	// message); it is written nowhere.
	ReasonValueReused = "ValueReused"
	// ReasonNotificationFailing: a webhook did not accept a notification; it is retried with backoff.
	ReasonNotificationFailing = "NotificationFailing"
	// ReasonNotificationsDelivered: every notification was delivered.
	ReasonNotificationsDelivered = "NotificationsDelivered"

	// ReasonRollingOut: a rollout stage is restarting its workloads and waiting for them to be healthy.
	ReasonRollingOut = "RollingOut"
	// ReasonStageHealthy: every workload of a stage is healthy on the new revision.
	ReasonStageHealthy = "StageHealthy"
	// ReasonWorkloadNotFound: a workload named in a stage does not exist.
	ReasonWorkloadNotFound = "WorkloadNotFound"
	// ReasonWorkloadPaused: a Deployment in a stage is paused and would never roll.
	ReasonWorkloadPaused = "WorkloadPaused"
	// ReasonStageTimedOut: a stage was not healthy within its timeout.
	ReasonStageTimedOut = "StageTimedOut"
	// ReasonRolloutFailed: a Deployment reported ProgressDeadlineExceeded.
	ReasonRolloutFailed = "RolloutFailed"
	// ReasonValidating: validation Jobs are running.
	ReasonValidating = "Validating"
	// ReasonValidationFailed: a validation Job failed or did not finish in time.
	ReasonValidationFailed = "ValidationFailed"
	// ReasonValidationPassed: every validation Job succeeded.
	ReasonValidationPassed = "ValidationPassed"
	// ReasonRollingBack: the current value is back in every target and the stages are restarting on it.
	ReasonRollingBack = "RollingBack"
	// ReasonRolledBack: a rollback finished; the next automatic attempt backs off.
	ReasonRolledBack = "RolledBack"
	// ReasonHalted: the rotation failed and onFailure is Halt; targets and workloads are left as they are.
	ReasonHalted = "Halted"
	// ReasonGenerateIncomplete: a non-repeatable vendor call was started but its result was never recorded (the
	// operator stopped in between). It is not repeated; a person checks the vendor and sets a new rotate token.
	ReasonGenerateIncomplete = "GenerateIncomplete"
	// ReasonCredentialInvalid: the operator's own vendor credential is missing or refused (401/403).
	ReasonCredentialInvalid = "CredentialInvalid"
	// ReasonAwaitingStagedValue: the TTL ran out (or a rotation was asked for) but no new value is staged.
	ReasonAwaitingStagedValue = "AwaitingStagedValue"
	// ReasonOldCredentialRevoked: the old credential was revoked at the provider after the new one was confirmed.
	ReasonOldCredentialRevoked = "OldCredentialRevoked"
	// ReasonNewCredentialRevoked: the rotation failed and the new credential was revoked; the old one stays.
	ReasonNewCredentialRevoked = "NewCredentialRevoked"
	// ReasonRevokeFailed: revoking a credential failed; it is retried.
	ReasonRevokeFailed = "RevokeFailed"
	// ReasonRevocationRequired: only a person can revoke the old credential (e.g. in the Stripe Dashboard).
	ReasonRevocationRequired = "RevocationRequired"
	// ReasonMirrorFailed: writing an external mirror (GitHub Actions) failed.
	ReasonMirrorFailed = "MirrorFailed"

	// ReasonEmergencyStarted: an emergency rotation started (Event).
	ReasonEmergencyStarted = "EmergencyStarted"
	// ReasonEmergencyPreempted: an emergency discarded the rotation in progress or halted (Event).
	ReasonEmergencyPreempted = "EmergencyPreempted"
	// ReasonEmergencyQueued: an emergency token arrived while an emergency rotation runs; it is handled after it.
	ReasonEmergencyQueued = "EmergencyQueued"
	// ReasonEmergencyValidationFailed: an emergency's rollout or validation failed; it halts on the new value (the
	// compromised one is never written back), whatever onFailure says.
	ReasonEmergencyValidationFailed = "EmergencyValidationFailed"
	// ReasonCompromisedValue: a write would have put a compromised value into a target; it was refused.
	ReasonCompromisedValue = "CompromisedValue"
	// ReasonRevocationPending: a compromised credential is not revoked yet (RevocationPending's reason).
	ReasonRevocationPending = "RevocationPending"
	// ReasonCompromisedRevoked: a compromised credential is revoked (Event; RevocationPending=False).
	ReasonCompromisedRevoked = "CompromisedRevoked"
	// ReasonOverrideApplied: a temporary override of spec.emergency.overrides was applied.
	ReasonOverrideApplied = "OverrideApplied"
	// ReasonOverrideReverted: an override's duration ended and the original value (or its absence) is back.
	ReasonOverrideReverted = "OverrideReverted"
	// ReasonOverrideKept: a person changed an overridden key meanwhile: the operator leaves their value.
	ReasonOverrideKept = "OverrideKept"
	// ReasonOverrideFailed: an override could not be applied or reverted; retried.
	ReasonOverrideFailed = "OverrideFailed"
	// ReasonPurgeSucceeded / ReasonPurgeFailed: the emergency's purge Jobs ended; nothing is rolled back.
	ReasonPurgeSucceeded = "PurgeSucceeded"
	ReasonPurgeFailed    = "PurgeFailed"
)
