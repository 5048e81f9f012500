package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations a user sets on a RotatedSecret. Their value is a token: a value the operator has not handled yet
// starts exactly one rotation; the operator records the handled token in status and never removes the annotation.
const (
	// RotateAnnotation forces a normal rotation now: `kubectl annotate rotsec jwt-secret rotation.tribi.io/rotate=$(date +%s) --overwrite`.
	RotateAnnotation = "rotation.tribi.io/rotate"
	// EmergencyAnnotation forces a rotation now without a grace period: the previous value is not kept.
	// Its value is "<token> <reason>": the token is the first word (at most 128 printable characters); the reason,
	// sanitised and cut at 256 characters, is copied into the history record.
	EmergencyAnnotation = "rotation.tribi.io/emergency"
	// AdoptAnnotation, set to "true" by a person, lets the RotatedSecret take over target keys another field
	// manager (Helm, Argo CD, kubectl, a controller) owns. Without it the first write of a key someone else owns
	// stalls with TargetOwnedElsewhere. A key another RotatedSecret owns is never adopted.
	AdoptAnnotation = "rotation.tribi.io/adopt"
)

// Labels and annotations the operator puts on the Secrets it writes.
const (
	// ManagedLabel marks every Secret the operator writes (targets, staging Secrets, the fingerprint key), so that
	// its cache holds those Secrets and no others.
	ManagedLabel = "rotation.tribi.io/managed"
	// RotatedSecretLabel names the RotatedSecret a staging Secret belongs to.
	RotatedSecretLabel = "rotation.tribi.io/rotated-secret"
)

// Duration is a length of time written as a whole number followed by d (days), h (hours) or m (minutes), e.g.
// "90d", "2160h" or "90m".
// +kubebuilder:validation:MaxLength=12
// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,5}[dhm]$')",message="must be a whole number followed by d, h or m, e.g. 90d, 2160h or 90m"
type Duration string

