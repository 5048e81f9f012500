package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// envtest runs no built-in controllers: these tests play the Deployment and Job controllers by setting status.

// markRolledOut reports the Deployment's current template as fully rolled out, as the Deployment controller would.
func markRolledOut(ns, name string) {
	GinkgoHelper()
	Eventually(func() error {
		d := cluster.Deployment(ns, name)
		fixture.RolledOut(d)
		return k8sClient.Status().Update(ctx, d)
	}, wait).Should(Succeed())
}

// waitForTemplate waits until the Deployment's template carries rev for rs.
func waitForTemplate(ns, name, rs string, rev int) {
	GinkgoHelper()
	Eventually(func() string { return cluster.TemplateRevision(ns, name, rs) }, wait).Should(Equal(fmt.Sprint(rev)))
}

// finishJob marks a validation Job as succeeded or failed, as the Job controller would.
func finishJob(ns, name string, succeeded bool) {
	GinkgoHelper()
	Eventually(func() error {
		var job batchv1.Job
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &job); err != nil {
			return err
		}
		fixture.EndJob(&job, succeeded)
		return k8sClient.Status().Update(ctx, &job)
	}, wait).Should(Succeed())
}

func job(ns, name string) *batchv1.Job {
	var j batchv1.Job
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func createDeployments(ns string, names ...string) {
	GinkgoHelper()
	for _, n := range names {
		Expect(k8sClient.Create(ctx, testgen.Deployment(n, ns, 2))).To(Succeed())
		markRolledOut(ns, n)
	}
}

// jwtWithRollout is JWT_SECRET with the runbook's two stages and, optionally, a smoke test.
func jwtWithRollout(ns string, opts ...testgen.Option) *rotationv1alpha1.RotatedSecret {
	opts = append([]testgen.Option{testgen.WithTarget("backend-env", "JWT_SECRET"),
		testgen.WithRollout(testgen.Stage("workers", "10m", "esim-worker"), testgen.Stage("api", "10m", "backend-api"))}, opts...)
	return testgen.RotatedSecret("jwt", ns, opts...)
}

// rollOutRevision plays the Deployment controller through both stages of rev.
func rollOutRevision(ns string, rev int) {
	GinkgoHelper()
	waitForTemplate(ns, "esim-worker", "jwt", rev)
	markRolledOut(ns, "esim-worker")
	waitForTemplate(ns, "backend-api", "jwt", rev)
	markRolledOut(ns, "backend-api")
}

// backendWithOperator makes a namespace with the two Deployments and an operator watching it (stopped after the
// spec), and returns the namespace.
func backendWithOperator() string {
	ns := cluster.NewNamespace("t-")
	createDeployments(ns, "esim-worker", "backend-api")
	op := startOperator(operatorOptions{}, ns)
	DeferCleanup(func() { op.stop() })
	return ns
}

// waitForJob waits until the Job exists.
func waitForJob(ns, name string) {
	GinkgoHelper()
	Eventually(func() error { _, err := getJob(ns, name); return err }, wait).Should(Succeed())
}

// passValidation lets the smoke Job of rev succeed and waits for the commit.
func passValidation(rs *rotationv1alpha1.RotatedSecret, rev int) *rotationv1alpha1.RotatedSecret {
	GinkgoHelper()
	name := fmt.Sprintf("%s-smoke-r%d", rs.Name, rev)
	waitForJob(rs.Namespace, name)
	finishJob(rs.Namespace, name, true)
	return cluster.WaitForRevision(rs, int64(rev))
}

var _ = Describe("Rollout stages", func() {
	var ns string
	BeforeEach(func() { ns = backendWithOperator() })

	It("restarts the API only after the workers are healthy on the new revision, then commits", func() {
		rs := jwtWithRollout(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		waitForTemplate(ns, "esim-worker", "jwt", 1)

		By("the workers are restarted; the API waits for them")
		Consistently(func() string { return cluster.TemplateRevision(ns, "backend-api", "jwt") }, time.Second).Should(BeEmpty())
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.Pending.Step).To(Equal(rotationv1alpha1.StepRollingOut))
		Expect(got.Status.Rollout.Stage).To(Equal("workers"))
		Expect(got.Status.Rollout.Workloads).To(ConsistOf(HaveField("Name", "esim-worker")))
		Expect(got.Status.CurrentRevision).To(BeZero(), "nothing commits before the rollout is healthy")

		By("the workers become healthy: the API is restarted")
		markRolledOut(ns, "esim-worker")
		waitForTemplate(ns, "backend-api", "jwt", 1)
		Expect(cluster.RotatedSecret(rs).Status.Rollout.CompletedStages).To(Equal([]string{"workers"}))
		markRolledOut(ns, "backend-api")

		got = cluster.WaitForRevision(rs, 1)
		Expect(got.Status.Rollout.CompletedStages).To(Equal([]string{"workers", "api"}))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElements(rotationv1alpha1.ReasonRollingOut, rotationv1alpha1.ReasonStageHealthy, rotationv1alpha1.ReasonRotated))

		By("a forced rotation restarts each workload exactly once more")
		genWorker, genAPI := cluster.Deployment(ns, "esim-worker").Generation, cluster.Deployment(ns, "backend-api").Generation
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		rollOutRevision(ns, 2)
		cluster.WaitForRevision(rs, 2)
		Expect(cluster.Deployment(ns, "esim-worker").Generation).To(Equal(genWorker + 1))
		Expect(cluster.Deployment(ns, "backend-api").Generation).To(Equal(genAPI + 1))
		settle(rs)
	})

	It("says so when a workload is missing or paused, and rolls back when the stage times out", func() {
		rs := jwtWithRollout(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		before := secretValue(ns, "backend-env", "JWT_SECRET")

		By("the worker Deployment is paused")
		d := cluster.Deployment(ns, "esim-worker")
		d.Spec.Paused = true
		Expect(k8sClient.Update(ctx, d)).To(Succeed())
		markRolledOut(ns, "esim-worker")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		Eventually(func(g Gomega) {
			c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRotating)
			g.Expect(c.Reason).To(Equal(rotationv1alpha1.ReasonWorkloadPaused))
			g.Expect(c.Message).To(ContainSubstring("esim-worker"))
		}, wait).Should(Succeed())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonWorkloadPaused))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).NotTo(Equal(before), "the new value is in the targets during the rollout")

		By("the stage times out: the old value goes back and the stages restart on it")
		clock.Step(11 * time.Minute)
		poke(rs) // the fake clock moved; the operator's timer runs on real time
		Eventually(func() string { return cluster.TemplateRevision(ns, "esim-worker", "jwt") }, wait).Should(Equal("1"))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(before))
		d = cluster.Deployment(ns, "esim-worker")
		d.Spec.Paused = false
		Expect(k8sClient.Update(ctx, d)).To(Succeed())
		markRolledOut(ns, "esim-worker")
		waitForTemplate(ns, "backend-api", "jwt", 1)
		markRolledOut(ns, "backend-api")
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "stage workers was not healthy on revision 2 within 10m")
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(got.Status.History[0]).To(And(HaveField("Revision", BeEquivalentTo(2)), HaveField("Outcome", rotationv1alpha1.OutcomeRolledBack)))

		By("a missing workload is named in the condition and an Event")
		Expect(k8sClient.Delete(ctx, cluster.Deployment(ns, "backend-api"))).To(Succeed())
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		waitForTemplate(ns, "esim-worker", "jwt", 3)
		markRolledOut(ns, "esim-worker")
		Eventually(func(g Gomega) {
			c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRotating)
			g.Expect(c.Reason).To(Equal(rotationv1alpha1.ReasonWorkloadNotFound))
			g.Expect(c.Message).To(ContainSubstring("backend-api"))
		}, wait).Should(Succeed())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonWorkloadNotFound))
	})
})

