package controllers_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
	"github.com/tribi/secret-rotator/internal/testgen"
)

const (
	webhookOperatorKey = "sk_test_webhookOperator0123456789OPKY"
	webhookURL         = "https://api.tribi.example/stripe/webhook"
	webhookAPIVersion  = "2024-06-20"
	webhookCreate      = "POST /v1/webhook_endpoints"
	webhookKey         = "STRIPE_WEBHOOK_SECRET"
	webhookPrevKey     = "STRIPE_WEBHOOK_SECRET_PREVIOUS"
)

var webhookEvents = []string{"checkout.session.completed", "invoice.paid", "customer.subscription.deleted"}

// stripeWebhookSecret is STRIPE_WEBHOOK_SECRET for endpoint we_orig, with a smoke test that must pass before an
// endpoint goes.
func stripeWebhookSecret(ns string) *rotationv1alpha1.RotatedSecret {
	rs := testgen.RotatedSecret("stripe-webhook-secret", ns, testgen.WithTTL("60d"),
		testgen.WithTarget("backend-env", webhookKey), testgen.WithValidation("", "15m", "smoke"))
	rs.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeWebhook: &rotationv1alpha1.StripeWebhookProvider{
		APIKeySecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-admin", Key: "api-key"}, EndpointID: "we_orig"}}
	return rs
}

// stripeWebhookFake starts a fake Stripe holding endpoint we_orig and the operator's key, stored in Secret
// stripe-admin of ns, and returns it with a stripeWebhook provider pointed at it.
func stripeWebhookFake(ns string) (*stripetest.Server, *stripe.Webhook) {
	GinkgoHelper()
	fake := stripetest.NewServer()
	DeferCleanup(fake.Close)
	fake.AddKey(webhookOperatorKey, false)
	fake.AddEndpoint(stripetest.Endpoint{ID: "we_orig", URL: webhookURL, APIVersion: webhookAPIVersion,
		Description: "backend webhooks", Secret: "whsec_original", Events: webhookEvents})
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe-admin"},
		StringData: map[string]string{"api-key": webhookOperatorKey}})).To(Succeed())
	hooks, err := stripe.NewWebhook(stripe.Options{BaseURL: fake.URL})
	Expect(err).NotTo(HaveOccurred())
	return fake, hooks
}

