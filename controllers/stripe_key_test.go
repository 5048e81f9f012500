package controllers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// stripeBalance answers GET /v1/balance like Stripe: 200 in test mode for a known key, 401 for a revoked one.
type stripeBalance struct {
	*httptest.Server
	mu      sync.Mutex
	revoked map[string]bool
}

func newStripeBalance() *stripeBalance {
	sb := &stripeBalance{revoked: map[string]bool{}}
	sb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		sb.mu.Lock()
		revoked := sb.revoked[key]
		sb.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/balance" || revoked || !strings.HasPrefix(key, "sk_test_") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"object":"balance","livemode":false,"available":[],"pending":[]}`))
	}))
	DeferCleanup(sb.Close)
	return sb
}

// stripeTestKey is a test-mode key of c's, ending in four upper-case c's (its hint).
func stripeTestKey(c byte) string {
	return "sk_test_" + strings.Repeat(string(c), 24) + strings.Repeat(strings.ToUpper(string(c)), 4)
}

// stripeKeySetup starts Stripe's balance endpoint and an operator with the real Stripe key provider, and stages
// key 'a' in Secret stripe-staged of a new namespace.
func stripeKeySetup() (string, *stripeBalance, *corev1.Secret) {
	GinkgoHelper()
	ns := cluster.NewNamespace("t-")
	sb := newStripeBalance()
	keys, err := stripe.NewSecretKey(stripe.Options{BaseURL: sb.URL})
	Expect(err).NotTo(HaveOccurred())
	op := startOperator(operatorOptions{providers: provider.Registry{provider.KindStripeSecretKey: keys}}, ns)
	DeferCleanup(op.stop)
	staged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe-staged",
		Labels: map[string]string{rotationv1alpha1.ManagedLabel: "true"}}, StringData: map[string]string{"STRIPE_SECRET_KEY": stripeTestKey('a')}}
	Expect(k8sClient.Create(ctx, staged)).To(Succeed())
	return ns, sb, staged
}

