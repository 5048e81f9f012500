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
	opKey     = "sk_test_operatorKey0123456789wxyz"
	hookURL   = "https://shop.example.com/stripe/webhook"
	createReq = "POST /v1/webhook_endpoints"
	testKey   = "secret-rotator/0b5e2c1f-uid/stripeWebhook/r1/2025-01-01T00:00:00Z"
)

var apiKeyRef = rotationv1alpha1.SecretKeyRef{Name: "stripe-admin", Key: "api-key"}

// webhookSetup returns a fake Stripe holding endpoint we_orig, the provider pointed at it and a revision-1 request.
func webhookSetup(t *testing.T) (*stripetest.Server, *Webhook, provider.Request) {
	t.Helper()
	f := stripetest.NewServer()
	t.Cleanup(f.Close)
	f.AddKey(opKey, false)
	f.AddEndpoint(stripetest.Endpoint{ID: "we_orig", URL: hookURL, APIVersion: "2023-10-16", Description: "shop events",
		Events: []string{"charge.succeeded", "invoice.paid"}, Metadata: map[string]string{"team": "payments"}})
	f.AddEndpoint(stripetest.Endpoint{ID: "we_other", URL: "https://other.example.com/hook", Events: []string{"*"}})
	w, err := NewWebhook(Options{BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	req := provider.Request{Namespace: "shop", Name: "stripe-webhook", Revision: 1,
		Spec: rotationv1alpha1.ProviderSpec{StripeWebhook: &rotationv1alpha1.StripeWebhookProvider{
			APIKeySecretRef: apiKeyRef, EndpointID: "we_orig"}},
		Credentials:    creds{"stripe-admin/api-key": opKey},
		Guard:          testGuard{f: f},
		IdempotencyKey: testKey,
	}
	return f, w, req
}

func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

func TestWebhookGenerateCreatesTwin(t *testing.T) {
	g := NewWithT(t)
	f, w, req := webhookSetup(t)
	res, err := w.Generate(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())

	id := string(res.Values[OutputEndpointID])
	g.Expect(id).NotTo(BeEmpty())
	g.Expect(id).NotTo(Equal("we_orig"))
	twin := f.Endpoint(id)
	g.Expect(twin).NotTo(BeNil(), "the twin exists at Stripe")
	g.Expect(string(res.Values[provider.DefaultOutput])).To(Equal(twin.Secret), "value is the secret Stripe returned")
	g.Expect(twin.Secret).To(HavePrefix("whsec_"))
	g.Expect(twin.URL).To(Equal(hookURL))
	g.Expect(twin.Events).To(Equal([]string{"charge.succeeded", "invoice.paid"}))
	g.Expect(twin.APIVersion).To(Equal("2023-10-16"))
	g.Expect(twin.Description).To(Equal("shop events"))
	g.Expect(twin.Metadata).To(Equal(map[string]string{"team": "payments", MetaCreatedBy: "secret-rotator",
		MetaRotatedSecret: "shop/stripe-webhook", MetaRevision: "1", MetaReplaces: "we_orig"}))
	g.Expect(f.Endpoint("we_orig")).NotTo(BeNil(), "the original keeps delivering")

	var st webhookState
	g.Expect(json.Unmarshal(res.State, &st)).To(Succeed())
	g.Expect(st.EndpointID).To(Equal(id))
	g.Expect(string(res.State)).NotTo(ContainSubstring("whsec_"), "state never carries the secret")

	calls := f.Calls()
	g.Expect(count(calls, createReq)).To(Equal(1))
	g.Expect(calls).To(ContainElements("GET /v1/webhook_endpoints/we_orig", "guard", createReq))
	g.Expect(calls[len(calls)-2:]).To(Equal([]string{"guard", createReq}), "the guard is recorded right before the create")

	g.Expect(w.Verify(context.Background(), provider.Request{Spec: req.Spec, Credentials: req.Credentials}, res)).To(Succeed())
}

func TestWebhookGuardFailureCreatesNothing(t *testing.T) {
	g := NewWithT(t)
	f, w, req := webhookSetup(t)
	boom := errors.New("status patch conflict")
	req.Guard = testGuard{f: f, err: boom}
	_, err := w.Generate(context.Background(), req)
	g.Expect(err).To(MatchError(boom))
	g.Expect(f.Calls()).To(ContainElement("guard"))
	g.Expect(f.Calls()).NotTo(ContainElement(createReq))

	req.Guard = nil
	_, err = w.Generate(context.Background(), req)
	g.Expect(err).To(HaveOccurred(), "no guard, no create")
	g.Expect(f.Calls()).NotTo(ContainElement(createReq))
}

func TestWebhookFindsEndpointToCopy(t *testing.T) {
	t.Run("by URL", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		req.Spec.StripeWebhook.EndpointID, req.Spec.StripeWebhook.URL = "", hookURL
		res, err := w.Generate(context.Background(), req)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(f.Endpoint(string(res.Values[OutputEndpointID])).Metadata[MetaReplaces]).To(Equal("we_orig"))
	})
	t.Run("ambiguous URL", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		f.AddEndpoint(stripetest.Endpoint{ID: "we_dup", URL: hookURL, Events: []string{"*"}})
		req.Spec.StripeWebhook.EndpointID, req.Spec.StripeWebhook.URL = "", hookURL
		_, err := w.Generate(context.Background(), req)
		g.Expect(provider.IsPermanent(err)).To(BeTrue())
		g.Expect(err.Error()).To(And(ContainSubstring("we_dup"), ContainSubstring("we_orig")))
		g.Expect(f.Calls()).NotTo(ContainElement("guard"))
	})
	t.Run("current twin first", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		req.Current = provider.Values{"value": []byte("whsec_old"), OutputEndpointID: []byte("we_other")}
		res, err := w.Generate(context.Background(), req)
		g.Expect(err).NotTo(HaveOccurred())
		twin := f.Endpoint(string(res.Values[OutputEndpointID]))
		g.Expect(twin.URL).To(Equal("https://other.example.com/hook"))
		g.Expect(twin.Metadata[MetaReplaces]).To(Equal("we_other"))
	})
	t.Run("missing or disabled", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		req.Spec.StripeWebhook.EndpointID = "we_gone"
		_, err := w.Generate(context.Background(), req)
		g.Expect(provider.IsPermanent(err)).To(BeTrue())
		g.Expect(err.Error()).To(ContainSubstring("we_gone"))
		f.AddEndpoint(stripetest.Endpoint{ID: "we_off", URL: hookURL, Status: "disabled", Events: []string{"*"}})
		req.Spec.StripeWebhook.EndpointID = "we_off"
		_, err = w.Generate(context.Background(), req)
		g.Expect(provider.IsPermanent(err)).To(BeTrue())
		g.Expect(err.Error()).To(ContainSubstring("disabled"))
		g.Expect(f.Calls()).NotTo(ContainElement(createReq))
	})
}

