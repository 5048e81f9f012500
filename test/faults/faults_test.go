package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/testgen"
	"github.com/tribi/secret-rotator/test/faultproxy"
)

// rotatedSecretsEnv sets how many RotatedSecrets the test rotates (two rotations each, both under faults).
const rotatedSecretsEnv = "FAULTS_ROTATED_SECRETS"

// defaultRotatedSecrets is the number: about two minutes on two cores under -race, most of it backoff and
// the outage (50 took as long).
const defaultRotatedSecrets = 100

// faults is the bad day: the rates of the issue, a status conflict on one status write in ten, and a lost
// answer on one write in fifty.
var faults = faultproxy.Faults{
	Seed:            13,
	InternalError:   0.05,
	TooManyRequests: 0.05,
	StatusConflict:  0.10,
	LostResponse:    0.02,
	Spike:           0.01,
	SpikeDelay:      2 * time.Second,
	WatchResetMin:   time.Second,
	WatchResetMax:   15 * time.Second,
}

// outage is how long the API server is away in the middle of the rotations.
const outage = 10 * time.Second

// vendor stands in for a vendor API on which every generate call mints a credential: like the http provider it
// records the create-pending marker (req.Guard) first and mints only once that is stored. It records every call
// and every minted value by object and revision.
type vendor struct {
	mu     sync.Mutex
	calls  map[string]int
	minted map[string][]string
}

func newVendor() *vendor { return &vendor{calls: map[string]int{}, minted: map[string][]string{}} }

func revisionKey(ns, name string, rev int64) string { return fmt.Sprintf("%s/%s@%d", ns, name, rev) }

func (v *vendor) provider() provider.Provider {
	return &fake.Provider{GenerateFunc: func(ctx context.Context, req provider.Request) (provider.Result, error) {
		key := revisionKey(req.Namespace, req.Name, req.Revision)
		v.mu.Lock()
		v.calls[key]++
		v.mu.Unlock()
		if err := req.Guard.Begin(ctx); err != nil {
			return provider.Result{}, fmt.Errorf("recording the create-pending marker: %w", err)
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		value := hex.EncodeToString(b)
		v.mu.Lock()
		v.minted[key] = append(v.minted[key], value)
		v.mu.Unlock()
		return provider.Result{Values: provider.Values{provider.DefaultOutput: []byte(value)}}, nil
	}}
}

// Minted returns the values minted per "<ns>/<name>@<revision>".
func (v *vendor) Minted() map[string][]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]string{}
	for k, vals := range v.minted {
		out[k] = append([]string(nil), vals...)
	}
	return out
}

// Calls returns the Generate calls per "<ns>/<name>@<revision>", minted or not.
func (v *vendor) Calls() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]int{}
	for k, n := range v.calls {
		out[k] = n
	}
	return out
}

// startOperator runs the real manager and reconciler, with the production defaults for workers and client
// limits and the real clock (backoff runs on it), reaching the API server only through the proxy.
func startOperator(proxy *faultproxy.Proxy, p provider.Provider, ns string) *fixture.Operator {
	GinkgoHelper()
	op, err := fixture.StartOperator(func(ctx context.Context) (ctrl.Manager, error) {
		rc := proxy.Config()
		rc.QPS, rc.Burst = app.DefaultQPS, app.DefaultBurst
		mopts := fixture.ManagerOptions()
		mopts.Scheme = app.Scheme()
		mopts.Cache = controllers.CacheOptions(nil)
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{ns: {}, fixture.OperatorNamespace: {}}
		mopts.Logger = zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel))
		mgr, err := ctrl.NewManager(rc, mopts)
		if err != nil {
			return nil, err
		}
		r := &controllers.RotatedSecretReconciler{
			Client:       mgr.GetClient(),
			APIReader:    mgr.GetAPIReader(),
			Recorder:     mgr.GetEventRecorder("secret-rotator"),
			Clock:        clock.RealClock{},
			Providers:    provider.Registry{provider.KindRandom: p},
			Fingerprints: keyer,
		}
		return mgr, r.SetupWithManager(ctx, mgr, app.DefaultWorkers)
	})
	Expect(err).NotTo(HaveOccurred())
	return op
}

func rotatedSecrets() int {
	GinkgoHelper()
	s := os.Getenv(rotatedSecretsEnv)
	if s == "" {
		return defaultRotatedSecrets
	}
	n, err := strconv.Atoi(s)
	Expect(err).NotTo(HaveOccurred(), rotatedSecretsEnv)
	return n
}

// name, workers, api, target and job name the objects of RotatedSecret i.
func name(i int) string           { return fmt.Sprintf("rs-%03d", i) }
func workers(i int) string        { return name(i) + "-worker" }
func api(i int) string            { return name(i) + "-api" }
func target(i int) string         { return name(i) + "-env" }
func job(i int, rev int64) string { return fmt.Sprintf("%s-smoke-r%d", name(i), rev) }
func ref(ns string, i int) *rotationv1alpha1.RotatedSecret {
	return &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)}}
}

