// Package fake is a Provider for tests whose behaviour is set by function fields.
package fake

import (
	"context"
	"fmt"
	"sync"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Provider calls the function fields when set. Without GenerateFunc it returns {"value": "fake-r<revision>"}; the
// other calls succeed. It counts calls per method.
type Provider struct {
	GenerateFunc func(ctx context.Context, req provider.Request) (provider.Result, error)
	VerifyFunc   func(ctx context.Context, req provider.Request, candidate provider.Result) error
	RevokeFunc   func(ctx context.Context, req provider.Request, old provider.Result) error
	// OutputsFunc declares the outputs; default ["value"].
	OutputsFunc func(spec rotationv1alpha1.ProviderSpec) []string
	// RevocableFunc says which revisions are revoked; default none (like the random provider it stands in for).
	RevocableFunc func(spec rotationv1alpha1.ProviderSpec, rev int64) bool
	// EarlyRevoke makes it a provider.EarlyRevoker that revokes before it issues (the http provider's order);
	// false: after (the Stripe webhook's).
	EarlyRevoke bool

	mu    sync.Mutex
	calls map[string]int
}

var _ provider.Provider = (*Provider)(nil)

func (p *Provider) count(method string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[method]++
}

// Calls returns how often method ("Generate", "Verify", "Revoke") was called.
func (p *Provider) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// Generate implements provider.Provider.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	p.count("Generate")
	if p.GenerateFunc != nil {
		return p.GenerateFunc(ctx, req)
	}
	return provider.Result{Values: provider.Values{provider.DefaultOutput: []byte(fmt.Sprintf("fake-r%d", req.Revision))}}, nil
}

// Verify implements provider.Provider.
func (p *Provider) Verify(ctx context.Context, req provider.Request, candidate provider.Result) error {
	p.count("Verify")
	if p.VerifyFunc != nil {
		return p.VerifyFunc(ctx, req, candidate)
	}
	return nil
}

// Revoke implements provider.Provider.
func (p *Provider) Revoke(ctx context.Context, req provider.Request, old provider.Result) error {
	p.count("Revoke")
	if p.RevokeFunc != nil {
		return p.RevokeFunc(ctx, req, old)
	}
	return nil
}

// RevokesBeforeIssue implements provider.EarlyRevoker.
func (p *Provider) RevokesBeforeIssue(rotationv1alpha1.ProviderSpec) bool { return p.EarlyRevoke }

// Outputs implements provider.Provider.
func (p *Provider) Outputs(spec rotationv1alpha1.ProviderSpec) []string {
	if p.OutputsFunc != nil {
		return p.OutputsFunc(spec)
	}
	return []string{provider.DefaultOutput}
}

// Check implements provider.Provider: every spec is fine.
func (p *Provider) Check(rotationv1alpha1.ProviderSpec) error { return nil }

// Inputs implements provider.Provider: none.
func (p *Provider) Inputs(rotationv1alpha1.ProviderSpec) []string { return nil }

// Revocable implements provider.Provider.
func (p *Provider) Revocable(spec rotationv1alpha1.ProviderSpec, rev int64) bool {
	return p.RevocableFunc != nil && p.RevocableFunc(spec, rev)
}