var _ = Describe("Validation Jobs and rollback", func() {
	var ns string
	BeforeEach(func() { ns = backendWithOperator() })

	It("commits when the smoke test passes and rolls back everything when it fails", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"), testgen.WithPrevious("_PREVIOUS", "24h"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)

		By("the Job of revision 1 is created after both stages, with the revision and an owner")
		waitForJob(ns, "jwt-smoke-r1")
		j := job(ns, "jwt-smoke-r1")
		Expect(j.Labels).To(HaveKeyWithValue(rotationv1alpha1.RevisionLabel, "1"))
		Expect(j.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: rotationv1alpha1.RevisionEnv, Value: "1"}))
		Expect(j.Spec.TTLSecondsAfterFinished).NotTo(BeNil())
		Expect(metav1.GetControllerOf(j)).To(HaveField("Name", "jwt"))
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeZero(), "nothing commits before validation passes")
		finishJob(ns, "jwt-smoke-r1", true)
		got := cluster.WaitForRevision(rs, 1)
		Expect(got.Status.Validation.Jobs).To(ConsistOf(HaveField("Result", rotationv1alpha1.JobSucceeded)))
		rev1 := secretValue(ns, "backend-env", "JWT_SECRET")

		By("revision 2 fails its smoke test")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		rollOutRevision(ns, 2)
		waitForJob(ns, "jwt-smoke-r2")
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(rev1))
		finishJob(ns, "jwt-smoke-r2", false)

		By("the old value is back in every target and the stages restart on it, in order")
		Eventually(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, wait).Should(Equal(rev1))
		Expect(secretData(ns, "backend-env")).NotTo(HaveKey("JWT_SECRET_PREVIOUS"), "revision 1 had no previous value")
		waitForTemplate(ns, "esim-worker", "jwt", 1)
		Consistently(func() string { return cluster.TemplateRevision(ns, "backend-api", "jwt") }, 500*time.Millisecond).Should(Equal("2"))
		markRolledOut(ns, "esim-worker")
		waitForTemplate(ns, "backend-api", "jwt", 1)
		markRolledOut(ns, "backend-api")
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "validation Job jwt-smoke-r2 failed")
		got = cluster.RotatedSecret(rs)
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled).Message).To(ContainSubstring(
			"no new rotation starts before"), "a rollback ends the rotation: nothing is retried, only a due value starts again")
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
		Expect(got.Status.CurrentFingerprint).To(Equal(fp(rev1)))
		Expect(got.Status.History[0]).To(And(HaveField("Revision", BeEquivalentTo(2)),
			HaveField("Outcome", rotationv1alpha1.OutcomeRolledBack), HaveField("Message", ContainSubstring("jwt-smoke-r2"))))
		Expect(got.Status.FailedAttempts).To(BeEquivalentTo(1))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElements(rotationv1alpha1.ReasonValidationFailed+"", rotationv1alpha1.ReasonRollingBack))

		By("no automatic retry during the backoff; a new rotate token retries at once with a fresh revision")
		settle(rs)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		rollOutRevision(ns, 3)
		waitForJob(ns, "jwt-smoke-r3")
		finishJob(ns, "jwt-smoke-r3", true)
		got = cluster.WaitForRevision(rs, 3)
		Expect(got.Status.FailedAttempts).To(BeZero())
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(rev1))
	})

	It("halts for a person when onFailure is Halt, and rolls back once it is set to Rollback", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation(rotationv1alpha1.FailureHalt, "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		passValidation(rs, 1)
		rev1 := secretValue(ns, "backend-env", "JWT_SECRET")

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		rollOutRevision(ns, 2)
		waitForJob(ns, "jwt-smoke-r2")
		finishJob(ns, "jwt-smoke-r2", false)
		expectStalled(rs, rotationv1alpha1.ReasonHalted, "set onFailure: Rollback to roll back")
		Expect(cluster.RotatedSecret(rs).Status.Pending.Step).To(Equal(rotationv1alpha1.StepHalted))
		Consistently(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, time.Second).ShouldNot(Equal(rev1))
		Expect(cluster.TemplateRevision(ns, "backend-api", "jwt")).To(Equal("2"))

		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) {
			live.Spec.Validation.OnFailure = rotationv1alpha1.FailureRollback
		})
		Eventually(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, wait).Should(Equal(rev1))
		rollOutRevision(ns, 1)
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "revision 1 is back in every target")
	})

	It("halts the first revision (nothing to roll back to) until a new rotate token starts afresh", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		waitForJob(ns, "jwt-smoke-r1")
		finishJob(ns, "jwt-smoke-r1", false)
		expectStalled(rs, rotationv1alpha1.ReasonHalted, "there is no earlier value to roll back to")
		Expect(cluster.RotatedSecret(rs).Status.Pending.Step).To(Equal(rotationv1alpha1.StepHalted))

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "start-over")
		rollOutRevision(ns, 2)
		waitForJob(ns, "jwt-smoke-r2")
		finishJob(ns, "jwt-smoke-r2", true)
		got := cluster.WaitForRevision(rs, 2)
		Expect(got.Status.History[1]).To(And(HaveField("Revision", BeEquivalentTo(1)), HaveField("Outcome", rotationv1alpha1.OutcomeHalted)))
	})

	It("goes on when validation is removed from the spec while it runs", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		waitForJob(ns, "jwt-smoke-r1")
		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) { live.Spec.Validation = nil })
		cluster.WaitForRevision(rs, 1)
	})

	It("fails validation that does not finish in time", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "5m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		passValidation(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		rollOutRevision(ns, 2)
		waitForJob(ns, "jwt-smoke-r2")
		clock.Step(6 * time.Minute)
		poke(rs)
		rollOutRevision(ns, 1)
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "validation did not finish within 5m")
	})
})

