package plan

import "time"

// Report is what the next rotation of one RotatedSecret would do, as the operator would do it against the cluster
// as it is now, and what would stop it. It carries names, keys, revisions and times, never a value. The JSON
// field names are the plugin's -o json/yaml output: keep them stable.
type Report struct {
	// RotatedSecret is "<namespace>/<name>".
	RotatedSecret string `json:"rotatedSecret"`
	// Time is when the plan was made (the clock of Input).
	Time time.Time `json:"time"`
	// ActsAs is who the operator acts as for it: "ServiceAccount <namespace>/<name>", or "the operator" in
	// single-tenant mode.
	ActsAs string `json:"actsAs"`
	// Phase and CurrentRevision are the RotatedSecret's status now; NextRevision is the revision the next
	// rotation gets (one past every revision used so far).
	Phase           string `json:"phase,omitempty"`
	CurrentRevision int64  `json:"currentRevision"`
	NextRevision    int64  `json:"nextRevision"`
	// InProgress describes a rotation already under way (status.pending); the plan is then of the one after it.
	InProgress string `json:"inProgress,omitempty"`

	// Schedule is when the next rotation starts.
	Schedule Schedule `json:"schedule"`
	// Targets are the Kubernetes Secrets written, in spec order; Mirrors the GitHub Actions secrets.
	Targets []Target `json:"targets"`
	Mirrors []Mirror `json:"mirrors,omitempty"`
	// Stages are the rollout stages, in order, with the workloads each resolves to today.
	Stages []Stage `json:"stages,omitempty"`
	// Jobs are the Jobs the rotation would run (validation, post-rotation, an emergency's purge).
	Jobs []Job `json:"jobs,omitempty"`
	// Dependencies are spec.dependsOn and whether each lets the rotation start.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// Notifications are the webhooks of spec.notify.
	Notifications []Notification `json:"notifications,omitempty"`
	// Access is the RBAC check of every action the operator would take as ActsAs.
	Access Access `json:"access"`
	// Refusals are what would stop the rotation before it did anything (or, for Forbidden on an action the
	// operator does not pre-flight, when it gets there), with the operator's condition reason and message.
	Refusals []Refusal `json:"refusals,omitempty"`
	// Notes are what could not be read or checked, and why.
	Notes []string `json:"notes,omitempty"`
}

