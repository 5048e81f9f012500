package controllers_test

import (
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// crashAt returns a StepHook that "kills" the operator the first time step is reached: from then on every
// reconcile stops before writing anything, until the test stops the manager.
func crashAt(step string) (hook func(string) bool, crashed chan struct{}) {
	var once sync.Once
	var mu sync.Mutex
	dead := false
	crashed = make(chan struct{})
	return func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		if dead {
			return true
		}
		if s == step {
			dead = true
			once.Do(func() { close(crashed) })
			return true
		}
		return false
	}, crashed
}

var _ = Describe("Crash safety", func() {
	steps := []string{
		controllers.StepHookGenerated, controllers.StepHookStaged,
		controllers.StepHookTargetWritten, controllers.StepHookTargetsWritten, controllers.StepHookCommitted,
	}

	// Two target Secrets, so that a crash can also come between them.
	newRS := func(ns string) *rotationv1alpha1.RotatedSecret {
		return testgen.RotatedSecret("jwt-secret", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithTarget("worker-env", "JWT_SECRET"), testgen.WithPrevious("_PREVIOUS", "24h"))
	}

	// stagedValue reads the value staged for rev, "" when there is none.
	stagedValue := func(ns string, rev int) string {
		var s corev1.Secret
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jwt-secret-rotation"}, &s); err != nil {
			return ""
		}
		return string(s.Data["r"+string(rune('0'+rev))+".value"])
	}

	// expectConsistent checks that the rotation to rev finished exactly once and every target agrees.
	expectConsistent := func(rs *rotationv1alpha1.RotatedSecret, rev int64, previous string) string {
		got := cluster.WaitForRevision(rs, rev)
		value := secretValue(rs.Namespace, "backend-env", "JWT_SECRET")
		Expect(value).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(secretValue(rs.Namespace, "worker-env", "JWT_SECRET")).To(Equal(value), "every target holds the same value")
		Expect(stagedValue(rs.Namespace, int(rev))).To(Equal(value))
		Expect(got.Status.CurrentFingerprint).To(Equal(fp(value)))
		var records int
		for _, h := range got.Status.History {
			if h.Revision == rev {
				records++
				Expect(h.Outcome).To(Equal(rotationv1alpha1.OutcomeSucceeded))
			}
		}
		Expect(records).To(Equal(1), "exactly one history record for revision %d", rev)
		if previous != "" {
			Expect(secretValue(rs.Namespace, "backend-env", "JWT_SECRET_PREVIOUS")).To(Equal(previous), "no value lost")
			Expect(secretValue(rs.Namespace, "worker-env", "JWT_SECRET_PREVIOUS")).To(Equal(previous))
		}
		return value
	}

	for _, step := range steps {
		It("finishes the first rotation after a crash at "+step, func() {
			ns := cluster.NewNamespace("t-")
			hook, crashed := crashAt(step)
			op := startOperator(operatorOptions{hook: hook}, ns)
			rs := newRS(ns)
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			Eventually(crashed, wait).Should(BeClosed())
			op.stop()
			atCrash := stagedValue(ns, 1)

			op = startOperator(operatorOptions{}, ns)
			defer op.stop()
			value := expectConsistent(rs, 1, "")
			if atCrash != "" {
				Expect(value).To(Equal(atCrash), "the value staged before the crash is the one promoted")
				Expect(op.generated.Calls()).To(BeEmpty(), "no second value was generated")
			}
			Expect(cluster.RotatedSecret(rs).Status.History).To(HaveLen(1))
		})

		It("finishes a forced rotation after a crash at "+step+", keeping the previous value", func() {
			ns := cluster.NewNamespace("t-")
			op := startOperator(operatorOptions{}, ns)
			rs := newRS(ns)
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			first := expectConsistent(rs, 1, "")
			op.stop()

			hook, crashed := crashAt(step)
			op = startOperator(operatorOptions{hook: hook}, ns)
			cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
			Eventually(crashed, wait).Should(BeClosed())
			op.stop()
			atCrash := stagedValue(ns, 2)

			op = startOperator(operatorOptions{}, ns)
			defer op.stop()
			value := expectConsistent(rs, 2, first)
			Expect(value).NotTo(Equal(first))
			if atCrash != "" {
				Expect(value).To(Equal(atCrash))
				Expect(op.generated.Calls()).To(BeEmpty())
			}
			got := cluster.RotatedSecret(rs)
			Expect(got.Status.History).To(HaveLen(2))
			Expect(got.Status.LastHandledRotateRequest).To(Equal("t1"))
			Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(2), "the token is not handled twice")
		})
	}

	It("starts a rotation over when its staged value is deleted before the targets have it", func() {
		ns := cluster.NewNamespace("t-")
		hook, crashed := crashAt(controllers.StepHookStaged)
		op := startOperator(operatorOptions{hook: hook}, ns)
		rs := newRS(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		Eventually(crashed, wait).Should(BeClosed())
		op.stop()
		lost := stagedValue(ns, 1)
		Expect(lost).NotTo(BeEmpty())
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt-secret-rotation"}})).To(Succeed())

		op = startOperator(operatorOptions{}, ns)
		defer op.stop()
		value := expectConsistent(rs, 1, "")
		Expect(value).NotTo(Equal(lost))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonStagingLost))
	})

	It("stalls when the current value is deleted from the staging Secret, and a rotate token recovers", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := newRS(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		first := expectConsistent(rs, 1, "")
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt-secret-rotation"}})).To(Succeed())

		expectStalled(rs, rotationv1alpha1.ReasonStagingLost, "set a new rotation.tribi.io/rotate token")
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(first), "targets keep their value")

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "recover")
		second := expectConsistent(rs, 2, "")
		Expect(second).NotTo(Equal(first))
		Expect(fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionStalled)).To(BeNil())
	})

	It("never produces a second value for a revision with many concurrent reconciles", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{workers: 16}, ns)
		defer op.stop()
		const n = 40
		var all []*rotationv1alpha1.RotatedSecret
		for i := 0; i < n; i++ {
			rs := testgen.RotatedSecret("s"+string(rune('a'+i%26))+string(rune('a'+i/26)), ns, testgen.WithTarget("shared-env", "KEY_"+string(rune('A'+i%26))+string(rune('A'+i/26))))
			all = append(all, rs)
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}
		for _, rs := range all {
			got := cluster.WaitForRevision(rs, 1)
			Expect(secretValue(ns, "shared-env", rs.Spec.Targets[0].Key)).To(MatchRegexp(`^[0-9a-f]{64}$`))
			Expect(got.Status.CurrentFingerprint).To(Equal(fp(secretValue(ns, "shared-env", rs.Spec.Targets[0].Key))))
		}
		calls := op.generated.Calls()
		Expect(calls).To(HaveLen(n))
		for key, c := range calls {
			Expect(c).To(Equal(1), "Generate calls for %s", key)
		}
		Expect(secretData(ns, "shared-env")).To(HaveLen(n), "forty RotatedSecrets share one Secret without losing a key")
	})

	It("keeps one value per revision even with two operators running at once (no leader election)", func() {
		ns := cluster.NewNamespace("t-")
		a := startOperator(operatorOptions{workers: 8}, ns)
		defer a.stop()
		b := startOperator(operatorOptions{workers: 8}, ns)
		defer b.stop()
		var all []*rotationv1alpha1.RotatedSecret
		for i := 0; i < 20; i++ {
			rs := testgen.RotatedSecret(fmt.Sprintf("dual-%d", i), ns, testgen.WithTarget(fmt.Sprintf("env-%d", i), "KEY"),
				testgen.WithTarget(fmt.Sprintf("env-%d-worker", i), "KEY"))
			all = append(all, rs)
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}
		for i, rs := range all {
			got := cluster.WaitForRevision(rs, 1)
			value := secretValue(ns, fmt.Sprintf("env-%d", i), "KEY")
			Expect(value).To(MatchRegexp(`^[0-9a-f]{64}$`))
			Expect(secretValue(ns, fmt.Sprintf("env-%d-worker", i), "KEY")).To(Equal(value))
			var staging corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: rs.Name + "-rotation"}, &staging)).To(Succeed())
			Expect(string(staging.Data["r1.value"])).To(Equal(value))
			Expect(got.Status.CurrentFingerprint).To(Equal(fp(value)))
			Expect(got.Status.History).To(HaveLen(1))
		}
		// Both may have generated a candidate for a revision, but only one was ever staged and written.
		Expect(len(a.generated.Calls()) + len(b.generated.Calls())).To(BeNumerically(">=", 20))
	})

	It("removes nothing and writes nothing for a RotatedSecret that is deleted; its staging Secret is owned by it", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := newRS(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		value := expectConsistent(rs, 1, "")
		var staging corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jwt-secret-rotation"}, &staging)).To(Succeed())
		Expect(staging.OwnerReferences).To(ContainElement(HaveField("Controller", HaveValue(BeTrue()))))
		Expect(k8sClient.Delete(ctx, rs)).To(Succeed())
		Consistently(func() string { return secretValue(ns, "backend-env", "JWT_SECRET") }, "1s").Should(Equal(value),
			"an application keeps its secret when the RotatedSecret goes away")
	})
})
