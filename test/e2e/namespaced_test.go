//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// nsTarget is the target Secret of the namespace-scoped spec's RotatedSecrets.
const nsTarget = "app-env"

var _ = Describe("The namespace-scoped install (config/namespaced)", func() {
	It("rotates in its own namespace with Roles only and leaves other namespaces alone", func() {
		By("a RotatedSecret in another namespace, with config/tenant applied, exists before the operator starts")
		other := newNamespace()
		outside := testgen.RotatedSecret(rsName, other, testgen.WithTarget(nsTarget, targetKey))
		Expect(cl.Create(ctx, outside)).To(Succeed())
		ns := newNamespace() // the spec's namespace from here on, for the dump on failure

		By("installing config/namespaced in the namespace: Roles only, nothing cluster-scoped")
		deployment, sa := installNamespaced(ns)
		admin, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		path, operatorCfg := serviceAccountKubeconfig(admin, sa, "operator-"+ns+".kubeconfig")

		By("its ServiceAccount may read Secrets in its namespace only")
		// Allowed and refused together: a review that refused everything would make the refusals prove nothing.
		rotatedSecrets := rotationv1alpha1.GroupVersion.WithResource("rotatedsecrets")
		for _, c := range []struct {
			attrs authorizationv1.ResourceAttributes
			want  bool
		}{
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list", Namespace: ns}, true},
			{authorizationv1.ResourceAttributes{Group: rotatedSecrets.Group, Resource: rotatedSecrets.Resource, Verb: "watch", Namespace: ns}, true},
			{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: ns}, true},
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list"}, false},
			{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list", Namespace: other}, false},
			{authorizationv1.ResourceAttributes{Group: rotatedSecrets.Group, Resource: rotatedSecrets.Resource, Verb: "watch"}, false},
		} {
			Expect(fixture.Can(ctx, operatorCfg, c.attrs)).To(Equal(c.want), "may %s %s %s.%s (namespace %q)?",
				sa, c.attrs.Verb, c.attrs.Resource, c.attrs.Group, c.attrs.Namespace)
		}

		By("the manager runs with the flags and environment of config/namespaced's Deployment")
		keyName := client.ObjectKey{Namespace: ns, Name: fingerprint.KeySecretName}
		Expect(apierrors.IsNotFound(cl.Get(ctx, keyName, &corev1.Secret{}))).To(BeTrue(), "no fingerprint key before the first start")
		args, env := managerCommandLine(deployment, ns)
		Expect(args).To(ContainElement("--watch-namespaces="+ns), "config/namespaced watches its own namespace")
		op := startSpecOperator(asIdentity(path), withEnv(env...), withArgs(args...))
		Expect(cl.Get(ctx, keyName, &corev1.Secret{})).To(Succeed(), "the first start created the fingerprint key")

		By("a RotatedSecret in the namespace is rotated, then rotated again on request")
		key := jwtKey(ns)
		Expect(cl.Create(ctx, testgen.RotatedSecret(rsName, ns, testgen.WithTarget(nsTarget, targetKey)))).To(Succeed())
		cluster.WaitForRevision(key, 1)
		first := nsTargetValue(ns)
		cluster.Annotate(key, rotationv1alpha1.RotateAnnotation, "namespaced")
		rs := cluster.WaitForRevision(key, 2)
		Expect(historyOf(rs, 2)).To(ConsistOf(HaveField("Trigger", rotationv1alpha1.TriggerManual)))
		Expect(nsTargetValue(ns)).NotTo(Equal(first), "the target holds a new value")

		By("the RotatedSecret of the other namespace was never touched")
		Consistently(func(g Gomega) {
			rs := cluster.With(g).RotatedSecret(outside)
			g.Expect(rs.Status.ObservedGeneration).To(BeZero())
			g.Expect(rs.Status.Conditions).To(BeEmpty())
			g.Expect(rs.Status.CurrentRevision).To(BeZero())
			g.Expect(rs.Finalizers).To(BeEmpty())
			g.Expect(apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Namespace: other, Name: nsTarget}, &corev1.Secret{}))).
				To(BeTrue(), "no target Secret in %s", other)
		}).WithTimeout(5 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("the operator was refused nothing")
		Expect(op.logs()).NotTo(MatchRegexp(`(?i)forbidden`))
	})
})

