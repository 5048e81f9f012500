// Package provider declares what the reconciler needs from a source of secret values. Providers are built in
// main and handed to the reconciler in a Registry; nothing registers itself.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

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
	// Credentials reads the operator's own vendor credentials (Secrets in the RotatedSecret's namespace).
	Credentials Credentials
	// Guard records a create-pending marker. A provider whose Generate makes a call that must not be repeated
	// (it mints a key at a vendor) calls Guard.Begin right before that call and fails if Begin fails. After a
	// crash between Begin and the result being staged, the reconciler never calls Generate again for that
	// revision: it stalls with GenerateIncomplete. Nil in Verify and Revoke.
	Guard Guard
	// IdempotencyKey is the key a provider sends with its non-repeatable call, for vendors that carry out a request
	// once per key and answer a repeat with the first answer (Stripe's Idempotency-Key). The reconciler derives it
	// from the RotatedSecret's UID, the provider kind, the revision and the time the revision's create-pending
	// marker was written, and keeps that marker across the repeats of an ambiguous call: every attempt the marker
	// covers sends the same key, never a random one. Set in Generate only.
	IdempotencyKey string
	// Current holds the values in service (the current revision), for providers that must tell a new value from
	// the current one (a staged key that was not replaced yet). Nil before the first rotation. Never logged.
	Current Values
}

// Credentials reads one key of a Secret in the RotatedSecret's namespace. A missing Secret or key is returned as
// a CredentialError.
type Credentials interface {
	Credential(ctx context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error)
}

// Guard records that a non-repeatable call for the request's revision is about to be made.
type Guard interface {
	Begin(ctx context.Context) error
}

// Provider produces, checks and retires secret values.
type Provider interface {
	// Generate produces the values of req.Revision. The reconciler stages the result before any target sees it
	// and does not call Generate for a revision whose result it sees staged; a cache behind the API server can
	// still lead to a second call, whose result is then dropped (the first one staged is kept), which makes a
	// rotation idempotent per revision. Providers with non-repeatable outside effects use the create-pending guard.
	Generate(ctx context.Context, req Request) (Result, error)
	// Verify checks a candidate before any target sees it.
	Verify(ctx context.Context, req Request, candidate Result) error
	// Revoke retires the credential of req.Revision, described by what Generate returned for it (values and
	// state; both empty when the credential predates the operator, e.g. revision 0). It is called for the old
	// credential once the new one is confirmed, and for the new one when a rotation fails. It is idempotent:
	// revoking what is gone (404) succeeds. A provider that cannot revoke by itself returns a
	// *HumanRevocationError, and is asked again later until it returns nil (the credential no longer works).
	Revoke(ctx context.Context, req Request, old Result) error
	// Outputs lists, sorted, the output names Generate returns for spec. The reconciler checks every target
	// against it before any vendor call: a credential minted for an output nobody can write would be lost.
	Outputs(spec rotationv1alpha1.ProviderSpec) []string
	// Revocable reports whether the credential of revision rev must be revoked (or tracked for a person) once it
	// leaves service. Revision 0 is whatever was in service before the operator's first rotation. A provider
	// whose values exist nowhere but in the targets (random) answers false, and nothing is queued.
	Revocable(spec rotationv1alpha1.ProviderSpec, rev int64) bool
	// Inputs names the Secrets, in the RotatedSecret's namespace, where a person stages a new value for the
	// provider to pick up (a Stripe key created in the Dashboard): the reconciler watches them. Usually none.
	Inputs(spec rotationv1alpha1.ProviderSpec) []string
	// Check reports what is wrong with spec without any call (a template the provider cannot render), as an
	// error naming the field; the reconciler refuses such a spec with InvalidSpec before a rotation starts.
	Check(spec rotationv1alpha1.ProviderSpec) error
}

// EarlyRevoker is implemented by a provider whose credential can be revoked before its replacement is issued
// (RevokesBeforeIssue true): an emergency that revokes first then revokes the compromised credential before it
// calls Generate. A provider that needs the old credential to issue the new one (the Stripe webhook copies the
// endpoint in service) answers false, or does not implement it: it is revoked as soon as the replacement exists.
type EarlyRevoker interface {
	RevokesBeforeIssue(spec rotationv1alpha1.ProviderSpec) bool
}

// RevokesBeforeIssue reports whether p may revoke the credential in service before it issues the next one.
func RevokesBeforeIssue(p Provider, spec rotationv1alpha1.ProviderSpec) bool {
	e, ok := p.(EarlyRevoker)
	return ok && e.RevokesBeforeIssue(spec)
}

// Provider kinds: the field names of the provider blocks in spec.provider.
const (
	KindRandom          = "random"
	KindStripeWebhook   = "stripeWebhook"
	KindStripeSecretKey = "stripeSecretKey"
	KindHTTP            = "http"
)

// Registry maps a provider kind (the field name of its block in spec.provider, e.g. "random") to its Provider.
type Registry map[string]Provider

