//go:build e2e

// Package e2e runs the operator as a real process against a local Kubernetes control plane with
// kube-controller-manager, kube-scheduler and kwok nodes (hack/local-cluster.sh, docs/local-cluster.md), so
// Deployments really roll and Jobs really run. `make test-e2e` runs it; the e2e build tag keeps it out of
// `go test ./...`.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/fixture"
)

var (
	ctx = context.Background()
	// repoRoot is the module root: hack/, config/ and cmd/ are found from it.
	repoRoot string
	// workDir holds the operator binary, the operator logs and the cluster's state; kept when a spec fails.
	workDir string
	// managerBin is the operator binary built once for the suite.
	managerBin string
	// kubeconfig is the admin kubeconfig `hack/local-cluster.sh up` printed; the specs and kubectl use it.
	kubeconfig string
	// operatorKubeconfig authenticates as the operator's own ServiceAccount, bound to config/rbac and nothing
	// else (installOperatorIdentity): every operator process runs with it.
	operatorKubeconfig string
	// cl talks to the local cluster directly (no cache), and can watch.
	cl client.WithWatch
	// cluster reads and changes objects through cl, waiting up to wait.
	cluster fixture.Cluster
	// keepWorkDir is set when the setup or a spec fails, so the logs and cluster state stay for a look.
	keepWorkDir bool
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	// go test's -timeout kills the binary without running any cleanup, which would leave the cluster's processes
	// behind: let Ginkgo time the suite out a minute earlier, so AfterSuite and DeferCleanup still run.
	if d, ok := t.Deadline(); ok && time.Until(d) > 2*time.Minute {
		suiteConfig.Timeout = time.Until(d) - time.Minute
	}
	RunSpecs(t, "End to end (local cluster)", suiteConfig, reporterConfig)
}

var _ = BeforeSuite(func() {
	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	workDir, err = os.MkdirTemp("", "secret-rotator-e2e-")
	Expect(err).NotTo(HaveOccurred())
	keepWorkDir = true // until the suite is set up: a failed `up` leaves its logs there
	clusterDir := filepath.Join(workDir, "cluster")
	managerBin = filepath.Join(workDir, "manager")
	GinkgoWriter.Printf("Work directory (operator logs, cluster state): %s\n", workDir)

	// Cleanups run last-registered first: operators stop, then the cluster, then the directory goes.
	DeferCleanup(func() {
		if keepWorkDir {
			GinkgoWriter.Printf("Kept %s for a look (operator logs, cluster logs in cluster/logs)\n", workDir)
			return
		}
		Expect(os.RemoveAll(workDir)).To(Succeed())
	})
	// Registered before `up` runs: `down` is safe when nothing (or only part of the cluster) runs.
	DeferCleanup(func() {
		down := exec.Command("bash", filepath.Join(repoRoot, "hack", "local-cluster.sh"), "down")
		down.Env = append(os.Environ(), "LOCAL_CLUSTER_DIR="+clusterDir)
		down.Stdout, down.Stderr = GinkgoWriter, GinkgoWriter
		Expect(down.Run()).To(Succeed(), "hack/local-cluster.sh down")
	})
	DeferCleanup(stopAllOperators)

	By("building the operator while the cluster starts")
	built := make(chan error, 1)
	go func() {
		build := exec.Command("go", "build", "-o", managerBin, "./cmd/manager")
		build.Dir = repoRoot
		out, err := build.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build ./cmd/manager: %w\n%s", err, out)
		}
		built <- err
	}()
	up := exec.Command("bash", filepath.Join(repoRoot, "hack", "local-cluster.sh"), "up")
	up.Env = append(os.Environ(), "LOCAL_CLUSTER_DIR="+clusterDir)
	up.Stderr = GinkgoWriter
	out, err := up.Output()
	Expect(err).NotTo(HaveOccurred(), "hack/local-cluster.sh up (its progress is in the output above)")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var ok bool
	kubeconfig, ok = strings.CutPrefix(lines[len(lines)-1], "KUBECONFIG=")
	Expect(ok).To(BeTrue(), "the last line of `up` is KUBECONFIG=<path>, got %q", out)
	Expect(<-built).To(Succeed())

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	cfg.QPS, cfg.Burst = 100, 200
	cl, err = client.NewWithWatch(cfg, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	cluster = fixture.Cluster{Client: cl, Context: ctx, Gomega: Default, Timeout: wait, Poll: poll}

	By("installing the CRD")
	kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "config", "crd", "bases"))
	// kubectl wait fails at once, instead of waiting, while the new CRD has no status.conditions at all.
	Eventually(func() error {
		out, err := tryKubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/rotatedsecrets.rotation.tribi.io")
		if err != nil {
			return fmt.Errorf("kubectl wait: %w\n%s", err, out)
		}
		return nil
	}).WithTimeout(90 * time.Second).WithPolling(poll).Should(Succeed())
	By("giving the operator its own ServiceAccount and the RBAC of config/rbac")
	operatorKubeconfig = installOperatorIdentity(cfg)
	keepWorkDir = false
})

// kubectl runs kubectl (or $KUBECTL) against the local cluster and returns its output; it must succeed.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := tryKubectl(args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s:\n%s", strings.Join(args, " "), out)
	return out
}

// tryKubectl runs kubectl as admin and returns its combined output and error.
func tryKubectl(args ...string) (string, error) {
	out, err := exec.Command(kubectlBin(), append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

// kubectlBin is $KUBECTL, or kubectl on PATH.
func kubectlBin() string {
	if bin := os.Getenv("KUBECTL"); bin != "" {
		return bin
	}
	return "kubectl"
}
