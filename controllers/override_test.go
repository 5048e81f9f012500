package controllers_test

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// rateKey is the runbook's hardening during a leak: at most two codes per day while the incident lasts.
const rateKey = "RATE_LIMIT_CODES_PER_DAY"

// configMapData returns the data of a ConfigMap, nil when it does not exist.
func configMapData(ns, name string) map[string]string {
	var cm corev1.ConfigMap
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		return nil
	}
	return cm.Data
}

// createAppConfig creates ConfigMap app-config with the normal rate limit and a flag no override touches.
func createAppConfig(ns string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: ns},
		Data: map[string]string{rateKey: "50", "THEME": "dark"}})).To(Succeed())
}

// cmOverride overrides a key of ConfigMap app-config.
func cmOverride(key, value, duration string) rotationv1alpha1.Override {
	return rotationv1alpha1.Override{ConfigMapRef: &rotationv1alpha1.ObjectRef{Name: "app-config"}, Key: key, Value: value,
		Duration: rotationv1alpha1.Duration(duration)}
}

// withOverrides sets spec.emergency.overrides.
func withOverrides(overrides ...rotationv1alpha1.Override) testgen.Option {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Spec.Emergency = &rotationv1alpha1.EmergencySpec{Overrides: overrides}
	}
}

// overrideStamp is the override revert annotation of RotatedSecret jwt on a Deployment's pod template.
func overrideStamp(ns, deployment string) string {
	return cluster.Deployment(ns, deployment).Spec.Template.Annotations[rollout.OverrideAnnotationKey("jwt")]
}

// stagingKeys lists the data keys of jwt's staging Secret.
func stagingKeys(ns string) []string {
	var keys []string
	for k := range secretData(ns, "jwt-rotation") {
		keys = append(keys, k)
	}
	return keys
}

// expectOverridesEnded waits until status lists no override and no restart after a revert.
func expectOverridesEnded(rs *rotationv1alpha1.RotatedSecret) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		st := cluster.With(g).RotatedSecret(rs).Status
		g.Expect(st.Overrides).To(BeEmpty())
		g.Expect(st.OverrideRestart).To(BeNil())
	}, wait).Should(Succeed())
}

// restartedAfterRevert plays the Deployment controller through both stages of the restart after a revert.
func restartedAfterRevert(ns string) {
	GinkgoHelper()
	stamp := fmt.Sprint(clock.Now().Unix())
	Eventually(func() string { return overrideStamp(ns, "esim-worker") }, wait).Should(Equal(stamp))
	Consistently(func() string { return overrideStamp(ns, "backend-api") }, time.Second).Should(BeEmpty(),
		"the API waits for the workers, as in a rotation")
	markRolledOut(ns, "esim-worker")
	Eventually(func() string { return overrideStamp(ns, "backend-api") }, wait).Should(Equal(stamp))
	markRolledOut(ns, "backend-api")
}

