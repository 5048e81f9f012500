// Package httpapi is the generic vendor HTTP provider (kind "http"): it issues a credential with one call to a
// vendor's API, checks it with another and revokes it with a third, as spec.provider.http describes. It serves
// ConnectedYou today and any vendor with a similar key API tomorrow.
//
// Nothing this package returns carries a credential, a generated value or a response body: errors name the call,
// the status code and at most a short, sanitised vendor error code.
package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"text/template"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Defaults for Options and for specs that reach the provider without the CRD defaults.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultAuthHeader       = "Authorization"
	DefaultAuthTemplate     = "Bearer {{ .Secret }}"
	DefaultGenerateMethod   = http.MethodPost
	DefaultVerifyMethod     = http.MethodGet
	DefaultRevokeMethod     = http.MethodDelete
)

// Options configure a Provider. The zero value is ready for production.
type Options struct {
	// HTTPClient makes the vendor calls. Default: a client with a DefaultTimeout timeout. The provider uses a
	// copy that never follows redirects, so a credential is only ever sent to the URL in the spec.
	HTTPClient *http.Client
	// MaxResponseBytes caps how much of a response body is read. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Provider issues, verifies and revokes credentials through a vendor's HTTP API.
type Provider struct {
	client   *http.Client
	maxBytes int64
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider configured by opts.
func New(opts Options) *Provider {
	var c http.Client
	if opts.HTTPClient != nil {
		c = *opts.HTTPClient
	} else {
		c.Timeout = DefaultTimeout
	}
	// A redirect would send the auth header (a custom one survives cross-host redirects) somewhere the spec does
	// not name, and a POST that becomes a GET would not mint anything: the 3xx is returned as it is instead.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	maxBytes := opts.MaxResponseBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	return &Provider{client: &c, maxBytes: maxBytes}
}

// httpSpec returns the http block of the provider spec.
func httpSpec(req provider.Request) (*rotationv1alpha1.HTTPProvider, error) {
	if req.Spec.HTTP == nil {
		return nil, provider.Permanent(fmt.Errorf("spec.provider.http is not set"))
	}
	return req.Spec.HTTP, nil
}

// templateData is what the URL and body templates see: {{ .Revision }}, {{ .Name }}, {{ .Namespace }}, and in
// revoke {{ .ID }}. A key that is not there ({{ .ID }} in generate) is an error, not an empty string.
func templateData(req provider.Request) map[string]any {
	return map[string]any{"Revision": req.Revision, "Name": req.Name, "Namespace": req.Namespace}
}

// render executes the Go template text; field names the spec field in errors. The data it sees carries no secret,
// so its errors may be shown.
func render(field, text string, data map[string]any) (string, error) {
	t, err := template.New(field).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", provider.Permanent(fmt.Errorf("%s is not a valid template: %w", field, err))
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", provider.Permanent(fmt.Errorf("rendering %s: %w", field, err))
	}
	return b.String(), nil
}

// authHeader renders the auth header for secret (the operator's credential, or a candidate in verify). Surrounding
// whitespace is dropped first: a Secret written with `echo` ends in a newline, which no header can carry. Execution
// errors are not wrapped: the data they could quote is the secret.
func authHeader(auth rotationv1alpha1.HTTPAuth, secret []byte) (name, value string, err error) {
	name, text := auth.Header, auth.ValueTemplate
	if name == "" {
		name = DefaultAuthHeader
	}
	if text == "" {
		text = DefaultAuthTemplate
	}
	if !validHeaderName(name) {
		return "", "", provider.Permanent(fmt.Errorf("spec.provider.http.auth.header %q is not a valid header name", name))
	}
	t, err := template.New("auth").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", "", provider.Permanent(fmt.Errorf("spec.provider.http.auth.valueTemplate is not a valid template: %w", err))
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]any{"Secret": strings.TrimSpace(string(secret))}); err != nil {
		return "", "", provider.Permanent(fmt.Errorf("spec.provider.http.auth.valueTemplate could not be rendered"))
	}
	for _, c := range b.String() {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return "", "", provider.Permanent(fmt.Errorf("the rendered %s header contains a control character", name))
		}
	}
	return name, b.String(), nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// Outputs implements provider.Provider: the names of spec.provider.http.outputs, sorted.
func (p *Provider) Outputs(spec rotationv1alpha1.ProviderSpec) []string {
	if spec.HTTP == nil {
		return nil
	}
	names := make([]string, 0, len(spec.HTTP.Outputs))
	for name := range spec.HTTP.Outputs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Revocable implements provider.Provider: only with a revoke call, and only for credentials the operator issued
// (the one in service before its first rotation has no recorded id).
func (p *Provider) Revocable(spec rotationv1alpha1.ProviderSpec, rev int64) bool {
	return spec.HTTP != nil && spec.HTTP.Revoke != nil && rev > 0
}
