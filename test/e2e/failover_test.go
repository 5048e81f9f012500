//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Lease timings of the replicas under test: short, so a takeover takes seconds, yet with a renew deadline long
// enough to ride out the API server stalling for a few seconds on a busy machine (with 4s/3s/1s a leader lost its
// lease to such a stall and exited, as it should, but mid-spec).
const (
	leaseDuration = 8 * time.Second
	renewDeadline = 6 * time.Second
	retryPeriod   = 1 * time.Second
	// takeoverBound is the longest a standby may take to lead after the leader dies: it counts the lease as expired
	// leaseDuration after it last saw it renewed (at most when the leader died), and looks every retryPeriod plus
	// client-go's jitter of up to 1.2 retry periods; two seconds more for the API server's answers to its read and
	// its update of the Lease on a loaded machine (11.1s was seen once, 0.9s over the first two terms).
	takeoverBound = leaseDuration + retryPeriod*22/10 + 2*time.Second
	// acquiredLine is logged by client-go's leader election when a replica takes the lease.
	acquiredLine = "Successfully acquired lease"
)

// failoverCase is one step of a rotation at which the leader is killed.
type failoverCase struct {
	name string
	// prepare changes the RotatedSecret before the rotation starts (the rollback case makes validation fail).
	prepare func(ns string)
	// watch is the kind of object whose watch events tell when the step is reached.
	watch func() client.ObjectList
	// reached reports whether the rotation has got to the step, given each object of the watch in turn (before
	// holds the targets' values before the rotation).
	reached func(obj client.Object, before map[string]string) bool
	// landed checks, with the RotatedSecret read right after the kill, that the leader died at the step.
	landed func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret)
	// rolledBack is set when the rotation is expected to end rolled back rather than committed.
	rolledBack bool
}

// pendingAt reports whether obj is the RotatedSecret with revision 2 pending at step.
func pendingAt(obj client.Object, step rotationv1alpha1.RotationStep) bool {
	rs, ok := obj.(*rotationv1alpha1.RotatedSecret)
	return ok && rs.Name == rsName && rs.Status.Pending != nil && rs.Status.Pending.Revision == 2 && rs.Status.Pending.Step == step
}

func rotatedSecrets() client.ObjectList { return &rotationv1alpha1.RotatedSecretList{} }

// failoverCases are the steps of the issue: staged, targets written, the first stage restarted, validating and
// rolling back. A step is noticed through a watch and the leader killed at once, as a node failure would strike.
var failoverCases = []failoverCase{{
	name:  "staged: the new value is in the staging Secret and status, no target has it yet",
	watch: rotatedSecrets,
	reached: func(obj client.Object, _ map[string]string) bool {
		return pendingAt(obj, rotationv1alpha1.StepStaged)
	},
	landed: func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret) {
		g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepStaged))
	},
}, {
	name:  "targets written: both targets hold the new value, no workload restarted yet",
	watch: func() client.ObjectList { return &corev1.SecretList{} },
	reached: func() func(client.Object, map[string]string) bool {
		// The Secret watch tells one Secret at a time: remember which targets were seen with a new value.
		changed := map[string]bool{}
		return func(obj client.Object, before map[string]string) bool {
			if s, ok := obj.(*corev1.Secret); ok && before[s.Name] != "" {
				changed[s.Name] = digest(s.Data[targetKey]) != before[s.Name]
			}
			return changed[workersEnv] && changed[apiEnv]
		}
	}(),
	landed: func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret) {
		// With a rollout, TargetsWritten is never persisted on its own: the rollout phase records RollingOut at once.
		g.Expect(rs.Status.Pending.Step).To(BeElementOf(rotationv1alpha1.StepStaged, rotationv1alpha1.StepRollingOut))
		g.Expect(cluster.TemplateRevision(ns, workers, rsName)).To(Equal("1"), "no workload restarted yet")
	},
}, {
	name:  "rolling out: the workers' stage restarted them, their new pods are not available yet",
	watch: func() client.ObjectList { return &appsv1.DeploymentList{} },
	reached: func(obj client.Object, _ map[string]string) bool {
		d, ok := obj.(*appsv1.Deployment)
		return ok && d.Name == workers && d.Spec.Template.Annotations[annotationKey] == "2"
	},
	landed: func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret) {
		g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepRollingOut))
		g.Expect(rs.Status.Rollout.Stage).To(Equal("workers"))
		g.Expect(rs.Status.Rollout.CompletedStages).To(BeEmpty())
	},
}, {
	name:  "validating: both stages healthy, the smoke Job about to run or running",
	watch: rotatedSecrets,
	reached: func(obj client.Object, _ map[string]string) bool {
		return pendingAt(obj, rotationv1alpha1.StepValidating)
	},
	landed: func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret) {
		g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepValidating))
	},
}, {
	name: "rolling back: the smoke Job failed, the previous value not yet back everywhere",
	prepare: func(ns string) {
		cluster.Update(jwtKey(ns), func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Validation.Jobs[0].Template.Spec.Template.Labels = map[string]string{failLabel: "true"}
		})
	},
	watch: rotatedSecrets,
	reached: func(obj client.Object, _ map[string]string) bool {
		return pendingAt(obj, rotationv1alpha1.StepRollingBack)
	},
	landed: func(g Gomega, ns string, rs *rotationv1alpha1.RotatedSecret) {
		g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepRollingBack))
	},
	rolledBack: true,
}}

