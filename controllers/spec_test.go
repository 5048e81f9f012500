package controllers

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// TestCheckRollout covers what the operator refuses with InvalidSpec even if an object got past the CRD schema
// (an older CRD, or a rule CEL cannot express): each case names the field.
func TestCheckRollout(t *testing.T) {
	stage := func(change func(*rotationv1alpha1.RolloutStage)) *rotationv1alpha1.RolloutSpec {
		st := testgen.Stage("workers", "10m", "esim-worker")
		change(&st)
		return &rotationv1alpha1.RolloutSpec{Stages: []rotationv1alpha1.RolloutStage{st}}
	}
	cases := []struct {
		name, want string
		spec       *rotationv1alpha1.RolloutSpec
	}{
		{name: "valid", spec: stage(func(*rotationv1alpha1.RolloutStage) {})},
		{name: "no rollout", spec: nil},
		{name: "timeout under a minute", want: `spec.rollout.stages[0].timeout: "0m" is under 1m0s`,
			spec: stage(func(s *rotationv1alpha1.RolloutStage) { s.Timeout = "0m" })},
		{name: "timeout that does not parse", want: "spec.rollout.stages[0].timeout: duration",
			spec: stage(func(s *rotationv1alpha1.RolloutStage) { s.Timeout = "10s" })},
		{name: "selector operator", want: "spec.rollout.stages[0].selector:",
			spec: stage(func(s *rotationv1alpha1.RolloutStage) {
				s.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
			})},
		{name: "selector label value", want: "spec.rollout.stages[0].selector:",
			spec: stage(func(s *rotationv1alpha1.RolloutStage) {
				s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "no spaces allowed"}}
			})},
		{name: "workload namespace", want: "spec.rollout.stages[0].workloads[0].namespace:",
			spec: stage(func(s *rotationv1alpha1.RolloutStage) { s.Workloads[0].Namespace = "Not_A_Label" })},
		{name: "workload name", want: "spec.rollout.stages[0].workloads[0].name:",
			spec: stage(func(s *rotationv1alpha1.RolloutStage) { s.Workloads[0].Name = "UPPER/case" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			o := checkRollout(c.spec)
			if c.want == "" {
				g.Expect(o.done()).To(BeFalse())
				return
			}
			g.Expect(o.kind).To(Equal(stalled))
			g.Expect(o.reason).To(Equal(rotationv1alpha1.ReasonInvalidSpec))
			g.Expect(o.message).To(ContainSubstring(c.want))
		})
	}
}
