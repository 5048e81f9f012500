// Package app wires the operator: the manager, its cache, the fingerprint key and the reconciler. The manager
// binary and the benchmarks run the same wiring.
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/notify"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/provider/random"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/sink/github"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Defaults of the manager's flags, also used by the benchmarks. Measured on 2 cores with `make bench`: 500
// RotatedSecrets need about 2,500 API writes; client-go's default of 5 QPS would spread them over eight minutes,
// 200 QPS still over ten seconds. At 1000 QPS the API server and etcd are the limit, as they should be: their
// priority and fairness protects them, the client-side limit is only a safety net against a runaway loop.
// Beyond 16 workers nothing got faster.
const (
	DefaultQPS     = 1000
	DefaultBurst   = 2000
	DefaultWorkers = 16
	// DefaultMaxConcurrentRollouts keeps 500 RotatedSecrets that share a TTL from restarting every workload of a
	// cluster at the same moment.
	DefaultMaxConcurrentRollouts = 10
	// VendorCallTimeout is the deadline of each call to a vendor API. A vendor that never answers releases the
	// worker after it (a generate that timed out is not repeated: GenerateIncomplete).
	VendorCallTimeout = 10 * time.Second
)

// Options configure the operator.
type Options struct {
	// Namespace holds the operator's own Secrets (the fingerprint key) and its leader-election lease.
	Namespace string
	// QPS and Burst limit requests to the API server. client-go's defaults (5/10) would take minutes to write
	// hundreds of rotations; the API server's priority and fairness is the real limit.
	QPS   float32
	Burst int
	// Workers is how many RotatedSecrets are reconciled in parallel.
	Workers int
	// StripeBaseURL points the Stripe providers at another API (stripe-mock, tests); empty means api.stripe.com.
	StripeBaseURL string
	// GitHubBaseURL points GitHub Actions targets at GitHub Enterprise (https://HOST/api/v3) or a test server;
	// empty means api.github.com.
	GitHubBaseURL string
	// Shard is a label selector of the RotatedSecrets this operator handles (e.g. rotation.tribi.io/shard=a);
	// empty means all. Operator Deployments with disjoint shards split the RotatedSecrets between them, each with
	// its own leader election.
	Shard string
	// DefaultServiceAccount is the ServiceAccount (in each RotatedSecret's namespace) the operator acts as for a
	// RotatedSecret whose spec.serviceAccountName is empty. With both empty it acts as itself (single-tenant mode).
	DefaultServiceAccount string
	// Rules are the admin's guard rails; the operator's own namespace is always protected besides
	// Rules.Protected.
	Rules tenancy.Rules
	// HTTPAllowedHosts is the egress policy of the http provider and of notifications (--http-allowed-hosts); nil
	// allows no call.
	HTTPAllowedHosts *egress.Policy
	// MaxConcurrentRollouts bounds the rotations with a rollout in progress at once (--max-concurrent-rollouts,
	// default DefaultMaxConcurrentRollouts); 0 means no bound.
	MaxConcurrentRollouts int
	// WatchNamespaces limits the operator to these namespaces (a namespace-scoped install, config/namespaced);
	// empty means all.
	WatchNamespaces []string
	// Manager options (metrics, probes, leader election); Scheme and Cache are set here.
	Manager ctrl.Options
}

// Providers builds the provider registry: every provider kind the operator supports.
func Providers(opts Options) (provider.Registry, error) {
	webhook, err := stripe.NewWebhook(stripe.Options{BaseURL: opts.StripeBaseURL})
	if err != nil {
		return nil, fmt.Errorf("stripe base URL: %w", err)
	}
	secretKey, err := stripe.NewSecretKey(stripe.Options{BaseURL: opts.StripeBaseURL})
	if err != nil {
		return nil, fmt.Errorf("stripe base URL: %w", err)
	}
	// Vendor calls share half the workers: however many vendors hang, the other half rotates everything else.
	slots := provider.NewSlots(opts.Workers / 2)
	return provider.Registry{
		provider.KindRandom:          random.New(rand.Reader),
		provider.KindStripeWebhook:   provider.Bound(webhook, slots, VendorCallTimeout),
		provider.KindStripeSecretKey: provider.Bound(secretKey, slots, VendorCallTimeout),
		provider.KindHTTP:            provider.Bound(httpapi.New(httpapi.Options{Timeout: VendorCallTimeout, Egress: opts.HTTPAllowedHosts}), slots, VendorCallTimeout),
	}, nil
}