// installNamespaced renders config/namespaced for namespace ns, exactly as `kubectl apply -k` with ns as its
// namespace would, and applies all of it but the Deployment, whose manager the spec runs as a process instead.
// It checks that nothing rendered is cluster-scoped and that there is one Deployment, and returns it with the
// ServiceAccount it runs as.
func installNamespaced(ns string) (*appsv1.Deployment, client.ObjectKey) {
	GinkgoHelper()
	objs, err := fixture.Render(ctx, kubectlBin(), filepath.Join(repoRoot, "config", "namespaced"), fixture.Naming{Namespace: ns})
	Expect(err).NotTo(HaveOccurred())
	var deployments []*appsv1.Deployment
	var install []*unstructured.Unstructured
	for _, u := range objs {
		namespaced, err := cl.IsObjectNamespaced(u)
		Expect(err).NotTo(HaveOccurred(), "%s %s", u.GetKind(), u.GetName())
		Expect(namespaced).To(BeTrue(), "config/namespaced renders a cluster-scoped %s %s", u.GetKind(), u.GetName())
		Expect(u.GetNamespace()).To(Equal(ns), "%s %s", u.GetKind(), u.GetName())
		if u.GroupVersionKind() == appsv1.SchemeGroupVersion.WithKind("Deployment") {
			d := &appsv1.Deployment{}
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d)).To(Succeed())
			deployments = append(deployments, d)
			continue
		}
		install = append(install, u)
	}
	Expect(deployments).To(HaveLen(1), "config/namespaced runs one operator")
	Expect(fixture.Apply(ctx, cl, install)).To(Succeed())
	for _, u := range install {
		GinkgoWriter.Printf("Applied %s %s from config/namespaced\n", u.GetKind(), u.GetName())
	}
	sa := client.ObjectKey{Namespace: ns, Name: deployments[0].Spec.Template.Spec.ServiceAccountName}
	Expect(cl.Get(ctx, sa, &corev1.ServiceAccount{})).To(Succeed(), "config/namespaced creates the ServiceAccount its Deployment runs as")
	return deployments[0], sa
}

// managerCommandLine returns the args and environment of d's container "manager" as the kubelet would run it in
// namespace ns: environment variables from the pod's namespace (the only kind config/ uses) set, and $(NAME) in
// the args expanded from them.
func managerCommandLine(d *appsv1.Deployment, ns string) (args, env []string) {
	GinkgoHelper()
	var c *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "manager" {
			c = &d.Spec.Template.Spec.Containers[i]
		}
	}
	Expect(c).NotTo(BeNil(), "Deployment %s has a container named manager", d.Name)
	var expand []string
	for _, e := range c.Env {
		Expect(e.ValueFrom).NotTo(BeNil(), "env %s", e.Name)
		Expect(e.ValueFrom.FieldRef).NotTo(BeNil(), "env %s", e.Name)
		Expect(e.ValueFrom.FieldRef.FieldPath).To(Equal("metadata.namespace"), "env %s", e.Name)
		env = append(env, e.Name+"="+ns)
		expand = append(expand, "$("+e.Name+")", ns)
	}
	r := strings.NewReplacer(expand...)
	for _, a := range c.Args {
		a = r.Replace(a)
		Expect(a).NotTo(ContainSubstring("$("), "every variable in the args is defined")
		args = append(args, a)
	}
	return args, env
}

// nsTargetValue reads the target key of the spec's RotatedSecret, checks it is 32 random bytes in hex, and
// returns its digest.
func nsTargetValue(ns string) string {
	GinkgoHelper()
	var s corev1.Secret
	Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: nsTarget}, &s)).To(Succeed())
	// The length, not the value: a failure message must not print it.
	Expect(len(s.Data[targetKey])).To(Equal(64), "Secret %s holds %s, 64 hex characters", nsTarget, targetKey)
	return digest(s.Data[targetKey])
}
