// Command manager runs the secret-rotator operator.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/tenancy"
	"github.com/tribi/secret-rotator/internal/version"
)

// defaultNamespace is where the operator keeps its own Secrets when POD_NAMESPACE is not set.
const defaultNamespace = "secret-rotator-system"

func main() {
	var (
		metricsAddr, probeAddr string
		pprofAddr              string
		leaderElect            bool
		leaseDuration          time.Duration
		renewDeadline          time.Duration
		retryPeriod            time.Duration
		qps                    float64
		opts                   app.Options
		protected, watch       string
		allowedHosts           string
		showVersion            bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; 0 disables them.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address of Go's /debug/pprof endpoints (e.g. 127.0.0.1:6060, for a heap profile); 0 (the default) disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica rotates at a time.")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a standby replica waits after the leader's last renewal before it takes the lease: the longest a dead leader leaves rotations unattended.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it stops acting and exits; shorter than the lease duration, so it stops before another replica can take over.")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often replicas try to take or renew the lease.")
	flag.Float64Var(&qps, "kube-api-qps", app.DefaultQPS, "Requests per second to the API server (client-go's default of 5 is far too low for mass rotations).")
	flag.IntVar(&opts.Burst, "kube-api-burst", app.DefaultBurst, "Burst of requests to the API server.")
	flag.IntVar(&opts.Workers, "max-concurrent-reconciles", app.DefaultWorkers, "RotatedSecrets reconciled in parallel (one object is never reconciled twice at once).")
	flag.StringVar(&opts.StripeBaseURL, "stripe-api-url", "", "Base URL of the Stripe API (default https://api.stripe.com; e.g. stripe-mock for tests).")
	flag.StringVar(&opts.GitHubBaseURL, "github-api-url", "", "Base URL of the GitHub REST API (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).")
	flag.StringVar(&opts.Shard, "shard-selector", "", "Label selector of the RotatedSecrets this operator handles, e.g. rotation.tribi.io/shard=a (default: all). Each shard has its own leader election.")
	zopts := zap.Options{}
	flag.StringVar(&opts.DefaultServiceAccount, "default-service-account", "", "ServiceAccount, in each RotatedSecret's namespace, the operator impersonates for RotatedSecrets without spec.serviceAccountName. Empty (and no spec.serviceAccountName): the operator acts as itself (single-tenant mode, docs/security.md).")
	flag.BoolVar(&opts.Rules.NoCrossNamespaceRefs, "no-cross-namespace-refs", true, "Refuse targets and workloads outside the RotatedSecret's own namespace.")
	flag.StringVar(&protected, "protected-namespaces", strings.Join(tenancy.DefaultProtectedNamespaces, ","), "Comma-separated namespaces where RotatedSecrets are refused and no RotatedSecret may write or restart anything; the operator's own namespace is always protected.")
	flag.IntVar(&opts.MaxConcurrentRollouts, "max-concurrent-rollouts", app.DefaultMaxConcurrentRollouts, "Rotations with a rollout in progress at once; others wait in phase Queued, oldest due first (an emergency never waits). 0: no bound.")
	flag.StringVar(&watch, "watch-namespaces", "", "Comma-separated namespaces the operator watches and acts in (a namespace-scoped install with Roles only, config/namespaced); empty: all.")
	flag.StringVar(&allowedHosts, strings.TrimPrefix(egress.Flag, "--"), "", "Comma-separated hosts the http provider may call: api.vendor.com, *.vendor.com (subdomains) or an IP. Empty: no call is allowed. A host resolving to a private, loopback, link-local or metadata address is refused unless listed exactly.")
	flag.BoolVar(&showVersion, "version", false, "Print the module version and commit the binary was built from, and exit.")
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	if showVersion {
		fmt.Println(version.Get("manager"))
		return
	}
	opts.Rules.Protected = app.SplitList(protected)
	opts.WatchNamespaces = app.SplitList(watch)

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")

	opts.QPS = float32(qps)
	opts.Namespace = os.Getenv("POD_NAMESPACE")
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	opts.Manager = ctrl.Options{
		// metrics.NewServer, added below, serves /metrics: controller-runtime's server serves promhttp there.
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       pprofAddr,
		LeaderElection:         leaderElect,
		LeaseDuration:          &leaseDuration,
		RenewDeadline:          &renewDeadline,
		RetryPeriod:            &retryPeriod,
	}
	var err error
	if opts.HTTPAllowedHosts, err = egress.Parse(allowedHosts); err != nil {
		log.Error(err, "Invalid "+egress.Flag)
		os.Exit(1)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Loading kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	mgr, err := app.New(ctx, cfg, opts)
	if err == nil {
		err = mgr.AddHealthzCheck("healthz", healthz.Ping)
	}
	if err == nil {
		err = mgr.AddReadyzCheck("readyz", healthz.Ping)
	}
	if err == nil && metricsAddr != "0" {
		var srv *manager.Server
		if srv, err = metrics.NewServer(metricsAddr); err == nil {
			err = mgr.Add(srv)
		}
	}
	if err != nil {
		log.Error(err, "Setting up the operator")
		os.Exit(1)
	}
	log.Info("Starting manager", "namespace", opts.Namespace, "qps", opts.QPS, "burst", opts.Burst, "workers", opts.Workers,
		"shard", opts.Shard, "defaultServiceAccount", opts.DefaultServiceAccount, "watchNamespaces", opts.WatchNamespaces)
	if opts.DefaultServiceAccount == "" {
		log.Info("No --default-service-account: RotatedSecrets without spec.serviceAccountName act with the operator's own identity (single-tenant mode)")
	}
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Operator stopped")
		os.Exit(1)
	}
}
