package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/tenancy"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// tenant is the ServiceAccount a tenant's RotatedSecrets name: it may only write Secrets in its own namespace
// until a test grants it more.
const tenant = "rotator"

// grant gives the ServiceAccount namespace/sa the rules in namespace in, with a Role and RoleBinding named name.
func grant(in, name, namespace, sa string, rules ...rbacv1.PolicyRule) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in}, Rules: rules})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa}},
	})).To(Succeed())
}

// secretsRule lets a ServiceAccount write Secrets (all of them, or the names given).
func secretsRule(names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: names,
		Verbs: []string{"get", "create", "update", "patch"}}
}

// asTenant names the tenant ServiceAccount in the spec.
func asTenant(sa string) testgen.Option {
	return func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.ServiceAccountName = sa }
}

// expectForbidden waits for the Forbidden stall naming the action, and its Warning Event.
func expectForbidden(rs *rotationv1alpha1.RotatedSecret, sa, action string) {
	GinkgoHelper()
	expectStalled(rs, rotationv1alpha1.ReasonForbidden, fmt.Sprintf("ServiceAccount %s/%s may not %s", rs.Namespace, sa, action))
	Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonForbidden))
}

// secretExists reports whether a Secret exists.
func secretExists(namespace, name string) bool {
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.Secret{})
	if apierrors.IsNotFound(err) {
		return false
	}
	Expect(err).NotTo(HaveOccurred())
	return true
}

