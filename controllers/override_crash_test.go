package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/controllers"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("Emergency overrides after a crash, of a Secret, and under RBAC", func() {
	var ns string
	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		createAppConfig(ns)
	})

	It("restores the originals exactly after crashes right after applying and in the middle of the revert", func() {
		createDeployments(ns, "esim-worker", "backend-api")
		op := startOperator(operatorOptions{}, ns)
		rs := jwtWithRollout(ns, withOverrides(cmOverride(rateKey, "2", "24h"), cmOverride("SIGNUPS_DISABLED", "true", "24h")))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(rs, 1)
		op.stop()

		By("the operator dies right after the first key is overridden")
		hook, crashed := crashAt(controllers.StepHookOverrideApplied)
		op = startOperator(operatorOptions{hook: hook}, ns)
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1 codes leaked")
		Eventually(crashed, wait).Should(BeClosed())
		op.stop()
		Expect(configMapData(ns, "app-config")).To(Equal(map[string]string{rateKey: "2", "THEME": "dark"}))
		st := cluster.RotatedSecret(rs).Status
		Expect(st.Overrides).To(HaveLen(2), "both are listed before either is written")
		Expect(st.OverriddenEmergencyRequest).To(BeEmpty())

		op = startOperator(operatorOptions{}, ns)
		rollOutRevision(ns, 2)
		got := cluster.WaitForRevision(rs, 2)
		Expect(configMapData(ns, "app-config")).To(Equal(map[string]string{rateKey: "2", "SIGNUPS_DISABLED": "true", "THEME": "dark"}))
		Expect(got.Status.Overrides).To(HaveLen(2))
		Expect(got.Status.OverriddenEmergencyRequest).To(Equal("inc-1"))
		op.stop()

		By("the operator dies in the middle of the revert")
		clock.Step(24*time.Hour + time.Minute)
		hook, crashed = crashAt(controllers.StepHookOverrideReverted)
		op = startOperator(operatorOptions{hook: hook}, ns)
		poke(rs)
		Eventually(crashed, wait).Should(BeClosed())
		op.stop()
		Expect(configMapData(ns, "app-config")).To(Equal(map[string]string{rateKey: "50", "SIGNUPS_DISABLED": "true", "THEME": "dark"}))
		Expect(cluster.RotatedSecret(rs).Status.Overrides).To(HaveEach(HaveField("Reverting", true)),
			"status says a revert began before anything was written back")

		op = startOperator(operatorOptions{}, ns)
		defer op.stop()
		poke(rs)
		Eventually(func() map[string]string { return configMapData(ns, "app-config") }, wait).
			Should(Equal(map[string]string{rateKey: "50", "THEME": "dark"}))
		restartedAfterRevert(ns)
		expectOverridesEnded(rs)
		Expect(eventReasons(rs)).NotTo(ContainElement(rotationv1alpha1.ReasonOverrideKept),
			"the key written back before the crash is not taken for a person's edit")
		Expect(stagingKeys(ns)).NotTo(ContainElement(HavePrefix("override-")))
	})

	It("overrides a Secret key without its original value ever reaching status, Events or logs", func() {
		original, token := leakToken(), leakToken()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secrets", Namespace: ns},
			Data: map[string][]byte{"ADMIN_TOKEN": []byte(original), "OTHER": []byte("x")}})).To(Succeed())
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"), withOverrides(
			rotationv1alpha1.Override{SecretRef: &rotationv1alpha1.ObjectRef{Name: "app-secrets"}, Key: "ADMIN_TOKEN",
				Value: token, Duration: "2h"}))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1")
		got := cluster.WaitForRevision(rs, 2)
		Expect(secretValue(ns, "app-secrets", "ADMIN_TOKEN")).To(Equal(token))
		Expect(got.Status.Overrides).To(ConsistOf(And(HaveField("Kind", rotationv1alpha1.OverrideSecret),
			HaveField("Name", "app-secrets"), HaveField("Key", "ADMIN_TOKEN"))))
		noValueIn := func(what string) {
			GinkgoHelper()
			status, err := json.Marshal(cluster.RotatedSecret(rs).Status)
			Expect(err).NotTo(HaveOccurred())
			var notes []string
			for _, e := range events(rs) {
				notes = append(notes, e.Note)
			}
			for _, v := range []string{original, token} {
				Expect(string(status)).NotTo(ContainSubstring(v), "status %s", what)
				Expect(strings.Join(notes, "\n")).NotTo(ContainSubstring(v), "Events %s", what)
				Expect(op.logs.String()).NotTo(ContainSubstring(v), "logs %s", what)
			}
		}
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideApplied))
		noValueIn("while the override is active")

		clock.Step(2*time.Hour + time.Minute)
		poke(rs)
		expectOverridesEnded(rs)
		Expect(secretData(ns, "app-secrets")).To(Equal(map[string][]byte{"ADMIN_TOKEN": []byte(original), "OTHER": []byte("x")}))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOverrideReverted))
		noValueIn("after the revert")
	})

	It("stops an emergency whose ServiceAccount may not change the ConfigMap before anything is minted", func() {
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tenant, Namespace: ns}})).To(Succeed())
		grant(ns, "tenant", ns, tenant, secretsRule())
		op := startOperator(operatorOptions{impersonate: true}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, asTenant(tenant), testgen.WithTarget("backend-env", "JWT_SECRET"),
			withOverrides(cmOverride(rateKey, "2", "24h")))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		first := secretValue(ns, "backend-env", "JWT_SECRET")

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "inc-1")
		expectForbidden(rs, tenant, fmt.Sprintf(`get configmaps "app-config" in namespace %s`, ns))
		Expect(op.generated.Calls()).NotTo(HaveKey(ns+"/jwt@2"), "nothing is minted")
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(first))
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "50"))

		grant(ns, "configmaps", ns, tenant, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"},
			Verbs: []string{"get", "patch"}})
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "granted")
		cluster.WaitForRevision(rs, 2)
		Expect(configMapData(ns, "app-config")).To(HaveKeyWithValue(rateKey, "2"))
	})
})
