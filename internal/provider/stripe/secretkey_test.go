package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

const (
	goodKey   = "rk_test_goodRestricted0123456789WXYZ" // balance and charge read
	stagedKey = "stripe-staged/key"
)

var stagedRef = rotationv1alpha1.SecretKeyRef{Name: "stripe-staged", Key: "key"}

func keySetup(t *testing.T) (*stripetest.Server, *SecretKey, provider.Request) {
	t.Helper()
	f := stripetest.NewServer()
	t.Cleanup(f.Close)
	f.AddKey(goodKey, false, "rak_balance_read", "rak_charge_read")
	k, err := NewSecretKey(Options{BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	req := provider.Request{Namespace: "shop", Name: "stripe-key", Revision: 2,
		Spec: rotationv1alpha1.ProviderSpec{StripeSecretKey: &rotationv1alpha1.StripeSecretKeyProvider{
			StagedSecretRef: stagedRef, RequireRestricted: true, Mode: rotationv1alpha1.StripeModeTest,
			Probes: &rotationv1alpha1.StripeProbes{
				Allow: []rotationv1alpha1.StripeProbe{{Path: "/v1/charges?limit=1"}},
				Deny:  []rotationv1alpha1.StripeProbe{{Method: http.MethodPost, Path: "/v1/refunds"}},
			}}},
		Credentials: creds{stagedKey: goodKey + "\n"},
	}
	return f, k, req
}

func candidate(key string) provider.Result {
	return provider.Result{Values: provider.Values{provider.DefaultOutput: []byte(key)}}
}

func TestSecretKeyGenerate(t *testing.T) {
	g := NewWithT(t)
	f, k, req := keySetup(t)
	res, err := k.Generate(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(res.Values[provider.DefaultOutput])).To(Equal(goodKey), "trimmed of the newline kubectl leaves")
	var st keyState
	g.Expect(json.Unmarshal(res.State, &st)).To(Succeed())
	g.Expect(st.KeyHint).To(Equal("WXYZ"))
	g.Expect(string(res.State)).NotTo(ContainSubstring("goodRestricted"))
	g.Expect(f.Calls()).To(BeEmpty(), "Generate only reads the staged Secret")
}

func TestSecretKeyAwaitsStagedKey(t *testing.T) {
	for name, mutate := range map[string]func(*provider.Request){
		"missing Secret": func(r *provider.Request) { r.Credentials = creds{} },
		"empty":          func(r *provider.Request) { r.Credentials = creds{stagedKey: " \n"} },
		"unchanged":      func(r *provider.Request) { r.Current = provider.Values{"value": []byte(goodKey)} },
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, k, req := keySetup(t)
			mutate(&req)
			_, err := k.Generate(context.Background(), req)
			var ae *provider.AwaitingStagedValueError
			g.Expect(errors.As(err, &ae)).To(BeTrue(), "got %v", err)
			g.Expect(ae.Ref).To(Equal(stagedRef))
			var ce *provider.CredentialError
			g.Expect(errors.As(err, &ce)).To(BeFalse(), "a key not staged yet is no credential failure")
		})
	}
}

func TestSecretKeyVerifyAccepts(t *testing.T) {
	g := NewWithT(t)
	f, k, req := keySetup(t)
	g.Expect(k.Verify(context.Background(), req, candidate(goodKey))).To(Succeed())
	g.Expect(f.Calls()).To(Equal([]string{"GET /v1/balance", "GET /v1/charges", "POST /v1/refunds"}))

	// A restricted key without Balance read authenticates with a 403 there; the prefix vouches for the mode.
	const noBalance = "rk_test_noBalance0123456789abcd"
	f.AddKey(noBalance, false, "rak_charge_read")
	g.Expect(k.Verify(context.Background(), req, candidate(noBalance))).To(Succeed())

	// A full secret key when restricted is not required, no probes.
	const full = "sk_live_fullSecret0123456789abcd"
	f.AddKey(full, true)
	req.Spec.StripeSecretKey.RequireRestricted, req.Spec.StripeSecretKey.Mode = false, rotationv1alpha1.StripeModeLive
	req.Spec.StripeSecretKey.Probes = nil
	g.Expect(k.Verify(context.Background(), req, candidate(full))).To(Succeed())
}

