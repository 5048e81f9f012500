package stripe

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhookendpoint"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

// startStripeMock runs stripe-mock (STRIPE_MOCK, or built once by hack/stripe-mock.sh) and returns its HTTP base
// URL; it is stopped, by its PID, at cleanup. The test is skipped only when STRIPE_MOCK is unset and the build
// fails (no module proxy).
func startStripeMock(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs("../../../hack/stripe-mock.sh")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := stripetest.MockBinary(script)
	if err != nil {
		t.Skipf("stripe-mock is not available (set STRIPE_MOCK to a stripe-mock binary): %v", err)
	}
	m, err := stripetest.StartMock(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m.URL()
}

// TestStripeMock checks the requests against Stripe's own API description, as stripe-mock validates them.
// stripe-mock keeps no state and never returns a signing secret; the fake server covers those parts.
func TestStripeMock(t *testing.T) {
	base := startStripeMock(t)
	ctx := context.Background()
	const mockKey = "rk_test_stripeMockKey0123456789abcd" // stripe-mock accepts any sk_test_/rk_test_ key

	t.Run("twin endpoint request is accepted", func(t *testing.T) {
		g := NewWithT(t)
		a, err := newAPI(Options{BaseURL: base})
		g.Expect(err).NotTo(HaveOccurred())
		c := webhookendpoint.Client{B: a.backend, Key: mockKey}
		old, err := c.Get("we_123", params(ctx))
		g.Expect(err).NotTo(HaveOccurred())
		old.APIVersion = stripego.APIVersion // the fixture has none; an unknown version would be refused
		old.Metadata = map[string]string{"team": "payments"}
		req := provider.Request{Namespace: "shop", Name: "stripe-webhook", Revision: 3}
		created, err := c.New(twinParams(ctx, old, req))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(created.ID).To(HavePrefix("we_"))
		g.Expect(created.URL).To(Equal(old.URL))
		g.Expect(created.EnabledEvents).To(Equal(old.EnabledEvents))
		g.Expect(created.APIVersion).To(Equal(stripego.APIVersion))

		// The shape check is real: an API version Stripe does not know is refused.
		old.APIVersion = "1999-01-01"
		_, err = c.New(twinParams(ctx, old, req))
		g.Expect(err).To(MatchError(ContainSubstring("api_version")))
	})

	t.Run("webhook provider calls", func(t *testing.T) {
		g := NewWithT(t)
		w, err := NewWebhook(Options{BaseURL: base})
		g.Expect(err).NotTo(HaveOccurred())
		req := provider.Request{Namespace: "shop", Name: "stripe-webhook", Revision: 1,
			Spec: rotationv1alpha1.ProviderSpec{StripeWebhook: &rotationv1alpha1.StripeWebhookProvider{
				APIKeySecretRef: apiKeyRef, EndpointID: "we_123"}},
			Credentials: creds{"stripe-admin/api-key": mockKey},
		}
		cand := provider.Result{Values: provider.Values{"value": []byte("whsec_x")}, State: []byte(`{"endpointID":"we_123"}`)}
		g.Expect(w.Verify(ctx, req, cand)).To(Succeed())
		g.Expect(w.Revoke(ctx, req, cand)).To(Succeed())
		g.Expect(w.Revoke(ctx, req, provider.Result{})).To(Succeed(), "revision 0: spec.endpointID")

		// A live key is refused by stripe-mock (401): the operator's credential is reported, not the key.
		req.Credentials = creds{"stripe-admin/api-key": "sk_live_operator0123456789abcd"}
		err = w.Verify(ctx, req, cand)
		var ce *provider.CredentialError
		g.Expect(err).To(BeAssignableToTypeOf(ce))
		g.Expect(err.Error()).NotTo(ContainSubstring("operator0123"))
	})

	t.Run("balance", func(t *testing.T) {
		g := NewWithT(t)
		a, err := newAPI(Options{BaseURL: base})
		g.Expect(err).NotTo(HaveOccurred())
		b, err := a.balance(ctx, mockKey)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(b.Object).To(Equal("balance"))
		g.Expect(b.Livemode).To(BeFalse())
	})

	t.Run("secret key verification", func(t *testing.T) {
		g := NewWithT(t)
		k, err := NewSecretKey(Options{BaseURL: base})
		g.Expect(err).NotTo(HaveOccurred())
		spec := &rotationv1alpha1.StripeSecretKeyProvider{StagedSecretRef: stagedRef, RequireRestricted: true,
			Mode: rotationv1alpha1.StripeModeTest, Probes: &rotationv1alpha1.StripeProbes{
				Allow: []rotationv1alpha1.StripeProbe{{Path: "/v1/charges?limit=1"}, {Path: "/v1/webhook_endpoints"}}}}
		req := provider.Request{Spec: rotationv1alpha1.ProviderSpec{StripeSecretKey: spec}}
		g.Expect(k.Verify(ctx, req, candidate(mockKey))).To(Succeed())

		// A typo in a probe path is not taken for a permission.
		spec.Probes.Allow = append(spec.Probes.Allow, rotationv1alpha1.StripeProbe{Path: "/v1/chargez"})
		err = k.Verify(ctx, req, candidate(mockKey))
		g.Expect(provider.IsPermanent(err)).To(BeTrue())
		g.Expect(err.Error()).To(ContainSubstring("/v1/chargez"))

		// stripe-mock refuses live keys with 401, and echoes the Authorization header in its message:
		// neither the key nor its base64 form may reach the error.
		const liveKey = "rk_live_realLooking0123456789abcd"
		spec.Mode = rotationv1alpha1.StripeModeLive
		err = k.Verify(ctx, req, candidate(liveKey))
		g.Expect(provider.IsPermanent(err)).To(BeTrue())
		g.Expect(err.Error()).To(And(ContainSubstring("401"), ContainSubstring("invalid or revoked")))
		g.Expect(err.Error()).NotTo(ContainSubstring("realLooking"))
		g.Expect(err.Error()).NotTo(ContainSubstring(base64.StdEncoding.EncodeToString([]byte(liveKey))[:12]))

		// The same 401 tells Revoke that an old key is revoked.
		g.Expect(k.Revoke(ctx, req, candidate(liveKey))).To(Succeed())
		var he *provider.HumanRevocationError
		g.Expect(k.Revoke(ctx, req, candidate(mockKey))).To(BeAssignableToTypeOf(he))
	})
}
