// Command controlplane runs a throwaway Kubernetes control plane (etcd and kube-apiserver, no controllers) for
// demos and manual testing. It starts both through envtest on 127.0.0.1 only, installs the CRDs found in
// --crd-dir, writes an admin kubeconfig to --kubeconfig-out and prints "KUBECONFIG=<path>" as the last line on
// stdout once everything is ready. It then runs until SIGINT or SIGTERM and stops the control plane cleanly.
//
// The binaries come from KUBEBUILDER_ASSETS (see hack/envtest-assets.sh):
//
//	KUBEBUILDER_ASSETS=$(bash hack/envtest-assets.sh | tail -1) go run ./hack/controlplane --kubeconfig-out /tmp/cp/kubeconfig
//
// Progress and errors go to stderr; stdout carries only the KUBECONFIG line, so a script can wait for it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// loopback is the only address the control plane listens on.
const loopback = "127.0.0.1"

func main() {
	crdDir := flag.String("crd-dir", "config/crd/bases", "directory holding the CRD manifests to install")
	kubeconfigOut := flag.String("kubeconfig-out", "", "path to write the admin kubeconfig to (required)")
	startTimeout := flag.Duration("start-timeout", 2*time.Minute, "how long etcd and kube-apiserver may take to start")
	flag.Parse()

	if err := run(*crdDir, *kubeconfigOut, *startTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run(crdDir, kubeconfigOut string, startTimeout time.Duration) error {
	// Check the inputs first: envtest's own errors for these cases are hard to read.
	if kubeconfigOut == "" {
		return errors.New("--kubeconfig-out is required")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set; use KUBEBUILDER_ASSETS=$(bash hack/envtest-assets.sh | tail -1)")
	}
	if _, err := os.Stat(crdDir); err != nil {
		return fmt.Errorf("CRD directory %q not found (run `make manifests` first, or pass --crd-dir)", crdDir)
	}
	kubeconfigOut, err := filepath.Abs(kubeconfigOut)
	if err != nil {
		return fmt.Errorf("resolving --kubeconfig-out: %w", err)
	}

	// envtest logs through controller-runtime's logger; send it to stderr (without this it complains after 30s).
	ctrllog.SetLogger(funcr.New(func(prefix, args string) {
		fmt.Fprintln(os.Stderr, prefix, args)
	}, funcr.Options{}))

	// Catch signals before starting, so a Ctrl-C during start-up still stops what has started.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	env, err := newEnvironment(crdDir, startTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Starting etcd and kube-apiserver from %s\n", os.Getenv("KUBEBUILDER_ASSETS"))
	if _, err := env.Start(); err != nil {
		// Start may fail after launching etcd or the apiserver (e.g. a bad CRD); stop whatever runs.
		return errors.Join(fmt.Errorf("starting control plane: %w", err), stop(env))
	}
	err = serve(ctx, env, crdDir, kubeconfigOut)
	// From here a second Ctrl-C kills the process at once, as users expect when stopping hangs.
	cancel()
	return errors.Join(err, stop(env))
}

// newEnvironment configures etcd and kube-apiserver to listen on loopback ports picked here: envtest's own
// defaults resolve "localhost", which may be IPv6 or more than one address.
func newEnvironment(crdDir string, startTimeout time.Duration) (*envtest.Environment, error) {
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	etcdPort, err := freePort()
	if err != nil {
		return nil, err
	}
	etcd := &envtest.Etcd{URL: &url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(etcdPort))}}
	// etcd's peer port is never used by a single member; port 0 lets the kernel pick one, still on loopback.
	etcd.Configure().Set("listen-peer-urls", "http://"+net.JoinHostPort(loopback, "0"))

	apiServer := &envtest.APIServer{}
	apiServer.SecureServing.Address = loopback
	apiServer.SecureServing.Port = strconv.Itoa(apiPort)

	return &envtest.Environment{
		ControlPlane:             envtest.ControlPlane{Etcd: etcd, APIServer: apiServer},
		CRDDirectoryPaths:        []string{crdDir},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: startTimeout,
	}, nil
}

// serve checks the CRDs, writes the kubeconfig, announces it and waits for a signal.
func serve(ctx context.Context, env *envtest.Environment, crdDir, kubeconfigOut string) error {
	if ctx.Err() != nil {
		// Signalled during start-up: stop without announcing a cluster that is going away.
		fmt.Fprintln(os.Stderr, "Signalled during start-up; stopping control plane")
		return nil
	}
	if len(env.CRDs) == 0 {
		return fmt.Errorf("no CRDs found in %q", crdDir)
	}
	for _, crd := range env.CRDs {
		fmt.Fprintf(os.Stderr, "Installed CRD %s\n", crd.Name)
	}

	// A user in system:masters, like the admin of a real cluster; its client certificate is embedded in the file.
	admin, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering kubeconfig: %w", err)
	}
	if err := writeFileAtomic(kubeconfigOut, kubeconfig); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}

	fmt.Fprintf(os.Stderr, "Control plane ready at %s; stop it with SIGINT or SIGTERM\n", env.Config.Host)
	fmt.Printf("KUBECONFIG=%s\n", kubeconfigOut)

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "Stopping control plane")
	return nil
}

// stop stops kube-apiserver and etcd and removes their temporary directories.
func stop(env *envtest.Environment) error {
	if err := env.Stop(); err != nil {
		return fmt.Errorf("stopping control plane: %w", err)
	}
	return nil
}

// freePort asks the kernel for a free TCP port on loopback. Another process could take it before the control
// plane binds it; on a developer machine that race is rare enough to accept.
func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeFileAtomic writes data with mode 0600 (it holds a client key) through a temporary file and a rename, so a
// reader never sees half a kubeconfig.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