var _ = Describe("Emergency overrides", func() {
	var ns string
	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		createAppConfig(ns)
	})

	It("applies the overrides before the first restart, and at their end reverts them and restarts the stages", func() {
		createDeployments(ns, "esim-worker", "backend-api")
		var mu sync.Mutex
		var armed bool
		var atRestart []map[string]string // app-config as each workload restart of the emergency found it
		op := startOperator(operatorOptions{hook: func(step string) bool {
			mu.Lock()
			defer mu.Unlock()
			if armed && step == controllers.StepHookWorkloadPatched {
				atRestart = append(atRestart, configMapData(ns, "app-config"))
			}
			return false
		}}, ns)
		defer op.stop()
		rs := jwtWithRollout(ns, withOverrides(cmOverride(rateKey, "2", "24h"), cmOverride("SIGNUPS_DISABLED", "true", "24h")))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "50"), "only an emergency overrides")

		mu.Lock()
		armed = true
		mu.Unlock()
		applied := clock.Now()
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1 codes leaked")
		rollOutRevision(ns, 2)
		got := cluster.WaitForRevision(rs, 2)
		mu.Lock()
		Expect(atRestart).NotTo(BeEmpty())
		Expect(atRestart[0]).To(HaveKeyWithValue(rateKey, "2"), "the first workload restarted already reads the override")
		Expect(atRestart[0]).To(HaveKeyWithValue("SIGNUPS_DISABLED", "true"))
		mu.Unlock()
		Expect(got.Status.Overrides).To(ConsistOf(
			And(HaveField("Kind", rotationv1alpha1.OverrideConfigMap), HaveField("Name", "app-config"), HaveField("Key", rateKey),
				HaveField("Incident", "inc-1"), HaveField("AppliedAt.Time", BeTemporally("==", applied)),
				HaveField("ExpiresAt.Time", BeTemporally("==", applied.Add(24*time.Hour))), HaveField("Reverting", false)),
			HaveField("Key", "SIGNUPS_DISABLED")))
		Expect(stagingKeys(ns)).To(ContainElement(HavePrefix("override-")), "the originals are recorded in the staging Secret")
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideApplied))
		Expect(overrideStamp(ns, "esim-worker")).To(BeEmpty())
		genWorker, genAPI := cluster.Deployment(ns, "esim-worker").Generation, cluster.Deployment(ns, "backend-api").Generation
		settle(rs)

		By("the duration ends: the original value is back, the absent key is removed, the stages restart")
		clock.Step(24*time.Hour + time.Minute)
		poke(rs)
		Eventually(func() map[string]string { return configMapData(ns, "app-config") }, wait).
			Should(Equal(map[string]string{rateKey: "50", "THEME": "dark"}))
		restartedAfterRevert(ns)
		expectOverridesEnded(rs)
		Expect(cluster.Deployment(ns, "esim-worker").Generation).To(Equal(genWorker + 1))
		Expect(cluster.Deployment(ns, "backend-api").Generation).To(Equal(genAPI + 1))
		Expect(stagingKeys(ns)).NotTo(ContainElement(HavePrefix("override-")), "the records go with the overrides")
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideReverted))
		var notes []string
		for _, e := range events(rs) {
			if e.Reason == rotationv1alpha1.ReasonOverrideReverted {
				notes = append(notes, e.Note)
			}
		}
		Expect(strings.Join(notes, "\n")).To(And(ContainSubstring(`key RATE_LIMIT_CODES_PER_DAY: the override of incident inc-1 `+
			`ended; its original value "50" is back`), ContainSubstring("key SIGNUPS_DISABLED: the override of incident inc-1 ended; "+
			"the key is removed again")))
		got = settle(rs)
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(2), "nothing else rotates or restarts")
		Expect(timelineTypes(got.Status.Incidents[0])).To(ContainElements(rotationv1alpha1.IncidentOverrideApplied,
			rotationv1alpha1.IncidentOverrideReverted), "the incident record tells both, after the incident ended")
	})

	It("keeps the value a person set during the override; a missing ConfigMap does not hold the emergency", func() {
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		missing := cmOverride("MODE", "strict", "1h")
		missing.ConfigMapRef.Name = "no-such-config"
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			withOverrides(missing, cmOverride(rateKey, "2", "1h")))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1")
		got := cluster.WaitForRevision(rs, 2)
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "2"))
		Expect(got.Status.Overrides).To(ConsistOf(HaveField("Key", rateKey)))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideFailed))
		Expect(configMapData(ns, "no-such-config")).To(BeNil(), "an override never creates an object")

		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, cm)).To(Succeed())
		cm.Data[rateKey] = "5"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		clock.Step(time.Hour + time.Minute)
		poke(rs)
		expectOverridesEnded(rs)
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "5"), "the person's value stays")
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideKept))
		Expect(eventReasons(rs)).NotTo(ContainElement(rotationv1alpha1.ReasonOverrideReverted))
		Expect(stagingKeys(ns)).NotTo(ContainElement(HavePrefix("override-")))
	})

	It("extends an active override for a second emergency and still restores the original", func() {
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			withOverrides(cmOverride(rateKey, "2", "24h")))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		first := clock.Now()
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1")
		cluster.WaitForRevision(rs, 2)

		clock.Step(12 * time.Hour)
		second := clock.Now()
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-2 leaked again")
		got := cluster.WaitForRevision(rs, 3)
		Expect(got.Status.Overrides).To(ConsistOf(And(HaveField("Incident", "inc-2"),
			HaveField("AppliedAt.Time", BeTemporally("==", first)),
			HaveField("ExpiresAt.Time", BeTemporally("==", second.Add(24*time.Hour))))))
		Expect(got.Status.OverriddenEmergencyRequest).To(Equal("inc-2"))

		By("the first emergency's end passes: nothing is reverted")
		clock.Step(13 * time.Hour)
		Expect(settle(rs).Status.Overrides).To(HaveLen(1))
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "2"))

		By("the extended end: the original from before the first emergency is back, not the overridden value")
		clock.Step(11*time.Hour + time.Minute)
		poke(rs)
		expectOverridesEnded(rs)
		Expect(configMapData(ns, "app-config")).To(Equal(map[string]string{rateKey: "50", "THEME": "dark"}))
	})

	It("refuses overrides of its staging Secret, a target, another's staging Secret or the fingerprint key", func() {
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		for _, c := range [][2]string{{"jwt", "jwt-rotation"}, {"jwt-target", "backend-env"},
			{"jwt-other", "jwt-rotation"}, {"jwt-key", fingerprint.KeySecretName}} {
			rsName, secret := c[0], c[1] // (jwt-rotation is jwt's: jwt exists when jwt-other is created)
			rs := testgen.RotatedSecret(rsName, ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
				withOverrides(cmOverride(rateKey, "2", "1h"), rotationv1alpha1.Override{
					SecretRef: &rotationv1alpha1.ObjectRef{Name: secret}, Key: "K", Value: "v", Duration: "1h"}))
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, "spec.emergency.overrides[1].secretRef: Secret "+secret+
				" cannot be overridden")
			Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeZero(), "nothing rotates with such a spec")
		}
		Expect(secretData(ns, "backend-env")).To(BeNil())
	})
})
