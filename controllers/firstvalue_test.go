package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("A first value with one target Secret", func() {
	// staged reads revision 1's value from the staging Secret, "" when there is none.
	staged := func(ns string) string { return secretValue(ns, "jwt-rotation", "r1.value") }

	// interrupted creates RotatedSecret jwt writing JWT_SECRET into each of secrets in a new namespace, and stops
	// the operator at step of its first rotation.
	interrupted := func(step string, secrets ...string) *rotationv1alpha1.RotatedSecret {
		ns := cluster.NewNamespace("fv-")
		hook, crashed := crashAt(step)
		op := startOperator(operatorOptions{hook: hook}, ns)
		var opts []testgen.Option
		for _, name := range secrets {
			opts = append(opts, testgen.WithTarget(name, "JWT_SECRET"))
		}
		rs := testgen.RotatedSecret("jwt", ns, opts...)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		Eventually(crashed, wait).Should(BeClosed())
		op.stop()
		return rs
	}

	It("is written to its target without a status write first; status records it with the commit", func() {
		rs := interrupted(controllers.StepHookStaged, "backend-env")
		Expect(staged(rs.Namespace)).To(MatchRegexp(`^[0-9a-f]{64}$`), "the staging Secret records the value")
		Expect(cluster.RotatedSecret(rs).Status.Pending).To(BeNil(), "no status write between staging and the target")

		// Two targets in two Secrets: status records the pending rotation before the first target, as every
		// rotation does that more than one Secret sees.
		two := interrupted(controllers.StepHookStaged, "backend-env", "worker-env")
		Expect(cluster.RotatedSecret(two).Status.Pending).NotTo(BeNil())
	})

	for _, step := range []string{controllers.StepHookStaged, controllers.StepHookTargetsWritten} {
		It("finishes with the staged value after a crash at "+step, func() {
			rs := interrupted(step, "backend-env")
			ns := rs.Namespace
			atCrash := staged(ns)
			Expect(cluster.RotatedSecret(rs).Status.Pending).To(BeNil())

			op := startOperator(operatorOptions{}, ns)
			defer op.stop()
			got := cluster.WaitForRevision(rs, 1)
			Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(atCrash))
			Expect(got.Status.CurrentFingerprint).To(Equal(fp(atCrash)))
			Expect(op.generated.Calls()).To(BeEmpty(), "no second value was generated")
			Expect(got.Status.History).To(HaveLen(1))
			Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(1))
		})
	}

	It("is never reused by an emergency set after its target write, before its commit", func() {
		rs := interrupted(controllers.StepHookTargetsWritten, "backend-env")
		ns := rs.Namespace
		leaked := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(leaked).To(Equal(staged(ns)), "the target holds the staged value; status does not know it")
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 pasted in a public channel")

		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		got := cluster.WaitForRevision(rs, 2)
		value := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(value).NotTo(Equal(leaked), "the value the target held when the emergency was declared is not put back")
		Expect(got.Status.CurrentFingerprint).To(Equal(fp(value)))
		Expect(got.Status.Compromised).To(ContainElement(HaveField("Fingerprint", fp(leaked))))
		Expect(got.Status.History).To(ContainElement(And(HaveField("Revision", BeEquivalentTo(1)),
			HaveField("Outcome", rotationv1alpha1.OutcomeDiscarded))))
	})
})
