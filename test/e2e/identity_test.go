//go:build e2e

package e2e

import (
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
)

// tokenExpiry is how long the operator's token is valid: longer than any run of the suite.
const tokenExpiry = 4 * time.Hour

// installOperatorIdentity gives the operator the identity `make deploy` gives it: it creates the operator's
// namespace, applies config/rbac exactly as config/default names it, mints a token for the ServiceAccount
// config/rbac declares and writes a kubeconfig with it to workDir. It checks that the API server takes the token
// for that ServiceAccount and grants it what config/rbac grants and not more, and returns the kubeconfig's path.
// admin is the admin's rest.Config (kubeconfig loaded), allowed to grant what config/rbac grants.
func installOperatorIdentity(admin *rest.Config) string {
	GinkgoHelper()
	Expect(cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fixture.OperatorNamespace}})).To(Succeed())
	naming, err := fixture.DefaultNaming(repoRoot)
	Expect(err).NotTo(HaveOccurred())
	naming.Namespace = fixture.OperatorNamespace // the same today; the operator's Secrets are looked for there
	objs, err := fixture.RenderRBAC(ctx, kubectlBin(), repoRoot, naming)
	Expect(err).NotTo(HaveOccurred())
	sa, err := fixture.InstallRBAC(ctx, cl, objs)
	Expect(err).NotTo(HaveOccurred())
	for _, u := range objs {
		GinkgoWriter.Printf("Applied %s %s from config/rbac\n", u.GetKind(), u.GetName())
	}

	path, operatorCfg := serviceAccountKubeconfig(admin, sa, "operator.kubeconfig")
	// Allowed and refused together: a review that refused everything would make the refusals prove nothing.
	rotatedSecrets := rotationv1alpha1.GroupVersion.WithResource("rotatedsecrets")
	for _, c := range []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Group: rotatedSecrets.Group, Resource: rotatedSecrets.Resource, Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: sa.Namespace}, true},
		// Cluster-admin, or any role that broad, could.
		{authorizationv1.ResourceAttributes{Resource: "namespaces", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Verb: "create"}, false},
	} {
		Expect(fixture.Can(ctx, operatorCfg, c.attrs)).To(Equal(c.want), "may the operator %s %s.%s (namespace %q)?",
			c.attrs.Verb, c.attrs.Resource, c.attrs.Group, c.attrs.Namespace)
	}
	GinkgoWriter.Printf("The operator runs as %s (kubeconfig %s)\n", fixture.ServiceAccountUsername(sa), path)
	return path
}

// serviceAccountKubeconfig mints a token for ServiceAccount sa (admin is the admin's rest.Config), writes a
// kubeconfig with it to file in workDir and checks that the API server takes the token for sa. It returns the
// kubeconfig's path and its rest.Config.
func serviceAccountKubeconfig(admin *rest.Config, sa client.ObjectKey, file string) (string, *rest.Config) {
	GinkgoHelper()
	cs, err := kubernetes.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	adminKubeconfig, err := clientcmd.LoadFromFile(kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(workDir, file)
	Expect(fixture.ServiceAccountKubeconfig(ctx, cs, adminKubeconfig, sa, tokenExpiry, path)).To(Succeed())
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	Expect(err).NotTo(HaveOccurred())
	Expect(fixture.WhoAmI(ctx, cfg)).To(Equal(fixture.ServiceAccountUsername(sa)), "%s authenticates as %s", file, sa)
	return path, cfg
}

// tenantServiceAccount is the ServiceAccount config/tenant creates, which the operator (started with
// --default-service-account, as config/default starts it) acts as for the RotatedSecrets of a namespace.
const tenantServiceAccount = "secret-rotator"

// installTenant applies config/tenant in namespace, as a team does: without it the operator may do nothing there.
func installTenant(namespace string) {
	GinkgoHelper()
	objs, err := fixture.RenderTenant(ctx, kubectlBin(), repoRoot, namespace)
	Expect(err).NotTo(HaveOccurred())
	sa, err := fixture.InstallRBAC(ctx, cl, objs)
	Expect(err).NotTo(HaveOccurred())
	Expect(sa.Name).To(Equal(tenantServiceAccount))
}
