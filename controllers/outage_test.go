package controllers_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
)

// down stops the vendor: its address refuses connections until up.
func (v *vendor) down() {
	GinkgoHelper()
	v.Close()
}

// up serves the vendor again, with the state it had, at the address it had.
func (v *vendor) up() {
	GinkgoHelper()
	l, err := net.Listen("tcp", v.Listener.Addr().String())
	Expect(err).NotTo(HaveOccurred())
	s := httptest.NewUnstartedServer(http.HandlerFunc(v.serve))
	s.Listener = l
	s.Start()
	DeferCleanup(s.Close)
	v.Server = s
}

var _ = Describe("A vendor outage", func() {
	It("backs off while the vendor is down for ten minutes, mints nothing twice, and finishes when it is back", func() {
		ns := cluster.NewNamespace("t-")
		v := newVendor()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "connectedyou-admin"},
			StringData: map[string]string{"token": v.admin}})).To(Succeed())
		op := startOperator(operatorOptions{providers: provider.Registry{provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1")})}}, ns)
		defer op.stop()
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		passValidation(rs, 1)
		key1 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")

		By("the vendor goes down as a rotation starts")
		v.down()
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "during-outage")
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "(attempt 1; next attempt in 10s")

		By("ten minutes on the operator's clock: every attempt waits its backoff, fails, and says when the next one runs")
		outage := time.Duration(0)
		for outage < 10*time.Minute {
			attempts := cluster.RotatedSecret(rs).Status.FailedAttempts
			step := policy.Backoff(attempts) + time.Second
			clock.Step(step)
			outage += step
			poke(rs)
			Eventually(func() int32 { return cluster.RotatedSecret(rs).Status.FailedAttempts }, wait).Should(Equal(attempts + 1))
		}
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.FailedAttempts).To(BeNumerically(">=", 6), "10s, 20s, 40s, 80s, 160s, 320s")
		Expect(got.Status.Pending).To(HaveField("Step", rotationv1alpha1.StepDecided), "nothing staged while the vendor is down")
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled).Message).To(ContainSubstring("next attempt in"))
		Expect(secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")).To(Equal(key1), "the old key stays in service")
		Expect(v.mintedKeys()).To(Equal(1))
		Expect(v.isLive(key1)).To(BeTrue())

		By("the vendor is back: the same rotation finishes after its backoff, with one new key")
		v.up()
		clock.Step(policy.Backoff(got.Status.FailedAttempts) + time.Second)
		poke(rs)
		got = passValidation(rs, 2)
		Expect(got.Status.History).To(HaveLen(2), "one rotation, however many attempts")
		Expect(v.mintedKeys()).To(Equal(2), "no credential minted twice")
		Eventually(func() bool { return v.isLive(key1) }, wait).Should(BeFalse(), "the old key is revoked once the new one is confirmed")
	})
})