// RotatedSecretSpec declares one secret value: who owns it, how often it is rotated, where it comes from and
// which Secret keys receive it.
// +kubebuilder:validation:XValidation:rule="!has(self.previous) || !self.previous.keep || self.targets.all(t, self.targets.all(u, u.key + self.previous.suffix != t.key))",message="previous.suffix makes a previous-value key collide with a target key",fieldPath=".previous.suffix"
type RotatedSecretSpec struct {
	// Description says what the secret is for; shown in `kubectl describe`.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// Owner is the person or team answerable for this secret (e.g. "Backend lead"). Required.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Owner string `json:"owner"`

	// TTL is how long a value lives before it is rotated: a whole number with unit d, h or m ("90d", "2160h").
	// At least 1h.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]{1,5}[dhm]$') || int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) >= 60",message="ttl must be at least 1h"
	TTL Duration `json:"ttl"`

	// Suspend stops TTL and manual rotations (and the first one) while true. An emergency token is still honoured:
	// an emergency cannot wait for someone to un-suspend.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ServiceAccountName is the ServiceAccount, in the RotatedSecret's namespace, the operator acts as for this
	// RotatedSecret: it writes the staging Secret and the targets, restarts workloads, creates validation Jobs and
	// reads credential and staged-value Secrets impersonating it, so Kubernetes RBAC decides what the RotatedSecret
	// may do. Empty means the operator's --default-service-account; with that flag unset too the operator uses its
	// own identity (single-tenant mode, docs/security.md).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Provider produces new values. Exactly one provider block must be set.
	Provider ProviderSpec `json:"provider"`

	// Targets receive the value: Secret keys, or GitHub Actions secrets. At least one, at most 16; no two may name
	// the same secretName, namespace and key, or the same GitHub secret. Two targets spelled the same are refused
	// at apply; the operator also catches an empty namespace beside the RotatedSecret's own (InvalidSpec).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(t, self.exists_one(u, has(t.githubActions) ? (has(u.githubActions) && u.githubActions.repository == t.githubActions.repository && u.githubActions.name == t.githubActions.name && (has(u.githubActions.environment) ? u.githubActions.environment : '') == (has(t.githubActions.environment) ? t.githubActions.environment : '')) : (!has(u.githubActions) && u.secretName == t.secretName && u.__namespace__ == t.__namespace__ && u.key == t.key)))",message="two targets write the same Secret key or the same GitHub secret"
	// +listType=atomic
	Targets []Target `json:"targets"`

	// Rollout restarts the workloads that read the value, stage by stage, waiting for each to be healthy.
	// +optional
	Rollout *RolloutSpec `json:"rollout,omitempty"`

	// Validation runs smoke-test Jobs after the rollout and rolls back (or halts) if one fails.
	// +optional
	Validation *ValidationSpec `json:"validation,omitempty"`

	// Previous keeps the old value beside the new one for a grace period, so apps can accept both while they restart.
	// +optional
	Previous *PreviousSpec `json:"previous,omitempty"`

	// Schedule limits TTL rotations to maintenance windows (and manual ones with rotation.tribi.io/respect-window).
	// An emergency never waits.
	// +optional
	Schedule *ScheduleSpec `json:"schedule,omitempty"`

	// Notice is how long before a TTL or manual rotation starts people are told: condition RotationScheduled, Event
	// RotationNotice and a Scheduled notification; the rotation starts once it has elapsed ("10m", "1h"). An
	// emergency does not wait, but is notified at once.
	// +optional
	Notice Duration `json:"notice,omitempty"`

	// Notify sends rotation events to webhooks (Slack or JSON), at least once each, never a value. A failing
	// notification never holds or fails a rotation: it raises NotificationFailing.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Notify []NotifySpec `json:"notify,omitempty"`

	// DependsOn names RotatedSecrets that must rotate first (staging before production): a TTL or manual rotation
	// waits until each has completed a successful rotation that started after this one became due, and has stayed
	// Ready for dependsOnSoak. An emergency does not wait. Cycles are refused.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	DependsOn []DependencyRef `json:"dependsOn,omitempty"`

	// DependsOnSoak is how long each dependency must have stayed Ready after its rotation. Default 1h.
	// +optional
	DependsOnSoak Duration `json:"dependsOnSoak,omitempty"`

	// PostRotation runs Jobs after each commit (e.g. purge residual sessions); their failure warns and notifies, and
	// never rolls back.
	// +optional
	PostRotation *PostRotationSpec `json:"postRotation,omitempty"`

	// Observe keeps watching every workload of every stage for a while after a commit ("monitor for at least 30
	// minutes"): one that stops being healthy sets Degraded=True, a Warning Event and a Degraded notification, and
	// with onDegraded: Rollback (while the previous value is still kept) rolls back to it.
	// +optional
	Observe *ObserveSpec `json:"observe,omitempty"`

	// Emergency says what an emergency rotation does beyond replacing the value: when the compromised credential is
	// revoked, temporary hardening (overrides) and purge Jobs. Without it an emergency still revokes first.
	// +optional
	Emergency *EmergencySpec `json:"emergency,omitempty"`

	// RevisionHistoryLimit is how many rotations status.history keeps. Default 10.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// ProviderSpec selects where new values come from. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.random) ? 1 : 0) + (has(self.stripeWebhook) ? 1 : 0) + (has(self.stripeSecretKey) ? 1 : 0) + (has(self.http) ? 1 : 0) == 1",message="exactly one provider must be set (random, stripeWebhook, stripeSecretKey or http)"
type ProviderSpec struct {
	// Random generates cryptographically random bytes, like `openssl rand -hex 32`. Its only output is "value".
	// +optional
	Random *RandomProvider `json:"random,omitempty"`

	// StripeWebhook rotates a Stripe webhook signing secret through a twin endpoint. Outputs: value, endpoint_id.
	// +optional
	StripeWebhook *StripeWebhookProvider `json:"stripeWebhook,omitempty"`

	// StripeSecretKey checks and promotes a Stripe secret or restricted key staged by a person. Output: value.
	// +optional
	StripeSecretKey *StripeSecretKeyProvider `json:"stripeSecretKey,omitempty"`

	// HTTP issues, verifies and revokes credentials through a vendor's HTTP API. Outputs: as spec.provider.http.outputs says.
	// +optional
	HTTP *HTTPProvider `json:"http,omitempty"`
}

// RandomEncoding is how random bytes are written out.
// +kubebuilder:validation:Enum=hex;base64;base64url;alphanumeric
type RandomEncoding string

// Random encodings.
const (
	EncodingHex          RandomEncoding = "hex"
	EncodingBase64       RandomEncoding = "base64"
	EncodingBase64URL    RandomEncoding = "base64url"
	EncodingAlphanumeric RandomEncoding = "alphanumeric"
)

// RandomProvider generates a value from a cryptographic random source.
type RandomProvider struct {
	// Length is the number of random bytes (hex, base64, base64url) or characters (alphanumeric). 16 to 512; default 32.
	// `length: 32, encoding: hex` gives the 64 hex characters of `openssl rand -hex 32`.
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=512
	// +kubebuilder:default=32
	// +optional
	Length int32 `json:"length,omitempty"`

	// Encoding is hex (default), base64 (standard, padded), base64url (unpadded) or alphanumeric ([A-Za-z0-9]).
	// +kubebuilder:default=hex
	// +optional
	Encoding RandomEncoding `json:"encoding,omitempty"`
}

// Target is one key of one Kubernetes Secret, or one GitHub Actions secret, that receives a provider output.
// +kubebuilder:validation:XValidation:rule="has(self.githubActions) != (size(self.secretName) > 0)",message="set exactly one of secretName (with key) or githubActions"
// +kubebuilder:validation:XValidation:rule="size(self.secretName) == 0 || size(self.key) > 0",message="key is required with secretName"
type Target struct {
	// SecretName is the Secret to write. It is created if it does not exist; if it exists only the keys this
	// RotatedSecret manages are changed (server-side apply, one field manager per RotatedSecret).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
	// +kubebuilder:default=""
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Namespace of the Secret; empty (the default) means the RotatedSecret's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	// +kubebuilder:default=""
	// +optional
	Namespace string `json:"namespace"`

	// Key is the data key written, e.g. JWT_SECRET. Required with secretName.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]*$`
	// +kubebuilder:default=""
	// +optional
	Key string `json:"key,omitempty"`

	// GitHubActions mirrors the value into a GitHub Actions secret instead of a Kubernetes Secret.
	// +optional
	GitHubActions *GitHubActionsTarget `json:"githubActions,omitempty"`

	// From names the provider output written to this key. Default "value"; the random provider has no other.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_]+$`
	// +kubebuilder:default=value
	// +optional
	From string `json:"from,omitempty"`
}

// PreviousSpec says whether and for how long the old value stays beside the new one.
type PreviousSpec struct {
	// Keep writes the previous value under <key><suffix> after a rotation. An emergency rotation never keeps it.
	// +optional
	Keep bool `json:"keep,omitempty"`

	// Suffix appended to each target key for the previous value. Default "_PREVIOUS" (JWT_SECRET_PREVIOUS).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:default=_PREVIOUS
	// +optional
	Suffix string `json:"suffix,omitempty"`

	// GracePeriod is how long the previous value is kept ("24h", "7d"; d, h or m; "0m" removes it at once).
	// Default 24h.
	// +kubebuilder:default="24h"
	// +optional
	GracePeriod Duration `json:"gracePeriod,omitempty"`
}

// RotatedSecret declares a secret value the operator generates, writes into Kubernetes Secrets and rotates on TTL
// expiry or on request.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rotsec,categories=all
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="TTL",type=string,JSONPath=`.spec.ttl`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.currentRevision`
// +kubebuilder:printcolumn:name="Next Rotation",type=string,JSONPath=`.status.nextRotationTime`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,priority=1
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.pending.step`,priority=1
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.rollout.stage`,priority=1
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.status.currentFingerprint`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 244",message="metadata.name must be at most 244 characters: the staging Secret is named <name>-rotation"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.validation) || !has(self.spec.validation.jobs) || self.spec.validation.jobs.all(j, size(self.metadata.name) + size(j.name) <= 53)",message="metadata.name and each validation job name together must be at most 53 characters: Jobs are named <name>-<job>-r<revision>, at most 63",fieldPath=".spec.validation.jobs"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.postRotation) || self.spec.postRotation.jobs.all(j, size(self.metadata.name) + size(j.name) <= 48)",message="metadata.name and each post-rotation job name together must be at most 48 characters: Jobs are named <name>-post-<job>-r<revision>, at most 63",fieldPath=".spec.postRotation.jobs"
type RotatedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RotatedSecretSpec   `json:"spec,omitempty"`
	Status RotatedSecretStatus `json:"status,omitempty"`
}

// RotatedSecretList is a list of RotatedSecrets.
// +kubebuilder:object:root=true
type RotatedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RotatedSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RotatedSecret{}, &RotatedSecretList{})
}
