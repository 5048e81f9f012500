package plan_test

import (
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/plan"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// TestPlanShowsTheGuardRails: a vendor host --http-allowed-hosts does not list, another RotatedSecret's staging
// Secret as a target, and an override of a target are refused as the operator refuses them, with its messages;
// the vendor credential read is checked for the ServiceAccount.
func TestPlanShowsTheGuardRails(t *testing.T) {
	g := NewWithT(t)
	ns := mustNamespace("rails-")
	create(t, testgen.RotatedSecret("other", ns, testgen.Suspended))
	rs := testgen.RotatedSecret("vendor", ns, testgen.WithTarget("env", "API_KEY"), testgen.WithTarget("other-rotation", "API_KEY"))
	rs.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: &rotationv1alpha1.HTTPProvider{
		Auth:     rotationv1alpha1.HTTPAuth{SecretRef: rotationv1alpha1.SecretKeyRef{Name: "vendor-admin", Key: "token"}},
		Generate: rotationv1alpha1.HTTPRequest{Method: "POST", URL: "https://api.vendor.example/v1/keys"},
		Outputs:  map[string]string{"value": "{.api_key}"},
	}}
	rs.Spec.Emergency = &rotationv1alpha1.EmergencySpec{Overrides: []rotationv1alpha1.Override{{
		SecretRef: &rotationv1alpha1.ObjectRef{Name: "env"}, Key: "RATE", Value: "2", Duration: "1h"}}}
	rs.Spec.ServiceAccountName = rotator
	create(t, rs)

	r := build(t, k8sClient, cfg, rs, plan.DefaultSettings(), t0)
	g.Expect(r.Refusals).To(ContainElements(
		plan.Refusal{Reason: rotationv1alpha1.ReasonInvalidSpec, Message: `spec.provider.http.generate.url: refused by the ` +
			`egress policy: host "api.vendor.example" is not allowed: --http-allowed-hosts is empty, so no outbound HTTP call is allowed`},
		plan.Refusal{Reason: rotationv1alpha1.ReasonTargetRefused, Message: "target Secret " + ns + "/other-rotation: it is the " +
			"name of the staging Secret of RotatedSecret other; nothing was written to any target; name another Secret in spec.targets"},
	))
	g.Expect(actions(r)).To(ContainElements(`get secrets "vendor-admin" in namespace `+ns, `patch secrets "env" in namespace `+ns))

	// With the host listed, the provider is accepted; the override of a target is the next InvalidSpec.
	s := plan.DefaultSettings()
	s.HTTPAllowedHosts = egress.MustParse("api.vendor.example")
	r = build(t, k8sClient, cfg, rs, s, t0)
	g.Expect(r.Refusals).To(ContainElement(plan.Refusal{Reason: rotationv1alpha1.ReasonInvalidSpec,
		Message: "spec.emergency.overrides[0].secretRef: Secret env cannot be overridden: it is a target of this RotatedSecret"}))
	g.Expect(r.Refusals).NotTo(ContainElement(HaveField("Message", ContainSubstring("egress"))))
	// The ServiceAccount does not exist and has no Role: every pre-flight action is refused, as the operator would.
	g.Expect(r.Access.Method).To(Equal(plan.MethodImpersonation))
	g.Expect(r.Refusals).To(ContainElement(HaveField("Reason", rotationv1alpha1.ReasonForbidden)))
}
