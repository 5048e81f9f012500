package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RespectWindowAnnotation, set to "true" beside a rotate token, makes that manual rotation wait for the next
// maintenance window (and give notice) like a TTL rotation. An emergency never waits.
const RespectWindowAnnotation = "rotation.tribi.io/respect-window"

// ScheduleSpec limits TTL rotations to maintenance windows.
type ScheduleSpec struct {
	// Windows in which a TTL rotation may start. A rotation that starts in a window and outlives it finishes. None:
	// any time.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Windows []MaintenanceWindow `json:"windows,omitempty"`

	// TimeZone of the windows: an IANA name such as Europe/Paris (default UTC). A window is local wall-clock time:
	// a start that does not exist on a daylight-saving day opens right after the gap, one that occurs twice opens
	// at its first occurrence.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:default=UTC
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// MaxDelay is how long a due value may wait for a window: once overdue by this much it rotates anyway, with a
	// Warning Event WindowMissed. Default 7d; at least 1h.
	// +kubebuilder:default="7d"
	// +optional
	MaxDelay Duration `json:"maxDelay,omitempty"`
}

// Weekday is a day of the week, as three letters.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// MaintenanceWindow opens on each of its days at start (local time) for duration.
type MaintenanceWindow struct {
	// Days the window opens on.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	Days []Weekday `json:"days"`

	// Start is the local time the window opens, "HH:MM" (24-hour clock).
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`

	// Duration the window stays open ("2h", "90m"); at most 7d. A window may cross midnight.
	Duration Duration `json:"duration"`
}

// NotifyFormat is the body of a notification.
// +kubebuilder:validation:Enum=slack;json
type NotifyFormat string

// Notification formats.
const (
	// NotifySlack is a Slack-compatible {"text": ...}.
	NotifySlack NotifyFormat = "slack"
	// NotifyJSON is the documented JSON document (docs/notifications.md).
	NotifyJSON NotifyFormat = "json"
)

// NotifyEvent is a rotation event that can be notified.
// +kubebuilder:validation:Enum=Scheduled;Started;Succeeded;Failed;RolledBack;Halted;Emergency;Degraded;Purge
type NotifyEvent string

// Notification events.
const (
	NotifyScheduled  NotifyEvent = "Scheduled"
	NotifyStarted    NotifyEvent = "Started"
	NotifySucceeded  NotifyEvent = "Succeeded"
	NotifyFailed     NotifyEvent = "Failed"
	NotifyRolledBack NotifyEvent = "RolledBack"
	NotifyHalted     NotifyEvent = "Halted"
	NotifyEmergency  NotifyEvent = "Emergency"
	NotifyDegraded   NotifyEvent = "Degraded"
	// NotifyPurge: an emergency's purge Jobs (spec.emergency.jobs) finished; the message says how.
	NotifyPurge NotifyEvent = "Purge"
)

// NotifySpec sends rotation events to a webhook.
type NotifySpec struct {
	// Webhook receives the events with a POST.
	Webhook WebhookSpec `json:"webhook"`

	// Format of the body: slack ({"text": ...}) or json (the default; docs/notifications.md).
	// +kubebuilder:default=json
	// +optional
	Format NotifyFormat `json:"format,omitempty"`

	// On lists the events sent; empty means all of them.
	// +kubebuilder:validation:MaxItems=8
	// +listType=set
	// +optional
	On []NotifyEvent `json:"on,omitempty"`
}

// WebhookSpec is where notifications go.
type WebhookSpec struct {
	// URLSecretRef is the Secret key (in the RotatedSecret's namespace) holding the webhook URL: a Slack incoming
	// webhook URL is itself a credential. Read as the RotatedSecret's ServiceAccount; its host must be in the
	// operator's --http-allowed-hosts.
	URLSecretRef SecretKeyRef `json:"urlSecretRef"`
}

// ScheduledRotation is a rotation that was announced and waits for its start time.
type ScheduledRotation struct {
	// Trigger that will start it (TTLExpired or Manual).
	Trigger Trigger `json:"trigger"`
	// DueTime is when the rotation became due (the TTL ran out, or the token was set).
	DueTime metav1.Time `json:"dueTime"`
	// StartTime is when it starts: the window and the notice taken into account.
	StartTime metav1.Time `json:"startTime"`
	// NoticeTime is when notice was given; empty without spec.notice.
	// +optional
	NoticeTime *metav1.Time `json:"noticeTime,omitempty"`
	// WindowMissed is true when no window opened before spec.schedule.maxDelay ran out: it starts anyway.
	// +optional
	WindowMissed bool `json:"windowMissed,omitempty"`
}

// NotificationStatus records the notifications of a RotatedSecret: the ones not delivered yet, and the last
// delivery and failure.
type NotificationStatus struct {
	// Outbox holds the notifications decided and not yet delivered. Each is recorded here before it is sent and
	// removed after the webhook answered 2xx, so a restart sends it again with the same id (at least once).
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Outbox []Delivery `json:"outbox,omitempty"`

	// LastDelivered is the last notification a webhook accepted.
	// +optional
	LastDelivered *Delivery `json:"lastDelivered,omitempty"`

	// LastFailure is the last failed attempt to deliver one (its message says why: a status code or a fixed
	// phrase, never the URL).
	// +optional
	LastFailure *Delivery `json:"lastFailure,omitempty"`

	// Dropped counts notifications given up after their last attempt.
	// +optional
	Dropped int32 `json:"dropped,omitempty"`
}

// Delivery is one notification to one webhook.
type Delivery struct {
	// ID identifies the notification; a receiver deduplicates on it (header Idempotency-Key).
	ID string `json:"id"`
	// Event notified.
	Event NotifyEvent `json:"event"`
	// Sink is the index of the spec.notify entry it goes to.
	Sink int32 `json:"sink"`
	// Revision it is about.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// Time the event happened.
	Time metav1.Time `json:"time"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// NextAttempt is when it is tried again after a failure.
	// +optional
	NextAttempt *metav1.Time `json:"nextAttempt,omitempty"`
	// Message is what the notification says (never a value), or on a failure why it failed.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// DependencyRef names a RotatedSecret that must rotate first.
type DependencyRef struct {
	// Name of the RotatedSecret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the RotatedSecret; empty means this one's. Another namespace needs the operator to run with
	// --no-cross-namespace-refs=false, and read access for this RotatedSecret's ServiceAccount.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// DegradedPolicy is what happens when a workload stops being healthy while a new value is observed.
// +kubebuilder:validation:Enum=Notify;Rollback
type DegradedPolicy string

// Degraded policies.
const (
	// DegradedNotify sets Degraded=True, emits a Warning Event and a Degraded notification.
	DegradedNotify DegradedPolicy = "Notify"
	// DegradedRollback does that and, while the previous value is still kept (spec.previous), rolls back to it as
	// a failed validation would.
	DegradedRollback DegradedPolicy = "Rollback"
)

// ObserveSpec keeps watching the workloads after a rotation committed.
type ObserveSpec struct {
	// Duration of the watch after each commit ("30m").
	Duration Duration `json:"duration"`

	// OnDegraded: Notify (default) or Rollback.
	// +kubebuilder:default=Notify
	// +optional
	OnDegraded DegradedPolicy `json:"onDegraded,omitempty"`
}

// ObservationStatus is the watch over the workloads after the last commit.
type ObservationStatus struct {
	// Revision observed.
	Revision int64 `json:"revision"`
	// Until is when the watch ends.
	Until metav1.Time `json:"until"`
	// Degraded is true once a workload stopped being healthy during the watch.
	// +optional
	Degraded bool `json:"degraded,omitempty"`
	// Message names the workload and what is wrong with it.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}
