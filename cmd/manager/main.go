// Command manager runs the secret-rotator operator.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/random"
)

// defaultNamespace is where the operator keeps its own Secrets when POD_NAMESPACE is not set.
const defaultNamespace = "secret-rotator-system"

func main() {
	var (
		metricsAddr, probeAddr string
		leaderElect            bool
		qps                    float64
		burst, workers         int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; 0 disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica rotates at a time.")
	// client-go's default of 5 QPS would take minutes to roll out hundreds of rotations; the API server's own
	// priority and fairness is the real limit.
	flag.Float64Var(&qps, "kube-api-qps", 200, "Requests per second to the API server.")
	flag.IntVar(&burst, "kube-api-burst", 400, "Burst of requests to the API server.")
	flag.IntVar(&workers, "max-concurrent-reconciles", 8, "RotatedSecrets reconciled in parallel (one object is never reconciled twice at once).")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := run(metricsAddr, probeAddr, leaderElect, float32(qps), burst, workers); err != nil {
		ctrl.Log.Error(err, "Operator stopped")
		os.Exit(1)
	}
}

func run(metricsAddr, probeAddr string, leaderElect bool, qps float32, burst, workers int) error {
	log := ctrl.Log.WithName("setup")
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(rotationv1alpha1.AddToScheme(scheme))

	namespace := os.Getenv("POD_NAMESPACE")
	if namespace == "" {
		namespace = defaultNamespace
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controllers.CacheOptions(),
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "secret-rotator.rotation.tribi.io",
		LeaderElectionNamespace:       namespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()

	log.Info("Loading fingerprint key", "namespace", namespace, "secret", fingerprint.KeySecretName)
	key, err := fingerprint.EnsureKey(ctx, mgr.GetClient(), mgr.GetAPIReader(), namespace, rand.Reader)
	if err != nil {
		return fmt.Errorf("fingerprint key (does namespace %q exist? set POD_NAMESPACE): %w", namespace, err)
	}

	r := &controllers.RotatedSecretReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("secret-rotator"),
		Clock:        clock.RealClock{},
		Providers:    provider.Registry{"random": random.New(rand.Reader)},
		Fingerprints: fingerprint.New(key),
	}
	if err := r.SetupWithManager(ctx, mgr, workers); err != nil {
		return fmt.Errorf("setting up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("Starting manager", "qps", qps, "burst", burst, "workers", workers)
	return mgr.Start(ctx)
}

