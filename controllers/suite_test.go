package controllers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/notify"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/random"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	// cluster reads and changes objects through k8sClient, waiting up to wait.
	cluster fixture.Cluster
	keyer   *fingerprint.Keyer
	// clock is the operator's clock; tests step it to expire TTLs and grace periods.
	clock = clocktesting.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))

	var err error
	testEnv, k8sClient, err = fixture.StartEnvtest("..", 500, 1000)
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through `make test` so KUBEBUILDER_ASSETS points at the binaries hack/ builds")
	cfg = testEnv.Config
	cluster = fixture.Cluster{Client: k8sClient, Context: ctx, Gomega: Default, Timeout: wait, Poll: 50 * time.Millisecond}
	key, err := fingerprint.EnsureKey(context.Background(), k8sClient, k8sClient, fixture.OperatorNamespace, rand.Reader)
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
	*fixture.Operator
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
	// shard selects the RotatedSecrets this operator handles (nil: all).
	shard labels.Selector
	// impersonate makes the operator act as each RotatedSecret's ServiceAccount (defaultServiceAccount when it
	// names none), as the manager does; rules are its guard rails.
	impersonate           bool
	defaultServiceAccount string
	rules                 tenancy.Rules
	// notifier delivers spec.notify webhooks (nil: notifications fail with a clear message).
	notifier *notify.Sender
	// maxConcurrentRollouts bounds the rotations rolling out at once (0: no bound).
	maxConcurrentRollouts int
}

var managerCount atomic.Int32

// startOperator runs the real manager and reconciler against the test API server, as main does, with the fake
// clock and a StepHook.
func startOperator(opts operatorOptions, namespaces ...string) *operator {
	GinkgoHelper()
	logs := &syncBuffer{}
	var inner provider.Provider = random.New(rand.Reader)
	if opts.random != nil {
		inner = opts.random
	}
	gen := &countingProvider{Provider: inner, calls: map[string]int{}}
	workers := opts.workers
	if workers == 0 {
		workers = 4
	}
	run, err := fixture.StartOperator(func(ctx context.Context) (ctrl.Manager, error) {
		mopts := fixture.ManagerOptions()
		mopts.Scheme = k8sClient.Scheme()
		mopts.Cache = controllers.CacheOptions(opts.shard)
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range append(namespaces, fixture.OperatorNamespace) {
			mopts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
		mopts.Logger = zap.New(zap.WriteTo(io.MultiWriter(logs, GinkgoWriter)), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel))
		mgr, err := ctrl.NewManager(rest.CopyConfig(cfg), mopts)
		if err != nil {
			return nil, err
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
		if opts.impersonate {
			r.Identities = tenancy.NewIdentities(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
				HTTPClient: mgr.GetHTTPClient()}, mgr.GetClient(), mgr.GetAPIReader(), opts.defaultServiceAccount)
		}
		r.Rules = opts.rules
		r.Notifier = opts.notifier
		r.MaxConcurrentRollouts = opts.maxConcurrentRollouts
		for kind, p := range opts.providers {
			r.Providers[kind] = p
		}
		return mgr, r.SetupWithManager(ctx, mgr, workers)
	})
	Expect(err).NotTo(HaveOccurred())
	return &operator{Operator: run, logs: logs, generated: gen}
}

// stop stops the manager, waits until it has, and fails the spec if it ended with an error.
func (o *operator) stop() {
	GinkgoHelper()
	Expect(o.Stop(30 * time.Second)).To(Succeed())
}
