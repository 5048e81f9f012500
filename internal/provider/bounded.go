package provider

import (
	"context"
	"errors"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// ErrBusy means every vendor call slot was taken: nothing was sent, the caller tries again shortly.
var ErrBusy = errors.New("every vendor call slot is in use; trying again shortly")

// Slots bounds how many vendor calls run at once across the providers that share it, so that vendors that are
// slow or never answer cannot hold every reconcile worker: a rotation of another kind always finds a worker.
type Slots chan struct{}

// NewSlots returns n slots (at least 1).
func NewSlots(n int) Slots { return make(Slots, max(n, 1)) }

// Bound returns p with every call taking one of slots (or failing with ErrBusy at once when none is free) and
// carrying its own deadline of timeout, so a vendor that never answers releases the worker after timeout.
func Bound(p Provider, slots Slots, timeout time.Duration) Provider {
	return &bounded{Provider: p, slots: slots, timeout: timeout}
}

type bounded struct {
	Provider
	slots   Slots
	timeout time.Duration
}

// call runs f in a slot with the deadline.
func (b *bounded) call(ctx context.Context, f func(context.Context) error) error {
	select {
	case b.slots <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-b.slots }()
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return f(ctx)
}

func (b *bounded) Generate(ctx context.Context, req Request) (res Result, err error) {
	err = b.call(ctx, func(ctx context.Context) error {
		res, err = b.Provider.Generate(ctx, req)
		return err
	})
	return res, err
}

func (b *bounded) Verify(ctx context.Context, req Request, candidate Result) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Provider.Verify(ctx, req, candidate) })
}

func (b *bounded) Revoke(ctx context.Context, req Request, old Result) error {
	return b.call(ctx, func(ctx context.Context) error { return b.Provider.Revoke(ctx, req, old) })
}

func (b *bounded) Outputs(spec rotationv1alpha1.ProviderSpec) []string {
	return b.Provider.Outputs(spec)
}

func (b *bounded) Check(spec rotationv1alpha1.ProviderSpec) error { return b.Provider.Check(spec) }

func (b *bounded) Inputs(spec rotationv1alpha1.ProviderSpec) []string { return b.Provider.Inputs(spec) }

func (b *bounded) Revocable(spec rotationv1alpha1.ProviderSpec, rev int64) bool {
	return b.Provider.Revocable(spec, rev)
}

// RevokesBeforeIssue passes the wrapped provider's answer on (provider.EarlyRevoker): without it every bounded
// provider would look as if it could not revoke before it issues, and an emergency would revoke late.
func (b *bounded) RevokesBeforeIssue(spec rotationv1alpha1.ProviderSpec) bool {
	return RevokesBeforeIssue(b.Provider, spec)
}

// KeyWindow passes on the wrapped provider's KeyedCaller window (0 when it sends no idempotency key).
func (b *bounded) KeyWindow(spec rotationv1alpha1.ProviderSpec) time.Duration {
	return KeyWindow(b.Provider, spec)
}
