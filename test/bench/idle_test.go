package bench

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
	"github.com/tribi/secret-rotator/test/faultproxy"
)

// idlePrefix starts the names of the namespaces of the idle benchmark.
const idlePrefix = "idle-"

// BenchmarkIdle10000RotatedSecrets runs cmd/manager as its own process, with the README's default flags, over
// BENCH_IDLE_OBJECTS (default 10,000) RotatedSecrets (random provider, one target each, TTL 90d, 1,000 per
// namespace), created at once by a parallel client. Once every target holds its value and the operator has been
// quiet for 15 s, it measures over an idle window of BENCH_IDLE_DURATION (default 5m):
//
//   - requests/min: API requests the operator made (its client-go metric rest_client_requests_total, read before
//     and after the window, no scrape in between). Budget: 0. Which requests they were is logged, as seen by the
//     pass-through proxy (test/faultproxy, no faults) the operator reaches the API server through.
//   - cpu-%: its user and system CPU time over the window (/proc/PID/stat) over wall time, in % of one core.
//     Budget: under 1%.
//   - rss-MiB: its resident memory at the end of the window (VmRSS). Budget: under 150 MiB.
//   - rss-MiB-restarted: the same of the restarted process below, once it has been idle for a minute.
//
// Then it stops the operator with SIGTERM, starts it again, and reports how long the new process took to settle
// (s/restart-settle): from its start until it had reconciled every RotatedSecret with an empty work queue,
// measured as the last time its reconcile count moved before it stood still for 5 s. A restart must write
// nothing: a RotatedSecret or a managed Secret whose resourceVersion changed fails the benchmark.
//
// It runs last (its file sorts after bench_test.go) and first deletes the RotatedSecrets and managed Secrets the
// other benchmarks left, so the operator sees these objects only.
func BenchmarkIdle10000RotatedSecrets(b *testing.B) {
	count := envInt(b, "BENCH_IDLE_OBJECTS", 10000)
	idle := envDuration(b, "BENCH_IDLE_DURATION", 5*time.Minute)
	deleteBenchObjects(b, "bench-")

	proxy, err := faultproxy.New(cfg, faultproxy.Faults{})
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	var requests requestLog
	proxy.Observe(requests.observe)
	kubeconfig := writeKubeconfig(b, proxy.URL())
	bin := buildManager(b)

	op := startProcess(b, bin, kubeconfig)
	defer func() {
		// Stopped first: an operator would write a deleted target again.
		op.stop(b)
		deleteBenchObjects(b, idlePrefix)
	}()
	start := time.Now()
	namespaces := createIdle(b, count)
	waitForIdleTargets(b, op, count, start)
	targets := time.Since(start)
	waitQuiet(b, op, 15*time.Second, count)
	b.Logf("%d RotatedSecrets in %d namespaces settled", count, len(namespaces))

	for b.Loop() {
		// Reported in the loop: the first b.Loop deletes the metrics reported before it.
		b.ReportMetric(targets.Seconds(), fmt.Sprintf("s/%d-targets", count))
		// Idle window: read the operator's counters before and after, nothing in between.
		before := op.mustScrape(b).sum("rest_client_requests_total")
		cpuBefore, wallStart := op.cpuTime(b), time.Now()
		requests.start()
		time.Sleep(idle)
		op.mustBeRunning(b)
		cpuAfter, wall := op.cpuTime(b), time.Since(wallStart)
		seen := requests.stop()
		afterM := op.mustScrape(b)
		after := afterM.sum("rest_client_requests_total")
		b.ReportMetric((after-before)/wall.Minutes(), "requests/min")
		b.ReportMetric(100*(cpuAfter-cpuBefore).Seconds()/wall.Seconds(), "cpu-%")
		b.ReportMetric(op.rss(b), "rss-MiB")
		b.Logf("Memory at the end of the idle window: %s", op.memory(b, afterM))
		b.Logf("Idle for %s: %.0f requests counted by the operator; seen by the proxy: %s", wall.Round(time.Second),
			after-before, describe(seen))

		// Restart: nothing may be written.
		rsBefore, secretsBefore := resourceVersions(b)
		op.stop(b)
		requests.start()
		restarted := time.Now()
		op = startProcess(b, bin, kubeconfig)
		settled := waitQuiet(b, op, 5*time.Second, count)
		b.ReportMetric(settled.Sub(restarted).Seconds(), "s/restart-settle")
		seen = requests.stop()
		b.Logf("Restart settled in %s; requests seen by the proxy: %s", settled.Sub(restarted).Round(10*time.Millisecond), describe(seen))
		rsAfter, secretsAfter := resourceVersions(b)
		if changed := changedKeys(rsBefore, rsAfter); len(changed) > 0 {
			b.Fatalf("a restart changed %d RotatedSecrets, e.g. %v", len(changed), changed[:min(5, len(changed))])
		}
		if changed := changedKeys(secretsBefore, secretsAfter); len(changed) > 0 {
			b.Fatalf("a restart changed %d managed Secrets, e.g. %v", len(changed), changed[:min(5, len(changed))])
		}
		if writes := writeRequests(seen); writes > 0 {
			b.Logf("A restart sent %d write requests (none changed a RotatedSecret or a managed Secret)", writes)
		}

		// The restarted process, idle long enough to have returned its free heap (app.IdleCheckInterval): its
		// heap was built by one list of each kind, not by the churn of 10,000 first rotations.
		time.Sleep(time.Until(settled.Add(app.IdleCheckInterval + 10*time.Second)))
		m := op.mustScrape(b)
		b.ReportMetric(op.rss(b), "rss-MiB-restarted")
		b.Logf("Memory of the restarted operator, idle: %s", op.memory(b, m))
	}
}

