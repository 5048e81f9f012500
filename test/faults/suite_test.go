// Package faults runs the operator against a real kube-apiserver and etcd through test/faultproxy, which gives
// it 500s, 429s, status conflicts, lost answers, latency spikes, cut watches and a 10 s outage, and checks that
// every rotation still completes exactly once.
package faults

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
)

var (
	ctx     = context.Background()
	testEnv *envtest.Environment
	// cfg reaches the API server directly; only the operator goes through the fault proxy.
	cfg       *rest.Config
	k8sClient client.Client
	cluster   fixture.Cluster
	keyer     *fingerprint.Keyer
)

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "API faults (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, k8sClient, err = fixture.StartEnvtest(filepath.Join("..", ".."), 1000, 2000)
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through `make test` so KUBEBUILDER_ASSETS points at the binaries hack/ builds")
	cfg = testEnv.Config
	cluster = fixture.Cluster{Client: k8sClient, Context: ctx, Gomega: Default, Timeout: 20 * time.Second, Poll: 100 * time.Millisecond}
	key, err := fingerprint.EnsureKey(ctx, k8sClient, k8sClient, fixture.OperatorNamespace, rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	keyer = fingerprint.New(key)
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
