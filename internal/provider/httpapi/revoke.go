package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tribi/secret-rotator/internal/provider"
)

// Revoke retires the credential Generate described in old.State with one call to spec.revoke, made with the
// operator's credential. It does nothing without spec.revoke, and nothing when old has no id: a credential that
// predates the operator (revision 0) or came from a spec without spec.id was not issued by it, and it does not
// revoke it. 2xx, 404 and 410 succeed (already gone); 401/403 are a CredentialError; 5xx, 429 and transport
// failures are retryable; anything else is permanent.
//
// In the URL {{ .ID }} is percent-encoded (everything but letters, digits and -._~), in the body JSON-string
// escaped, so an odd id can neither reach another path nor break the body.
func (p *Provider) Revoke(ctx context.Context, req provider.Request, old provider.Result) error {
	spec, err := httpSpec(req)
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
	data := templateData(req)
	data["ID"] = escapePath(st.ID)
	rawURL, err := render("spec.provider.http.revoke.url", string(spec.Revoke.URL), data)
	if err != nil {
		return err
	}
	quoted, err := json.Marshal(st.ID)
	if err != nil {
		return err
	}
	data["ID"] = string(quoted[1 : len(quoted)-1])
	body, err := render("spec.provider.http.revoke.body", spec.Revoke.Body, data)
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
	header, value, err := authHeader(spec.Auth, secret)
	if err != nil {
		return err
	}
	method := spec.Revoke.Method
	if method == "" {
		method = DefaultRevokeMethod
	}
	r, err := newRequest(ctx, "spec.provider.http.revoke.url", method, rawURL, body, header, value)
	if err != nil {
		return err
	}
	resp, err := p.do(r)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	switch {
	case resp.status >= 200 && resp.status <= 299, resp.status == http.StatusNotFound, resp.status == http.StatusGone:
		return nil
	}
	return statusError(fmt.Sprintf("revoke of revision %d", req.Revision), resp, spec.Auth.SecretRef, secret)
}

// escapePath percent-encodes everything but the unreserved characters of RFC 3986, which is safe in a path
// segment and in a query value alike.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