var _ = Describe("Two replicas with --leader-elect", func() {
	// started numbers the replicas.
	var started int

	// startReplica starts a replica with --leader-elect and the spec's lease timings, named failover-<n>; its requests
	// carry that name as their user agent. standby is set when another replica already leads.
	startReplica := func(standby bool) *operator {
		GinkgoHelper()
		started++
		name := fmt.Sprintf("failover-%d", started)
		opts := []operatorOption{asProgram(name), withArgs("--leader-elect",
			"--leader-elect-lease-duration="+leaseDuration.String(), "--leader-elect-renew-deadline="+renewDeadline.String(),
			"--leader-elect-retry-period="+retryPeriod.String())}
		if standby {
			opts = append(opts, asStandby())
		}
		op := startOperator(name, opts...)
		DeferCleanup(op.stop)
		return op
	}

	It("hand a rotation killed at any step over to the standby, which finishes it with one revision; never both act", func() {
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				dumpReplicas()
			}
		})
		By("one namespace per step, each with its workloads and the JWT at revision 1, rotated by the first leader")
		namespaces := make([]string, len(failoverCases))
		for i := range failoverCases {
			namespaces[i] = newNamespace()
			createWorkloads(namespaces[i])
		}
		leader := startReplica(false)
		leaderID := leaseHolder()
		Expect(leaderID).NotTo(BeEmpty())
		Expect(leader.logs()).To(ContainSubstring(acquiredLine))
		for _, ns := range namespaces {
			Expect(cl.Create(ctx, jwtSecret(ns, "5m"))).To(Succeed())
		}
		for _, ns := range namespaces {
			cluster.WaitForRevision(jwtKey(ns), 1)
		}
		standby := startReplica(true)

		for i, c := range failoverCases {
			By("SIGKILL to the leader at step " + c.name)
			currentNS = namespaces[i]
			next := failOver(c, namespaces[i], leader, standby, leaderID)
			leader, leaderID = standby, next
			standby = startReplica(true)
		}
	})
})

