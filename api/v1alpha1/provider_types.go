package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// SecretKeyRef names one key of a Secret in the RotatedSecret's namespace (e.g. the operator's own vendor
// credential).
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// StripeWebhookProvider rotates a Stripe webhook signing secret. Stripe cannot roll a signing secret through its
// API, so the operator creates a twin endpoint with the same URL, enabled events and API version (its secret,
// returned only at creation, is the new value), lets both deliver while apps accept either secret, and deletes
// the old endpoint once the new secret is confirmed. Outputs: value (whsec_...), endpoint_id.
// +kubebuilder:validation:XValidation:rule="has(self.endpointID) != has(self.url)",message="set exactly one of endpointID or url"
type StripeWebhookProvider struct {
	// APIKeySecretRef is the operator's own Stripe key (needs Webhook Endpoints: write).
	APIKeySecretRef SecretKeyRef `json:"apiKeySecretRef"`
	// EndpointID of the endpoint whose secret is rotated the first time (we_...).
	// +kubebuilder:validation:Pattern=`^we_[A-Za-z0-9]+$`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	EndpointID string `json:"endpointID,omitempty"`
	// URL finds the endpoint by its URL instead of its id.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	URL string `json:"url,omitempty"`
}

// StripeMode is the Stripe mode a key must belong to.
// +kubebuilder:validation:Enum=test;live
type StripeMode string

// Stripe modes.
const (
	StripeModeTest StripeMode = "test"
	StripeModeLive StripeMode = "live"
)

// StripeProbe is one request made with a candidate key to check its permissions.
type StripeProbe struct {
	// Method: GET (default) or POST.
	// +kubebuilder:validation:Enum=GET;POST
	// +kubebuilder:default=GET
	// +optional
	Method string `json:"method,omitempty"`
	// Path with query, e.g. /v1/payment_intents?limit=1.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^/v1/[-_./?=&a-zA-Z0-9]*$`
	Path string `json:"path"`
}

// StripeProbes are permission checks for a candidate key.
type StripeProbes struct {
	// Allow lists requests the key must be allowed to make.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Allow []StripeProbe `json:"allow,omitempty"`
	// Deny lists requests the key must be refused (403).
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Deny []StripeProbe `json:"deny,omitempty"`
}

// StripeSecretKeyProvider promotes a Stripe secret or restricted key that a person created in the Dashboard.
// Stripe keys cannot be created, rolled or revoked through any API: a person stages the new key, the operator
// checks it (prefix, mode, authentication, permission probes) and writes it everywhere; revoking the old key in the
// Dashboard stays a human step, which the operator reports and tracks until the old key stops working.
type StripeSecretKeyProvider struct {
	// StagedSecretRef is where a person puts the new key.
	StagedSecretRef SecretKeyRef `json:"stagedSecretRef"`
	// RequireRestricted refuses anything but a restricted key (rk_).
	// +optional
	RequireRestricted bool `json:"requireRestricted,omitempty"`
	// Mode the key must belong to: test or live.
	Mode StripeMode `json:"mode"`
	// Probes check the key's permissions.
	// +optional
	Probes *StripeProbes `json:"probes,omitempty"`
}

// HTTPURL is an https URL; http is accepted for loopback addresses only (tests).
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.matches('^http://(127\\\\.0\\\\.0\\\\.1|localhost|\\\\[::1\\\\])(:[0-9]+)?([/?].*)?$')",message="must be an https URL (http only for loopback)"
type HTTPURL string

// HTTPAuth is how the operator authenticates to the vendor.
type HTTPAuth struct {
	// Header carrying the credential. Default Authorization.
	// +kubebuilder:default=Authorization
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Header string `json:"header,omitempty"`
	// ValueTemplate renders the header value; {{ .Secret }} is the credential. Default "Bearer {{ .Secret }}".
	// +kubebuilder:default="Bearer {{ .Secret }}"
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ValueTemplate string `json:"valueTemplate,omitempty"`
	// SecretRef is the operator's own credential at the vendor.
	SecretRef SecretKeyRef `json:"secretRef"`
}

// HTTPRequest is one call to the vendor API. URL and Body may hold plain placeholders (no Go template actions):
// {{ .ID }} is the id of the credential concerned (revoke only), {{ .Revision }} the revision, {{ .Name }} and
// {{ .Namespace }} the RotatedSecret's. Anything else between {{ and }} is refused (InvalidSpec).
type HTTPRequest struct {
	// Method, e.g. POST. Default POST for generate, DELETE for revoke.
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
	// +optional
	Method string `json:"method,omitempty"`
	// URL of the call.
	URL HTTPURL `json:"url"`
	// Body sent as application/json.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Body string `json:"body,omitempty"`
}