// ErrNoProvider means the spec names no provider this operator knows; the schema normally prevents it.
var ErrNoProvider = errors.New("no known provider block is set in spec.provider")

// Kind returns the kind of the provider block that is set in spec.
func Kind(spec rotationv1alpha1.ProviderSpec) (string, error) {
	switch {
	case spec.Random != nil:
		return KindRandom, nil
	case spec.StripeWebhook != nil:
		return KindStripeWebhook, nil
	case spec.StripeSecretKey != nil:
		return KindStripeSecretKey, nil
	case spec.HTTP != nil:
		return KindHTTP, nil
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

// IncompleteError means a non-repeatable call was carried out by the vendor (it answered 2xx) but its result
// could not be read as promised: a credential may exist that nobody recorded. The reconciler keeps the
// create-pending marker and stalls with GenerateIncomplete instead of calling again.
type IncompleteError struct{ Err error }

func (e *IncompleteError) Error() string { return e.Err.Error() }
func (e *IncompleteError) Unwrap() error { return e.Err }

// Incomplete wraps err as an IncompleteError.
func Incomplete(err error) error { return &IncompleteError{Err: err} }

// Ambiguous reports whether a failed non-repeatable call may still have been carried out by the vendor: its
// result was unreadable (IncompleteError), it may be repeated with its key (RepeatableError), or the call timed
// out or was cancelled after it may have been sent.
func Ambiguous(err error) bool {
	var inc *IncompleteError
	var netErr net.Error
	return errors.As(err, &inc) || IsRepeatable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

// RepeatableError means a non-repeatable call that carried Request.IdempotencyKey failed in a way that leaves
// unknown whether the vendor carried it out (a 5xx, a timeout, a lost connection, an unreadable answer). Made
// again with the same key within the provider's KeyedCaller window, it can only return the first call's result,
// so the reconciler keeps the create-pending marker and calls Generate again after the backoff; past the window it
// stalls with GenerateIncomplete, as for an IncompleteError.
type RepeatableError struct{ Err error }

func (e *RepeatableError) Error() string { return e.Err.Error() }
func (e *RepeatableError) Unwrap() error { return e.Err }

// Repeatable wraps err as a RepeatableError.
func Repeatable(err error) error { return &RepeatableError{Err: err} }

// IsRepeatable reports whether err is or wraps a RepeatableError.
func IsRepeatable(err error) bool {
	var r *RepeatableError
	return errors.As(err, &r)
}

// KeyedCaller is implemented by a provider whose non-repeatable call carries Request.IdempotencyKey.
// KeyWindow is how long after the first attempt a repeat with the same key is sure to get the first call's result
// (the vendor's promise, less a margin for clocks and slow calls); later the vendor may have forgotten the key.
type KeyedCaller interface {
	KeyWindow(spec rotationv1alpha1.ProviderSpec) time.Duration
}

// KeyWindow returns p's KeyWindow for spec, 0 when p sends no idempotency key (no call may be repeated).
func KeyWindow(p Provider, spec rotationv1alpha1.ProviderSpec) time.Duration {
	if k, ok := p.(KeyedCaller); ok {
		return k.KeyWindow(spec)
	}
	return 0
}

// TransientError marks a failure of a repeatable call (Verify, Revoke) that the same call may not meet later (a
// vendor 5xx or 429, a timeout). A Verify answered with one keeps the candidate: it is verified again after the
// backoff, never revoked and minted anew.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a TransientError.
func Transient(err error) error { return &TransientError{Err: err} }

// IsTransient reports whether err is or wraps a TransientError, or is a timeout of the call.
func IsTransient(err error) bool {
	var t *TransientError
	var netErr net.Error
	return errors.As(err, &t) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// CredentialError means the operator's own credential is missing or refused (401/403). It is permanent: the
// reconciler stalls with reason CredentialInvalid and names the Secret, and a change to that Secret retries.
type CredentialError struct {
	// Ref is the Secret key holding the credential.
	Ref rotationv1alpha1.SecretKeyRef
	// Err says what is wrong (never the credential itself).
	Err error
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("credential in Secret %s (key %s): %v", e.Ref.Name, e.Ref.Key, e.Err)
}
func (e *CredentialError) Unwrap() error { return e.Err }

// AwaitingStagedValueError means a person has to stage a new value first (e.g. a Stripe key created in the
// Dashboard). The reconciler sets AwaitingStagedValue, tells the owner, and retries when the staged Secret changes.
type AwaitingStagedValueError struct {
	// Ref is where the value is expected.
	Ref rotationv1alpha1.SecretKeyRef
	// Message says what is expected.
	Message string
}

func (e *AwaitingStagedValueError) Error() string {
	return fmt.Sprintf("waiting for a new value in Secret %s (key %s): %s", e.Ref.Name, e.Ref.Key, e.Message)
}

// HumanRevocationError means only a person can revoke the old credential; Hint (at most the last 4 characters
// of the key) helps find it. Revoke keeps returning it while the credential still works.
type HumanRevocationError struct {
	Hint    string
	Message string
}

func (e *HumanRevocationError) Error() string { return e.Message }
