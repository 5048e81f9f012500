package controllers_test

import (
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("An emergency revokes first", func() {
	It("revokes the compromised vendor key before the new one is issued, and retries a failed revocation without holding the rotation", func() {
		ns := cluster.NewNamespace("t-")
		v := newVendor()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "connectedyou-admin"},
			StringData: map[string]string{"token": v.admin}})).To(Succeed())
		op := startOperator(operatorOptions{providers: provider.Registry{provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1")})}}, ns)
		DeferCleanup(op.stop)
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		passValidation(rs, 1)
		key1 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 key in a public repo")
		waitForJob(ns, "connectedyou-smoke-r2")
		Expect(v.isLive(key1)).To(BeFalse(), "the compromised key is dead while the new one is still being validated")
		log := v.log()
		Expect(slices.Index(log, "revoke k1")).To(BeNumerically(">=", 0))
		Expect(slices.Index(log, "revoke k1")).To(BeNumerically("<", slices.Index(log, "mint k2")), "vendor calls: %v", log)
		finishJob(ns, "connectedyou-smoke-r2", true)
		got := cluster.WaitForRevision(rs, 2)
		Expect(got.Status.Revocations).To(BeEmpty())
		Expect(timelineTypes(got.Status.Incidents[0])).To(ContainElement(rotationv1alpha1.IncidentRevoked))

		By("the vendor refuses the next revocation: the emergency goes on, RevocationPending says so")
		key2 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")
		v.set(func(v *vendor) { v.failRevoke = true })
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e2 again")
		waitForJob(ns, "connectedyou-smoke-r3")
		Expect(v.isLive(key2)).To(BeTrue())
		Eventually(func() *metav1.Condition {
			return fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRevocationPending)
		}, wait).Should(HaveField("Status", metav1.ConditionTrue))
		finishJob(ns, "connectedyou-smoke-r3", true)
		cluster.WaitForRevision(rs, 3)
		v.set(func(v *vendor) { v.failRevoke = false })
		Eventually(func() bool {
			clock.Step(10 * time.Minute)
			poke(rs)
			return v.isLive(key2)
		}, wait).Should(BeFalse(), "retried with backoff until it is revoked")
		Eventually(func() *metav1.Condition {
			return fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRevocationPending)
		}, wait).Should(HaveField("Status", metav1.ConditionFalse))
	})

	It("deletes the Stripe webhook's compromised endpoint as soon as its twin exists, before the first restart", func() {
		ns := cluster.NewNamespace("t-")
		createDeployments(ns, "backend-api")
		fake := stripetest.NewServer()
		DeferCleanup(fake.Close)
		fake.AddKey(webhookOperatorKey, false)
		fake.AddEndpoint(stripetest.Endpoint{ID: "we_orig", URL: webhookURL, APIVersion: webhookAPIVersion,
			Secret: "whsec_original", Events: webhookEvents})
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe-admin"},
			StringData: map[string]string{"api-key": webhookOperatorKey}})).To(Succeed())
		hooks, err := stripe.NewWebhook(stripe.Options{BaseURL: fake.URL})
		Expect(err).NotTo(HaveOccurred())
		// At every restart the operator makes, remember whether the compromised endpoint was still there.
		var compromised atomic.Value
		compromised.Store("")
		var aliveAtRestart atomic.Int32
		hook := func(step string) bool {
			if id := compromised.Load().(string); step == controllers.StepHookWorkloadPatched && id != "" && fake.Endpoint(id) != nil {
				aliveAtRestart.Add(1)
			}
			return false
		}
		op := startOperator(operatorOptions{hook: hook, providers: provider.Registry{provider.KindStripeWebhook: hooks}}, ns)
		DeferCleanup(op.stop)
		rs := stripeWebhookSecret(ns)
		rs.Spec.Rollout = &rotationv1alpha1.RolloutSpec{Stages: []rotationv1alpha1.RolloutStage{testgen.Stage("api", "10m", "backend-api")}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		waitForTemplate(ns, "backend-api", rs.Name, 1)
		markRolledOut(ns, "backend-api")
		passValidation(rs, 1)
		Eventually(func() int { return len(fake.Endpoints()) }, wait).Should(Equal(1))
		twin1 := fake.Endpoints()[0].ID
		compromised.Store(twin1)

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 signing secret leaked")
		waitForTemplate(ns, "backend-api", rs.Name, 2)
		Expect(fake.Endpoint(twin1)).To(BeNil(), "the compromised endpoint is gone")
		Expect(aliveAtRestart.Load()).To(BeZero(), "it was deleted before the first restart")
		Expect(fake.Endpoints()).To(ConsistOf(HaveField("Metadata", HaveKeyWithValue(stripe.MetaRevision, strconv.Itoa(2)))))
		markRolledOut(ns, "backend-api")
		got := passValidation(rs, 2)
		Expect(got.Status.Revocations).To(BeEmpty())
	})
})
