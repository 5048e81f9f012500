// Package httpapi is the generic vendor HTTP provider (kind "http"): it issues a credential with one call to a
// vendor's API, checks it with another and revokes it with a third, as spec.provider.http describes. It serves
// ConnectedYou today and any vendor with a similar key API tomorrow.
//
// Nothing this package returns carries a credential, a generated value or any part of a response body: errors
// name the call, the status code and at most a vendor error code from a fixed allow-list (see vendorCodes). A
// transport failure is named by one of egress.Describe's phrases ("could not connect", "timed out", ...), never by
// an address, a port or an operating-system error text.
//
// Every call goes only where the admin's egress policy (Options.Egress, flag --http-allowed-hosts) allows: each
// rendered URL is checked before the request is built, and every connection again when it is made. A refusal is
// provider.Permanent in all three calls, and nothing is sent; in Generate the URL is checked before the
// create-pending guard.
//
// What a failed call returns:
//
//   - Generate: 401/403 a provider.CredentialError; 5xx, 429, a refused connection a plain error (nothing was
//     minted, the reconciler may clear its create-pending marker); a timeout the context or net timeout error
//     (provider.Ambiguous); 2xx whose body cannot be read, is not JSON, is too large or lacks an output or the id,
//     and a connection lost after the request was sent, a provider.IncompleteError; any other status and every
//     configuration problem provider.Permanent.
//   - Verify: 5xx, 429, a timeout or any transport failure a provider.TransientError (the candidate is kept and
//     verified again); any other status outside expectStatus (401 and 403 included: the candidate was refused)
//     provider.Permanent.
//   - Revoke: 2xx, 404, 410 success; 401/403 a provider.CredentialError; 5xx, 429, a timeout or any transport
//     failure a provider.TransientError; anything else provider.Permanent.
package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Defaults for Options and for specs that reach the provider without the CRD defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultAuthHeader       = "Authorization"
	DefaultAuthTemplate     = "Bearer {{ .Secret }}"
	DefaultGenerateMethod   = http.MethodPost
	DefaultVerifyMethod     = http.MethodGet
	DefaultRevokeMethod     = http.MethodDelete
)

// Options configure a Provider. The zero value is ready for production, and calls nothing: see Egress.
type Options struct {
	// Egress is the admin's list of hosts the provider may call (--http-allowed-hosts). Every rendered URL is
	// checked against it before the call, a refusal is provider.Permanent and nothing is sent; the calls go
	// through its client, which checks every connection again and never follows redirects. Nil allows nothing.
	Egress *egress.Policy
	// Timeout bounds each vendor call, from sending the request to reading the last byte of the answer, so a
	// vendor that never answers releases the reconciler quickly. Default DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps how much of a response body is read. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Provider issues, verifies and revokes credentials through a vendor's HTTP API.
type Provider struct {
	egress   *egress.Policy
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider configured by opts.
func New(opts Options) *Provider {
	// The policy's client has no timeout of its own (do gives each call its deadline) and returns a 3xx as it is:
	// a redirect would send the auth header (a custom one survives cross-host redirects) somewhere the spec does
	// not name, and a POST that becomes a GET would not mint anything.
	p := &Provider{egress: opts.Egress, client: opts.Egress.Client(0), timeout: opts.Timeout, maxBytes: opts.MaxResponseBytes}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.maxBytes <= 0 {
		p.maxBytes = DefaultMaxResponseBytes
	}
	return p
}

// httpSpec returns the http block of the provider spec, compiled.
func httpSpec(req provider.Request) (*rotationv1alpha1.HTTPProvider, *compiled, error) {
	c, err := compile(req.Spec.HTTP)
	if err != nil {
		return nil, nil, err
	}
	return req.Spec.HTTP, c, nil
}

// requestValues are what URL and body templates see: {{ .Revision }}, {{ .Name }}, {{ .Namespace }}. Revoke adds
// {{ .ID }}.
func requestValues(req provider.Request) map[string]string {
	return map[string]string{phRevision: strconv.FormatInt(req.Revision, 10), phName: req.Name, phNamespace: req.Namespace}
}

// authHeaderValue renders the auth header value for secret (the operator's credential, or a candidate in verify).
// Surrounding whitespace is dropped first: a Secret written with `echo` ends in a newline, which no header can
// carry. No error quotes the rendered value: it holds the secret.
func (c *compiled) authHeaderValue(secret []byte) (string, error) {
	value, err := c.authValue.render(map[string]string{phSecret: strings.TrimSpace(string(secret))}, asIs, MaxHeaderValueBytes)
	if err != nil {
		return "", err
	}
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "", provider.Permanent(fmt.Errorf("the rendered %s header contains a control character", c.authHeader))
		}
	}
	return value, nil
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

// Check implements provider.Provider with CheckSpec.
// Every call whose host is written out (no placeholder in it) is checked against the egress policy here, before
// anything is minted: a verify or revoke host the admin has not allowed would otherwise be found only after the
// generate call.
func (p *Provider) Check(spec rotationv1alpha1.ProviderSpec) error {
	if err := CheckSpec(spec.HTTP); err != nil {
		return err
	}
	calls := map[string]rotationv1alpha1.HTTPURL{"generate": spec.HTTP.Generate.URL}
	if spec.HTTP.Verify != nil {
		calls["verify"] = spec.HTTP.Verify.URL
	}
	if spec.HTTP.Revoke != nil {
		calls["revoke"] = spec.HTTP.Revoke.URL
	}
	for _, call := range []string{"generate", "verify", "revoke"} {
		origin, ok := literalOrigin(string(calls[call]))
		if !ok {
			continue
		}
		if err := p.egress.Check(origin); err != nil {
			return provider.Permanent(fmt.Errorf("spec.provider.http.%s.url: %w", call, err))
		}
	}
	return nil
}

// literalOrigin returns "scheme://host[:port]/" of a URL template whose scheme and host hold no placeholder.
func literalOrigin(raw string) (string, bool) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || raw == "" {
		return "", false
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if host == "" || strings.Contains(scheme+host, "{{") {
		return "", false
	}
	return scheme + "://" + host + "/", true
}

// Inputs implements provider.Provider: nothing is staged by a person.
func (p *Provider) Inputs(rotationv1alpha1.ProviderSpec) []string { return nil }

// Revocable implements provider.Provider: only with a revoke call, and only for credentials the operator issued
// (the one in service before its first rotation has no recorded id).
func (p *Provider) Revocable(spec rotationv1alpha1.ProviderSpec, rev int64) bool {
	return spec.HTTP != nil && spec.HTTP.Revoke != nil && rev > 0
}
