package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestartAnnotationPrefix is the prefix of the pod-template annotation that restarts a workload:
// `rotation.tribi.io/<rotatedsecret-name>: "<revision>"`. One annotation per RotatedSecret, so a workload that
// consumes several rotated secrets carries one each, and patching the same revision twice is a no-op.
const RestartAnnotationPrefix = "rotation.tribi.io/"

// RevisionEnv and RevisionLabel carry the revision under test into a validation Job, so a smoke test can tell
// which value it is checking.
const (
	RevisionEnv   = "ROTATION_REVISION"
	RevisionLabel = "rotation.tribi.io/revision"
)

// RolloutSpec restarts the workloads that read the secret, stage by stage, after the new value is in every target.
type RolloutSpec struct {
	// Stages run strictly in order; each waits until all its workloads are healthy (as `kubectl rollout status`
	// means it) before the next starts. E.g. background workers first, then API servers. 1 to 10 stages, each
	// with a distinct name.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	Stages []RolloutStage `json:"stages"`
}

// RolloutStage is one step of a rollout.
// +kubebuilder:validation:XValidation:rule="(has(self.workloads) && size(self.workloads) > 0) || has(self.selector)",message="a stage needs workloads or a selector"
type RolloutStage struct {
	// Name of the stage, e.g. workers or api: a DNS label (lower-case letters, digits and '-', at most 63).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Workloads restarted in this stage, at most 50. A stage needs workloads, a selector or both.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Workloads []WorkloadRef `json:"workloads,omitempty"`

	// Selector adds every Deployment, StatefulSet and DaemonSet in the RotatedSecret's namespace whose labels match.
	// A selector that does not parse (an operator other than In, NotIn, Exists or DoesNotExist, values with Exists
	// or DoesNotExist, none with In or NotIn, an invalid label key or value) stalls the rotation with InvalidSpec
	// when its stage is reached. It cannot be refused at apply: LabelSelector's lists and maps have no size limits
	// in the schema, so even a rule that only checks each operator exceeds the API server's CEL cost budget.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Timeout is how long the stage may take to become healthy ("10m"; d, h or m). At least 1m; default 10m. A
	// stage that times out fails the rotation: it is rolled back or halted as spec.validation.onFailure says.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^0+[dhm]$')",message="timeout must be at least 1m"
	// +kubebuilder:default="10m"
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
}

// WorkloadKind is a kind of workload the operator can restart.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type WorkloadKind string

// Workload kinds.
const (
	KindDeployment  WorkloadKind = "Deployment"
	KindStatefulSet WorkloadKind = "StatefulSet"
	KindDaemonSet   WorkloadKind = "DaemonSet"
)