// LeaderElectionID names the leader lease of the operators that handle shard: one lease per shard, so each
// shard has its own active replica.
func LeaderElectionID(shard labels.Selector) string {
	if shard.Empty() {
		return "secret-rotator.rotation.tribi.io"
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(shard.String()))
	return fmt.Sprintf("secret-rotator-%08x.rotation.tribi.io", h.Sum32())
}

// Scheme returns the scheme the operator uses: client-go's types and rotation.tribi.io/v1alpha1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(rotationv1alpha1.AddToScheme(s))
	return s
}

// New builds the manager and registers the reconciler. It reads (or creates, on first start) the fingerprint
// key, so the API server must be reachable and opts.Namespace must exist.
func New(ctx context.Context, cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	mopts := opts.Manager
	mopts.Scheme = Scheme()
	shard, err := labels.Parse(opts.Shard)
	if err != nil {
		return nil, fmt.Errorf("shard selector %q: %w", opts.Shard, err)
	}
	mopts.Cache = controllers.CacheOptions(shard)
	if len(opts.WatchNamespaces) > 0 {
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.WatchNamespaces {
			mopts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mopts.LeaderElectionID = LeaderElectionID(shard)
	mopts.LeaderElectionNamespace = opts.Namespace
	mopts.LeaderElectionReleaseOnCancel = true
	mgr, err := ctrl.NewManager(cfg, mopts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	key, err := fingerprint.EnsureKey(ctx, mgr.GetClient(), mgr.GetAPIReader(), opts.Namespace, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fingerprint key in namespace %q (does it exist? set POD_NAMESPACE): %w", opts.Namespace, err)
	}
	providers, err := Providers(opts)
	if err != nil {
		return nil, err
	}
	// The operator's own namespace is protected, unless it is the namespace a namespace-scoped install watches.
	rules := opts.Rules.WithOperatorNamespace(opts.Namespace, opts.WatchNamespaces)
	r := &controllers.RotatedSecretReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Identities: tenancy.NewIdentities(mgr.GetConfig(), client.Options{
			Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		}, mgr.GetClient(), mgr.GetAPIReader(), opts.DefaultServiceAccount),
		Rules:                 rules,
		MaxConcurrentRollouts: opts.MaxConcurrentRollouts,
		Recorder:              mgr.GetEventRecorder("secret-rotator"),
		Clock:                 clock.RealClock{},
		Providers:             providers,
		GitHub:                github.New(github.Options{BaseURL: opts.GitHubBaseURL}),
		// Notifications go only where the http provider may go (--http-allowed-hosts).
		Notifier:     &notify.Sender{Client: opts.HTTPAllowedHosts.Client(notify.DefaultTimeout)},
		Fingerprints: fingerprint.New(key),
	}
	if err := r.SetupWithManager(ctx, mgr, opts.Workers); err != nil {
		return nil, fmt.Errorf("setting up controller: %w", err)
	}
	if err := mgr.Add(IdleRelease{Reconciles: r.Reconciles, Interval: IdleCheckInterval}); err != nil {
		return nil, fmt.Errorf("adding the idle memory release: %w", err)
	}
	return mgr, nil
}

// SplitList splits a comma-separated flag value (--protected-namespaces, --watch-namespaces), dropping blanks. The
// manager and the plugin's plan read the same flags with it.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
