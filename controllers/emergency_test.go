package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// committedTwice takes jwt through revisions 1 and 2 (both rolled out and validated) and returns v1 and v2.
func committedTwice(rs *rotationv1alpha1.RotatedSecret) (v1, v2 string) {
	GinkgoHelper()
	ns := rs.Namespace
	Expect(k8sClient.Create(ctx, rs)).To(Succeed())
	rollOutRevision(ns, 1)
	passValidation(rs, 1)
	v1 = secretValue(ns, "backend-env", "JWT_SECRET")
	cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
	rollOutRevision(ns, 2)
	passValidation(rs, 2)
	return v1, secretValue(ns, "backend-env", "JWT_SECRET")
}

// timelineTypes lists the entry types of an incident's timeline.
func timelineTypes(inc rotationv1alpha1.Incident) []rotationv1alpha1.IncidentEntryType {
	var out []rotationv1alpha1.IncidentEntryType
	for _, e := range inc.Timeline {
		out = append(out, e.Type)
	}
	return out
}

var _ = Describe("Emergency rotation", func() {
	var ns string
	BeforeEach(func() { ns = backendWithOperator() })

	It("halts on the new value when its smoke Job fails: the compromised value is never written back", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"), testgen.WithPrevious("_PREVIOUS", "24h"))
		v1, v2 := committedTwice(rs)
		Expect(secretValue(ns, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(v1))

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 JWT secret pasted in a public channel")
		By("revoke first: the previous-value key leaves the target before anything restarts")
		Eventually(func() map[string][]byte { return secretData(ns, "backend-env") }, wait).ShouldNot(HaveKey("JWT_SECRET_PREVIOUS"))
		rollOutRevision(ns, 3)
		v3 := secretValue(ns, "backend-env", "JWT_SECRET")
		Expect(v3).NotTo(BeElementOf(v1, v2))

		By("the smoke test fails: onFailure is Rollback, but revision 2 is compromised")
		waitForJob(ns, "jwt-smoke-r3")
		finishJob(ns, "jwt-smoke-r3", false)
		expectStalled(rs, rotationv1alpha1.ReasonEmergencyValidationFailed, "never written back")
		Consistently(func(g Gomega) {
			data := secretData(ns, "backend-env")
			g.Expect(string(data["JWT_SECRET"])).To(Equal(v3))
			g.Expect(data).NotTo(HaveKey("JWT_SECRET_PREVIOUS"))
			g.Expect(cluster.TemplateRevision(ns, "esim-worker", "jwt")).To(Equal("3"), "no restart back onto revision 2")
			g.Expect(cluster.TemplateRevision(ns, "backend-api", "jwt")).To(Equal("3"))
		}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.Pending.Step).To(Equal(rotationv1alpha1.StepHalted))
		Expect(got.Status.Compromised).To(ContainElements(
			And(HaveField("Revision", BeEquivalentTo(2)), HaveField("Fingerprint", fp(v2)), HaveField("Incident", "e1")),
			HaveField("Revision", BeEquivalentTo(1))))
		Expect(got.Status.Incidents[0].Outcome).To(Equal(rotationv1alpha1.IncidentOutcomeHalted))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonEmergencyValidationFailed))

		By("a rotate token after it never puts the compromised value under the previous key")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		rollOutRevision(ns, 4)
		got = passValidation(rs, 4)
		data := secretData(ns, "backend-env")
		Expect(data).NotTo(HaveKey("JWT_SECRET_PREVIOUS"), "revision 2 is compromised: not kept as the previous value")
		for _, v := range data {
			Expect(string(v)).NotTo(BeElementOf(v1, v2))
		}
		Expect(got.Status.PreviousRevision).To(BeZero())
	})

	DescribeTable("discards the rotation in progress and starts at once",
		func(onFailure rotationv1alpha1.FailurePolicy, reach func(rs *rotationv1alpha1.RotatedSecret)) {
			rs := jwtWithRollout(ns, testgen.WithValidation(onFailure, "15m", "smoke"))
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			rollOutRevision(ns, 1)
			passValidation(rs, 1)
			v1 := secretValue(ns, "backend-env", "JWT_SECRET")
			cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
			reach(rs)

			cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 leaked")
			Eventually(func(g Gomega) {
				p := cluster.RotatedSecret(rs).Status.Pending
				g.Expect(p).NotTo(BeNil())
				g.Expect(p.Revision).To(BeEquivalentTo(3))
				g.Expect(p.Emergency).To(BeTrue())
			}, wait).Should(Succeed())
			rollOutRevision(ns, 3)
			got := passValidation(rs, 3)
			Expect(secretValue(ns, "backend-env", "JWT_SECRET")).NotTo(Equal(v1))
			// (A halted revision keeps Halted in its record: that is how it ended.)
			Expect(got.Status.History).To(ContainElement(And(HaveField("Revision", BeEquivalentTo(2)),
				HaveField("Outcome", BeElementOf(rotationv1alpha1.OutcomeDiscarded, rotationv1alpha1.OutcomeHalted)))))
			Expect(timelineTypes(got.Status.Incidents[0])).To(ContainElements(rotationv1alpha1.IncidentPreempted,
				rotationv1alpha1.IncidentCommitted))
			Expect(got.Status.Compromised).To(ContainElement(HaveField("Revision", BeEquivalentTo(1))))
			Expect(eventReasons(rs)).To(ContainElement(rotationv1alpha1.ReasonEmergencyPreempted))
		},
		Entry("while its first stage rolls out", rotationv1alpha1.FailurePolicy(""), func(rs *rotationv1alpha1.RotatedSecret) {
			waitForTemplate(ns, "esim-worker", "jwt", 2)
		}),
		Entry("while its smoke test runs (the Job is left for inspection)", rotationv1alpha1.FailurePolicy(""), func(rs *rotationv1alpha1.RotatedSecret) {
			rollOutRevision(ns, 2)
			waitForJob(ns, "jwt-smoke-r2")
			DeferCleanup(func() { Expect(job(ns, "jwt-smoke-r2")).NotTo(BeNil()) })
		}),
		Entry("while it rolls back", rotationv1alpha1.FailurePolicy(""), func(rs *rotationv1alpha1.RotatedSecret) {
			rollOutRevision(ns, 2)
			waitForJob(ns, "jwt-smoke-r2")
			finishJob(ns, "jwt-smoke-r2", false)
			Eventually(func() rotationv1alpha1.RotationStep {
				if p := cluster.RotatedSecret(rs).Status.Pending; p != nil {
					return p.Step
				}
				return ""
			}, wait).Should(Equal(rotationv1alpha1.StepRollingBack))
		}),
		Entry("when it halted", rotationv1alpha1.FailureHalt, func(rs *rotationv1alpha1.RotatedSecret) {
			rollOutRevision(ns, 2)
			waitForJob(ns, "jwt-smoke-r2")
			finishJob(ns, "jwt-smoke-r2", false)
			expectStalled(rs, rotationv1alpha1.ReasonHalted, "halted")
		}),
	)

	It("discards an attempt that backs off after a provider failure, and does not wait for the backoff", func() {
		flaky := &fake.Provider{GenerateFunc: func(_ context.Context, req provider.Request) (provider.Result, error) {
			if req.Revision == 2 {
				return provider.Result{}, errors.New("vendor unavailable")
			}
			return provider.Result{Values: provider.Values{"value": []byte(fmt.Sprintf("value-%d", req.Revision))}}, nil
		}}
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{random: flaky}, ns)
		DeferCleanup(op.stop)
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "vendor unavailable")

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 leaked")
		got := cluster.WaitForRevision(rs, 3)
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal("value-3"))
		Expect(got.Status.History).To(ContainElement(And(HaveField("Revision", BeEquivalentTo(2)),
			HaveField("Outcome", rotationv1alpha1.OutcomeDiscarded))))
		Expect(got.Status.Compromised).To(ConsistOf(HaveField("Revision", BeEquivalentTo(1))),
			"revision 2 never reached a target: only the value in service is compromised")
	})

	It("handles emergency tokens set in a loop one at a time, the latest last", func() {
		rs := jwtWithRollout(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		for _, token := range []string{"e1", "e2", "e3", "e4", "e5"} {
			cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, token+" loop")
			time.Sleep(100 * time.Millisecond)
		}
		// Play the Deployment controller until the last token is handled and nothing is pending.
		Eventually(func(g Gomega) {
			markRolledOut(ns, "esim-worker")
			markRolledOut(ns, "backend-api")
			got := cluster.RotatedSecret(rs)
			g.Expect(got.Status.LastHandledEmergencyRequest).To(Equal("e5"))
			g.Expect(got.Status.Pending).To(BeNil())
		}, 2*wait, 300*time.Millisecond).Should(Succeed())
		got := settle(rs)
		Expect(got.Status.QueuedEmergencyRequest).To(BeEmpty())
		incs := got.Status.Incidents
		Expect(len(incs)).To(BeNumerically(">=", 2))
		Expect(len(incs)).To(BeNumerically("<=", 5))
		Expect(incs[0].Token).To(Equal("e5"))
		for i, inc := range incs {
			Expect(inc.Outcome).To(Equal(rotationv1alpha1.IncidentOutcomeSucceeded), "incident %s", inc.Token)
			if i+1 < len(incs) {
				older := incs[i+1]
				Expect(older.EndTime.Time).NotTo(BeTemporally(">", inc.RequestedAt.Time), "%s ended before %s started", older.Token, inc.Token)
				Expect(older.Revision).To(BeNumerically("<", inc.Revision))
			}
		}
	})

	It("keeps an incident record complete enough for the review after the Events are gone", func() {
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		rs.Spec.Emergency = &rotationv1alpha1.EmergencySpec{Jobs: []rotationv1alpha1.ValidationJob{
			{Name: "purge-sessions", Template: testgen.JobTemplate(nil)}}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		passValidation(rs, 1)
		Consistently(func() error { _, err := getJob(ns, "jwt-purge-purge-sessions-r1"); return err }, time.Second).
			ShouldNot(Succeed(), "purge Jobs run for emergencies only")

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 laptop stolen")
		rollOutRevision(ns, 2)
		passValidation(rs, 2)
		waitForJob(ns, "jwt-purge-purge-sessions-r2")
		finishJob(ns, "jwt-purge-purge-sessions-r2", true)
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonPurgeSucceeded))

		Expect(k8sClient.DeleteAllOf(ctx, &eventsv1.Event{}, client.InNamespace(ns))).To(Succeed())
		Eventually(func() []eventsv1.Event { return events(rs) }, wait).Should(BeEmpty())
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.Incidents).To(HaveLen(1))
		inc := got.Status.Incidents[0]
		Expect(inc.Token).To(Equal("e1"))
		Expect(inc.Reason).To(Equal("laptop stolen"))
		Expect(inc.RequestedBy).NotTo(BeEmpty(), "the field manager that set the annotation")
		Expect(inc.CompromisedRevision).To(BeEquivalentTo(1))
		Expect(inc.Revision).To(BeEquivalentTo(2))
		Expect(inc.Outcome).To(Equal(rotationv1alpha1.IncidentOutcomeSucceeded))
		Expect(inc.EndTime).NotTo(BeNil())
		types := timelineTypes(inc)
		Expect(types).To(ContainElements(rotationv1alpha1.IncidentRequested, rotationv1alpha1.IncidentTargetsWritten,
			rotationv1alpha1.IncidentStageHealthy, rotationv1alpha1.IncidentValidation, rotationv1alpha1.IncidentCommitted,
			rotationv1alpha1.IncidentPurgeJob))
		healthy := 0
		for _, t := range types {
			if t == rotationv1alpha1.IncidentStageHealthy {
				healthy++
			}
		}
		Expect(healthy).To(Equal(2), "each stage's healthy time is recorded")
		Expect(got.Status.PurgeJobs.Jobs).To(ConsistOf(HaveField("Result", rotationv1alpha1.JobSucceeded)))
	})
})