var _ = Describe("Tenancy: a RotatedSecret acts as its ServiceAccount, so RBAC decides", func() {
	var teamA, teamB string
	var op *operator

	BeforeEach(func() {
		teamA, teamB = cluster.NewNamespace("team-a-"), cluster.NewNamespace("team-b-")
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tenant, Namespace: teamA}})).To(Succeed())
		grant(teamA, "tenant", teamA, tenant, secretsRule())
		op = startOperator(operatorOptions{impersonate: true}, teamA, teamB)
	})
	AfterEach(func() { op.stop() })

	It("cannot write a Secret in another namespace, and can once an admin grants it", func() {
		rs := testgen.RotatedSecret("jwt", teamA, asTenant(tenant), testgen.WithTargetIn(teamB, "env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectForbidden(rs, tenant, fmt.Sprintf(`patch secrets "env" in namespace %s`, teamB))
		Expect(secretExists(teamB, "env")).To(BeFalse())
		Expect(secretExists(teamA, "jwt-rotation")).To(BeFalse(), "nothing is generated or staged before RBAC said yes")
		Expect(op.generated.Calls()).To(BeEmpty())

		grant(teamB, "tenant-from-a", teamA, tenant, secretsRule("env"))
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "granted")
		cluster.WaitForRevision(rs, 1)
		Expect(secretValue(teamB, "env", "JWT_SECRET")).To(HaveLen(64))
	})

	It("cannot restart a Deployment in another namespace: nothing is written or restarted", func() {
		d := testgen.Deployment("api", teamB, 1)
		Expect(k8sClient.Create(ctx, d)).To(Succeed())
		rs := testgen.RotatedSecret("jwt", teamA, asTenant(tenant), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithRollout(rotationv1alpha1.RolloutStage{Name: "api", Workloads: []rotationv1alpha1.WorkloadRef{
				{Kind: rotationv1alpha1.KindDeployment, Namespace: teamB, Name: "api"}}}))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectForbidden(rs, tenant, fmt.Sprintf(`patch deployments.apps "api" in namespace %s`, teamB))
		Expect(secretExists(teamA, "env")).To(BeFalse())
		Expect(cluster.TemplateRevision(teamB, "api", "jwt")).To(BeEmpty())
	})

	It("cannot run a validation Job as a ServiceAccount it may not use", func() {
		grant(teamA, "jobs", teamA, tenant, rbacv1.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"jobs"},
			Verbs: []string{"get", "create"}})
		rs := testgen.RotatedSecret("jwt", teamA, asTenant(tenant), testgen.WithTarget("env", "JWT_SECRET"),
			testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke"))
		rs.Spec.Validation.Jobs[0].Template.Spec.Template.Spec.ServiceAccountName = "cluster-admin-sa"
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectForbidden(rs, tenant, `create serviceaccounts/token "cluster-admin-sa"`)
		Expect(secretExists(teamA, "env")).To(BeFalse())

		grant(teamA, "use-sa", teamA, tenant, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
			ResourceNames: []string{"cluster-admin-sa"}, Verbs: []string{"create"}})
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "granted")
		Eventually(func(g Gomega) {
			var jobs batchv1.JobList
			g.Expect(k8sClient.List(ctx, &jobs, client.InNamespace(teamA))).To(Succeed())
			g.Expect(jobs.Items).To(HaveLen(1))
			g.Expect(jobs.Items[0].Spec.Template.Spec.ServiceAccountName).To(Equal("cluster-admin-sa"))
		}, wait).Should(Succeed())
	})

	It("cannot read a Secret it may not read as a credential", func() {
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "narrow", Namespace: teamA}})).To(Succeed())
		grant(teamA, "narrow", teamA, "narrow", secretsRule("jwt-rotation", "env"),
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}})
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: teamA},
			StringData: map[string]string{"token": "not-for-tenants"}})).To(Succeed())
		op.stop()
		vendor := &fake.Provider{GenerateFunc: func(ctx context.Context, req provider.Request) (provider.Result, error) {
			if _, err := req.Credentials.Credential(ctx, rotationv1alpha1.SecretKeyRef{Name: "vault", Key: "token"}); err != nil {
				return provider.Result{}, err
			}
			return provider.Result{Values: provider.Values{"value": []byte(fmt.Sprintf("vendor-r%d", req.Revision))}}, nil
		}}
		op = startOperator(operatorOptions{impersonate: true, random: vendor}, teamA, teamB)

		rs := testgen.RotatedSecret("jwt", teamA, asTenant("narrow"), testgen.WithTarget("env", "KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectForbidden(rs, "narrow", `get secrets "vault" in namespace `+teamA)
		Expect(secretExists(teamA, "env")).To(BeFalse())

		grant(teamA, "vault", teamA, "narrow", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{"vault"}, Verbs: []string{"get"}})
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "granted")
		cluster.WaitForRevision(rs, 1)
		Expect(secretValue(teamA, "env", "KEY")).To(Equal("vendor-r1"))
	})

	It("cannot have the http provider call a host the admin has not allowed: the stand-in for an attacker's server sees nothing", func() {
		var hits atomic.Int32
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
		DeferCleanup(attacker.Close)
		op.stop()
		op = startOperator(operatorOptions{impersonate: true, providers: provider.Registry{
			provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("api.connectedyou.example")})}}, teamA, teamB)
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: teamA, Name: "connectedyou-admin"},
			StringData: map[string]string{"token": "admin-token"}})).To(Succeed())
		rs := connectedYou(teamA, &vendor{Server: attacker})
		rs.Spec.ServiceAccountName, rs.Spec.Validation = tenant, nil
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, "--http-allowed-hosts")
		Consistently(hits.Load, "1s").Should(BeZero())
		Expect(secretExists(teamA, "backend-env")).To(BeFalse())
	})

	It("cannot take over a key another field manager owns until a person says adopt, and never another RotatedSecret's", func() {
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: teamA},
			StringData: map[string]string{"JWT_SECRET": "helm-owned", "OTHER": "x"}})).To(Succeed())
		rs := testgen.RotatedSecret("jwt", teamA, asTenant(tenant), testgen.WithTarget("shared", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonTargetOwnedElsewhere, "key JWT_SECRET is owned by field manager")
		Expect(secretValue(teamA, "shared", "JWT_SECRET")).To(Equal("helm-owned"))

		cluster.Annotate(rs, rotationv1alpha1.AdoptAnnotation, "true")
		cluster.WaitForRevision(rs, 1)
		Expect(secretValue(teamA, "shared", "JWT_SECRET")).To(HaveLen(64))
		Expect(secretValue(teamA, "shared", "OTHER")).To(Equal("x"))

		thief := testgen.RotatedSecret("thief", teamA, asTenant(tenant), testgen.WithTarget("shared", "JWT_SECRET"))
		thief.Annotations = map[string]string{rotationv1alpha1.AdoptAnnotation: "true"}
		Expect(k8sClient.Create(ctx, thief)).To(Succeed())
		expectStalled(thief, rotationv1alpha1.ReasonTargetOwnedElsewhere, fmt.Sprintf(`"secret-rotator/%s.jwt"`, teamA))
		Expect(fp(secretValue(teamA, "shared", "JWT_SECRET"))).To(Equal(cluster.RotatedSecret(rs).Status.CurrentFingerprint))
	})

	It("cannot poison another RotatedSecret's staging Secret, and a tampered staged value is written nowhere", func() {
		victim := testgen.RotatedSecret("victim", teamA, asTenant(tenant), testgen.WithTarget("env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, victim)).To(Succeed())
		cluster.WaitForRevision(victim, 1)
		staged := secretData(teamA, "victim-rotation")

		attacker := testgen.RotatedSecret("attacker", teamA, asTenant(tenant), testgen.WithTarget("victim-rotation", "r1.value"))
		Expect(k8sClient.Create(ctx, attacker)).To(Succeed())
		expectStalled(attacker, rotationv1alpha1.ReasonTargetRefused, "staging Secret of RotatedSecret victim")
		Expect(secretData(teamA, "victim-rotation")).To(Equal(staged))

		// Someone with write access to the namespace edits the staged value, then the target drifts: the drift
		// repair would write the edited value back; it stalls instead.
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: teamA, Name: "victim-rotation"}, &sec)).To(Succeed())
		sec.Data["r1.value"] = []byte("poisoned-value-chosen-by-an-attacker")
		Expect(k8sClient.Update(ctx, &sec)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: teamA, Name: "env"}, &sec)).To(Succeed())
		sec.Data["JWT_SECRET"] = []byte("drifted")
		Expect(k8sClient.Update(ctx, &sec)).To(Succeed())
		expectStalled(victim, rotationv1alpha1.ReasonStagingTampered, "revision 1")
		Consistently(func() string { return secretValue(teamA, "env", "JWT_SECRET") }, "1s").Should(Equal("drifted"))
	})
})