var _ = Describe("A Stripe webhook signing secret", func() {
	var ns string
	var fake *stripetest.Server
	var rs *rotationv1alpha1.RotatedSecret

	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		var hooks *stripe.Webhook
		fake, hooks = stripeWebhookFake(ns)
		op := startOperator(operatorOptions{providers: provider.Registry{provider.KindStripeWebhook: hooks}}, ns)
		DeferCleanup(op.stop)
		rs = stripeWebhookSecret(ns)
	})

	// endpointIDs lists the endpoints at Stripe.
	endpointIDs := func() []string {
		var ids []string
		for _, ep := range fake.Endpoints() {
			ids = append(ids, ep.ID)
		}
		return ids
	}
	// twinOf returns the endpoint the operator created for rev of this RotatedSecret, found by the metadata it
	// sets, or nil.
	twinOf := func(rev int64) *stripetest.Endpoint {
		for _, ep := range fake.Endpoints() {
			if ep.Metadata[stripe.MetaRotatedSecret] == ns+"/"+rs.Name && ep.Metadata[stripe.MetaRevision] == strconv.FormatInt(rev, 10) {
				return &ep
			}
		}
		return nil
	}
	creates := func() int {
		n := 0
		for _, c := range fake.Calls() {
			if c == webhookCreate {
				n++
			}
		}
		return n
	}
	smokeJob := func(rev int) string { return rs.Name + "-smoke-r" + strconv.Itoa(rev) }
	waitForSmokeJob := func(rev int) {
		GinkgoHelper()
		Eventually(func() error { _, err := getJob(ns, smokeJob(rev)); return err }, wait).Should(Succeed())
	}
	// expectTwinOf checks that ep copies what decides the events an endpoint gets from the endpoint it replaced.
	expectTwinOf := func(ep *stripetest.Endpoint, replaced string) {
		GinkgoHelper()
		Expect(ep).NotTo(BeNil())
		Expect(ep.URL).To(Equal(webhookURL))
		Expect(ep.Events).To(Equal(webhookEvents))
		Expect(ep.APIVersion).To(Equal(webhookAPIVersion))
		Expect(ep.Status).To(Equal(stripetest.EndpointEnabled))
		Expect(ep.Metadata[stripe.MetaReplaces]).To(Equal(replaced))
		Expect(ep.Secret).To(HavePrefix("whsec_"))
	}
	// firstRevision takes revision 1 through its smoke test and returns its endpoint, the only one left.
	firstRevision := func() *stripetest.Endpoint {
		GinkgoHelper()
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		waitForSmokeJob(1)
		finishJob(ns, smokeJob(1), true)
		cluster.WaitForRevision(rs, 1)
		twin := twinOf(1)
		expectTwinOf(twin, "we_orig")
		Eventually(endpointIDs, wait).Should(Equal([]string{twin.ID}))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin.Secret))
		return twin
	}
	keepPrevious := func() {
		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) {
			live.Spec.Previous = &rotationv1alpha1.PreviousSpec{Keep: true, GracePeriod: "1h"}
		})
	}

	It("copies the endpoint for revision 1 and deletes the original only once the smoke test passed and the revision committed", func() {
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		waitForSmokeJob(1)
		twin := twinOf(1)
		expectTwinOf(twin, "we_orig")
		Expect(twin.ID).NotTo(Equal("we_orig"))
		Expect(twin.Description).To(Equal("backend webhooks"))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin.Secret), "the target holds the twin's secret")

		By("both endpoints deliver while the smoke test runs")
		poke(rs)
		Consistently(endpointIDs, 2*time.Second, 100*time.Millisecond).Should(ConsistOf("we_orig", twin.ID))
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.CurrentRevision).To(BeZero(), "not committed yet")
		Expect(got.Status.Pending).NotTo(BeNil())

		By("the smoke test passes: revision 1 commits and the original endpoint is deleted")
		finishJob(ns, smokeJob(1), true)
		cluster.WaitForRevision(rs, 1)
		Eventually(endpointIDs, wait).Should(Equal([]string{twin.ID}))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOldCredentialRevoked))
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin.Secret))
		Expect(creates()).To(Equal(1), "one endpoint created for one revision")
		Expect(fake.Calls()).To(ContainElement("DELETE /v1/webhook_endpoints/we_orig"))

		for _, e := range events(rs) {
			Expect(e.Note).NotTo(ContainSubstring(twin.Secret))
		}
		Expect(cluster.RotatedSecret(rs).Status.Conditions).NotTo(ContainElement(HaveField("Message", ContainSubstring(twin.Secret))))
	})

	It("keeps the previous endpoint while its secret is kept, and deletes it when the grace period ends", func() {
		twin1 := firstRevision()
		keepPrevious()
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		waitForSmokeJob(2)
		twin2 := twinOf(2)
		expectTwinOf(twin2, twin1.ID)
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin2.Secret))
		Expect(secretValue(ns, "backend-env", webhookPrevKey)).To(Equal(twin1.Secret))

		finishJob(ns, smokeJob(2), true)
		cluster.WaitForRevision(rs, 2)
		Expect(cluster.RotatedSecret(rs).Status.PreviousRevision).To(BeEquivalentTo(1))

		By("both endpoints stay while the previous secret is kept")
		poke(rs)
		Consistently(endpointIDs, 2*time.Second, 100*time.Millisecond).Should(ConsistOf(twin1.ID, twin2.ID))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin2.Secret))
		Expect(secretValue(ns, "backend-env", webhookPrevKey)).To(Equal(twin1.Secret))

		By("the grace period ends: the previous endpoint goes, the current one stays")
		clock.Step(2 * time.Hour)
		poke(rs)
		Eventually(endpointIDs, wait).Should(Equal([]string{twin2.ID}), "the previous endpoint is deleted once its grace period is over")
		Eventually(func() map[string][]byte { return secretData(ns, "backend-env") }, wait).ShouldNot(HaveKey(webhookPrevKey))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin2.Secret))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonPreviousRemoved))
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(creates()).To(Equal(2))
	})

	It("deletes the twin of a rotation whose smoke test failed, and the endpoint in service stays", func() {
		twin1 := firstRevision()
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		waitForSmokeJob(2)
		twin2 := twinOf(2)
		expectTwinOf(twin2, twin1.ID)
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin2.Secret))

		finishJob(ns, smokeJob(2), false)
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, smokeJob(2)+" failed")
		Eventually(endpointIDs, wait).Should(Equal([]string{twin1.ID}), "the failed rotation's twin is deleted")
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(twin1.Secret), "the target holds the secret in service again")
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonNewCredentialRevoked))
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(fake.Calls()).NotTo(ContainElement("DELETE /v1/webhook_endpoints/" + twin1.ID))
	})

	It("stalls with CredentialInvalid naming Secret stripe-admin when Stripe refuses the operator's key", func() {
		fake.RevokeKey(webhookOperatorKey)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonCredentialInvalid, "Secret stripe-admin")
		c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionStalled)
		Expect(c.Message).To(ContainSubstring("401"))
		Expect(c.Message).NotTo(ContainSubstring(webhookOperatorKey[8:len(webhookOperatorKey)-4]), "the key is never quoted")
		Expect(fake.Calls()).To(ContainElement("GET /v1/webhook_endpoints/we_orig"), "Stripe was asked and refused")
		Expect(creates()).To(BeZero())
		Expect(endpointIDs()).To(Equal([]string{"we_orig"}))
		Expect(secretData(ns, "backend-env")).To(BeNil(), "nothing reaches a target")
	})
})
