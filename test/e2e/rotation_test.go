//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
)

var _ = Describe("A rotation on a real cluster", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createWorkloads(ns)
		startSpecOperator()
	})

	It("restarts the API only after every worker pod of the new revision is available, then commits", func() {
		createJWT(ns, "5m")
		genWorkers, genAPI := cluster.Deployment(ns, workers).Generation, cluster.Deployment(ns, api).Generation
		before := targetValues(ns)
		rec := startRecorder(ns)

		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "ordering")
		rs := cluster.WaitForRevision(jwtKey(ns), 2)

		By("the rotation committed once, as a manual one")
		Expect(historyOf(rs, 2)).To(ConsistOf(And(
			HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded), HaveField("Trigger", rotationv1alpha1.TriggerManual))))
		Expect(rs.Status.Rollout.CompletedStages).To(Equal([]string{"workers", "api"}))
		after := targetValues(ns)
		for _, secret := range []string{workersEnv, apiEnv} {
			Expect(after[secret]).NotTo(Equal(before[secret]), "target %s holds a new value", secret)
			Eventually(func() []string { return rec.valuesOf(secret) }).WithTimeout(10*time.Second).
				Should(Equal([]string{before[secret], after[secret]}), "target %s took exactly one new value", secret)
		}

		By("each Deployment was restarted exactly once: one new ReplicaSet, one generation")
		Expect(replicaSetNames(ns, workers, 2)).To(HaveLen(1))
		Expect(replicaSetNames(ns, api, 2)).To(HaveLen(1))
		apiRSs := replicaSetsFor(ns, api, 2)
		Expect(cluster.Deployment(ns, workers).Generation).To(Equal(genWorkers + 1))
		Expect(cluster.Deployment(ns, api).Generation).To(Equal(genAPI + 1))

		By("in the ReplicaSet watch, the workers' new ReplicaSet reports all replicas available before the API's exists")
		events := rec.replicaSetEvents()
		workersAvailable := firstEvent(events, func(e rsEvent) bool {
			return e.Deployment == workers && e.Revision == "2" && e.Available == replicas
		})
		apiCreated := firstEvent(events, func(e rsEvent) bool { return e.Deployment == api && e.Revision == "2" })
		Expect(workersAvailable).To(BeNumerically(">=", 0), "ReplicaSet events:%s", describeEvents(events))
		Expect(apiCreated).To(BeNumerically(">", workersAvailable), "ReplicaSet events:%s", describeEvents(events))

		By("timestamps agree: the API's ReplicaSet is no older than the moment each new worker pod became available")
		created := apiRSs[0].CreationTimestamp.Time
		newWorkers := 0
		for _, p := range podsOf(ns, workers) {
			if p.Annotations[annotationKey] != "2" {
				continue
			}
			newWorkers++
			ready, ok := readySince(p)
			Expect(ok).To(BeTrue(), "worker pod %s is Ready", p.Name)
			// A pod counts as available minReadySeconds after it turned Ready. Both times have one-second
			// resolution and the later one is truncated too, so >= still holds exactly.
			Expect(created).To(BeTemporally(">=", ready.Add(minReadySeconds*time.Second)),
				"ReplicaSet %s created at %s; worker pod %s Ready at %s", apiRSs[0].Name, created, p.Name, ready)
		}
		Expect(newWorkers).To(Equal(replicas))
	})

	It("puts the previous value back everywhere when the smoke Job fails", func() {
		createJWT(ns, "5m")
		before := targetValues(ns)
		rec := startRecorder(ns)

		By("the next revision's smoke test fails: kwok fails its pod")
		cluster.Update(jwtKey(ns), func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Validation.Jobs[0].Template.Spec.Template.Labels = map[string]string{failLabel: "true"}
		})
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "smoke-fails")
		rs := waitEnded(ns, 2, wait)

		By("the rotation is rolled back and the object says so")
		Expect(rs.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeRolledBack))
		Expect(rs.Status.History[0].Message).To(ContainSubstring("validation Job jwt-smoke-r2 failed"))
		Expect(rs.Status.CurrentRevision).To(BeEquivalentTo(1))
		expectRolledBackConditions(rs)
		var job batchv1.Job
		Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jwt-smoke-r2"}, &job)).To(Succeed())
		Expect(job.Status.Conditions).To(ContainElement(And(
			HaveField("Type", batchv1.JobFailed), HaveField("Status", corev1.ConditionTrue))))

		By("every target holds the old value again, after holding the failed one")
		Expect(targetValues(ns)).To(Equal(before))
		for _, secret := range []string{workersEnv, apiEnv} {
			Eventually(func(g Gomega) {
				seen := rec.valuesOf(secret)
				g.Expect(seen).To(HaveLen(3), "old, new, old again")
				g.Expect(seen[0]).To(Equal(before[secret]))
				g.Expect(seen[1]).NotTo(Equal(before[secret]))
				g.Expect(seen[2]).To(Equal(before[secret]))
			}).WithTimeout(10*time.Second).Should(Succeed(), "target %s", secret)
		}

		By("the timeline tells each stage's restart once: one Event per fact, forward and back")
		expectEachEventOnce(ns, rotationv1alpha1.ReasonRollingOut, rotationv1alpha1.ReasonStageHealthy)

		By("both Deployments rolled out the failed revision, then ended on pods of the restored one only")
		for _, name := range []string{workers, api} {
			Expect(replicaSetNames(ns, name, 2)).To(HaveLen(1), "%s rolled out revision 2 before validation", name)
			Expect(cluster.TemplateRevision(ns, name, rsName)).To(Equal("1"))
			expectOnlyPodsOf(ns, name, "1")
		}
	})

	It("rolls back when a stage is not healthy within its timeout", func() {
		createJWT(ns, "1m")
		before := targetValues(ns)

		By("a pod quota leaves no room for the workers' next pod: their new revision can never become available")
		// kwok satisfies readiness gates by itself and fails labelled pods whatever their revision, so neither
		// would keep revision 2 alone from rolling out; a quota does, and the rollback needs no new pod.
		quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods", Namespace: ns},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse(fmt.Sprint(2 * replicas))}}}
		Expect(cl.Create(ctx, quota)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(quota), quota)).To(Succeed())
			used := quota.Status.Used[corev1.ResourcePods]
			g.Expect(used.Value()).To(BeEquivalentTo(2*replicas), "the quota controller counted the running pods")
		}).WithTimeout(wait).WithPolling(poll).Should(Succeed())

		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "stage-times-out")
		Eventually(func() string { return cluster.TemplateRevision(ns, workers, rsName) }).WithTimeout(wait).WithPolling(poll).Should(Equal("2"))
		started := time.Now()
		rs := waitEnded(ns, 2, wait+time.Minute)

		By("the workers stage timed out after a minute and the rotation was rolled back")
		Expect(time.Since(started)).To(BeNumerically(">=", 50*time.Second), "the stage was given its timeout")
		Expect(rs.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeRolledBack))
		Expect(rs.Status.History[0].Message).To(And(ContainSubstring("stage workers"), ContainSubstring("1m")))
		Expect(rs.Status.CurrentRevision).To(BeEquivalentTo(1))
		expectRolledBackConditions(rs)
		Expect(fixture.Condition(rs, rotationv1alpha1.ConditionStalled).Message).To(ContainSubstring(rotationv1alpha1.ReasonStageTimedOut))

		By("the old value is back in every target; the API was never restarted and validation never ran")
		Expect(targetValues(ns)).To(Equal(before))
		Expect(replicaSetNames(ns, api, 2)).To(BeEmpty())
		var jobs batchv1.JobList
		Expect(cl.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{rotationv1alpha1.RevisionLabel: "2"})).To(Succeed())
		Expect(jobs.Items).To(BeEmpty())
		for _, name := range []string{workers, api} {
			Expect(cluster.TemplateRevision(ns, name, rsName)).To(Equal("1"))
			expectOnlyPodsOf(ns, name, "1")
		}
	})
})