// failOver rotates the JWT of ns, SIGKILLs leader (holding the lease as leaderID) the moment the rotation reaches
// c's step and checks that standby takes over in time and finishes the rotation alone, with one revision. It
// returns standby's lease identity.
func failOver(c failoverCase, ns string, leader, standby *operator, leaderID string) string {
	GinkgoHelper()
	Expect(leaseHolder()).To(Equal(leaderID), "the leader kept its lease since it took it")
	Expect(standby.logs()).NotTo(ContainSubstring(acquiredLine), "the standby has never led")
	genWorkers, genAPI := cluster.Deployment(ns, workers).Generation, cluster.Deployment(ns, api).Generation
	before := targetValues(ns)
	rec := startRecorder(ns)
	if c.prepare != nil {
		c.prepare(ns)
	}

	killed := killWhen(leader, c.watch(), ns, func() {
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "failover")
	}, func(obj client.Object) bool { return c.reached(obj, before) })
	atKill := cluster.RotatedSecret(jwtKey(ns))
	Expect(atKill.Status.Pending).NotTo(BeNil(), "the rotation was in progress when the leader died")
	c.landed(Default, ns, atKill)
	staged := atKill.Status.Pending.Fingerprint
	Expect(staged).NotTo(BeEmpty(), "a value was staged before the leader died")
	GinkgoWriter.Printf("Leader %s killed at step %s (stage %q)\n", leader.name, atKill.Status.Pending.Step, stageOf(atKill))

	By("the standby takes the lease within the lease duration and its jitter")
	var lease coordinationv1.Lease
	Eventually(func(g Gomega) {
		lease = leaderLease(g)
		g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
		g.Expect(*lease.Spec.HolderIdentity).NotTo(Equal(leaderID))
	}).WithTimeout(wait).WithPolling(100 * time.Millisecond).Should(Succeed())
	Expect(lease.Spec.AcquireTime).NotTo(BeNil())
	acquired := lease.Spec.AcquireTime.Time
	takeover := acquired.Sub(killed)
	GinkgoWriter.Printf("Standby %s took the lease %s after the kill\n", standby.name, takeover)
	AddReportEntry("takeover after a kill at "+string(atKill.Status.Pending.Step), takeover.String())
	Expect(takeover).To(BeNumerically("<=", takeoverBound), "took over %s after the kill", takeover)
	Eventually(standby.logs).WithTimeout(wait).Should(ContainSubstring(acquiredLine), "the standby took the lease")

	By("the rotation ends with one value for revision 2, each workload restarted once for it")
	var rs *rotationv1alpha1.RotatedSecret
	if c.rolledBack {
		rs = waitEnded(ns, 2, wait)
		Expect(rs.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeRolledBack))
		Expect(rs.Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(targetValues(ns)).To(Equal(before), "the previous value is back in every target")
	} else {
		rs = cluster.WaitForRevision(jwtKey(ns), 2)
		Expect(historyOf(rs, 2)).To(ConsistOf(HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded)))
		Expect(rs.Status.CurrentFingerprint).To(Equal(staged), "the value staged by the dead leader was committed, not a second one")
	}
	Expect(historyOf(rs, 2)).To(ConsistOf(HaveField("Fingerprint", staged)),
		"one history record for revision 2, with the value staged before the kill")
	Expect(historyOf(rs, 3)).To(BeEmpty())
	Expect(rs.Status.LastHandledRotateRequest).To(Equal("failover"))
	after := targetValues(ns)
	for _, secret := range []string{workersEnv, apiEnv} {
		Expect(targetFingerprint(ns, secret)).To(Equal(rs.Status.CurrentFingerprint), "target %s holds the current value", secret)
		want := []string{before[secret], after[secret]} // old, then the one new value
		if c.rolledBack {
			Eventually(func() []string { return rec.valuesOf(secret) }).WithTimeout(10*time.Second).
				Should(HaveLen(3), "target %s: old, the one new value, old again", secret)
			want = []string{before[secret], rec.valuesOf(secret)[1], before[secret]}
			Expect(want[1]).NotTo(Equal(before[secret]))
		}
		Eventually(func() []string { return rec.valuesOf(secret) }).WithTimeout(10*time.Second).Should(Equal(want), "target %s", secret)
	}
	// Forward once to revision 2, and after a rollback once back to revision 1: one template change each.
	restarts := int64(1)
	endRev := "2"
	if c.rolledBack {
		restarts, endRev = 2, "1"
	}
	for name, gen := range map[string]int64{workers: genWorkers, api: genAPI} {
		Expect(replicaSetNames(ns, name, 2)).To(HaveLen(1), "%s was restarted once for revision 2", name)
		Expect(cluster.Deployment(ns, name).Generation).To(Equal(gen+restarts), "%s's pod template changed %d time(s)", name, restarts)
		expectOnlyPodsOf(ns, name, endRev)
	}

	var jobs batchv1.JobList
	Expect(cl.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{rotationv1alpha1.RevisionLabel: "2"})).To(Succeed())
	Expect(jobs.Items).To(HaveLen(1), "one validation Job for revision 2")

	By("the API server's audit log: every write of the dead leader came before the standby took the lease, and the standby wrote nothing before")
	expectNeverBoth(leader, standby, ns, acquired)
	Expect(standby.done()).To(BeFalse(), "the new leader still runs")
	return *lease.Spec.HolderIdentity
}

// killWhen opens a watch of list in ns, runs start, and SIGKILLs victim from inside the watch loop the moment an
// object makes reached true. It returns the time just before the signal.
func killWhen(victim *operator, list client.ObjectList, ns string, start func(), reached func(client.Object) bool) time.Time {
	GinkgoHelper()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	w, err := cl.Watch(wctx, list, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	start()
	for ev := range w.ResultChan() {
		Expect(victim.done()).To(BeFalse(), "operator %s exited before the step (did it lose its lease?):\n%s", victim.name, victim.logs())
		Expect(ev.Type).NotTo(Equal(watch.Error), "watch error: %v", ev.Object)
		obj, ok := ev.Object.(client.Object)
		if ok && ev.Type != watch.Deleted && reached(obj) {
			at := time.Now()
			victim.kill()
			return at
		}
	}
	Fail(fmt.Sprintf("the rotation did not reach the step within %s", wait))
	return time.Time{}
}

// leaderLease reads the Lease the replicas elect their leader with.
func leaderLease(g Gomega) coordinationv1.Lease {
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: fixture.OperatorNamespace, Name: app.LeaderElectionID(labels.Everything())}
	g.Expect(cl.Get(ctx, key, &lease)).To(Succeed())
	return lease
}

