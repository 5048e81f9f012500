package controllers_test

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/testgen"
)

const day = 24 * time.Hour

var _ = Describe("RotatedSecret", func() {
	var (
		ns string
		op *operator
	)
	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		op = startOperator(operatorOptions{}, ns)
	})
	AfterEach(func() { op.stop() })

	It("writes a fresh 64-hex value into the target when created and records it in status", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())

		got := cluster.WaitForRevision(rs, 1)
		value := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(value).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(got.Status.CurrentFingerprint).To(Equal(fp(value)))
		Expect(got.Status.Phase).To(Equal(rotationv1alpha1.PhaseReady))
		Expect(got.Status.NextRotationTime.Time).To(BeTemporally("~", got.Status.LastRotationTime.Add(90*day), time.Second))
		Expect(got.Status.History).To(HaveLen(1))
		Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerCreated))
		Expect(got.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeSucceeded))
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionRotating).Status).To(Equal(metav1.ConditionFalse))

		By("keeping the value in an owned staging Secret")
		var staging corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jwt-secret-rotation"}, &staging)).To(Succeed())
		Expect(metav1.IsControlledBy(&staging, got)).To(BeTrue())
		Expect(string(staging.Data["r1.value"])).To(Equal(value))

		By("not rotating again when nothing asks for it")
		Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(value))
		Expect(op.generated.Calls()).To(Equal(map[string]int{ns + "/jwt-secret@1": 1}))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ConsistOf("Rotated"),
			"the first value is one Event: Rotated to revision 1")
	})

	It("rotates when the TTL runs out, keeps the previous value for the grace period, then removes it", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithPrevious("_PREVIOUS", "24h"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		first := secretValue(ns, "backend-env", "JWT_SECRET")

		By("doing nothing one day before the TTL")
		clock.Step(89 * day)
		Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(1))

		By("rotating once the 90 days are over")
		clock.Step(day + time.Minute)
		poke(rs)
		got := cluster.WaitForRevision(rs, 2)
		second := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(second).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(second).NotTo(Equal(first))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(first))
		Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerTTLExpired))
		Expect(got.Status.PreviousRevision).To(BeEquivalentTo(1))
		Expect(got.Status.PreviousExpiryTime.Time).To(BeTemporally("~", got.Status.LastRotationTime.Add(day), time.Second))

		By("removing the previous value after the grace period, without rotating")
		clock.Step(day + time.Minute)
		poke(rs)
		Eventually(func() map[string][]byte { return secretData(ns, "backend-env") }, wait).ShouldNot(HaveKey("JWT_SECRET_PREVIOUS"))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(second))
		Eventually(func() int64 { return cluster.RotatedSecret(rs).Status.PreviousRevision }, wait).Should(BeZero())
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeEquivalentTo(2))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement("PreviousRemoved"))
	})

	It("rotates exactly once per new rotate token and never for other edits, without leaking the value", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithPrevious("_PREVIOUS", "24h"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		v1 := secretValue(ns, "backend-env", "JWT_SECRET")

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		got := cluster.WaitForRevision(rs, 2)
		v2 := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(v2).NotTo(Equal(v1))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(v1))
		Expect(got.Status.LastHandledRotateRequest).To(Equal("t1"))
		Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerManual))

		By("ignoring the same token and unrelated edits")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.Annotate(rs, "team", "payments")
		Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(2))

		By("rotating again for a new token")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		got = cluster.WaitForRevision(rs, 3)
		v3 := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(v3).NotTo(BeElementOf(v1, v2))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(v2))
		Expect(got.Status.History).To(HaveLen(3))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElements("RotationStarted", "Rotated"))
		Expect(testutil.ToFloat64(metrics.Rotations.WithLabelValues(ns, "jwt-secret", "Manual"))).To(BeEquivalentTo(2))
		Expect(testutil.ToFloat64(metrics.Rotations.WithLabelValues(ns, "jwt-secret", "Created"))).To(BeEquivalentTo(1))
		Expect(testutil.ToFloat64(metrics.NextRotation.WithLabelValues(ns, "jwt-secret"))).To(
			BeEquivalentTo(got.Status.NextRotationTime.Unix()))
		Expect(op.generated.Calls()).To(HaveLen(3))
		for _, n := range op.generated.Calls() {
			Expect(n).To(Equal(1), "one Generate call per revision")
		}

		By("never writing a value to logs, Events or status")
		status, err := json.Marshal(got.Status)
		Expect(err).NotTo(HaveOccurred())
		var notes []string
		for _, e := range events(rs) {
			notes = append(notes, e.Note)
		}
		Expect(notes).NotTo(BeEmpty())
		Expect(op.logs.String()).To(ContainSubstring("Committed rotation"))
		for _, v := range []string{v1, v2, v3} {
			Expect(op.logs.String()).NotTo(ContainSubstring(v))
			Expect(strings.Join(notes, "\n")).NotTo(ContainSubstring(v))
			Expect(string(status)).NotTo(ContainSubstring(v))
		}
	})

	It("drops the previous value at once on an emergency rotation", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithPrevious("_PREVIOUS", "24h"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.WaitForRevision(rs, 2)
		Expect(secretData(ns, "backend-env")).To(HaveKey("JWT_SECRET_PREVIOUS"))
		v2 := secretValue(ns, "backend-env", "JWT_SECRET")

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 JWT secret pasted in a public channel")
		got := cluster.WaitForRevision(rs, 3)
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).NotTo(Equal(v2))
		Expect(secretData(ns, "backend-env")).NotTo(HaveKey("JWT_SECRET_PREVIOUS"))
		Expect(got.Status.PreviousRevision).To(BeZero())
		Expect(got.Status.LastHandledEmergencyRequest).To(Equal("e1"), "the token is the first word; the reason is in history")
		Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerEmergency))
		Expect(got.Status.History[0].Message).To(ContainSubstring("pasted in a public channel"))
		Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(3), "an emergency token is handled once")
	})

	It("lets two RotatedSecrets and a person share one Secret without losing anything", func() {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "backend-env", Namespace: ns},
			StringData: map[string]string{"DATABASE_URL": "postgres://db"},
		})).To(Succeed())
		jwt := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		cookie := testgen.RotatedSecret("cookie-secret", ns, testgen.WithTarget("backend-env", "COOKIE_SECRET"))
		Expect(k8sClient.Create(ctx, jwt)).To(Succeed())
		Expect(k8sClient.Create(ctx, cookie)).To(Succeed())
		cluster.WaitForRevision(jwt, 1)
		cluster.WaitForRevision(cookie, 1)

		data := secretData(ns, "backend-env")
		Expect(data).To(HaveKeyWithValue("DATABASE_URL", []byte("postgres://db")))
		Expect(string(data["JWT_SECRET"])).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(string(data["COOKIE_SECRET"])).To(MatchRegexp(`^[0-9a-f]{64}$`))

		cluster.Annotate(jwt, rotationv1alpha1.RotateAnnotation, "now")
		cluster.WaitForRevision(jwt, 2)
		after := secretData(ns, "backend-env")
		Expect(after["JWT_SECRET"]).NotTo(Equal(data["JWT_SECRET"]))
		Expect(after["COOKIE_SECRET"]).To(Equal(data["COOKIE_SECRET"]))
		Expect(after).To(HaveKeyWithValue("DATABASE_URL", []byte("postgres://db")))

		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "backend-env"}, &s)).To(Succeed())
		var managers []string
		for _, mf := range s.ManagedFields {
			managers = append(managers, mf.Manager)
		}
		Expect(managers).To(ContainElements("secret-rotator/"+ns+".jwt-secret", "secret-rotator/"+ns+".cookie-secret"))
	})

	It("restores a managed key edited by hand, and a deleted target, without a new revision", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		value := secretValue(ns, "backend-env", "JWT_SECRET")

		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "backend-env"}, &s)).To(Succeed())
		s.Data["JWT_SECRET"] = []byte("typed-by-hand")
		Expect(k8sClient.Update(ctx, &s)).To(Succeed())

		Eventually(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, wait).Should(Equal(value))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement("TargetDrift"))
		Expect(testutil.ToFloat64(metrics.Repairs.WithLabelValues(ns, "jwt-secret"))).To(BeEquivalentTo(1))
		// The Event is emitted before the status that records the repair is written: wait for the record.
		Eventually(func(g Gomega) {
			got := cluster.With(g).RotatedSecret(rs)
			g.Expect(got.Status.History).NotTo(BeEmpty())
			g.Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerTargetDrift))
			g.Expect(got.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeRepaired))
		}, wait).Should(Succeed())
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeEquivalentTo(1))

		By("re-creating a deleted target Secret with the current value")
		Expect(k8sClient.Delete(ctx, &s)).To(Succeed())
		Eventually(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, wait).Should(Equal(value))
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(op.generated.Calls()).To(HaveLen(1))
	})

	It("stalls with a clear reason when a target namespace does not exist, writes no target, and recovers", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithTargetIn("missing-"+ns, "backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())

		Eventually(func(g Gomega) {
			got := cluster.RotatedSecret(rs)
			c := fixture.Condition(got, rotationv1alpha1.ConditionStalled)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(rotationv1alpha1.ReasonTargetNamespaceNotFound))
			g.Expect(c.Message).To(ContainSubstring(`namespace "missing-` + ns + `" does not exist`))
			g.Expect(fixture.Condition(got, rotationv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(got.Status.FailedAttempts).To(BeNumerically(">=", 1))
			g.Expect(got.Status.Phase).To(Equal(rotationv1alpha1.PhaseStalled))
		}, wait).Should(Succeed())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonTargetNamespaceNotFound))
		Expect(testutil.ToFloat64(metrics.Failures.WithLabelValues(ns, "jwt-secret", rotationv1alpha1.ReasonTargetNamespaceNotFound))).To(BeNumerically(">=", 1))
		Expect(secretData(ns, "backend-env")).To(BeNil(), "no target sees the value while another cannot be written")

		By("backing off instead of retrying in a loop")
		attempts := cluster.RotatedSecret(rs).Status.FailedAttempts
		Expect(settle(rs).Status.FailedAttempts).To(Equal(attempts))

		By("finishing the same rotation once the namespace exists and the backoff has passed")
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "missing-" + ns}})).To(Succeed())
		clock.Step(time.Hour)
		poke(rs)
		got := cluster.WaitForRevision(rs, 1)
		Expect(got.Status.FailedAttempts).To(BeZero())
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled)).To(BeNil())
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(secretValue("missing-"+ns, "backend-env", "JWT_SECRET")).To(Equal(secretValue(ns, "backend-env", "JWT_SECRET")))
		Expect(op.generated.Calls()).To(Equal(map[string]int{ns + "/jwt-secret@1": 1}), "the retry reused the staged value")
	})

	It("stalls on a target that reads an output the provider does not have", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Targets = []rotationv1alpha1.Target{{SecretName: "backend-env", Key: "PARTNER", From: "partner_id"}}
		})
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, `spec.targets[0].from: the provider has no output "partner_id"`)
		Expect(secretData(ns, "backend-env")).To(BeNil())
		Expect(op.generated.Calls()).To(BeEmpty(), "refused before the provider is called")

		By("recovering as soon as the spec is fixed")
		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) { live.Spec.Targets[0].From = "value" })
		cluster.WaitForRevision(rs, 1)
		Expect(secretValue(ns, "backend-env", "PARTNER")).To(MatchRegexp(`^[0-9a-f]{64}$`))
	})

	It("refuses to take over someone else's Secret that has the staging Secret's name", func() {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "jwt-secret-rotation", Namespace: ns},
			StringData: map[string]string{"r1.value": "planted"},
		})).To(Succeed())
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonStagingFailed, "is not this RotatedSecret's staging Secret")
		Expect(secretData(ns, "backend-env")).To(BeNil(), "a planted value never reaches a target")
		Expect(secretValue(ns, "jwt-secret-rotation", "r1.value")).To(Equal("planted"))
	})

	It("holds rotations while suspended, except an emergency", func() {
		rs := testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) { live.Spec.Suspend = true })
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		got := settle(rs)
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(got.Status.Phase).To(Equal(rotationv1alpha1.PhaseSuspended))

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 leaked")
		cluster.WaitForRevision(rs, 2)
	})
})
