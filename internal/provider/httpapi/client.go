package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// response is a vendor's answer: its status and at most MaxResponseBytes of its body.
type response struct {
	status int
	body   []byte
	// tooLarge means the body was longer than MaxResponseBytes; body is then empty.
	tooLarge bool
}

// checkURL enforces the CRD's URL rule after templating: https, or http to a loopback name (tests).
func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return provider.Permanent(fmt.Errorf("%s is not a URL", field))
	}
	if u.User != nil {
		// Credentials belong in spec.provider.http.auth, where they are read from a Secret.
		return provider.Permanent(fmt.Errorf("%s must not carry user information", field))
	}
	switch host := strings.ToLower(u.Hostname()); {
	case u.Scheme == "https" && host != "":
		return nil
	case u.Scheme == "http" && (host == "127.0.0.1" || host == "localhost" || host == "::1"):
		return nil
	}
	return provider.Permanent(fmt.Errorf("%s must be an https URL (http only to 127.0.0.1, localhost or [::1]), not %s://%s",
		field, u.Scheme, u.Host))
}

// newRequest builds a call to the vendor; body is sent as application/json when it is not empty.
func newRequest(ctx context.Context, field, method, rawURL, body, header, value string) (*http.Request, error) {
	if err := checkURL(field, rawURL); err != nil {
		return nil, err
	}
	if body != "" && !json.Valid([]byte(body)) {
		return nil, provider.Permanent(fmt.Errorf("the rendered body of %s is not valid JSON", field))
	}
	r, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
	if err != nil {
		return nil, provider.Permanent(fmt.Errorf("building the %s %s request: %w", method, field, err))
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set(header, value)
	return r, nil
}

// do sends r and reads at most MaxResponseBytes of the answer. A transport failure (connection refused, timeout)
// is retryable; the error names the method and URL, which come from the spec and carry no secret.
func (p *Provider) do(r *http.Request) (response, error) {
	resp, err := p.client.Do(r)
	if err != nil {
		return response{}, fmt.Errorf("calling the vendor: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBytes+1))
	if err != nil {
		return response{}, fmt.Errorf("reading the vendor's %d response: %w", resp.StatusCode, err)
	}
	if int64(len(body)) > p.maxBytes {
		return response{status: resp.StatusCode, tooLarge: true}, nil
	}
	return response{status: resp.StatusCode, body: body}, nil
}

// retryable reports whether a status is worth trying again later: the vendor failed or asked us to slow down.
func retryable(status int) bool { return status >= 500 || status == http.StatusTooManyRequests }

// statusError turns an unwanted answer to a call made with the operator's credential (ref) into an error: 401 and
// 403 are a CredentialError, 5xx and 429 retryable, anything else permanent (a 3xx included: redirects are not
// followed). Nothing of the body is quoted but an allow-listed vendor code.
func statusError(call string, resp response, ref rotationv1alpha1.SecretKeyRef) error {
	err := fmt.Errorf("%s: the vendor answered %d%s", call, resp.status, vendorCode(resp))
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		return &provider.CredentialError{Ref: ref, Err: err}
	case retryable(resp.status):
		return err
	}
	return provider.Permanent(err)
}
