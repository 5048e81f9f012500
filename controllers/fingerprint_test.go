package controllers_test

import (
	"crypto/rand"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
)

var _ = Describe("Fingerprint key", func() {
	It("is created once at first start and shared by every replica that starts", func() {
		ns := cluster.NewNamespace("t-")
		keys := make([][]byte, 4)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				key, err := fingerprint.EnsureKey(ctx, k8sClient, k8sClient, ns, rand.Reader)
				Expect(err).NotTo(HaveOccurred())
				keys[i] = key
			}()
		}
		wg.Wait()
		for _, k := range keys {
			Expect(k).To(HaveLen(32))
			Expect(k).To(Equal(keys[0]), "replicas racing at start agree on one key")
		}

		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: fingerprint.KeySecretName}, &s)).To(Succeed())
		Expect(s.Labels).To(HaveKeyWithValue(rotationv1alpha1.ManagedLabel, "true"))
		again, err := fingerprint.EnsureKey(ctx, k8sClient, k8sClient, ns, rand.Reader)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(keys[0]), "a restart reads the stored key")
	})

	It("fails clearly when the operator's namespace does not exist", func() {
		_, err := fingerprint.EnsureKey(ctx, k8sClient, k8sClient, "no-such-namespace", rand.Reader)
		Expect(err).To(MatchError(ContainSubstring("creating fingerprint key secret no-such-namespace/" + fingerprint.KeySecretName)))
	})
})
