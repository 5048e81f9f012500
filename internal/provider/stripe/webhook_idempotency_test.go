package stripe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

// keyRecorder stands in front of the fake Stripe and records the Idempotency-Key of every create; lose, while
// set, is how the answer to a create goes missing after Stripe carried it out (set for every create: Go's
// transport itself repeats a request with an Idempotency-Key once when a reused connection dies under it).
type keyRecorder struct {
	f    *stripetest.Server
	mu   sync.Mutex
	keys []string
	lose func(w http.ResponseWriter)
}

func (k *keyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method+" "+r.URL.Path != createReq {
		k.f.Config.Handler.ServeHTTP(w, r)
		return
	}
	k.mu.Lock()
	k.keys = append(k.keys, r.Header.Get("Idempotency-Key"))
	lose := k.lose
	k.mu.Unlock()
	if lose == nil {
		k.f.Config.Handler.ServeHTTP(w, r)
		return
	}
	k.f.Config.Handler.ServeHTTP(httptest.NewRecorder(), r) // Stripe creates the endpoint
	lose(w)
}

// recordedSetup is webhookSetup with the provider behind a keyRecorder.
func recordedSetup(t *testing.T) (*stripetest.Server, *keyRecorder, *Webhook, provider.Request) {
	t.Helper()
	f, _, req := webhookSetup(t)
	rec := &keyRecorder{f: f}
	front := httptest.NewServer(rec)
	t.Cleanup(front.Close)
	w, err := NewWebhook(Options{BaseURL: front.URL})
	if err != nil {
		t.Fatal(err)
	}
	return f, rec, w, req
}

// twinsOf returns the ids of the endpoints created for revision 1 of the request's RotatedSecret.
func twinsOf(f *stripetest.Server) []string {
	var ids []string
	for _, ep := range f.Endpoints() {
		if ep.Metadata[MetaRotatedSecret] == "shop/stripe-webhook" && ep.Metadata[MetaRevision] == "1" {
			ids = append(ids, ep.ID)
		}
	}
	return ids
}

// TestWebhookCreateRepeatedWithSameKey: Stripe carries out the create and the operator does not learn it (a 500
// in place of the answer, the connection reset, the answer cut short). The failure is repeatable, and the repeat,
// made with the request's key as every attempt is, gets the endpoint the first attempt created: one twin, one
// secret. stripe-go's own key, random per call, would have created a second twin here.
func TestWebhookCreateRepeatedWithSameKey(t *testing.T) {
	for name, fail := range map[string]func(f *stripetest.Server, rec *keyRecorder){
		"500 after the create": func(f *stripetest.Server, _ *keyRecorder) { f.FailNextCreate(http.StatusInternalServerError) },
		"502 after the create": func(f *stripetest.Server, _ *keyRecorder) { f.FailNextCreate(http.StatusBadGateway) },
		"connection reset": func(_ *stripetest.Server, rec *keyRecorder) {
			rec.lose = func(w http.ResponseWriter) {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close()
				}
			}
		},
		"answer cut short": func(_ *stripetest.Server, rec *keyRecorder) {
			rec.lose = func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id": "we_twin1", "secret": "whsec_`))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			f, rec, w, req := recordedSetup(t)
			fail(f, rec)
			_, err := w.Generate(ctx, req)
			g.Expect(err).To(HaveOccurred())
			g.Expect(provider.IsRepeatable(err)).To(BeTrue(), "%v", err)
			g.Expect(provider.Ambiguous(err)).To(BeTrue(), "the create-pending marker is kept")
			g.Expect(provider.IsPermanent(err)).To(BeFalse())
			g.Expect(err.Error()).To(And(ContainSubstring("we_orig"), ContainSubstring(MetaRevision+"=1"), Not(ContainSubstring("whsec_"))))
			g.Expect(twinsOf(f)).To(Equal([]string{"we_twin1"}), "Stripe created the twin")

			rec.mu.Lock()
			rec.lose = nil
			sent := len(rec.keys)
			rec.mu.Unlock()
			res, err := w.Generate(ctx, req)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(res.Values[OutputEndpointID])).To(Equal("we_twin1"), "the repeat gets the first create's endpoint")
			g.Expect(string(res.Values[provider.DefaultOutput])).To(Equal(f.Endpoint("we_twin1").Secret))
			g.Expect(twinsOf(f)).To(Equal([]string{"we_twin1"}), "exactly one endpoint for the revision")
			g.Expect(f.Created()).To(Equal(1))
			g.Expect(rec.keys).To(HaveLen(sent + 1))
			g.Expect(rec.keys).To(HaveEach(testKey), "every attempt sent the request's key")
		})
	}
}

// TestWebhookCreateKeyPerRevision: another revision (or RotatedSecret) has another key, so it gets an endpoint of
// its own; a request without a key creates nothing.
func TestWebhookCreateKeyPerRevision(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f, rec, w, req := recordedSetup(t)
	rev1, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	req.Revision, req.IdempotencyKey = 2, testKey+"-r2"
	rev2, err := w.Generate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rev2.Values[OutputEndpointID]).NotTo(Equal(rev1.Values[OutputEndpointID]))
	g.Expect(f.Created()).To(Equal(2))

	req.IdempotencyKey = ""
	_, err = w.Generate(ctx, req)
	g.Expect(err).To(MatchError(ContainSubstring("no idempotency key")))
	g.Expect(rec.keys).To(HaveLen(2), "no create without a key")
}

// TestWebhookCreateKeyReusedWithOtherParams: the endpoint in service changed between the lost create and its
// repeat, so the repeat's parameters differ and Stripe refuses the key. The first create may have made a twin:
// an IncompleteError, for a person, and no second twin.
func TestWebhookCreateKeyReusedWithOtherParams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f, _, w, req := recordedSetup(t)
	f.FailNextCreate(http.StatusInternalServerError)
	_, err := w.Generate(ctx, req)
	g.Expect(provider.IsRepeatable(err)).To(BeTrue(), "%v", err)
	orig := f.Endpoint("we_orig")
	orig.Description = "edited in the Dashboard"
	f.AddEndpoint(*orig)

	_, err = w.Generate(ctx, req)
	var inc *provider.IncompleteError
	g.Expect(errors.As(err, &inc)).To(BeTrue(), "%v", err)
	g.Expect(provider.IsRepeatable(err)).To(BeFalse(), "repeating cannot help")
	g.Expect(err.Error()).To(And(ContainSubstring("idempotency key"), ContainSubstring(MetaRevision+"=1")))
	g.Expect(twinsOf(f)).To(Equal([]string{"we_twin1"}))
}

// TestWebhookCreateNotSentIsClean: a create that never reached Stripe (connection refused) is a clean failure:
// nothing to repeat, the marker may be dropped.
func TestWebhookCreateNotSentIsClean(t *testing.T) {
	g := NewWithT(t)
	_, _, req := webhookSetup(t)
	front := httptest.NewServer(http.NotFoundHandler())
	front.Close()
	w, err := NewWebhook(Options{BaseURL: front.URL})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.Generate(context.Background(), req)
	g.Expect(err).To(HaveOccurred())
	g.Expect(provider.Ambiguous(err)).To(BeFalse(), "nothing was sent: the marker may be dropped")
	g.Expect(w.KeyWindow(req.Spec)).To(Equal(KeyWindow))
	g.Expect(provider.KeyWindow(provider.Bound(w, provider.NewSlots(1), DefaultTimeout), req.Spec)).To(Equal(KeyWindow),
		"the bound that wraps it in the operator passes the window on")
}