func TestWebhookVerify(t *testing.T) {
	g := NewWithT(t)
	f, w, req := webhookSetup(t)
	res, err := w.Generate(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	ctx := context.Background()
	g.Expect(w.Verify(ctx, req, res)).To(Succeed())

	bad := provider.Result{Values: provider.Values{"value": []byte("not-a-secret")}, State: res.State}
	g.Expect(provider.IsPermanent(w.Verify(ctx, req, bad))).To(BeTrue())

	twin := f.Endpoint(string(res.Values[OutputEndpointID]))
	twin.Status = "disabled"
	f.AddEndpoint(*twin)
	g.Expect(w.Verify(ctx, req, res)).To(MatchError(ContainSubstring("disabled")))
	f.RemoveEndpoint(twin.ID)
	err = w.Verify(ctx, req, res)
	g.Expect(provider.IsPermanent(err)).To(BeTrue())
	g.Expect(err.Error()).To(ContainSubstring("no longer exists"))
}

func TestWebhookRevoke(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f, w, req := webhookSetup(t)
	rev1, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	twin1 := string(rev1.Values[OutputEndpointID])

	// Revision 0 predates the operator: an empty result, so spec.endpointID is deleted.
	req.Current = rev1.Values
	g.Expect(w.Revoke(ctx, req, provider.Result{})).To(Succeed())
	g.Expect(f.Endpoint("we_orig")).To(BeNil())
	g.Expect(f.Endpoint(twin1)).NotTo(BeNil(), "the endpoint in service stays")
	g.Expect(w.Revoke(ctx, req, provider.Result{})).To(Succeed(), "already gone (404) counts as revoked")

	// Revision 2 copies revision 1's twin; revoking revision 1 deletes exactly that twin.
	req.Revision, req.IdempotencyKey = 2, testKey+"-r2"
	rev2, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	twin2 := string(rev2.Values[OutputEndpointID])
	g.Expect(f.Endpoint(twin2).Metadata[MetaReplaces]).To(Equal(twin1))
	g.Expect(w.Revoke(ctx, req, rev1)).To(Succeed())
	g.Expect(f.Endpoint(twin1)).To(BeNil())
	g.Expect(f.Endpoint(twin2)).NotTo(BeNil())
	g.Expect(w.Revoke(ctx, req, rev1)).To(Succeed(), "idempotent")
	g.Expect(count(f.Calls(), "DELETE /v1/webhook_endpoints/"+twin1)).To(Equal(2))

	// Only the state is needed, as stored in the staging Secret.
	g.Expect(w.Revoke(ctx, req, provider.Result{State: rev2.State})).To(Succeed())
	g.Expect(f.Endpoint(twin2)).To(BeNil())
	g.Expect(f.Endpoint("we_other")).NotTo(BeNil(), "an unrelated endpoint is never touched")
}

func TestWebhookRollbackRevokesTwin(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f, w, req := webhookSetup(t)
	res, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Revoke(ctx, req, res)).To(Succeed())
	g.Expect(f.Endpoint(string(res.Values[OutputEndpointID]))).To(BeNil())
	g.Expect(f.Endpoint("we_orig")).NotTo(BeNil(), "the original stays in service")
}

