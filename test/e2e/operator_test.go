//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/tribi/secret-rotator/internal/fixture"
)

// operator is one run of the manager binary as a child process, its output in a log file.
type operator struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// exited is closed once the process has been waited for; waitErr is its exit status then.
	exited  chan struct{}
	waitErr error
}

var (
	operatorsMu sync.Mutex
	// operators are every process started, in order: the final sweep stops any still running.
	operators []*operator
)

// operatorRun is how startOperator runs the manager; operatorOptions change it.
type operatorRun struct {
	// kubeconfig is who the operator is: operatorKubeconfig unless asIdentity says otherwise.
	kubeconfig string
	// env is added to the test's environment: POD_NAMESPACE=fixture.OperatorNamespace unless withEnv sets it.
	env []string
	// args come after the suite's --default-service-account (so they may override it) and before the suite's
	// listener and log flags (which win: no port is bound, logs are readable).
	args []string
	// program is the process's argv[0] (the binary's path unless asProgram sets it).
	program string
	// ready is the log line startOperator waits for: "Starting workers" unless asStandby says otherwise.
	ready string
}

// operatorOption changes how startOperator runs the manager.
type operatorOption func(*operatorRun)

// asIdentity runs the operator with the kubeconfig at path instead of operatorKubeconfig.
func asIdentity(path string) operatorOption {
	return func(r *operatorRun) { r.kubeconfig = path }
}

// withEnv adds environment variables (NAME=value) to the operator's; a later one wins over the suite's default.
func withEnv(env ...string) operatorOption {
	return func(r *operatorRun) { r.env = append(r.env, env...) }
}

// withArgs adds manager flags, e.g. those of a Deployment in config/.
func withArgs(args ...string) operatorOption {
	return func(r *operatorRun) { r.args = append(r.args, args...) }
}

// asProgram runs the manager with argv[0] set to name. client-go builds its user agent from the base name of argv[0],
// so every request the process makes carries the user agent "name/..." in the API server's audit log, and two
// processes with the same identity can be told apart there.
func asProgram(name string) operatorOption {
	return func(r *operatorRun) { r.program = name }
}

// asStandby is for a replica started with --leader-elect while another holds the lease: it starts no workers until
// it leads, so startOperator waits only until it tries to take the lease.
func asStandby() operatorOption {
	return func(r *operatorRun) { r.ready = standbyLine }
}

const (
	// workersLine is logged by controller-runtime once the caches are synced and reconciles can run.
	workersLine = "Starting workers"
	// standbyLine is logged by client-go's leader election when a replica starts trying to take the lease.
	standbyLine = "Attempting to acquire leader lease"
)

// startOperator starts the operator against the local cluster, as its own ServiceAccount (operatorKubeconfig),
// and waits until its controller runs (asStandby: until it tries to take the lease). name tells its log file apart
// (operator-<name>.log in workDir); opts change the identity, environment, flags or argv[0].
func startOperator(name string, opts ...operatorOption) *operator {
	GinkgoHelper()
	run := operatorRun{kubeconfig: operatorKubeconfig, env: []string{"POD_NAMESPACE=" + fixture.OperatorNamespace}, ready: workersLine}
	for _, o := range opts {
		o(&run)
	}
	logPath := filepath.Join(workDir, "operator-"+name+".log")
	f, err := os.Create(logPath)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close() // the child has its own descriptor once started
	// The flag package keeps the last value of a flag given twice.
	args := append([]string{"--default-service-account=" + tenantServiceAccount}, run.args...)
	args = append(args, "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--zap-encoder=console", "--zap-time-encoding=rfc3339nano")
	cmd := exec.Command(managerBin, args...)
	if run.program != "" {
		cmd.Args[0] = run.program
	}
	// exec keeps the last value of a variable given twice.
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+run.kubeconfig), run.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Should this test binary die without cleaning up (a panic, go test's own timeout), the operator dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	Expect(cmd.Start()).To(Succeed())
	op := &operator{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		op.waitErr = cmd.Wait()
		close(op.exited)
	}()
	operatorsMu.Lock()
	operators = append(operators, op)
	operatorsMu.Unlock()
	GinkgoWriter.Printf("Started operator %s (pid %d, log %s)\n", name, cmd.Process.Pid, logPath)

	Eventually(func() error {
		if op.done() {
			return StopTrying(fmt.Sprintf("operator %s exited (%v):\n%s", name, op.waitErr, op.logs()))
		}
		if !strings.Contains(op.logs(), run.ready) {
			return fmt.Errorf("operator %s has not logged %q yet", name, run.ready)
		}
		return nil
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	return op
}

// done reports whether the process has exited.
func (o *operator) done() bool {
	select {
	case <-o.exited:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as a node failure or the OOM killer would: no deferred status write, no cleanup.
func (o *operator) kill() {
	GinkgoHelper()
	GinkgoWriter.Printf("SIGKILL to operator %s (pid %d)\n", o.name, o.cmd.Process.Pid)
	Expect(o.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	Eventually(o.exited).WithTimeout(30 * time.Second).Should(BeClosed())
}

// stop ends the process with SIGTERM (the manager shuts down cleanly), or SIGKILL if it takes longer than 30s.
// Calling it on a process that has exited does nothing.
func (o *operator) stop() {
	if o.done() {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.exited:
	case <-time.After(30 * time.Second):
		GinkgoWriter.Printf("Operator %s ignored SIGTERM for 30s; sending SIGKILL\n", o.name)
		_ = o.cmd.Process.Signal(syscall.SIGKILL)
		<-o.exited
	}
}

// logs is everything the process has written so far.
func (o *operator) logs() string {
	b, err := os.ReadFile(o.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", o.logPath, err)
	}
	return string(b)
}

// stopAllOperators stops every operator still running: the suite's last line of defence.
func stopAllOperators() {
	operatorsMu.Lock()
	defer operatorsMu.Unlock()
	for _, o := range operators {
		o.stop()
	}
}
