package provider_test

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
)

func TestBoundFailsFastWhenEverySlotIsTaken(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	hanging := &fake.Provider{GenerateFunc: func(ctx context.Context, _ provider.Request) (provider.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return provider.Result{}, ctx.Err()
		}
		return provider.Result{}, nil
	}}
	slots := provider.NewSlots(1)
	p := provider.Bound(hanging, slots, time.Minute)
	started := make(chan error)
	go func() {
		_, err := p.Generate(context.Background(), provider.Request{})
		started <- err
	}()
	g.Eventually(func() int { return len(slots) }).Should(Equal(1))

	_, err := p.Generate(context.Background(), provider.Request{})
	g.Expect(errors.Is(err, provider.ErrBusy)).To(BeTrue(), "a second call does not wait for the first")
	g.Expect(p.Verify(context.Background(), provider.Request{}, provider.Result{})).To(MatchError(provider.ErrBusy))
	close(release)
	g.Expect(<-started).To(Succeed())
	g.Expect(slots).To(BeEmpty(), "the slot is given back")
	g.Expect(p.Verify(context.Background(), provider.Request{}, provider.Result{})).To(Succeed())
}

func TestBoundGivesEveryCallADeadline(t *testing.T) {
	g := NewWithT(t)
	never := &fake.Provider{GenerateFunc: func(ctx context.Context, _ provider.Request) (provider.Result, error) {
		<-ctx.Done()
		return provider.Result{}, ctx.Err()
	}}
	p := provider.Bound(never, provider.NewSlots(2), 50*time.Millisecond)
	_, err := p.Generate(context.Background(), provider.Request{})
	g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
	g.Expect(provider.Ambiguous(err)).To(BeTrue(), "a generate that timed out may have minted: never repeated blindly")
}

// An emergency revokes first only with a provider that says it can (EarlyRevoker); the production registry wraps
// every vendor provider in Bound, so Bound must pass the answer on.
func TestBoundKeepsTheRevokeFirstOrder(t *testing.T) {
	g := NewWithT(t)
	slots := provider.NewSlots(1)
	spec := rotationv1alpha1.ProviderSpec{}
	g.Expect(provider.RevokesBeforeIssue(provider.Bound(&fake.Provider{EarlyRevoke: true}, slots, time.Second), spec)).To(BeTrue())
	g.Expect(provider.RevokesBeforeIssue(provider.Bound(&fake.Provider{}, slots, time.Second), spec)).To(BeFalse())
}