// createIdle creates count RotatedSecrets, 1,000 per new namespace, from 16 goroutines, and returns the
// namespaces.
func createIdle(b *testing.B, count int) []string {
	b.Helper()
	c := fixture.Cluster{Client: cl, Context: context.Background(), Gomega: gomega.NewWithT(b)}
	namespaces := make([]string, (count+999)/1000)
	for i := range namespaces {
		namespaces[i] = c.NewNamespace(idlePrefix)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += 16 {
				rs := testgen.RotatedSecret(fmt.Sprintf("app-%d", i), namespaces[i/1000],
					testgen.WithTarget(fmt.Sprintf("app-%d-env", i), "JWT_SECRET"))
				if err := cl.Create(context.Background(), rs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return namespaces
}

// waitForIdleTargets polls, every 5 s (a list of 20,000 Secrets is not free), until count target Secrets in the
// idle namespaces hold their value; it gives up 30 minutes after start.
func waitForIdleTargets(b *testing.B, op *process, count int, start time.Time) {
	b.Helper()
	for {
		op.mustBeRunning(b)
		var list corev1.SecretList
		if err := cl.List(context.Background(), &list, client.MatchingLabels{rotationv1alpha1.ManagedLabel: "true"}); err != nil {
			b.Fatal(err)
		}
		got := 0
		for i := range list.Items {
			s := &list.Items[i]
			if _, staging := s.Labels[rotationv1alpha1.RotatedSecretLabel]; !staging && strings.HasPrefix(s.Namespace, idlePrefix) &&
				len(s.Data["JWT_SECRET"]) == 64 {
				got++
			}
		}
		if got >= count {
			return
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatalf("only %d of %d targets written after 30 minutes", got, count)
		}
		time.Sleep(5 * time.Second)
	}
}

// waitQuiet polls the operator's metrics until it has reconciled at least count times, its work queue is empty
// and neither its reconcile count nor its API request count has moved for quiet; it returns when they last
// moved.
func waitQuiet(b *testing.B, op *process, quiet time.Duration, count int) time.Time {
	b.Helper()
	deadline := time.Now().Add(30 * time.Minute)
	var last [2]float64
	lastChange := time.Now()
	for time.Now().Before(deadline) {
		op.mustBeRunning(b)
		m, err := op.scrape()
		if err != nil {
			b.Fatal(err)
		}
		now := [2]float64{m.sum("controller_runtime_reconcile_total", `controller="rotatedsecret"`), m.sum("rest_client_requests_total")}
		if now != last {
			last, lastChange = now, time.Now()
		}
		depth := m.sum("workqueue_depth", `name="rotatedsecret"`)
		if now[0] >= float64(count) && depth == 0 && time.Since(lastChange) >= quiet {
			return lastChange
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("the operator did not settle within 30 minutes (%.0f reconciles, %.0f requests)", last[0], last[1])
	return time.Time{}
}

// resourceVersions returns the resourceVersion of every RotatedSecret and of every managed Secret (targets and
// staging) in the idle namespaces, by namespace/name.
func resourceVersions(b *testing.B) (rotatedSecrets, secrets map[string]string) {
	b.Helper()
	var rsList rotationv1alpha1.RotatedSecretList
	var secretList corev1.SecretList
	if err := cl.List(context.Background(), &rsList); err != nil {
		b.Fatal(err)
	}
	if err := cl.List(context.Background(), &secretList, client.MatchingLabels{rotationv1alpha1.ManagedLabel: "true"}); err != nil {
		b.Fatal(err)
	}
	rotatedSecrets, secrets = map[string]string{}, map[string]string{}
	for _, o := range rsList.Items {
		if strings.HasPrefix(o.Namespace, idlePrefix) {
			rotatedSecrets[o.Namespace+"/"+o.Name] = o.ResourceVersion
		}
	}
	for _, o := range secretList.Items {
		if strings.HasPrefix(o.Namespace, idlePrefix) {
			secrets[o.Namespace+"/"+o.Name] = o.ResourceVersion
		}
	}
	return rotatedSecrets, secrets
}

// changedKeys are the keys whose value differs between before and after, or that only one of them has, sorted.
func changedKeys(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if after[k] != v {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// deleteBenchObjects deletes the RotatedSecrets and the managed Secrets of every namespace whose name starts with
// prefix. envtest runs no namespace controller, so deleting the namespaces would leave them.
func deleteBenchObjects(b *testing.B, prefix string) {
	b.Helper()
	var list corev1.NamespaceList
	if err := cl.List(context.Background(), &list); err != nil {
		b.Fatal(err)
	}
	for _, ns := range list.Items {
		if !strings.HasPrefix(ns.Name, prefix) {
			continue
		}
		if err := cl.DeleteAllOf(context.Background(), &rotationv1alpha1.RotatedSecret{}, client.InNamespace(ns.Name)); err != nil {
			b.Fatal(err)
		}
		if err := cl.DeleteAllOf(context.Background(), &corev1.Secret{}, client.InNamespace(ns.Name),
			client.MatchingLabels{rotationv1alpha1.ManagedLabel: "true"}); err != nil {
			b.Fatal(err)
		}
	}
}

// requestLog counts the requests a faultproxy sees while it is on, by method, path and watch.
type requestLog struct {
	mu   sync.Mutex
	on   bool
	seen map[string]int
}

// observe is the proxy's Observe function.
func (l *requestLog) observe(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return
	}
	key := r.Method + " " + r.URL.Path
	if w := r.URL.Query().Get("watch"); w == "true" || w == "1" {
		key = "WATCH " + r.URL.Path
	}
	l.seen[key]++
}

// start clears the log and turns it on.
func (l *requestLog) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.seen = true, map[string]int{}
}

// stop turns the log off and returns what it saw.
func (l *requestLog) stop() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.seen
}

// describe lists seen requests, sorted, or "none".
func describe(seen map[string]int) string {
	if len(seen) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		parts = append(parts, fmt.Sprintf("%dx %s", seen[k], k))
	}
	return strings.Join(parts, "; ")
}

// writeRequests counts the requests in seen that are not reads or watches.
func writeRequests(seen map[string]int) int {
	n := 0
	for k, v := range seen {
		if !strings.HasPrefix(k, http.MethodGet+" ") && !strings.HasPrefix(k, "WATCH ") {
			n += v
		}
	}
	return n
}

// envDuration is the duration in environment variable name (e.g. 30s), or def when it is unset.
func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 30s", name, v)
	}
	return d
}
