package tenancy

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/rollout"
)

func TestPreflightListsWhatARotationDoesInOrderOnce(t *testing.T) {
	g := NewWithT(t)
	job := func(name, sa string) rotationv1alpha1.ValidationJob {
		j := rotationv1alpha1.ValidationJob{Name: name}
		j.Template.Spec.Template.Spec = corev1.PodSpec{ServiceAccountName: sa}
		return j
	}
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "a"}, Spec: rotationv1alpha1.RotatedSecretSpec{
		Targets: []rotationv1alpha1.Target{{SecretName: "env", Key: "K"}, {SecretName: "env", Key: "L"},
			{SecretName: "env", Namespace: "b", Key: "K"}, {GitHubActions: &rotationv1alpha1.GitHubActionsTarget{Name: "G"}}},
		Validation:   &rotationv1alpha1.ValidationSpec{Jobs: []rotationv1alpha1.ValidationJob{job("smoke", ""), job("as-rotator", "rotator")}},
		PostRotation: &rotationv1alpha1.PostRotationSpec{Jobs: []rotationv1alpha1.ValidationJob{job("purge", "cleaner")}},
		// Purge Jobs of an emergency are not pre-flighted: they are asked when an emergency runs them.
		Emergency: &rotationv1alpha1.EmergencySpec{Jobs: []rotationv1alpha1.ValidationJob{job("cdn", "cdn")}},
	}}
	workloads := []rollout.Workload{{Kind: rotationv1alpha1.KindDeployment, Namespace: "a", Name: "api"},
		{Kind: rotationv1alpha1.KindStatefulSet, Namespace: "a", Name: "db"}, {Kind: rotationv1alpha1.KindDeployment, Namespace: "a", Name: "api"}}
	var got []string
	for _, a := range Preflight(rs, workloads, "rotator") {
		got = append(got, a.String())
	}
	g.Expect(got).To(Equal([]string{
		"create secrets in namespace a",
		`patch secrets "jwt-rotation" in namespace a`,
		`patch secrets "env" in namespace a`,
		`patch secrets "env" in namespace b`,
		`patch deployments.apps "api" in namespace a`,
		`patch statefulsets.apps "db" in namespace a`,
		"create jobs.batch in namespace a",
		`create serviceaccounts/token "default" in namespace a`,
		`create serviceaccounts/token "cleaner" in namespace a`,
	}))
}

func TestRulesCheckSpec(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "a"}, Spec: rotationv1alpha1.RotatedSecretSpec{
		Targets:   []rotationv1alpha1.Target{{SecretName: "env"}, {GitHubActions: &rotationv1alpha1.GitHubActionsTarget{Name: "G"}}},
		DependsOn: []rotationv1alpha1.DependencyRef{{Name: "stg", Namespace: "staging"}},
	}}
	strict := Rules{NoCrossNamespaceRefs: true, Protected: []string{"kube-system"}}
	g.Expect(strict.CheckSpec(rs)).To(MatchError(ContainSubstring("spec.dependsOn[0] names namespace staging")))
	g.Expect(Rules{Protected: []string{"staging"}}.CheckSpec(rs)).To(MatchError(ContainSubstring("which is protected")))
	g.Expect(Rules{}.CheckSpec(rs)).To(Succeed())
	rs.Namespace = "kube-system"
	g.Expect(strict.CheckSpec(rs)).To(MatchError(ContainSubstring("namespace kube-system is protected")))
	rs.Namespace = "a"
	rs.Spec.Rollout = &rotationv1alpha1.RolloutSpec{Stages: []rotationv1alpha1.RolloutStage{{Name: "s",
		Workloads: []rotationv1alpha1.WorkloadRef{{Kind: rotationv1alpha1.KindDeployment, Name: "api", Namespace: "kube-system"}}}}}
	g.Expect(Rules{Protected: []string{"kube-system"}}.CheckSpec(rs)).To(MatchError(ContainSubstring("spec.rollout.stages[0].workloads[0]")))
}

func TestWithOperatorNamespace(t *testing.T) {
	g := NewWithT(t)
	r := Rules{Protected: []string{"kube-system"}}
	g.Expect(r.WithOperatorNamespace("ops", nil).Protected).To(Equal([]string{"kube-system", "ops"}))
	g.Expect(r.WithOperatorNamespace("ops", []string{"ops"}).Protected).To(Equal([]string{"kube-system"}),
		"a namespace-scoped install acts in its own namespace")
	g.Expect(r.Protected).To(Equal([]string{"kube-system"}), "the rules it was called on are left as they were")
}