// HTTPVerify checks a new credential before any target sees it.
type HTTPVerify struct {
	// Method, default GET.
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
	// +optional
	Method string `json:"method,omitempty"`
	// URL of the call.
	URL HTTPURL `json:"url"`
	// AuthWith names the output used as the credential of this call (rendered with auth.header and
	// auth.valueTemplate). Default value. Like an output name: 1 to 63 letters, digits or '_'.
	// +kubebuilder:default=value
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9_]+$')",message="authWith must name an output: letters, digits and '_' only"
	// +optional
	AuthWith string `json:"authWith,omitempty"`
	// ExpectStatus lists the acceptable status codes. Default [200].
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	ExpectStatus []int32 `json:"expectStatus,omitempty"`
}

// HTTPProvider issues and revokes credentials through any vendor's HTTP API (ConnectedYou, other eSIM providers).
// +kubebuilder:validation:XValidation:rule="!has(self.revoke) || has(self.id)",message="revoke needs id: the JSONPath of the credential id in the generate response"
// +kubebuilder:validation:XValidation:rule="!has(self.verify) || !has(self.verify.authWith) || self.verify.authWith in self.outputs",message="verify.authWith must name one of outputs",fieldPath=".verify.authWith"
type HTTPProvider struct {
	// Auth is the operator's own credential at the vendor.
	Auth HTTPAuth `json:"auth"`
	// Generate issues a new credential. It is not repeatable: the operator records a pending marker before the call
	// and never repeats it for a revision whose marker has no result (GenerateIncomplete).
	Generate HTTPRequest `json:"generate"`
	// Outputs maps output names to JSONPath expressions into the generate response, e.g. value: "{.api_key}".
	// 1 to 16 outputs. A name is 1 to 63 letters, digits or '_' (no '-' or '.': the staging Secret stores each
	// output under the key r<revision>.<output>, and targets[].from must be able to name it).
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && k.matches('^[a-zA-Z0-9_]+$'))",message="output names must be 1 to 63 letters, digits or '_'"
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=16
	Outputs map[string]string `json:"outputs"`
	// ID is the JSONPath of the credential id in the generate response; revoke uses it as {{ .ID }}.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ID string `json:"id,omitempty"`
	// Verify checks the new credential before any target sees it. Its authWith must name one of outputs.
	// +optional
	Verify *HTTPVerify `json:"verify,omitempty"`
	// Revoke retires a credential: the old one once the new one is confirmed, or the new one if the rotation fails.
	// 404 and 410 count as already revoked.
	// +optional
	Revoke *HTTPRequest `json:"revoke,omitempty"`
}

// GitHubActionsTarget mirrors a value into a GitHub Actions secret (repository or environment).
type GitHubActionsTarget struct {
	// Repository as owner/name.
	// +kubebuilder:validation:Pattern=`^[-_.a-zA-Z0-9]+/[-_.a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=200
	Repository string `json:"repository"`
	// Name of the Actions secret, e.g. BACKEND_JWT_SECRET.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// Environment makes it an environment secret; empty means a repository secret.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Environment string `json:"environment,omitempty"`
	// TokenSecretRef is a GitHub token allowed to write Actions secrets of the repository.
	TokenSecretRef SecretKeyRef `json:"tokenSecretRef"`
}

// MirrorStatus records which revision an external mirror (write-only, so it cannot be read back) holds.
type MirrorStatus struct {
	// Target identifies the mirror, e.g. github:tribi/backend/production/BACKEND_JWT_SECRET.
	Target string `json:"target"`
	// Revision last written.
	Revision int64 `json:"revision"`
}

// Revocation is a credential waiting to be revoked at its provider: the old one after a rotation is confirmed,
// or the new one after a rotation failed. Its staged values are kept until it is done.
type Revocation struct {
	// Revision of the credential.
	Revision int64 `json:"revision"`
	// Since is when it was queued.
	Since metav1.Time `json:"since"`
	// HumanRequired is true when only a person can revoke it (e.g. a Stripe key in the Dashboard); the operator
	// checks it now and then and drops the entry once the credential no longer works.
	// +optional
	HumanRequired bool `json:"humanRequired,omitempty"`
	// KeyHint is at most the last 4 characters of the key, to find it at the vendor.
	// +optional
	KeyHint string `json:"keyHint,omitempty"`
	// Attempts counts failed attempts; retries back off.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// Message says what is happening or what a person must do.
	// +optional
	Message string `json:"message,omitempty"`
	// Compromised is true for a credential an emergency revokes first: it is revoked even while its value is still
	// in the targets, and a person is asked again every minute, not every hour.
	// +optional
	Compromised bool `json:"compromised,omitempty"`
}
