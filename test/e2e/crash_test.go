//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// killPoll is how often a spec looks for the moment to SIGKILL the operator: a stage lasts a few seconds.
const killPoll = 50 * time.Millisecond

var _ = Describe("An operator process killed mid-rotation", func() {
	var (
		ns string
		op *operator
		// genWorkers and genAPI are the Deployments' generations before the rotation under test.
		genWorkers, genAPI int64
		// before holds the targets' values before the rotation under test.
		before map[string]string
		rec    *recorder
	)
	BeforeEach(func() {
		ns = newNamespace()
		createWorkloads(ns)
		op = startSpecOperator()
		createJWT(ns, "5m")
		genWorkers, genAPI = cluster.Deployment(ns, workers).Generation, cluster.Deployment(ns, api).Generation
		before = targetValues(ns)
		rec = startRecorder(ns)
	})

	// expectCommittedOnce checks that revision 2 committed exactly once, each target took exactly one new value
	// and each Deployment was restarted exactly once for it.
	expectCommittedOnce := func() {
		GinkgoHelper()
		rs := cluster.WaitForRevision(jwtKey(ns), 2)
		Expect(historyOf(rs, 2)).To(ConsistOf(HaveField("Outcome", rotationv1alpha1.OutcomeSucceeded)))
		Expect(historyOf(rs, 3)).To(BeEmpty())
		Expect(rs.Status.LastHandledRotateRequest).To(Equal("crash"))
		after := targetValues(ns)
		for _, secret := range []string{workersEnv, apiEnv} {
			Eventually(func() []string { return rec.valuesOf(secret) }).WithTimeout(10*time.Second).
				Should(Equal([]string{before[secret], after[secret]}), "target %s took exactly one new value", secret)
			Expect(after[secret]).NotTo(Equal(before[secret]))
		}
		Expect(replicaSetNames(ns, workers, 2)).To(HaveLen(1), "the workers were restarted once for revision 2")
		Expect(replicaSetNames(ns, api, 2)).To(HaveLen(1), "the API was restarted once for revision 2")
		Expect(cluster.Deployment(ns, workers).Generation).To(Equal(genWorkers + 1))
		Expect(cluster.Deployment(ns, api).Generation).To(Equal(genAPI + 1))
		expectOnlyPodsOf(ns, workers, "2")
		expectOnlyPodsOf(ns, api, "2")
	}

	// killDuring SIGKILLs the operator once the workload has been restarted for revision 2 while its stage is
	// still in progress, and checks that the kill did land there.
	killDuring := func(stage, workload string, completed []string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			rs := cluster.RotatedSecret(jwtKey(ns))
			g.Expect(rs.Status.Pending).NotTo(BeNil())
			g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepRollingOut))
			g.Expect(rs.Status.Rollout).NotTo(BeNil())
			g.Expect(rs.Status.Rollout.Stage).To(Equal(stage))
			g.Expect(cluster.TemplateRevision(ns, workload, rsName)).To(Equal("2"))
		}).WithTimeout(wait).WithPolling(killPoll).Should(Succeed(), "stage %s restarted %s", stage, workload)
		op.kill()
		rs := cluster.RotatedSecret(jwtKey(ns))
		Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepRollingOut), "killed during the rollout")
		Expect(rs.Status.Rollout.Stage).To(Equal(stage), "killed while stage %s was in progress", stage)
		if len(completed) == 0 {
			Expect(rs.Status.Rollout.CompletedStages).To(BeEmpty())
		} else {
			Expect(rs.Status.Rollout.CompletedStages).To(Equal(completed))
		}
	}

	It("resumes the rollout and commits once after SIGKILLs during each stage", func() {
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "crash")

		By("SIGKILL while the workers' new pods are not yet available")
		killDuring("workers", workers, nil)
		op = startSpecOperator()

		By("SIGKILL while the API's new pods are not yet available")
		killDuring("api", api, []string{"workers"})
		startSpecOperator()

		expectCommittedOnce()
	})

	It("resumes validation with the same Job and commits once after a SIGKILL while the Job runs", func() {
		By("the next smoke Job is created suspended, so it is still running when the operator is killed")
		// A kwok Job finishes about a second after it is created, too short to aim a SIGKILL at.
		cluster.Update(jwtKey(ns), func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Validation.Jobs[0].Template.Spec.Suspend = ptr.To(true)
		})
		cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, "crash")
		var job batchv1.Job
		Eventually(func(g Gomega) {
			rs := cluster.RotatedSecret(jwtKey(ns))
			g.Expect(rs.Status.Pending).NotTo(BeNil())
			g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepValidating))
			g.Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jwt-smoke-r2"}, &job)).To(Succeed())
		}).WithTimeout(wait).WithPolling(killPoll).Should(Succeed())
		op.kill()
		Expect(cluster.RotatedSecret(jwtKey(ns)).Status.Pending.Step).To(Equal(rotationv1alpha1.StepValidating))

		By("a new operator waits for the same Job")
		startSpecOperator()
		Consistently(func(g Gomega) {
			rs := cluster.RotatedSecret(jwtKey(ns))
			g.Expect(rs.Status.Pending).NotTo(BeNil())
			g.Expect(rs.Status.Pending.Step).To(Equal(rotationv1alpha1.StepValidating), "nothing commits before the Job finishes")
			var now batchv1.Job
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(&job), &now)).To(Succeed())
			g.Expect(now.UID).To(Equal(job.UID), "the Job created before the kill is left alone")
		}).WithTimeout(3 * time.Second).WithPolling(poll).Should(Succeed())
		patch := client.MergeFrom(job.DeepCopy())
		job.Spec.Suspend = ptr.To(false)
		Expect(cl.Patch(ctx, &job, patch)).To(Succeed())

		expectCommittedOnce()
		var jobs batchv1.JobList
		Expect(cl.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{rotationv1alpha1.RevisionLabel: "2"})).To(Succeed())
		Expect(jobs.Items).To(ConsistOf(And(HaveField("Name", "jwt-smoke-r2"), HaveField("UID", job.UID))),
			"one Job for revision 2, the one created before the kill")
		Expect(jobs.Items[0].Status.Conditions).To(ContainElement(And(
			HaveField("Type", batchv1.JobComplete), HaveField("Status", corev1.ConditionTrue))))
	})
})