// Schedule is when the next rotation starts, as the operator computes it.
type Schedule struct {
	// Trigger of the next rotation: Created (the first value), Manual (a rotate token), Emergency, TTLExpired.
	Trigger string `json:"trigger,omitempty"`
	// Due is since when it is (or will be) due.
	Due *time.Time `json:"due,omitempty"`
	// Windows describes spec.schedule ("" without windows: any time).
	Windows string `json:"windows,omitempty"`
	// Planned is Due moved to the next window; WindowMissed: no window within maxDelay, it runs outside one.
	Planned      *time.Time `json:"planned,omitempty"`
	WindowMissed bool       `json:"windowMissed,omitempty"`
	// Notice is spec.notice; NoticeAt when it is (or was, NoticeGiven) given.
	Notice      string     `json:"notice,omitempty"`
	NoticeAt    *time.Time `json:"noticeAt,omitempty"`
	NoticeGiven bool       `json:"noticeGiven,omitempty"`
	// Start is when it starts, dependencies allowing.
	Start *time.Time `json:"start,omitempty"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

// Target is one Kubernetes Secret the rotation writes.
type Target struct {
	// Secret is "<namespace>/<name>".
	Secret string `json:"secret"`
	// Exists is false when the rotation would create it; Unknown when it could not be read.
	Exists  bool `json:"exists"`
	Unknown bool `json:"unknown,omitempty"`
	// Keys written, sorted.
	Keys []Key `json:"keys"`
}

// Key is one data key of a target.
type Key struct {
	Name string `json:"name"`
	// From is the provider output written to it.
	From string `json:"from"`
	// Previous is true for a previous-value key (<key><suffix>): it gets the value in service now.
	Previous bool `json:"previous,omitempty"`
	// Exists is true when the Secret has the key now.
	Exists bool `json:"exists"`
	// OwnedBy names the other field managers that own the key now.
	OwnedBy []string `json:"ownedBy,omitempty"`
}

// Mirror is one GitHub Actions secret the rotation writes (before any Kubernetes target).
type Mirror struct {
	// Target is "github:<owner>/<repo>[/<environment>]/<name>".
	Target string `json:"target"`
	// Revision it holds now, as status.mirrors records it (GitHub secrets cannot be read back).
	Revision int64 `json:"revision"`
	// Token is the Secret and key of the GitHub token, "<name>/<key>".
	Token string `json:"token"`
}

// Stage is one rollout stage.
type Stage struct {
	Name     string `json:"name"`
	Timeout  string `json:"timeout"`
	Selector string `json:"selector,omitempty"`
	// Workloads are what the stage resolves to now, in the operator's order (kind, namespace, name).
	Workloads []Workload `json:"workloads"`
}

// Workload is one workload of a stage and its health now.
type Workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Health is healthy, progressing, paused, failed or missing, as the operator judges it (internal/rollout).
	Health string `json:"health"`
	// Ready and Desired pods.
	Ready   int32 `json:"ready"`
	Desired int32 `json:"desired"`
	// Revision of this RotatedSecret its pod template carries (0: none).
	Revision int64 `json:"revision"`
	// Message is the operator's description of its health.
	Message string `json:"message,omitempty"`
}

// Job is one Job the rotation would create.
type Job struct {
	// Kind is validation, post-rotation or purge (an emergency's).
	Kind string `json:"kind"`
	// Name in the spec, and the Job's name for NextRevision.
	Name    string `json:"name"`
	JobName string `json:"jobName"`
	// ServiceAccount its pods run as; CreatedAs who creates it.
	ServiceAccount string `json:"serviceAccount"`
	CreatedAs      string `json:"createdAs"`
	// When it runs.
	When string `json:"when"`
	// Conflict is set when a Job of that name exists already and is not this RotatedSecret's.
	Conflict string `json:"conflict,omitempty"`
}

// Dependency is one entry of spec.dependsOn.
type Dependency struct {
	// RotatedSecret is "<namespace>/<name>".
	RotatedSecret string `json:"rotatedSecret"`
	Exists        bool   `json:"exists"`
	// Phase, CurrentRevision and Ready are its status now.
	Phase           string `json:"phase,omitempty"`
	CurrentRevision int64  `json:"currentRevision,omitempty"`
	Ready           bool   `json:"ready"`
	// Satisfied is true when it has rotated since the next rotation became due and soaked: it holds nothing.
	Satisfied bool `json:"satisfied"`
	// Until is when the soak ends, when only time is missing.
	Until *time.Time `json:"until,omitempty"`
	// Message is what the operator would say while it waits for it.
	Message string `json:"message,omitempty"`
}

// Notification is one webhook of spec.notify.
type Notification struct {
	// Sink is its index in spec.notify.
	Sink   int    `json:"sink"`
	Format string `json:"format"`
	// Events sent (all of them when spec.notify[].on is empty).
	Events []string `json:"events"`
	// URLSecret is the Secret and key holding the URL, "<name>/<key>".
	URLSecret string `json:"urlSecret"`
	// URLCheck says whether the URL would be accepted (scheme, and --http-allowed-hosts): "ok", the reason it is
	// not, or why it was not checked. Never the URL.
	URLCheck string `json:"urlCheck"`
}

// Access is the RBAC check of what the operator does as the RotatedSecret's ServiceAccount.
type Access struct {
	// Checked is false when nothing could be checked; Message then says why.
	Checked bool `json:"checked"`
	// Method is how: impersonation (a SelfSubjectAccessReview as the ServiceAccount, as the operator asks),
	// SubjectAccessReview, LocalSubjectAccessReview, or none.
	Method  string `json:"method"`
	Message string `json:"message,omitempty"`
	// Checks, in the order the operator would ask them.
	Checks []Check `json:"checks"`
}

// Check is one action and whether RBAC allows it.
type Check struct {
	// Action, e.g. `patch secrets "env" in namespace team-b`.
	Action string `json:"action"`
	// For says what it is for (target, workload, validation Job ...).
	For string `json:"for"`
	// Preflight is true for the actions the operator asks before it generates a value (a refusal then stops the
	// rotation with nothing written); the others fail when the operator gets to them.
	Preflight bool `json:"preflight"`
	// Result is allowed, refused or unknown (Message says why).
	Result  string `json:"result"`
	Message string `json:"message,omitempty"`
}

// Refusal is what would stop the rotation: the operator's reason (Forbidden, CrossNamespaceRef, ProtectedNamespace,
// TargetRefused, TargetOwnedElsewhere, TargetNamespaceNotFound, InvalidSpec ...) and its message.
type Refusal struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Results of a Check.
const (
	Allowed = "allowed"
	Refused = "refused"
	Unknown = "unknown"
)

// Health of a workload.
const (
	Healthy     = "healthy"
	Progressing = "progressing"
	Paused      = "paused"
	Failed      = "failed"
	Missing     = "missing"
)