func getJob(ns, name string) (*batchv1.Job, error) {
	var j batchv1.Job
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)
	return &j, err
}

var _ = Describe("A Job of someone else's under a validation Job's name", func() {
	It("fails the validation instead of adopting or waiting on it", func() {
		ns := backendWithOperator()
		foreign := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt-smoke-r1"}}
		tpl := testgen.JobTemplate(nil)
		foreign.Spec = tpl.Spec
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		expectStalled(rs, rotationv1alpha1.ReasonHalted, "Job jwt-smoke-r1 exists and does not belong to this RotatedSecret")
	})
})

var _ = Describe("A rotate token set while a rotation runs", func() {
	It("starts its rotation as soon as the running one commits, with no other event", func() {
		ns := backendWithOperator()
		rs := jwtWithRollout(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "two")
		waitForTemplate(ns, "esim-worker", "jwt", 2)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "three") // while revision 2 rolls out
		rollOutRevision(ns, 2)
		Eventually(func(g Gomega) {
			got := cluster.With(g).RotatedSecret(rs)
			g.Expect(got.Status.CurrentRevision).To(BeEquivalentTo(2))
			g.Expect(got.Status.Pending).NotTo(BeNil(), "the waiting token starts revision 3")
			g.Expect(got.Status.Pending.Revision).To(BeEquivalentTo(3))
		}, wait).Should(Succeed())
		rollOutRevision(ns, 3)
		cluster.WaitForRevision(rs, 3)
	})
})