// committed counts the RotatedSecrets of ns that have committed rev.
func committed(ns string, rev int64) int {
	var list rotationv1alpha1.RotatedSecretList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	n := 0
	for _, rs := range list.Items {
		if rs.Status.CurrentRevision >= rev && rs.Status.Pending == nil {
			n++
		}
	}
	return n
}

// notCommitted describes each RotatedSecret of ns that has not committed rev: its status, what the vendor minted
// for it, its validation Jobs and its Events.
func notCommitted(ns string, rev int64, v *vendor) string {
	var list rotationv1alpha1.RotatedSecretList
	if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var events eventsv1.EventList
	_ = k8sClient.List(ctx, &events, client.InNamespace(ns))
	var jobs batchv1.JobList
	_ = k8sClient.List(ctx, &jobs, client.InNamespace(ns))
	minted, calls := v.Minted(), v.Calls()
	var b strings.Builder
	for _, rs := range list.Items {
		st := rs.Status
		if st.CurrentRevision >= rev && st.Pending == nil {
			continue
		}
		fmt.Fprintf(&b, "%s: current %d, failedAttempts %d", rs.Name, st.CurrentRevision, st.FailedAttempts)
		if st.Pending != nil {
			key := revisionKey(ns, rs.Name, st.Pending.Revision)
			fmt.Fprintf(&b, ", pending revision %d at %s (generate calls %d, minted %d)", st.Pending.Revision,
				st.Pending.Step, calls[key], len(minted[key]))
		}
		if st.Rollout != nil {
			fmt.Fprintf(&b, ", rollout of %d at stage %q, completed %v", st.Rollout.Revision, st.Rollout.Stage, st.Rollout.CompletedStages)
		}
		if st.Validation != nil {
			fmt.Fprintf(&b, ", validation of %d: %+v", st.Validation.Revision, st.Validation.Jobs)
		}
		b.WriteString("\n")
		for _, c := range st.Conditions {
			fmt.Fprintf(&b, "    condition %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		for _, j := range jobs.Items {
			if j.Labels[rotationv1alpha1.RotatedSecretLabel] == rs.Name {
				fmt.Fprintf(&b, "    job %s: succeeded %d, conditions %d\n", j.Name, j.Status.Succeeded, len(j.Status.Conditions))
			}
		}
		for _, e := range events.Items {
			if e.Regarding.Name == rs.Name {
				fmt.Fprintf(&b, "    event %s %s %s: %s\n", e.EventTime.Format("15:04:05.000"), e.Type, e.Reason, e.Note)
			}
		}
	}
	return b.String()
}

var _ = Describe("API faults between the operator and the API server", func() {
	It("completes every rotation once through 500s, 429s, conflicts, lost answers, latency spikes, cut watches and a 10 s outage", func() {
		n := rotatedSecrets()
		ns := cluster.NewNamespace("faults-")
		kube := startKubeControllers(ns)
		for i := range n {
			Expect(k8sClient.Create(ctx, testgen.Deployment(workers(i), ns, 2))).To(Succeed())
			Expect(k8sClient.Create(ctx, testgen.Deployment(api(i), ns, 2))).To(Succeed())
		}
		proxy, err := faultproxy.New(cfg, faults)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		v := newVendor()
		op := startOperator(proxy, v.provider(), ns)
		DeferCleanup(func() { Expect(op.Stop(time.Minute)).To(Succeed()) })
		start := time.Now()

		By(fmt.Sprintf("creating %d RotatedSecrets, each with two stages and a validation Job, under faults", n))
		for i := range n {
			rs := testgen.RotatedSecret(name(i), ns, testgen.WithTarget(target(i), "VALUE"),
				testgen.WithRollout(testgen.Stage("workers", "10m", workers(i)), testgen.Stage("api", "10m", api(i))),
				testgen.WithValidation("", "15m", "smoke"))
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}
		// An API error is never a reason to stop for a person. This test found (and now guards) three ways it did: a
		// lost answer on the marker write, a 500 on the staging write after the vendor minted, and a status patch
		// refused right after staging (the next pass read a cached staging Secret showing the marker but not yet the
		// value); each stalled the rotation with GenerateIncomplete for good.
		Eventually(func() int { return committed(ns, 1) }).WithTimeout(4*time.Minute).WithPolling(time.Second).
			Should(Equal(n), func() string {
				return "every RotatedSecret commits revision 1, none stalls on an API error (" + proxy.Summary() + "); not yet:\n" +
					notCommitted(ns, 1, v)
			})
		GinkgoWriter.Printf("Revision 1 everywhere after %s; %s\n", time.Since(start).Round(time.Second), proxy.Summary())

		By("forcing a rotation of each; the API server goes away for 10 s once a quarter have committed")
		for i := range n / 2 {
			cluster.Annotate(ref(ns, i), rotationv1alpha1.RotateAnnotation, "faults")
		}
		Eventually(func() int { return committed(ns, 2) }).WithTimeout(2 * time.Minute).WithPolling(100 * time.Millisecond).
			Should(BeNumerically(">=", n/4))
		proxy.Outage(outage)
		outageStart := time.Now()
		for i := n / 2; i < n; i++ {
			cluster.Annotate(ref(ns, i), rotationv1alpha1.RotateAnnotation, "faults")
		}
		GinkgoWriter.Printf("Outage started with %d of %d committed; the second half was asked for in %s\n",
			committed(ns, 2), n, time.Since(outageStart).Round(time.Millisecond))
		Eventually(func() int { return committed(ns, 2) }).WithTimeout(4*time.Minute).WithPolling(time.Second).
			Should(Equal(n), func() string {
				return "every RotatedSecret commits revision 2, none stalls on an API error (" + proxy.Summary() + "); not yet:\n" +
					notCommitted(ns, 2, v)
			})
		summary := proxy.Summary()
		AddReportEntry("faults injected", summary)
		GinkgoWriter.Printf("Revision 2 everywhere after %s; %s\n", time.Since(start).Round(time.Second), summary)

		By("checking that every revision was minted once, written everywhere, restarted once and told in status")
		Expect(kube.Errors()).To(BeEmpty(), "the test's own Deployment and Job controllers")
		minted, calls, restarts, jobs := v.Minted(), v.Calls(), kube.Restarts(), kube.Jobs()
		extraCalls := 0
		for _, c := range calls {
			extraCalls += c - 1
		}
		AddReportEntry("Generate calls beyond one per revision (the create-pending guard let none of them mint)", extraCalls)
		Expect(minted).To(HaveLen(2*n), "revisions minted: exactly revisions 1 and 2 of each RotatedSecret")
		Expect(jobs).To(HaveLen(2*n), "validation Jobs: one per revision")
		for i := range n {
			rs := cluster.RotatedSecret(ref(ns, i))
			st := rs.Status
			for rev := int64(1); rev <= 2; rev++ {
				Expect(minted[revisionKey(ns, name(i), rev)]).To(HaveLen(1), "%s revision %d minted once", name(i), rev)
				Expect(restarts).To(HaveKeyWithValue(fmt.Sprintf("%s@%d", workers(i), rev), 1), "%s restarted once for revision %d", workers(i), rev)
				Expect(restarts).To(HaveKeyWithValue(fmt.Sprintf("%s@%d", api(i), rev), 1), "%s restarted once for revision %d", api(i), rev)
				Expect(jobs).To(HaveKeyWithValue(job(i, rev), 1), "one validation Job for %s revision %d", name(i), rev)
			}
			value := minted[revisionKey(ns, name(i), 2)][0]

			// The target holds the committed value.
			var sec corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: target(i)}, &sec)).To(Succeed())
			Expect(string(sec.Data["VALUE"])).To(Equal(value), "%s holds the value minted for revision 2", target(i))
			Expect(keyer.Of(provider.Values{provider.DefaultOutput: sec.Data["VALUE"]})).To(Equal(st.CurrentFingerprint))

			// Each workload's spec changed exactly twice, once per revision: nothing else touched the template.
			for _, d := range []string{workers(i), api(i)} {
				dep := cluster.Deployment(ns, d)
				Expect(dep.Generation).To(BeEquivalentTo(3), "%s: created, restarted for revision 1, restarted for revision 2", d)
				Expect(fixture.TemplateRevision(dep, name(i))).To(Equal("2"))
			}

			// Status tells the story: two rotations, both succeeded, nothing left pending or failed.
			Expect(st.CurrentRevision).To(BeEquivalentTo(2))
			Expect(st.Pending).To(BeNil())
			Expect(st.Phase).To(Equal(rotationv1alpha1.PhaseReady))
			Expect(st.FailedAttempts).To(BeZero())
			Expect(st.ObservedGeneration).To(Equal(rs.Generation))
			Expect(meta.IsStatusConditionTrue(st.Conditions, rotationv1alpha1.ConditionReady)).To(BeTrue())
			Expect(meta.FindStatusCondition(st.Conditions, rotationv1alpha1.ConditionStalled)).To(BeNil())
			Expect(st.LastHandledRotateRequest).To(Equal("faults"))
			Expect(st.History).To(HaveExactElements(
				And(HaveField("Revision", BeEquivalentTo(2)), HaveField("Trigger", rotationv1alpha1.TriggerManual),
					HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded), HaveField("Fingerprint", st.CurrentFingerprint)),
				And(HaveField("Revision", BeEquivalentTo(1)), HaveField("Trigger", rotationv1alpha1.TriggerCreated),
					HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded))),
				"%s: one history record per revision, newest first", name(i))
			Expect(st.Rollout).To(And(HaveField("Revision", BeEquivalentTo(2)), HaveField("CompletedStages", Equal([]string{"workers", "api"}))))
			Expect(st.Validation.Jobs).To(ConsistOf(HaveField("Result", rotationv1alpha1.JobSucceeded)))
		}
		var all batchv1.JobList
		Expect(k8sClient.List(ctx, &all, client.InNamespace(ns))).To(Succeed())
		Expect(all.Items).To(HaveLen(2*n), "one validation Job per RotatedSecret and revision")
	})
})
