package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/fixture"
)

// process is cmd/manager running as its own process, so that its CPU time and memory are its own.
type process struct {
	cmd *exec.Cmd
	// metricsURL is its metrics endpoint on 127.0.0.1.
	metricsURL string
	// exited is closed when the process has exited.
	exited chan struct{}
	// log is the file its output goes to (and to stderr with BENCH_LOG=1).
	log string
}

// buildManager builds ./cmd/manager into a temporary directory and returns the binary's path.
func buildManager(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/manager: %v\n%s", err, out)
	}
	return bin
}

// writeKubeconfig writes a kubeconfig reaching host without TLS or credentials (a faultproxy adds them) and
// returns its path.
func writeKubeconfig(b *testing.B, host string) string {
	b.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: host}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(b.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// startProcess starts the manager binary with kubeconfig, the README's default flags, metrics on a free port of
// 127.0.0.1 and no probe listener, and waits until its metrics endpoint answers.
func startProcess(b *testing.B, bin, kubeconfig string) *process {
	b.Helper()
	addr := freeAddress(b)
	args := []string{"--metrics-bind-address=" + addr, "--health-probe-bind-address=0"}
	if pprof := os.Getenv("BENCH_PPROF_ADDRESS"); pprof != "" {
		// A heap profile of the idle operator: go tool pprof http://$BENCH_PPROF_ADDRESS/debug/pprof/heap
		args = append(args, "--pprof-bind-address="+pprof)
	}
	cmd := exec.Command(bin, append(args,
		fmt.Sprintf("--kube-api-qps=%d", app.DefaultQPS), fmt.Sprintf("--kube-api-burst=%d", app.DefaultBurst),
		fmt.Sprintf("--max-concurrent-reconciles=%d", app.DefaultWorkers), "--leader-elect=false")...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE="+fixture.OperatorNamespace)
	logPath := filepath.Join(b.TempDir(), "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	out := io.MultiWriter(logFile, logOutput())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &process{cmd: cmd, metricsURL: "http://" + addr + "/metrics", exited: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := p.scrape(); err == nil {
			return p
		}
		select {
		case <-p.exited:
			p.mustBeRunning(b)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop(b)
			b.Fatal("the operator's metrics endpoint did not answer within a minute")
		}
	}
}

// mustBeRunning fails the benchmark, with the end of the operator's log, if the process has exited.
func (p *process) mustBeRunning(b *testing.B) {
	b.Helper()
	select {
	case <-p.exited:
	default:
		return
	}
	log, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	b.Fatalf("the operator exited: %s; the end of its log:\n%s", p.cmd.ProcessState, strings.Join(lines[max(0, len(lines)-30):], "\n"))
}

// freeAddress returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddress(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// stop sends SIGTERM and waits up to a minute until the process has exited. Calling it again does nothing.
func (p *process) stop(b *testing.B) {
	b.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Error(err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		b.Error("the operator did not stop within a minute of SIGTERM")
	}
}

// metrics are samples of the Prometheus text format: series (name with labels, as exposed) to value.
type metrics map[string]float64

// sum adds the values of every series of metric name whose labels contain each of labels (`key="value"`).
func (m metrics) sum(name string, labels ...string) float64 {
	total := 0.0
	for series, v := range m {
		if series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(series, l)
		}
		if matches {
			total += v
		}
	}
	return total
}

// scrape reads the process's metrics endpoint. Reading it makes no API request: the endpoint has no
// authentication filter in cmd/manager.
func (p *process) scrape() (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", p.metricsURL, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format: `name{labels} value` per line, comments skipped.
func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// mustScrape is scrape, failing the benchmark on error.
func (p *process) mustScrape(b *testing.B) metrics {
	b.Helper()
	m, err := p.scrape()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// cpuTime is the CPU time (user and system) the process has used so far, from /proc/PID/stat.
func (p *process) cpuTime(b *testing.B) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, field 2, may hold spaces: count the fields after its closing parenthesis, which start
	// at field 3 (state). utime and stime are fields 14 and 15, in clock ticks.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		b.Fatalf("/proc/%d/stat: %q", p.cmd.Process.Pid, s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatal(err)
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks(b))
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times (100 on every common Linux).
func clockTicks(b *testing.B) int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	hz, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || hz <= 0 {
		b.Fatalf("getconf CLK_TCK: %q", out)
	}
	return hz
}

// rss is the process's resident memory in MiB, VmRSS of /proc/PID/status.
func (p *process) rss(b *testing.B) float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("/proc/%d/status has no VmRSS", p.cmd.Process.Pid)
	return 0
}

// memory says what the process's resident memory is: anonymous and file-backed (the binary's pages) from
// /proc/PID/status, and what the Go runtime reports in m (a scrape of its metrics).
func (p *process) memory(b *testing.B, m metrics) string {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	var parts []string
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "RssAnon" || k == "RssFile") {
			parts = append(parts, k+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	for _, name := range []string{"go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes",
		"go_memstats_heap_released_bytes", "go_memstats_heap_idle_bytes", "go_memstats_stack_inuse_bytes",
		"go_memstats_gc_sys_bytes", "go_memstats_mspan_inuse_bytes", "go_memstats_other_sys_bytes", "go_memstats_sys_bytes",
		"go_gc_gomemlimit_bytes"} {
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", strings.TrimPrefix(name, "go_"), m.sum(name)/(1<<20)))
	}
	return strings.Join(parts, ", ")
}
