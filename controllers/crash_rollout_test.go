package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("Crash safety of rollout, validation and rollback", func() {
	// setup commits revision 1 through both stages and a passing smoke test, then returns the generations of the
	// two Deployments and the value of revision 1.
	setup := func(ns string) (*rotationv1alpha1.RotatedSecret, int64, int64, string) {
		createDeployments(ns, "esim-worker", "backend-api")
		op := startOperator(operatorOptions{}, ns)
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		passValidation(rs, 1)
		op.stop()
		return rs, cluster.Deployment(ns, "esim-worker").Generation, cluster.Deployment(ns, "backend-api").Generation,
			secretValue(ns, "backend-env", "JWT_SECRET")
	}

	// crashDuring forces revision 2 with an operator that dies at step, then starts a healthy one.
	crashDuring := func(rs *rotationv1alpha1.RotatedSecret, step string, drive func()) *operator {
		hook, crashed := crashAt(step)
		op := startOperator(operatorOptions{hook: hook}, rs.Namespace)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		drive()
		Eventually(crashed, wait).Should(BeClosed())
		op.stop()
		return startOperator(operatorOptions{}, rs.Namespace)
	}

	jobsFor := func(ns string, rev string) []batchv1.Job {
		var list batchv1.JobList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{rotationv1alpha1.RevisionLabel: rev})).To(Succeed())
		return list.Items
	}

	for _, step := range []string{controllers.StepHookRolloutStarted, controllers.StepHookWorkloadPatched,
		controllers.StepHookStageHealthy, controllers.StepHookJobCreated} {
		It("commits once, restarting each workload once, after a crash at "+step, func() {
			ns := cluster.NewNamespace("t-")
			rs, genWorker, genAPI, first := setup(ns)
			op := crashDuring(rs, step, func() {
				if step == controllers.StepHookJobCreated || step == controllers.StepHookStageHealthy {
					// Let the first stage (or both) finish before the crash.
					waitForTemplate(ns, "esim-worker", "jwt", 2)
					markRolledOut(ns, "esim-worker")
				}
				if step == controllers.StepHookJobCreated {
					waitForTemplate(ns, "backend-api", "jwt", 2)
					markRolledOut(ns, "backend-api")
				}
			})
			defer op.stop()
			rollOutRevision(ns, 2)
			waitForJob(ns, "jwt-smoke-r2")
			finishJob(ns, "jwt-smoke-r2", true)
			got := cluster.WaitForRevision(rs, 2)

			Expect(cluster.Deployment(ns, "esim-worker").Generation).To(Equal(genWorker+1), "the workers were restarted once")
			Expect(cluster.Deployment(ns, "backend-api").Generation).To(Equal(genAPI+1), "the API was restarted once")
			Expect(jobsFor(ns, "2")).To(HaveLen(1), "one validation Job for the revision")
			Expect(secretValue(ns, "backend-env", "JWT_SECRET")).NotTo(Equal(first))
			Expect(got.Status.CurrentFingerprint).To(Equal(fp(secretValue(ns, "backend-env", "JWT_SECRET"))))
			records := 0
			for _, h := range got.Status.History {
				if h.Revision == 2 {
					records++
				}
			}
			Expect(records).To(Equal(1))
		})
	}

	for _, step := range []string{controllers.StepHookRollbackStarted, controllers.StepHookTargetsRestored} {
		It("finishes the rollback after a crash at "+step, func() {
			ns := cluster.NewNamespace("t-")
			rs, genWorker, genAPI, first := setup(ns)
			op := crashDuring(rs, step, func() {
				rollOutRevision(ns, 2)
				waitForJob(ns, "jwt-smoke-r2")
				finishJob(ns, "jwt-smoke-r2", false)
			})
			defer op.stop()
			rollOutRevision(ns, 1)
			expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "validation Job jwt-smoke-r2 failed")
			got := cluster.RotatedSecret(rs)
			Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
			Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(first), "the old value is back")
			Expect(cluster.Deployment(ns, "esim-worker").Generation).To(Equal(genWorker+2), "restarted once forward, once back")
			Expect(cluster.Deployment(ns, "backend-api").Generation).To(Equal(genAPI + 2))
			Expect(got.Status.History[0]).To(And(HaveField("Revision", BeEquivalentTo(2)), HaveField("Outcome", rotationv1alpha1.OutcomeRolledBack)))
		})
	}
})
