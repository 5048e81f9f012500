//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
)

// rateKey is the OTP limit the runbook tightens during an emergency.
const rateKey = "RATE_LIMIT_CODES_PER_DAY"

// rateLimit reads it from ConfigMap backend-config.
func rateLimit(ns string) string {
	var cm corev1.ConfigMap
	Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "backend-config"}, &cm)).To(Succeed())
	return cm.Data[rateKey]
}

var _ = Describe("An emergency on a real cluster", func() {
	It("halts on the new value when its smoke Job fails, never restarting onto the compromised one; its override "+
		"survives a SIGKILL of the operator and is reverted when its minute is up", func() {
		ns := newNamespace()
		createWorkloads(ns)
		Expect(cl.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backend-config"},
			Data: map[string]string{rateKey: "10"}})).To(Succeed())
		op := startSpecOperator()
		rs := jwtSecret(ns, "5m")
		rs.Spec.Emergency = &rotationv1alpha1.EmergencySpec{Overrides: []rotationv1alpha1.Override{{
			ConfigMapRef: &rotationv1alpha1.ObjectRef{Name: "backend-config"}, Key: rateKey, Value: "2", Duration: "1m"}}}
		Expect(cl.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(jwtKey(ns), 1)
		before := targetValues(ns)

		By("the emergency's smoke test will fail: kwok fails its pod")
		cluster.Update(jwtKey(ns), func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Validation.Jobs[0].Template.Spec.Template.Labels = map[string]string{failLabel: "true"}
		})
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.EmergencyAnnotation, "e1 JWT secret in a support ticket")
		Eventually(func() string { return rateLimit(ns) }).WithTimeout(wait).WithPolling(poll).Should(Equal("2"))

		By("SIGKILL between the override and its revert; a new operator process takes over")
		op.kill()
		startSpecOperator()
		var got *rotationv1alpha1.RotatedSecret
		Eventually(func(g Gomega) {
			got = cluster.RotatedSecret(jwtKey(ns))
			g.Expect(historyOf(got, 2)).To(ConsistOf(HaveField("Outcome", rotationv1alpha1.OutcomeHalted)))
			g.Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled)).To(And(
				HaveField("Status", metav1.ConditionTrue), HaveField("Reason", rotationv1alpha1.ReasonEmergencyValidationFailed)))
		}).WithTimeout(wait).WithPolling(poll).Should(Succeed(), "the emergency halted")
		Expect(got.Status.Compromised).To(ContainElement(HaveField("Revision", BeEquivalentTo(1))))

		By("the override was in place before the first restart")
		inc := got.Status.Incidents[0]
		var applied time.Time
		for _, e := range inc.Timeline {
			if e.Type == rotationv1alpha1.IncidentOverrideApplied {
				applied = e.Time.Time
			}
		}
		Expect(applied.IsZero()).To(BeFalse(), "the incident records the override")
		firstRS := replicaSetsFor(ns, workers, 2)
		Expect(firstRS).To(HaveLen(1))
		Expect(firstRS[0].CreationTimestamp.Time).To(BeTemporally(">=", applied.Truncate(time.Second)))

		By("the compromised value is back nowhere: targets keep the new value, pods stay on revision 2")
		after := targetValues(ns)
		for _, secret := range []string{workersEnv, apiEnv} {
			Expect(after[secret]).NotTo(Equal(before[secret]))
		}
		Consistently(func(g Gomega) {
			g.Expect(targetValues(ns)).To(Equal(after))
			g.Expect(cluster.TemplateRevision(ns, workers, rsName)).To(Equal("2"))
			g.Expect(cluster.TemplateRevision(ns, api, rsName)).To(Equal("2"))
		}).WithTimeout(5 * time.Second).WithPolling(poll).Should(Succeed())
		expectOnlyPodsOf(ns, workers, "2")

		By("a minute after it was applied the original limit is back, and the stages restart to read it")
		Eventually(func() string { return rateLimit(ns) }).WithTimeout(wait).WithPolling(poll).Should(Equal("10"))
		Eventually(func(g Gomega) {
			live := cluster.RotatedSecret(jwtKey(ns))
			g.Expect(live.Status.Overrides).To(BeEmpty())
			g.Expect(live.Status.OverrideRestart).To(BeNil())
		}).WithTimeout(wait).WithPolling(poll).Should(Succeed())
		for _, name := range []string{workers, api} {
			Expect(cluster.Deployment(ns, name).Spec.Template.Annotations).To(HaveKey(HavePrefix("override.rotation.tribi.io/")),
				"%s restarted after the revert", name)
		}
		got = cluster.RotatedSecret(jwtKey(ns))
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled)).To(HaveField("Reason",
			rotationv1alpha1.ReasonEmergencyValidationFailed), "still halted after the revert, for a person to look")
		Expect(timelineOf(got.Status.Incidents[0])).To(ContainElements(
			rotationv1alpha1.IncidentOverrideApplied, rotationv1alpha1.IncidentOverrideReverted, rotationv1alpha1.IncidentHalted))
	})
})

// timelineOf lists the entry types of an incident's timeline.
func timelineOf(inc rotationv1alpha1.Incident) []rotationv1alpha1.IncidentEntryType {
	var out []rotationv1alpha1.IncidentEntryType
	for _, e := range inc.Timeline {
		out = append(out, e.Type)
	}
	return out
}
