package controllers_test

import (
	"context"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// series returns the value of each series of the metric family name that the operator's registry (the one the
// metrics endpoint serves) exports for rs, keyed by the value of label (the whole value when label is "").
func series(name string, rs *rotationv1alpha1.RotatedSecret, label string) map[string]float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] != rs.Namespace || l["name"] != rs.Name {
				continue
			}
			out[l[label]] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}

// unix is t in the seconds a timestamp gauge holds.
func unix(t interface{ Unix() int64 }) float64 { return float64(t.Unix()) }

var _ = Describe("Metrics", func() {
	It("follow the status: next rotation, outcomes, suspension, pending revocations; and go with the object", func() {
		ns := cluster.NewNamespace("t-")
		revokes := &fake.Provider{
			RevocableFunc: func(_ rotationv1alpha1.ProviderSpec, rev int64) bool { return rev > 0 },
			RevokeFunc: func(context.Context, provider.Request, provider.Result) error {
				return errors.New("vendor answered 503")
			},
		}
		op := startOperator(operatorOptions{random: revokes}, ns)
		DeferCleanup(op.stop)
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		got := cluster.WaitForRevision(rs, 1)

		Eventually(func() map[string]float64 { return series("secret_rotator_next_rotation_timestamp_seconds", rs, "") }, wait).
			Should(Equal(map[string]float64{"": unix(got.Status.NextRotationTime)}))
		Expect(series("secret_rotator_rotation_outcomes_total", rs, "outcome")).To(Equal(map[string]float64{"Succeeded": 1}))
		Expect(series("secret_rotator_last_outcome_timestamp_seconds", rs, "outcome")).To(Equal(
			map[string]float64{"Succeeded": unix(got.Status.History[0].CompletionTime)}))
		Expect(series("secret_rotator_suspended", rs, "")).To(BeEmpty())
		Expect(series("secret_rotator_revocations_pending", rs, "")).To(BeEmpty())
		Expect(series("secret_rotator_failed_attempts", rs, "")).To(BeEmpty())
		Expect(series("secret_rotator_oldest_pending_revocation_timestamp_seconds", rs, "")).To(BeEmpty())
		Expect(series("secret_rotator_stalled", rs, "reason")).To(BeEmpty())
		Expect(series("secret_rotator_rotating", rs, "step")).To(BeEmpty())

		By("revision 1's credential leaves service and the vendor refuses to revoke it")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.WaitForRevision(rs, 2)
		Eventually(func() int32 {
			r := cluster.RotatedSecret(rs).Status.Revocations
			if len(r) == 0 {
				return 0
			}
			return r[0].Attempts
		}, wait).Should(BeNumerically(">=", 1))
		got = cluster.RotatedSecret(rs)
		Eventually(func() map[string]float64 { return series("secret_rotator_revocations_pending", rs, "") }, wait).
			Should(Equal(map[string]float64{"": 1}))
		Expect(series("secret_rotator_oldest_pending_revocation_timestamp_seconds", rs, "")).To(Equal(
			map[string]float64{"": unix(got.Status.Revocations[0].Since)}))
		Expect(series("secret_rotator_rotation_outcomes_total", rs, "outcome")).To(Equal(map[string]float64{"Succeeded": 2}))
		Expect(series("secret_rotator_next_rotation_timestamp_seconds", rs, "")).To(Equal(
			map[string]float64{"": unix(got.Status.NextRotationTime)}))

		By("suspended")
		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) { live.Spec.Suspend = true })
		Eventually(func() map[string]float64 { return series("secret_rotator_suspended", rs, "") }, wait).
			Should(Equal(map[string]float64{"": 1}))

		By("deleted: every series of the object goes")
		Expect(k8sClient.Delete(ctx, rs)).To(Succeed())
		Eventually(func() int {
			n := 0
			for _, name := range []string{"secret_rotator_suspended", "secret_rotator_revocations_pending",
				"secret_rotator_next_rotation_timestamp_seconds", "secret_rotator_rotation_outcomes_total",
				"secret_rotator_rotations_total", "secret_rotator_last_outcome_timestamp_seconds",
				"secret_rotator_oldest_pending_revocation_timestamp_seconds", "secret_rotator_failed_attempts"} {
				n += len(series(name, rs, ""))
			}
			return n
		}, wait).Should(BeZero())
	})

	It("show a rotation in progress, its rollback and the stall that follows", func() {
		ns := backendWithOperator()
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		passValidation(rs, 1)
		Eventually(func() map[string]float64 { return series("secret_rotator_rotation_outcomes_total", rs, "outcome") }, wait).
			Should(Equal(map[string]float64{"Succeeded": 1}))

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		waitForTemplate(ns, "esim-worker", "jwt", 2)
		Eventually(func() map[string]float64 { return series("secret_rotator_rotating", rs, "step") }, wait).
			Should(Equal(map[string]float64{"RollingOut": 1}), "one series, with the step")
		markRolledOut(ns, "esim-worker")
		waitForTemplate(ns, "backend-api", "jwt", 2)
		markRolledOut(ns, "backend-api")
		waitForJob(ns, "jwt-smoke-r2")
		Eventually(func() map[string]float64 { return series("secret_rotator_rotating", rs, "step") }, wait).
			Should(Equal(map[string]float64{"Validating": 1}), "the RollingOut series went")
		finishJob(ns, "jwt-smoke-r2", false)
		rollOutRevision(ns, 1)
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "validation Job jwt-smoke-r2 failed")

		Eventually(func() map[string]float64 { return series("secret_rotator_stalled", rs, "reason") }, wait).
			Should(Equal(map[string]float64{"RolledBack": 1}))
		Expect(series("secret_rotator_rotating", rs, "step")).To(BeEmpty())
		Expect(series("secret_rotator_rotation_outcomes_total", rs, "outcome")).To(Equal(
			map[string]float64{"Succeeded": 1, "RolledBack": 1}))
		Expect(series("secret_rotator_failures_total", rs, "reason")).To(HaveKeyWithValue("RolledBack", 1.0))
		got := cluster.RotatedSecret(rs)
		Expect(series("secret_rotator_last_outcome_timestamp_seconds", rs, "outcome")).To(HaveKeyWithValue(
			"RolledBack", unix(got.Status.History[0].CompletionTime)))

		By("an idle reconcile counts nothing again")
		settle(rs)
		Expect(series("secret_rotator_rotation_outcomes_total", rs, "outcome")).To(Equal(
			map[string]float64{"Succeeded": 1, "RolledBack": 1}))
		Expect(series("secret_rotator_stalled", rs, "reason")).To(Equal(map[string]float64{"RolledBack": 1}))
		Expect(series("secret_rotator_failed_attempts", rs, "")).To(Equal(map[string]float64{"": 1}))
	})
})