// expectRolledBackConditions checks what a rollback leaves: Stalled=True with reason RolledBack, Ready=False.
// expectEachEventOnce checks that every Event about the RotatedSecret with one of reasons was told once: one
// Event object per note, none counted again in a series.
func expectEachEventOnce(ns string, reasons ...string) {
	GinkgoHelper()
	var list eventsv1.EventList
	Expect(cl.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	seen := map[string]int{}
	for _, e := range list.Items {
		if e.Regarding.Kind != "RotatedSecret" || !slices.Contains(reasons, e.Reason) {
			continue
		}
		seen[e.Reason+": "+e.Note]++
		Expect(e.Series).To(BeNil(), "%s: %s was told more than once", e.Reason, e.Note)
	}
	Expect(seen).NotTo(BeEmpty())
	for fact, n := range seen {
		Expect(n).To(Equal(1), fact)
	}
}

func expectRolledBackConditions(rs *rotationv1alpha1.RotatedSecret) {
	GinkgoHelper()
	stalled := fixture.Condition(rs, rotationv1alpha1.ConditionStalled)
	Expect(stalled).NotTo(BeNil())
	Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
	Expect(stalled.Reason).To(Equal(rotationv1alpha1.ReasonRolledBack))
	ready := fixture.Condition(rs, rotationv1alpha1.ConditionReady)
	Expect(ready).NotTo(BeNil())
	Expect(ready.Status).To(Equal(metav1.ConditionFalse))
}

// expectOnlyPodsOf waits until the Deployment runs exactly its replicas, all Ready, all carrying rev.
func expectOnlyPodsOf(ns, name, rev string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		pods := podsOf(ns, name)
		g.Expect(podRevisions(ns, name)).To(Equal(map[string]int{rev: replicas}))
		for _, p := range pods {
			_, ready := readySince(p)
			g.Expect(ready).To(BeTrue(), "pod %s is Ready", p.Name)
			g.Expect(p.DeletionTimestamp).To(BeNil(), "pod %s is not terminating", p.Name)
		}
	}).WithTimeout(wait).WithPolling(poll).Should(Succeed(), "Deployment %s runs only pods of revision %s", name, rev)
}