func TestSecretKeyVerifyRefuses(t *testing.T) {
	cases := []struct {
		name  string
		key   string
		setup func(f *stripetest.Server, spec *rotationv1alpha1.StripeSecretKeyProvider)
		want  []string
	}{
		{name: "publishable", key: "pk_test_publishable0123456789abcd", want: []string{"publishable key"}},
		{name: "not a key", key: "whsec_something0123456789abcd", want: []string{"not a Stripe secret or restricted key"}},
		{name: "malformed", key: "rk_secretMaterial0123456789_abcd", want: []string{"malformed"}},
		{name: "wrong mode", key: "rk_live_liveKey0123456789abcd", want: []string{"live-mode key", "wants mode test"}},
		{name: "not restricted", key: "sk_test_fullKey0123456789abcd", want: []string{"requires a restricted key"}},
		{name: "unknown to Stripe", key: "rk_test_unknownKey0123456789abcd", want: []string{"401", "invalid or revoked", "ending in abcd"}},
		{name: "revoked", key: "rk_test_revokedKey0123456789abcd",
			setup: func(f *stripetest.Server, _ *rotationv1alpha1.StripeSecretKeyProvider) {
				f.AddKey("rk_test_revokedKey0123456789abcd", false, "rak_balance_read")
				f.RevokeKey("rk_test_revokedKey0123456789abcd")
			},
			want: []string{"invalid or revoked"}},
		{name: "livemode disagrees", key: "rk_test_oddKey0123456789abcd",
			setup: func(f *stripetest.Server, _ *rotationv1alpha1.StripeSecretKeyProvider) {
				f.AddKey("rk_test_oddKey0123456789abcd", true, "rak_balance_read")
			},
			want: []string{"livemode=true"}},
		{name: "allow probe refused", key: "rk_test_noCharges0123456789abcd",
			setup: func(f *stripetest.Server, _ *rotationv1alpha1.StripeSecretKeyProvider) {
				f.AddKey("rk_test_noCharges0123456789abcd", false, "rak_balance_read")
			},
			want: []string{"allow probe GET /v1/charges?limit=1", "403", "rak_charge_read"}},
		{name: "deny probe passes", key: goodKey,
			setup: func(_ *stripetest.Server, spec *rotationv1alpha1.StripeSecretKeyProvider) {
				spec.Probes.Deny = append(spec.Probes.Deny, rotationv1alpha1.StripeProbe{Path: "/v1/charges"})
			},
			want: []string{"deny probe GET /v1/charges succeeded", "more permission"}},
		{name: "deny probe past the permission check", key: "rk_test_canRefund0123456789abcd",
			setup: func(f *stripetest.Server, _ *rotationv1alpha1.StripeSecretKeyProvider) {
				f.AddKey("rk_test_canRefund0123456789abcd", false, "rak_balance_read", "rak_charge_read", "rak_refund_write")
			},
			want: []string{"deny probe POST /v1/refunds was not refused with 403 but answered 400 (parameter_missing)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			f, k, req := keySetup(t)
			if c.setup != nil {
				c.setup(f, req.Spec.StripeSecretKey)
			}
			err := k.Verify(context.Background(), req, candidate(c.key))
			g.Expect(err).To(HaveOccurred())
			g.Expect(provider.IsPermanent(err)).To(BeTrue(), "got %v", err)
			for _, w := range c.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
			// At most the last 4 characters: nothing from the secret part before them.
			g.Expect(err.Error()).NotTo(ContainSubstring(c.key[8 : len(c.key)-4]))
		})
	}
}

func TestSecretKeyStripeFailureIsTransient(t *testing.T) {
	g := NewWithT(t)
	f, k, req := keySetup(t)
	f.FailWith(http.StatusBadGateway)
	err := k.Verify(context.Background(), req, candidate(goodKey))
	g.Expect(err).To(HaveOccurred())
	g.Expect(provider.IsPermanent(err)).To(BeFalse())
	err = k.Revoke(context.Background(), req, candidate(goodKey))
	g.Expect(err).To(HaveOccurred())
	var he *provider.HumanRevocationError
	g.Expect(errors.As(err, &he)).To(BeFalse(), "Stripe failing says nothing about the key")
	g.Expect(provider.IsPermanent(err)).To(BeFalse())
}

func TestSecretKeyRevokeIsHuman(t *testing.T) {
	g := NewWithT(t)
	f, k, req := keySetup(t)
	ctx := context.Background()

	err := k.Revoke(ctx, req, candidate(goodKey))
	var he *provider.HumanRevocationError
	g.Expect(errors.As(err, &he)).To(BeTrue(), "got %v", err)
	g.Expect(he.Hint).To(Equal("WXYZ"))
	g.Expect(len(he.Hint)).To(BeNumerically("<=", 4))
	g.Expect(he.Message).To(Equal("revoke the old Stripe key ending in WXYZ in the Dashboard (Developers > API keys)"))

	f.RevokeKey(goodKey)
	g.Expect(k.Revoke(ctx, req, candidate(goodKey))).To(Succeed(), "a revoked key needs nothing more")

	// The key in use before the operator is unknown: a person is asked, without a hint.
	err = k.Revoke(ctx, req, provider.Result{})
	g.Expect(errors.As(err, &he)).To(BeTrue())
	g.Expect(he.Hint).To(BeEmpty())
	g.Expect(he.Message).To(ContainSubstring("before secret-rotator"))
}
