package app

import (
	"testing"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// The registry the manager runs keeps each provider's emergency order: the http provider and the Stripe secret
// key revoke the compromised credential before the new one is issued; the Stripe webhook (it copies the endpoint
// in service) and random do not.
func TestProvidersKeepTheirEmergencyOrder(t *testing.T) {
	reg, err := Providers(Options{Workers: DefaultWorkers})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{provider.KindHTTP: true, provider.KindStripeSecretKey: true,
		provider.KindStripeWebhook: false, provider.KindRandom: false}
	for kind, first := range want {
		if got := provider.RevokesBeforeIssue(reg[kind], rotationv1alpha1.ProviderSpec{}); got != first {
			t.Errorf("%s: revokes before issue = %v, want %v", kind, got, first)
		}
	}
}
