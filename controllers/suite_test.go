package controllers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/random"
)

const operatorNamespace = "secret-rotator-system"

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	keyer     *fingerprint.Keyer
	// clock is the operator's clock; tests step it to expire TTLs and grace periods.
	clock = clocktesting.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers (envtest)")
}

var _ = BeforeSuite(func() {
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(rotationv1alpha1.AddToScheme(scheme)).To(Succeed())
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through `make test` so KUBEBUILDER_ASSETS points at the binaries hack/ builds")
	cfg.QPS, cfg.Burst = 500, 1000
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	key, err := fingerprint.EnsureKey(context.Background(), k8sClient, k8sClient, operatorNamespace, rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	keyer = fingerprint.New(key)
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// syncBuffer collects the operator's log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countingProvider counts Generate calls per object and revision.
type countingProvider struct {
	provider.Provider
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingProvider) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	c.mu.Lock()
	c.calls[fmt.Sprintf("%s/%s@%d", req.Namespace, req.Name, req.Revision)]++
	c.mu.Unlock()
	return c.Provider.Generate(ctx, req)
}

func (c *countingProvider) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// operator is one running manager with the RotatedSecret controller, watching only the given namespaces.
type operator struct {
	cancel    context.CancelFunc
	done      chan struct{}
	logs      *syncBuffer
	generated *countingProvider
}

type operatorOptions struct {
	hook    func(step string) bool
	workers int
	// random replaces the random provider (e.g. with a fake.Provider).
	random provider.Provider
	// providers adds providers by kind (e.g. the real HTTP provider against a test vendor).
	providers provider.Registry
	// github writes GitHub Actions targets.
	github controllers.MirrorWriter
}

var managerCount atomic.Int32

// startOperator runs the real manager and reconciler against the test API server, as main does, with the fake
// clock and a StepHook.
func startOperator(opts operatorOptions, namespaces ...string) *operator {
	GinkgoHelper()
	logs := &syncBuffer{}
	cacheOpts := controllers.CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{}
	for _, ns := range append(namespaces, operatorNamespace) {
		cacheOpts.DefaultNamespaces[ns] = cache.Config{}
	}
	mgrCfg := rest.CopyConfig(cfg)
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 zap.New(zap.WriteTo(io.MultiWriter(logs, GinkgoWriter)), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel)),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	var inner provider.Provider = random.New(rand.Reader)
	if opts.random != nil {
		inner = opts.random
	}
	gen := &countingProvider{Provider: inner, calls: map[string]int{}}
	workers := opts.workers
	if workers == 0 {
		workers = 4
	}
	r := &controllers.RotatedSecretReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder(fmt.Sprintf("secret-rotator-%d", managerCount.Add(1))),
		Clock:        clock,
		Providers:    provider.Registry{"random": gen},
		GitHub:       opts.github,
		Fingerprints: keyer,
		StepHook:     opts.hook,
	}
	for kind, p := range opts.providers {
		r.Providers[kind] = p
	}
	ctx, cancel := context.WithCancel(context.Background())
	Expect(r.SetupWithManager(ctx, mgr, workers)).To(Succeed())
	op := &operator{cancel: cancel, done: make(chan struct{}), logs: logs, generated: gen}
	go func() {
		defer GinkgoRecover()
		defer close(op.done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return op
}

// stop stops the manager and waits until it has.
func (o *operator) stop() {
	o.cancel()
	Eventually(o.done, 30*time.Second).Should(BeClosed())
}

// newNamespace creates a namespace with a unique name.
func newNamespace() string {
	GinkgoHelper()
	name := "t-" + utilrand.String(6)
	Expect(k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}