// WorkloadRef names one workload.
type WorkloadRef struct {
	// Kind: Deployment, StatefulSet or DaemonSet.
	Kind WorkloadKind `json:"kind"`
	// Name of the workload: a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`
	// Namespace of the workload; empty means the RotatedSecret's namespace. A DNS label (RFC 1123: lower-case
	// letters, digits and '-', at most 63).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="namespace must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// FailurePolicy says what happens when a stage times out or validation fails.
// +kubebuilder:validation:Enum=Rollback;Halt
type FailurePolicy string

// Failure policies.
const (
	// FailureRollback writes the current (old) value back to every target, restarts the stages again in order and
	// discards the new value.
	FailureRollback FailurePolicy = "Rollback"
	// FailureHalt leaves everything as it is for a person; the RotatedSecret is Stalled.
	FailureHalt FailurePolicy = "Halt"
)

// ValidationSpec runs smoke-test Jobs after the rollout; the rotation commits only if all of them succeed.
type ValidationSpec struct {
	// Jobs run at the same time, each as `<rotatedsecret>-<job>-r<revision>`, owned by the RotatedSecret. The Job
	// gets the env var ROTATION_REVISION and the label rotation.tribi.io/revision. 1 to 10 Jobs with distinct
	// names; the RotatedSecret's name and a job's name together are at most 53 characters, so that Job names fit
	// in 63 (checked at apply on the RotatedSecret).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	// +optional
	Jobs []ValidationJob `json:"jobs,omitempty"`

	// Timeout for all Jobs to finish ("15m"; d, h or m). At least 1m; default 15m. A timeout counts as a failure.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^0+[dhm]$')",message="timeout must be at least 1m"
	// +kubebuilder:default="15m"
	// +optional
	Timeout Duration `json:"timeout,omitempty"`

	// OnFailure is Rollback (default) or Halt. It also applies when a rollout stage times out or fails.
	// +kubebuilder:default=Rollback
	// +optional
	OnFailure FailurePolicy `json:"onFailure,omitempty"`
}

// ValidationJob is one smoke test.
type ValidationJob struct {
	// Name of the check, e.g. smoke: a DNS label of at most 40 characters. The Job is named
	// <rotatedsecret>-<name>-r<revision>.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Template is a batch/v1 JobTemplateSpec ({metadata, spec}). The operator adds the revision env var and label,
	// sets ttlSecondsAfterFinished (1h) unless given, and makes the RotatedSecret the Job's controller. The schema
	// is left open to keep the CRD small (a full pod schema is ~900 KB): the operator checks the template with a
	// server-side dry run whenever the spec changes and reports a bad one as InvalidSpec before any rotation.
	// A template must leave out metadata.name, generateName, namespace and ownerReferences: the operator names,
	// places and owns the Job. They cannot be refused at apply, because an open schema gives CEL no field to read.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Template batchv1.JobTemplateSpec `json:"template"`
}

// WorkloadStatus is one workload of the current stage.
type WorkloadStatus struct {
	// Kind of the workload.
	Kind WorkloadKind `json:"kind"`
	// Namespace of the workload.
	Namespace string `json:"namespace"`
	// Name of the workload.
	Name string `json:"name"`
	// Revision the workload's pod template carries.
	Revision int64 `json:"revision"`
	// Ready is true once the workload is healthy on that revision.
	Ready bool `json:"ready"`
	// Message says what the operator is waiting for.
	// +optional
	Message string `json:"message,omitempty"`
}

// RolloutStatus is the rollout in progress.
type RolloutStatus struct {
	// Revision being rolled out: the pending revision, or the current one while rolling back.
	Revision int64 `json:"revision"`
	// RollingBack is true while the old value is being rolled out again.
	// +optional
	RollingBack bool `json:"rollingBack,omitempty"`
	// Stage in progress; empty once every stage is healthy.
	// +optional
	Stage string `json:"stage,omitempty"`
	// StageStartTime is when the stage in progress started.
	// +optional
	StageStartTime *metav1.Time `json:"stageStartTime,omitempty"`
	// CompletedStages in the order they became healthy.
	// +listType=atomic
	// +optional
	CompletedStages []string `json:"completedStages,omitempty"`
	// Workloads of the stage in progress.
	// +listType=atomic
	// +optional
	Workloads []WorkloadStatus `json:"workloads,omitempty"`
}

// JobResult is how a validation Job ended.
type JobResult string

// Job results.
const (
	JobRunning   JobResult = "Running"
	JobSucceeded JobResult = "Succeeded"
	JobFailed    JobResult = "Failed"
)

// ValidationJobStatus is one validation Job.
type ValidationJobStatus struct {
	// Name of the check in spec.validation.jobs.
	Name string `json:"name"`
	// JobName of the Job created for this revision.
	JobName string `json:"jobName"`
	// Result: Running, Succeeded or Failed.
	Result JobResult `json:"result"`
}

// ValidationStatus is the validation in progress or last finished.
type ValidationStatus struct {
	// Revision validated.
	Revision int64 `json:"revision"`
	// StartTime of the validation.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// Jobs and their results.
	// +listType=atomic
	// +optional
	Jobs []ValidationJobStatus `json:"jobs,omitempty"`
}

// PostRotationSpec runs Jobs once a rotation committed ("purge residual sessions").
type PostRotationSpec struct {
	// Jobs run once per committed revision, at the same time, as the validation Jobs do (same template rules; the
	// Job is named <rotatedsecret>-post-<name>-r<revision>). A failure or a timeout is a Warning Event
	// (PostRotationFailed) and a Failed notification; it never rolls back.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	Jobs []ValidationJob `json:"jobs"`

	// Timeout for all Jobs to finish; default 15m, at least 1m.
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
}