var _ = Describe("A Stripe secret key staged by a person", func() {
	It("waits for a new key, promotes it when it is staged, and tracks the old key's revocation in the Dashboard", func() {
		ns, sb, staged := stripeKeySetup()
		keyA, keyB := stripeTestKey('a'), stripeTestKey('b')
		rs := testgen.RotatedSecret("stripe-secret-key", ns, testgen.WithTTL("60d"), testgen.WithTarget("backend-env", "STRIPE_SECRET_KEY"))
		rs.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeSecretKey: &rotationv1alpha1.StripeSecretKeyProvider{
			StagedSecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-staged", Key: "STRIPE_SECRET_KEY"}, Mode: rotationv1alpha1.StripeModeTest}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		got := cluster.WaitForRevision(rs, 1)
		Expect(secretValue(ns, "backend-env", "STRIPE_SECRET_KEY")).To(Equal(keyA))
		Expect(got.Status.Revocations).To(BeEmpty(), "nothing is known about the key before the operator")

		By("the TTL runs out with nothing new staged")
		clock.Step(61 * 24 * time.Hour)
		poke(rs)
		Eventually(func(g Gomega) {
			c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRotating)
			g.Expect(c.Reason).To(Equal(rotationv1alpha1.ReasonAwaitingStagedValue))
			g.Expect(c.Message).To(ContainSubstring("stripe-staged"))
		}, wait).Should(Succeed())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonAwaitingStagedValue))
		Expect(secretValue(ns, "backend-env", "STRIPE_SECRET_KEY")).To(Equal(keyA))

		By("a person stages a new key: the waiting rotation goes on at once")
		staged.StringData = map[string]string{"STRIPE_SECRET_KEY": keyB}
		Expect(k8sClient.Update(ctx, staged)).To(Succeed())
		got = cluster.WaitForRevision(rs, 2)
		Expect(secretValue(ns, "backend-env", "STRIPE_SECRET_KEY")).To(Equal(keyB))

		By("the old key still works: a person must revoke it, and is told which one")
		Eventually(func(g Gomega) {
			q := cluster.RotatedSecret(rs).Status.Revocations
			g.Expect(q).To(HaveLen(1))
			g.Expect(q[0].HumanRequired).To(BeTrue())
			g.Expect(q[0].KeyHint).To(Equal("AAAA"))
			g.Expect(q[0].Revision).To(BeEquivalentTo(1))
		}, wait).Should(Succeed())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonRevocationRequired))

		By("once it is revoked in the Dashboard the operator notices at its next check")
		sb.mu.Lock()
		sb.revoked[keyA] = true
		sb.mu.Unlock()
		clock.Step(2 * time.Hour)
		poke(rs)
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOldCredentialRevoked))

		for _, e := range events(rs) {
			Expect(e.Note).NotTo(ContainSubstring(keyA[:20]))
			Expect(e.Note).NotTo(ContainSubstring(keyB[:20]))
		}
	})

	It("asks for the compromised key's revocation at once in an emergency, urgently, and checks it every minute", func() {
		ns, sb, staged := stripeKeySetup()
		keyB, keyC := stripeTestKey('b'), stripeTestKey('c')
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
			StringData: map[string]string{"url": "https://hooks.example.com/x"}})).To(Succeed())
		rs := testgen.RotatedSecret("stripe-secret-key", ns, testgen.WithTTL("60d"), testgen.WithTarget("backend-env", "STRIPE_SECRET_KEY"))
		rs.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeSecretKey: &rotationv1alpha1.StripeSecretKeyProvider{
			StagedSecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-staged", Key: "STRIPE_SECRET_KEY"}, Mode: rotationv1alpha1.StripeModeTest}}
		rs.Spec.Notify = []rotationv1alpha1.NotifySpec{{Webhook: rotationv1alpha1.WebhookSpec{
			URLSecretRef: rotationv1alpha1.SecretKeyRef{Name: "hooks", Key: "url"}}, On: []rotationv1alpha1.NotifyEvent{rotationv1alpha1.NotifyEmergency}}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		staged.StringData = map[string]string{"STRIPE_SECRET_KEY": keyB}
		Expect(k8sClient.Update(ctx, staged)).To(Succeed())
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.WaitForRevision(rs, 2)

		By("an emergency: the owner is asked to revoke the key in service before a replacement exists")
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 key in a screenshot")
		Eventually(func(g Gomega) {
			got := cluster.RotatedSecret(rs)
			g.Expect(got.Status.Revocations).To(ContainElement(And(HaveField("Revision", BeEquivalentTo(2)),
				HaveField("Compromised", true), HaveField("HumanRequired", true), HaveField("KeyHint", "BBBB"))))
			g.Expect(fixture.Condition(got, rotationv1alpha1.ConditionRevocationPending)).To(HaveField("Status", metav1.ConditionTrue))
			var urgent []string
			for _, d := range got.Status.Notifications.Outbox {
				urgent = append(urgent, string(d.Event)+": "+d.Message)
			}
			g.Expect(urgent).To(ContainElement(And(HavePrefix("Emergency: URGENT"), ContainSubstring("BBBB"))))
		}, wait).Should(Succeed())
		Expect(secretValue(ns, "backend-env", "STRIPE_SECRET_KEY")).To(Equal(keyB), "no replacement staged yet")

		By("the owner stages a new key and revokes the old one: noticed within a minute, not an hour")
		staged.StringData = map[string]string{"STRIPE_SECRET_KEY": keyC}
		Expect(k8sClient.Update(ctx, staged)).To(Succeed())
		cluster.WaitForRevision(rs, 3)
		sb.mu.Lock()
		sb.revoked[keyB] = true
		sb.mu.Unlock()
		clock.Step(2 * time.Minute)
		poke(rs)
		Eventually(func(g Gomega) {
			got := cluster.RotatedSecret(rs)
			g.Expect(got.Status.Revocations).NotTo(ContainElement(HaveField("Revision", BeEquivalentTo(2))))
			g.Expect(fixture.Condition(got, rotationv1alpha1.ConditionRevocationPending)).To(HaveField("Status", metav1.ConditionFalse))
		}, wait).Should(Succeed())
	})
})
