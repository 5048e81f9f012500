package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/cli"
	"github.com/tribi/secret-rotator/internal/fixture"
)

const wait = 30 * time.Second

var (
	ctx       = context.Background()
	testEnv   *envtest.Environment
	k8sClient client.Client
	cluster   fixture.Cluster
	// kubeconfig is a kubeconfig file for the test API server's admin (system:masters), as a person on call has.
	kubeconfig string
	operator   *fixture.Operator
)

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl rotation (envtest and the operator)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, k8sClient, err = fixture.StartEnvtest(filepath.Join("..", ".."), 500, 1000)
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through `make test` so KUBEBUILDER_ASSETS points at the binaries hack/ builds")
	cluster = fixture.Cluster{Client: k8sClient, Context: ctx, Gomega: Default, Timeout: wait, Poll: 50 * time.Millisecond}

	admin, err := testEnv.AddUser(envtest.User{Name: "alice", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())

	// The operator as the manager binary wires it (app.New): real providers, acting as itself (single tenant).
	operator, err = fixture.StartOperator(func(ctx context.Context) (ctrl.Manager, error) {
		return app.New(ctx, testEnv.Config, app.Options{Namespace: fixture.OperatorNamespace, QPS: 500, Burst: 1000,
			Workers: 4, Manager: fixture.ManagerOptions()})
	})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if operator != nil {
		Expect(operator.Stop(30 * time.Second)).To(Succeed())
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// result is what one plugin command printed and its exit code.
type result struct {
	out, errOut string
	code        int
	err         error
}

// run runs `kubectl rotation ARGS...` in the test process with the admin's kubeconfig, as a person would.
func run(args ...string) result {
	return runCtx(ctx, args...)
}

// runCtx is run with a context, which ends a --watch.
func runCtx(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append(args, "--kubeconfig", kubeconfig))
	err := cmd.ExecuteContext(ctx)
	r := result{out: out.String(), errOut: errOut.String(), code: cli.ExitCode(err), err: err}
	GinkgoWriter.Printf("$ kubectl rotation %v\n%s(exit %d: %v)\n", args, r.out, r.code, err)
	return r
}