// leaseHolder is the identity holding the leader lease.
func leaseHolder() string {
	GinkgoHelper()
	lease := leaderLease(Default)
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// stageOf names the rollout stage in progress, if any.
func stageOf(rs *rotationv1alpha1.RotatedSecret) string {
	if rs.Status.Rollout == nil {
		return ""
	}
	return rs.Status.Rollout.Stage
}

// targetFingerprint is the operator's keyed fingerprint of the target Secret's JWT_SECRET, comparable with
// status.currentFingerprint.
func targetFingerprint(ns, secret string) string {
	GinkgoHelper()
	var keySecret, target corev1.Secret
	Expect(cl.Get(ctx, client.ObjectKey{Namespace: fixture.OperatorNamespace, Name: fingerprint.KeySecretName}, &keySecret)).To(Succeed())
	key, err := fingerprint.KeyFrom(&keySecret)
	Expect(err).NotTo(HaveOccurred())
	Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret}, &target)).To(Succeed())
	return fingerprint.New(key).Of(provider.Values{provider.DefaultOutput: target.Data[targetKey]})
}

// auditEvent is the part of an API server audit event (audit.k8s.io/v1 Event) the failover spec reads.
type auditEvent struct {
	Verb      string    `json:"verb"`
	UserAgent string    `json:"userAgent"`
	Received  time.Time `json:"requestReceivedTimestamp"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

func (e auditEvent) String() string {
	s := fmt.Sprintf("%s %s %s", e.Received.Format(time.RFC3339Nano), e.UserAgent, e.Verb)
	if e.ObjectRef != nil {
		s += fmt.Sprintf(" %s %s/%s", e.ObjectRef.Resource, e.ObjectRef.Namespace, e.ObjectRef.Name)
	}
	if e.ResponseStatus != nil {
		s += fmt.Sprintf(" -> %d", e.ResponseStatus.Code)
	}
	return s
}

// writesBy reads the audit log (hack/local-cluster.sh logs every write made by a ServiceAccount) and returns the
// writes op made, its Lease writes left out: taking and renewing the lease is how replicas agree who acts, not
// acting.
func writesBy(op *operator) []auditEvent {
	GinkgoHelper()
	f, err := os.Open(filepath.Join(workDir, "cluster", "logs", "audit.log"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e auditEvent
		Expect(json.Unmarshal(sc.Bytes(), &e)).To(Succeed(), "audit line %s", sc.Text())
		if !strings.HasPrefix(e.UserAgent, op.name+"/") || e.ObjectRef != nil && e.ObjectRef.Resource == "leases" {
			continue
		}
		out = append(out, e)
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// expectNeverBoth checks in the audit log that the dead leader and its successor never acted at the same time:
// each of the leader's writes reached the API server before the successor took the lease (acquired), the
// successor made none before, and both wrote in ns, where the rotation that was handed over ran.
func expectNeverBoth(leader, successor *operator, ns string, acquired time.Time) {
	GinkgoHelper()
	inNS := func(events []auditEvent) int {
		n := 0
		for _, e := range events {
			if e.ObjectRef != nil && e.ObjectRef.Namespace == ns {
				n++
			}
		}
		return n
	}
	old, successors := writesBy(leader), writesBy(successor)
	Expect(inNS(old)).To(BeNumerically(">", 0), "the audit log has the dead leader's writes in %s", ns)
	Expect(inNS(successors)).To(BeNumerically(">", 0), "the audit log has the new leader's writes in %s", ns)
	for _, e := range old {
		Expect(e.Received).To(BeTemporally("<", acquired), "a write of the dead leader after the standby took the lease: %s", e)
	}
	for _, e := range successors {
		Expect(e.Received).To(BeTemporally(">=", acquired), "a write of the standby before it took the lease: %s", e)
	}
	last, first := old[len(old)-1], successors[0]
	GinkgoWriter.Printf("Last write of %s: %s\nFirst write of %s: %s\n", leader.name, last, successor.name, first)
}

// dumpReplicas prints the logs of every failover replica, for a failed spec.
func dumpReplicas() {
	operatorsMu.Lock()
	defer operatorsMu.Unlock()
	for _, o := range operators {
		if strings.HasPrefix(o.name, "failover-") {
			fmt.Fprintf(GinkgoWriter, "\n=== operator %s (%s) ===\n%s", o.name, o.logPath, o.logs())
		}
	}
}
