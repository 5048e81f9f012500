package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
)

// response is a vendor's answer: its status and at most MaxResponseBytes of its body.
type response struct {
	// status is 0 when no answer arrived.
	status int
	body   []byte
	// tooLarge means the body was longer than MaxResponseBytes; body is then empty.
	tooLarge bool
	// sent means the whole request was written before the call failed: the vendor may have acted on it.
	sent bool
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

// newRequest builds a call to the vendor; body is sent as application/json when it is not empty. It carries no
// deadline yet: do gives each call its own. A URL the egress policy refuses is a permanent error naming the field,
// the host and the flag, and no request is built.
func (p *Provider) newRequest(ctx context.Context, field, method, rawURL, body, header, value string) (*http.Request, error) {
	if err := checkURL(field, rawURL); err != nil {
		return nil, err
	}
	if err := p.egress.Check(rawURL); err != nil {
		return nil, provider.Permanent(fmt.Errorf("%s: %w", field, err))
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

// do sends r under the provider's per-call timeout and reads at most MaxResponseBytes of the answer. On a
// transport failure (connection refused, timeout, connection lost) the response says whether the request had
// been written in full and, when an answer arrived before the body could be read, its status. The error text is
// one of egress.Describe's phrases, without address, port, path or operating-system text, so a RotatedSecret's
// status is no port scanner; it still wraps the transport's error, so context.DeadlineExceeded and net timeouts
// stay visible to errors.Is and errors.As. A connection the egress policy refused (a host allowed through a
// wildcard that resolves to a private address) is provider.Permanent: nothing was sent, and retrying cannot help.
func (p *Provider) do(r *http.Request) (response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	// The transport reports the write from its own goroutine.
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) { sent.Store(info.Err == nil) }}
	resp, err := p.client.Do(r.WithContext(httptrace.WithClientTrace(ctx, trace)))
	out := response{sent: sent.Load()}
	if err != nil {
		// The path and query may carry a credential id from the vendor, should anyone print the wrapped error.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = (&url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host, Path: "/..."}).String()
		}
		err = fmt.Errorf("calling the vendor: %w", egress.Redact(err))
		if errors.Is(err, egress.ErrRefused) {
			return out, provider.Permanent(err)
		}
		return out, err
	}
	defer func() { _ = resp.Body.Close() }()
	out.status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBytes+1))
	if err != nil {
		return out, fmt.Errorf("reading the vendor's %d response: %w", resp.StatusCode, egress.Redact(err))
	}
	if int64(len(body)) > p.maxBytes {
		out.tooLarge = true
		return out, nil
	}
	out.body = body
	return out, nil
}

// retryable reports whether a status is worth trying again later: the vendor failed or asked us to slow down.
func retryable(status int) bool { return status >= 500 || status == http.StatusTooManyRequests }

// statusError turns an unwanted answer to a call made with the operator's credential (ref) into an error: 401 and
// 403 are a CredentialError, anything but 5xx and 429 permanent (a 3xx included: redirects are not followed). 5xx
// and 429 are a TransientError for a repeatable call (revoke), a plain error for generate: the vendor refused, so
// nothing was minted and the call may be made again.
func statusError(call string, resp response, ref rotationv1alpha1.SecretKeyRef, repeatable bool) error {
	err := fmt.Errorf("%s: the vendor answered %d%s", call, resp.status, vendorCode(resp))
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		return &provider.CredentialError{Ref: ref, Err: err}
	case retryable(resp.status) && repeatable:
		return provider.Transient(err)
	case retryable(resp.status):
		return err
	}
	return provider.Permanent(err)
}
