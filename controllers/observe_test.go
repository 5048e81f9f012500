package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// breakDeployment reports the Deployment's pods as unavailable, as after a crash loop.
func breakDeployment(ns, name string) {
	GinkgoHelper()
	Eventually(func() error {
		d := cluster.Deployment(ns, name)
		n := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
			UnavailableReplicas: n}
		return k8sClient.Status().Update(ctx, d)
	}, wait).Should(Succeed())
}

// expectDegraded waits until Degraded has status and reason.
func expectDegraded(rs *rotationv1alpha1.RotatedSecret, status metav1.ConditionStatus, reason string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		c := fixture.Condition(cluster.With(g).RotatedSecret(rs), rotationv1alpha1.ConditionDegraded)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status))
		g.Expect(c.Reason).To(Equal(reason))
	}, wait).Should(Succeed())
}

var _ = Describe("Watching the workloads after a rotation (spec.observe)", func() {
	var ns string
	BeforeEach(func() { ns = backendWithOperator() })

	observed := func(policy rotationv1alpha1.DegradedPolicy) *rotationv1alpha1.RotatedSecret {
		rs := jwtWithRollout(ns, testgen.WithPrevious("_PREVIOUS", "1d"))
		rs.Spec.Observe = &rotationv1alpha1.ObserveSpec{Duration: "30m", OnDegraded: policy}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "two")
		rollOutRevision(ns, 2)
		cluster.WaitForRevision(rs, 2)
		expectDegraded(rs, metav1.ConditionFalse, rotationv1alpha1.ReasonObserving)
		return rs
	}

	It("flags a workload that becomes unavailable a minute after the commit, and says so once", func() {
		rs := observed(rotationv1alpha1.DegradedNotify)
		clock.Step(time.Minute)
		breakDeployment(ns, "backend-api")
		expectDegraded(rs, metav1.ConditionTrue, rotationv1alpha1.ReasonDegraded)
		got := cluster.RotatedSecret(rs)
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionDegraded).Message).To(ContainSubstring("backend-api is not healthy"))
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(2), "Notify never rolls back")
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonDegraded))
	})

	It("rolls back to the kept previous value with onDegraded: Rollback", func() {
		rs := observed(rotationv1alpha1.DegradedRollback)
		first := fp(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS"))
		clock.Step(time.Minute)
		breakDeployment(ns, "esim-worker")
		expectDegraded(rs, metav1.ConditionTrue, rotationv1alpha1.ReasonDegraded)
		Eventually(func() string { return fp(secretValue(ns, "backend-env", "JWT_SECRET")) }, wait).Should(Equal(first),
			"revision 1's value is back in the target")
		rollOutRevision(ns, 1)
		Eventually(func(g Gomega) {
			got := cluster.With(g).RotatedSecret(rs)
			g.Expect(got.Status.Pending).To(BeNil())
			g.Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
			g.Expect(got.Status.History[0].Revision).To(BeEquivalentTo(2))
			g.Expect(got.Status.History[0].Outcome).To(Equal(rotationv1alpha1.OutcomeRolledBack))
		}, wait).Should(Succeed())
		Expect(secretData(ns, "backend-env")).NotTo(HaveKey("JWT_SECRET_PREVIOUS"), "the degraded value is kept nowhere")
	})

	It("ends the watch with every workload healthy", func() {
		rs := observed(rotationv1alpha1.DegradedNotify)
		clock.Step(31 * time.Minute)
		poke(rs)
		expectDegraded(rs, metav1.ConditionFalse, rotationv1alpha1.ReasonObserved)
	})
})

var _ = Describe("Post-rotation Jobs (spec.postRotation)", func() {
	It("run once the rotation committed; a failure warns and notifies and never rolls back", func() {
		ns := backendWithOperator()
		rs := jwtWithRollout(ns)
		rs.Spec.PostRotation = &rotationv1alpha1.PostRotationSpec{Jobs: []rotationv1alpha1.ValidationJob{
			{Name: "purge", Template: testgen.JobTemplate(nil)}}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		waitForTemplate(ns, "esim-worker", "jwt", 1)
		Consistently(func() bool { return jobExists(ns, "jwt-post-purge-r1") }, time.Second).Should(BeFalse(),
			"nothing runs before the rotation committed")
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		waitForJob(ns, "jwt-post-purge-r1")
		Expect(job(ns, "jwt-post-purge-r1").Spec.Template.Spec.Containers[0].Env).To(ContainElement(
			HaveField("Name", rotationv1alpha1.RevisionEnv)))
		finishJob(ns, "jwt-post-purge-r1", false)
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonPostRotationFailed))
		got := settle(rs)
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1), "a failed post-rotation Job rolls nothing back")
		Expect(got.Status.PostRotation.Jobs).To(ConsistOf(HaveField("Result", rotationv1alpha1.JobFailed)))

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "two")
		rollOutRevision(ns, 2)
		cluster.WaitForRevision(rs, 2)
		waitForJob(ns, "jwt-post-purge-r2")
		finishJob(ns, "jwt-post-purge-r2", true)
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonPostRotationSucceeded))
	})
})

// jobExists reports whether a Job exists.
func jobExists(ns, name string) bool {
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &batchv1.Job{})
	if apierrors.IsNotFound(err) {
		return false
	}
	Expect(err).NotTo(HaveOccurred())
	return true
}
