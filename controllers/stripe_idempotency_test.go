package controllers_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

var _ = Describe("A Stripe 5xx answering a webhook endpoint create", func() {
	var ns string
	var fake *stripetest.Server
	var op *operator
	var rs *rotationv1alpha1.RotatedSecret

	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		var hooks *stripe.Webhook
		fake, hooks = stripeWebhookFake(ns)
		// Bound as in the operator, so the test also shows the wrapper passes the key window on.
		bounded := provider.Bound(hooks, provider.NewSlots(2), time.Minute)
		op = startOperator(operatorOptions{providers: provider.Registry{provider.KindStripeWebhook: bounded}}, ns)
		DeferCleanup(op.stop)
		rs = stripeWebhookSecret(ns)
	})

	It("repeats the create with the same idempotency key after the backoff, gets the endpoint Stripe made, and completes with one endpoint", func() {
		By("Stripe creates the endpoint and answers 500")
		fake.FailNextCreate(http.StatusInternalServerError)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "(attempt 1; next attempt in 10s")
		c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionStalled)
		Expect(c.Message).To(And(ContainSubstring("Stripe answered 500"), ContainSubstring("same idempotency key")))
		Expect(fake.Created()).To(Equal(1))
		Expect(fake.Endpoint("we_twin1")).NotTo(BeNil(), "the twin exists; its secret was in the lost answer")

		By("after the backoff the create is repeated with the same key and answered with the saved result")
		clock.Step(policy.Backoff(1) + time.Second)
		poke(rs)
		got := passValidation(rs, 1)
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(fake.Endpoint("we_twin1").Secret))
		Expect(got.Status.History).To(HaveLen(1), "one rotation, two attempts")
		Expect(fake.Calls()).To(HaveEach(Not(Equal("DELETE /v1/webhook_endpoints/we_twin1"))), "nothing to clean up")
		Expect(fake.Created()).To(Equal(1), "no second endpoint was created")
		Eventually(func() []string {
			var ids []string
			for _, ep := range fake.Endpoints() {
				ids = append(ids, ep.ID)
			}
			return ids
		}, wait).Should(Equal([]string{"we_twin1"}), "one endpoint at Stripe once the original is deleted")
		Expect(createsIn(fake.Calls())).To(Equal(2), "the create was sent twice")

		By("no secret in conditions, Events or logs")
		messages := visibleMessages(rs)
		Expect(messages).NotTo(ContainElement(ContainSubstring("whsec_")))
		Expect(op.logs.String()).NotTo(ContainSubstring(fake.Endpoint("we_twin1").Secret))
	})

	It("stalls with GenerateIncomplete once Stripe may have forgotten the key, and a person's go-ahead creates again with a new key", func() {
		fake.FailNextCreate(http.StatusInternalServerError)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "same idempotency key")

		By("a day on the operator's clock: past the key's window the create is not repeated")
		clock.Step(stripe.KeyWindow + time.Minute)
		poke(rs)
		expectStalled(rs, rotationv1alpha1.ReasonGenerateIncomplete, "revision 1")
		poke(rs)
		Consistently(func() int { return createsIn(fake.Calls()) }, 2*time.Second, 200*time.Millisecond).Should(Equal(1))

		By("a person deleted the lost endpoint and sets a new rotate token")
		fake.RemoveEndpoint("we_twin1")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "checked-stripe")
		passValidation(rs, 1)
		Expect(fake.Created()).To(Equal(2), "a new key: Stripe carried the create out again")
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(fake.Endpoint("we_twin2").Secret))
	})
})

// createsIn counts the webhook endpoint creates in a call log.
func createsIn(calls []string) int {
	n := 0
	for _, c := range calls {
		if c == webhookCreate {
			n++
		}
	}
	return n
}