func TestWebhookRevokePreOperatorByURL(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f, w, req := webhookSetup(t)
	req.Spec.StripeWebhook.EndpointID, req.Spec.StripeWebhook.URL = "", hookURL
	rev1, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	// Both endpoints have the URL now; only the one the operator did not create may go.
	g.Expect(w.Revoke(ctx, req, provider.Result{})).To(Succeed())
	g.Expect(f.Endpoint("we_orig")).To(BeNil())
	g.Expect(f.Endpoint(string(rev1.Values[OutputEndpointID]))).NotTo(BeNil())
	g.Expect(w.Revoke(ctx, req, provider.Result{})).To(Succeed(), "nothing left to delete")
	g.Expect(f.Endpoint(string(rev1.Values[OutputEndpointID]))).NotTo(BeNil())
}

func TestWebhookCredentialErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("missing Secret", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		req.Credentials = creds{}
		_, err := w.Generate(ctx, req)
		var ce *provider.CredentialError
		g.Expect(errors.As(err, &ce)).To(BeTrue())
		g.Expect(ce.Ref).To(Equal(apiKeyRef))
		g.Expect(err).To(MatchError(ContainSubstring("secret or key not found")), "the reader's error, unchanged")
		g.Expect(f.Calls()).To(BeEmpty())
	})
	t.Run("refused key", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		f.RevokeKey(opKey)
		for _, call := range []func() error{
			func() error { _, err := w.Generate(ctx, req); return err },
			func() error { return w.Revoke(ctx, req, provider.Result{State: []byte(`{"endpointID":"we_orig"}`)}) },
		} {
			err := call()
			var ce *provider.CredentialError
			g.Expect(errors.As(err, &ce)).To(BeTrue(), "got %v", err)
			g.Expect(ce.Ref).To(Equal(apiKeyRef))
			g.Expect(err.Error()).To(And(ContainSubstring("401"), ContainSubstring("stripe-admin"), Not(ContainSubstring(opKey[8:]))))
		}
		g.Expect(f.Endpoint("we_orig")).NotTo(BeNil())
	})
	t.Run("key without write permission", func(t *testing.T) {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		const readOnly = "rk_test_readOnly0123456789abcd"
		f.AddKey(readOnly, false, "rak_webhook_read")
		req.Credentials = creds{"stripe-admin/api-key": readOnly}
		_, err := w.Generate(ctx, req)
		var ce *provider.CredentialError
		g.Expect(errors.As(err, &ce)).To(BeTrue(), "got %v", err)
		g.Expect(err.Error()).To(And(ContainSubstring("403"), ContainSubstring("Webhook Endpoints write"), Not(ContainSubstring(readOnly[8:]))))
	})
}

func TestWebhookStripeFailureIsTransient(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		g := NewWithT(t)
		f, w, req := webhookSetup(t)
		f.FailWith(status)
		_, err := w.Generate(context.Background(), req)
		g.Expect(err).To(HaveOccurred())
		g.Expect(provider.IsPermanent(err)).To(BeFalse(), "status %d", status)
		var ce *provider.CredentialError
		g.Expect(errors.As(err, &ce)).To(BeFalse())
		var se *Error
		g.Expect(errors.As(err, &se)).To(BeTrue())
		g.Expect(se.Status).To(Equal(status))
		err = w.Revoke(context.Background(), req, provider.Result{State: []byte(`{"endpointID":"we_orig"}`)})
		g.Expect(err).To(HaveOccurred(), "a failed delete is not reported as done")
		g.Expect(provider.IsPermanent(err)).To(BeFalse())
	}
}

func TestWebhookCreateWithoutSecretIsUndone(t *testing.T) {
	g := NewWithT(t)
	f, w, req := webhookSetup(t)
	f.OmitSecret(true)
	_, err := w.Generate(context.Background(), req)
	g.Expect(provider.IsPermanent(err)).To(BeTrue())
	g.Expect(err.Error()).To(ContainSubstring("without a signing secret"))
	g.Expect(f.Calls()).To(ContainElement("DELETE /v1/webhook_endpoints/we_twin1"))
	g.Expect(f.Endpoint("we_twin1")).To(BeNil())
}