var _ = Describe("Guard rails an admin sets", func() {
	It("refuse cross-namespace references and RotatedSecrets in protected namespaces before anything is written", func() {
		home, other, protected := cluster.NewNamespace("home-"), cluster.NewNamespace("other-"), cluster.NewNamespace("prot-")
		op := startOperator(operatorOptions{rules: tenancy.Rules{NoCrossNamespaceRefs: true, Protected: []string{protected}}},
			home, other, protected)
		defer op.stop()

		cross := testgen.RotatedSecret("cross", home, testgen.WithTargetIn(other, "env", "KEY"))
		Expect(k8sClient.Create(ctx, cross)).To(Succeed())
		expectStalled(cross, rotationv1alpha1.ReasonCrossNamespaceRef, "spec.targets[0] names namespace "+other)

		inside := testgen.RotatedSecret("inside", protected, testgen.WithTarget("env", "KEY"))
		Expect(k8sClient.Create(ctx, inside)).To(Succeed())
		expectStalled(inside, rotationv1alpha1.ReasonProtectedNamespace, "namespace "+protected+" is protected")

		Consistently(func() bool { return secretExists(other, "env") || secretExists(protected, "env") }, "1s").Should(BeFalse())
		Expect(op.generated.Calls()).To(BeEmpty())
		Expect(fixture.Condition(cluster.RotatedSecret(cross), rotationv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	})
})
