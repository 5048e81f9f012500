// Package provider declares what the reconciler needs from a source of secret values. Providers are built in
// main and handed to the reconciler in a Registry; nothing registers itself.
package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// DefaultOutput is the output every provider returns and every target reads unless it says otherwise.
const DefaultOutput = "value"

// Values are a provider's named outputs, e.g. {"value": ..., "partner_id": ...}.
type Values map[string][]byte

// Names returns the output names in sorted order.
func (v Values) Names() []string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Result is what Generate produced for one revision.
type Result struct {
	// Values are written to targets.
	Values Values
	// State is opaque to the reconciler: it is stored in the staging Secret beside the values and handed back to
	// Revoke (e.g. a vendor key id). Never logged.
	State []byte
}

// Request identifies the rotation a provider call belongs to.
type Request struct {
	// Namespace and Name of the RotatedSecret.
	Namespace, Name string
	// Revision being generated, verified or revoked.
	Revision int64
	// Spec is the provider block of the RotatedSecret.
	Spec rotationv1alpha1.ProviderSpec
}

// Provider produces, checks and retires secret values.
type Provider interface {
	// Generate produces the values of req.Revision. The reconciler stages the result before any target sees it
	// and never calls Generate twice for a revision whose result is staged, which makes a rotation idempotent per
	// revision; providers with non-repeatable outside effects add their own create-pending guard.
	Generate(ctx context.Context, req Request) (Result, error)
	// Verify checks a candidate before any target sees it.
	Verify(ctx context.Context, req Request, candidate Result) error
	// Revoke retires the credential described by state. It is idempotent: revoking what is gone succeeds.
	Revoke(ctx context.Context, req Request, state []byte) error
}

// Registry maps a provider kind (the field name of its block in spec.provider, e.g. "random") to its Provider.
type Registry map[string]Provider

// ErrNoProvider means the spec names no provider this operator knows; the schema normally prevents it.
var ErrNoProvider = errors.New("no known provider block is set in spec.provider")

// Kind returns the kind of the provider block that is set in spec.
func Kind(spec rotationv1alpha1.ProviderSpec) (string, error) {
	switch {
	case spec.Random != nil:
		return "random", nil
	}
	return "", ErrNoProvider
}

// For returns the Provider for spec.
func (r Registry) For(spec rotationv1alpha1.ProviderSpec) (Provider, error) {
	kind, err := Kind(spec)
	if err != nil {
		return nil, err
	}
	p, ok := r[kind]
	if !ok {
		return nil, fmt.Errorf("provider %q is not enabled in this operator", kind)
	}
	return p, nil
}

// PermanentError marks a provider failure that retrying cannot fix (bad configuration, refused credential).
// The reconciler reports it as Stalled instead of retrying it quickly.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err is or wraps a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
