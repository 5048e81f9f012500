package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// RevokesBeforeIssue implements provider.EarlyRevoker: a vendor key is revoked by its id, which needs nothing of the
// next one, so an emergency revokes the compromised key before it issues a new one.
func (p *Provider) RevokesBeforeIssue(rotationv1alpha1.ProviderSpec) bool { return true }

// Revoke retires the credential Generate described in old.State with one call to spec.revoke, made with the
// operator's credential. It does nothing without spec.revoke, and nothing when old has no id: a credential that
// predates the operator (revision 0) or came from a spec without spec.id was not issued by it, and it does not
// revoke it. 2xx, 404 and 410 succeed (already gone); 401/403 are a CredentialError; 5xx, 429, a timeout and any
// other transport failure a provider.TransientError; anything else is permanent.
//
// In the URL {{ .ID }} is percent-encoded (everything but letters, digits and -._~), in the body JSON-string
// escaped, so an odd id can neither reach another path nor break the body.
func (p *Provider) Revoke(ctx context.Context, req provider.Request, old provider.Result) error {
	spec, c, err := httpSpec(req)
	if err != nil || spec.Revoke == nil {
		return err
	}
	if len(bytes.TrimSpace(old.State)) == 0 {
		return nil
	}
	var st state
	if err := json.Unmarshal(old.State, &st); err != nil {
		return provider.Permanent(fmt.Errorf("revoke: the state of revision %d is not {\"id\": ...}", req.Revision))
	}
	if st.ID == "" {
		return nil
	}
	values := requestValues(req)
	values[phID] = st.ID
	rawURL, err := c.revokeURL.render(values, escapePath, MaxURLBytes)
	if err != nil {
		return err
	}
	body, err := c.revokeBody.render(values, escapeJSON, MaxBodyBytes)
	if err != nil {
		return err
	}
	if req.Credentials == nil {
		return provider.Permanent(errors.New("no credentials reader in the request"))
	}
	secret, err := req.Credentials.Credential(ctx, spec.Auth.SecretRef)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(secret)) == 0 {
		return &provider.CredentialError{Ref: spec.Auth.SecretRef, Err: errors.New("the key is empty")}
	}
	value, err := c.authHeaderValue(secret)
	if err != nil {
		return err
	}
	method := spec.Revoke.Method
	if method == "" {
		method = DefaultRevokeMethod
	}
	r, err := p.newRequest(ctx, "spec.provider.http.revoke.url", method, rawURL, body, c.authHeader, value)
	if err != nil {
		return err
	}
	call := fmt.Sprintf("revoke of revision %d", req.Revision)
	resp, err := p.do(r)
	switch {
	case provider.IsPermanent(err):
		// The egress policy refused the connection: revoking again later cannot help.
		return fmt.Errorf("%s: %w", call, err)
	case err != nil:
		return provider.Transient(fmt.Errorf("%s: %w", call, err))
	}
	if success(resp.status) || resp.status == http.StatusNotFound || resp.status == http.StatusGone {
		return nil
	}
	return statusError(call, resp, spec.Auth.SecretRef, true)
}
