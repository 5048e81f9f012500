package httpapi

import (
	"context"
	"fmt"
	"slices"

	"github.com/tribi/secret-rotator/internal/provider"
)

// Verify calls spec.verify with the candidate's own credential (the output named by authWith, default "value", in
// the auth header) and expects one of expectStatus (default [200]). Without spec.verify it accepts the candidate.
// A 5xx, a 429, a timeout or any other transport failure says nothing about the candidate: it is a
// provider.TransientError, and the reconciler verifies the same candidate again later. Any other unexpected status
// (401 and 403 included: the candidate was refused) is permanent. Only the status code and an allow-listed vendor
// code are reported, never the body.
func (p *Provider) Verify(ctx context.Context, req provider.Request, candidate provider.Result) error {
	spec, c, err := httpSpec(req)
	if err != nil || spec.Verify == nil {
		return err
	}
	v := spec.Verify
	authWith := v.AuthWith
	if authWith == "" {
		authWith = provider.DefaultOutput
	}
	secret, ok := candidate.Values[authWith]
	if !ok || len(secret) == 0 {
		return provider.Permanent(fmt.Errorf(
			"verify: the candidate has no output %q to authenticate with (spec.provider.http.verify.authWith)", authWith))
	}
	rawURL, err := c.verifyURL.render(requestValues(req), escapePath, MaxURLBytes)
	if err != nil {
		return err
	}
	value, err := c.authHeaderValue(secret)
	if err != nil {
		return err
	}
	method := v.Method
	if method == "" {
		method = DefaultVerifyMethod
	}
	r, err := p.newRequest(ctx, "spec.provider.http.verify.url", method, rawURL, "", c.authHeader, value)
	if err != nil {
		return err
	}
	resp, err := p.do(r)
	switch {
	case provider.IsPermanent(err):
		// The egress policy refused the connection: checking again later cannot help.
		return fmt.Errorf("verify: %w", err)
	case err != nil:
		return provider.Transient(fmt.Errorf("verify: %w", err))
	}
	expect := v.ExpectStatus
	if len(expect) == 0 {
		expect = []int32{200}
	}
	if slices.Contains(expect, int32(resp.status)) {
		return nil
	}
	err = fmt.Errorf("verify: verification with the new credential returned %d%s", resp.status, vendorCode(resp))
	if retryable(resp.status) {
		return provider.Transient(err)
	}
	return provider.Permanent(err)
}
