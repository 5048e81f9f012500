package cli_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/plan"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("plan", func() {
	// That the plan changes nothing is proven in internal/plan (resourceVersions, Events, a client that refuses writes).
	It("shows targets and refusals with the operator's flags as given", func() {
		ns := cluster.NewNamespace("plan")
		other := cluster.NewNamespace("plan-other")
		rs := create(testgen.RotatedSecret("jwt", ns, testgen.WithTTL("90d"), testgen.WithTarget("env", "JWT_SECRET")))
		// A ServiceAccount with no Role: the operator, told to act as it, could write nothing.
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rotator"}})).To(Succeed())

		r := run("plan", "jwt", "-n", ns, "-o", "json")
		Expect(r.code).To(Equal(0), r.errOut)
		var report plan.Report
		Expect(json.Unmarshal([]byte(r.out), &report)).To(Succeed())
		Expect(report.RotatedSecret).To(Equal(ns + "/jwt"))
		Expect(report.NextRevision).To(Equal(int64(2)))
		Expect(report.Targets).To(ConsistOf(HaveField("Secret", ns+"/env")))
		Expect(report.Refusals).To(BeEmpty(), "acting as itself (single tenant) the operator may do everything here")

		r = run("plan", "jwt", "-n", ns, "--default-service-account", "rotator", "-o", "json")
		Expect(r.code).To(Equal(0), r.errOut)
		report = plan.Report{}
		Expect(json.Unmarshal([]byte(r.out), &report)).To(Succeed())
		Expect(report.ActsAs).To(ContainSubstring(ns + "/rotator"))
		Expect(report.Refusals).To(ContainElement(HaveField("Reason", rotationv1alpha1.ReasonForbidden)))

		// A target in another namespace is refused by the default --no-cross-namespace-refs, allowed without it.
		cluster.Update(rs, func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Suspend = true
			rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{SecretName: "env", Namespace: other, Key: "JWT_SECRET"})
		})
		r = run("plan", "jwt", "-n", ns)
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(ContainSubstring(rotationv1alpha1.ReasonCrossNamespaceRef))
		r = run("plan", "jwt", "-n", ns, "--no-cross-namespace-refs=false")
		Expect(r.out).NotTo(ContainSubstring(rotationv1alpha1.ReasonCrossNamespaceRef))

		Expect(run("plan", "jwt", "-n", ns, "--http-allowed-hosts", "bad host").code).To(Equal(1))
	})
})
