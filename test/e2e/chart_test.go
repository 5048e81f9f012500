//go:build e2e

package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
)

// chartRelease is the release name the Helm spec renders the chart as; not secret-rotator, so none of its
// cluster-scoped objects share a name with config/default's.
const chartRelease = "e2e"

var _ = Describe("The Helm chart install (charts/secret-rotator)", func() {
	It("runs the operator with the chart's CRD, ServiceAccount, RBAC and flags, and rotates through a rollout and validation", func() {
		By("rendering the chart with `helm template` into a release namespace of its own, as `helm install -n` would")
		release := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cluster.NewNamespace("e2e-helm-")}}
		DeferCleanup(func() { Expect(client.IgnoreNotFound(cl.Delete(ctx, release))).To(Succeed()) })
		deployment, sa := installChart(release.Name)
		admin, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		path, operatorCfg := serviceAccountKubeconfig(admin, sa, "operator-helm.kubeconfig")

		ns := newNamespace() // with config/tenant, as a team applies it
		createWorkloads(ns)

		By("the chart's ServiceAccount may watch cluster-wide and write only in its own namespace")
		// Allowed and refused together: a review that refused everything would make the refusals prove nothing.
		rotatedSecrets := rotationv1alpha1.GroupVersion.WithResource("rotatedsecrets")
		for _, c := range []struct {
			attrs authorizationv1.ResourceAttributes
			want  bool
		}{
			{authorizationv1.ResourceAttributes{Group: rotatedSecrets.Group, Resource: rotatedSecrets.Resource, Verb: "watch"}, true},
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list"}, true},
			{authorizationv1.ResourceAttributes{Resource: "serviceaccounts", Verb: "impersonate", Namespace: ns, Name: tenantServiceAccount}, true},
			{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: release.Name}, true},
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "get", Namespace: release.Name, Name: fingerprint.KeySecretName}, true},
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "patch", Namespace: ns}, false},
			{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "patch", Namespace: ns}, false},
			{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: ns}, false},
			{authorizationv1.ResourceAttributes{Resource: "namespaces", Verb: "delete"}, false},
			{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Verb: "create"}, false},
		} {
			Expect(fixture.Can(ctx, operatorCfg, c.attrs)).To(Equal(c.want), "may %s %s %s.%s %q (namespace %q)?",
				sa, c.attrs.Verb, c.attrs.Resource, c.attrs.Group, c.attrs.Name, c.attrs.Namespace)
		}

		By("the manager runs as that ServiceAccount with the args and environment of the chart's Deployment")
		args, env := managerCommandLine(deployment, release.Name)
		Expect(args).To(ContainElements("--leader-elect", "--default-service-account="+tenantServiceAccount,
			"--no-cross-namespace-refs=true"), "the chart's defaults")
		op := startSpecOperator(asIdentity(path), withEnv(env...), withArgs(args...))
		Expect(cl.Get(ctx, client.ObjectKey{Namespace: release.Name, Name: fingerprint.KeySecretName}, &corev1.Secret{})).
			To(Succeed(), "the first start created the fingerprint key in the release namespace")

		By("a RotatedSecret is rotated through both stages and the smoke Job, then again on request")
		createJWT(ns, "5m")
		before := targetValues(ns)
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "helm")
		rs := cluster.WaitForRevision(jwtKey(ns), 2)
		Expect(historyOf(rs, 2)).To(ConsistOf(And(
			HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded), HaveField("Trigger", rotationv1alpha1.TriggerManual))))
		Expect(rs.Status.Rollout.CompletedStages).To(Equal([]string{"workers", "api"}))
		after := targetValues(ns)
		for _, secret := range []string{workersEnv, apiEnv} {
			Expect(after[secret]).NotTo(Equal(before[secret]), "target %s holds a new value", secret)
		}

		By("the operator was refused nothing, as itself or in the spec's namespaces")
		// Namespaces of earlier specs may still be terminating, their config/tenant gone: this operator watches
		// every namespace, sees their RotatedSecrets and is refused there, which says nothing about the chart.
		var refused []string
		for _, line := range strings.Split(op.logs(), "\n") {
			if strings.Contains(strings.ToLower(line), "forbidden") && (strings.Contains(line, ns) || strings.Contains(line, release.Name)) {
				refused = append(refused, line)
			}
		}
		Expect(refused).To(BeEmpty())
	})
})

// installChart renders the chart (with its CRD) as release chartRelease in namespace ns and applies everything but
// the Deployment, whose manager the spec runs as a process instead (no images here). It checks that the CRD is the
// one the suite installed from config/crd/bases, that there is one Deployment and that its ServiceAccount exists,
// and returns them. The chart's cluster-scoped RBAC is deleted when the spec ends; the CRD stays (the suite's).
func installChart(ns string) (*appsv1.Deployment, client.ObjectKey) {
	GinkgoHelper()
	helm, err := fixture.HelmBinary(repoRoot)
	Expect(err).NotTo(HaveOccurred())
	objs, err := fixture.RenderChart(ctx, helm, repoRoot, chartRelease, ns, "--include-crds")
	Expect(err).NotTo(HaveOccurred())
	var deployments []*appsv1.Deployment
	var install []*unstructured.Unstructured
	for _, u := range objs {
		if u.GroupVersionKind() == appsv1.SchemeGroupVersion.WithKind("Deployment") {
			d := &appsv1.Deployment{}
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d)).To(Succeed())
			deployments = append(deployments, d)
			continue
		}
		install = append(install, u)
		if namespaced, err := cl.IsObjectNamespaced(u); err == nil && !namespaced && u.GetKind() != "CustomResourceDefinition" {
			DeferCleanup(func() { Expect(client.IgnoreNotFound(cl.Delete(ctx, u.DeepCopy()))).To(Succeed()) })
		}
	}
	Expect(deployments).To(HaveLen(1), "the chart runs one operator")

	crdGeneration := func() int64 {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(cl.Get(ctx, client.ObjectKey{Name: "rotatedsecrets." + rotationv1alpha1.GroupVersion.Group}, crd)).To(Succeed())
		return crd.Generation
	}
	installed := crdGeneration()
	Expect(fixture.Apply(ctx, cl, install)).To(Succeed())
	for _, u := range install {
		GinkgoWriter.Printf("Applied %s %s from the chart\n", u.GetKind(), u.GetName())
	}
	Expect(crdGeneration()).To(Equal(installed), "the chart's CRD is the one the suite installed from config/crd/bases")

	sa := client.ObjectKey{Namespace: ns, Name: deployments[0].Spec.Template.Spec.ServiceAccountName}
	Expect(cl.Get(ctx, sa, &corev1.ServiceAccount{})).To(Succeed(), "the chart creates the ServiceAccount its Deployment runs as")
	return deployments[0], sa
}
