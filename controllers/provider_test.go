package controllers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("Provider failures", func() {
	It("back off through status, without a hot loop, and recover", func() {
		ns := cluster.NewNamespace("t-")
		var failures atomic.Int32
		failures.Store(2)
		p := &fake.Provider{GenerateFunc: func(_ context.Context, req provider.Request) (provider.Result, error) {
			if failures.Add(-1) >= 0 {
				return provider.Result{}, errors.New("vendor answered 503")
			}
			return provider.Result{Values: provider.Values{"value": []byte("from-the-vendor")}}, nil
		}}
		op := startOperator(operatorOptions{random: p}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("vendor-key", ns, testgen.WithTarget("backend-env", "API_KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())

		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "vendor answered 503 (attempt 1; next attempt in 10s")
		got := settle(rs)
		Expect(got.Status.FailedAttempts).To(BeEquivalentTo(1))
		Expect(got.Status.Pending.Step).To(Equal(rotationv1alpha1.StepDecided))
		Expect(p.Calls("Generate")).To(Equal(1), "no retry before the backoff is over")

		clock.Step(11 * time.Second)
		poke(rs)
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "(attempt 2; next attempt in 20s")
		Expect(p.Calls("Generate")).To(Equal(2))

		clock.Step(21 * time.Second)
		poke(rs)
		got = cluster.WaitForRevision(rs, 1)
		Expect(got.Status.FailedAttempts).To(BeZero())
		Expect(got.Status.LastFailureTime).To(BeNil())
		Expect(secretValue(ns, "backend-env", "API_KEY")).To(Equal("from-the-vendor"))
		Expect(p.Calls("Generate")).To(Equal(3))
		Expect(p.Calls("Verify")).To(Equal(1), "the new value is verified before any target sees it")
		Expect(got.Status.History).To(HaveLen(1), "one rotation, however many attempts")
	})

	It("stall without retries when the provider says retrying cannot help", func() {
		ns := cluster.NewNamespace("t-")
		p := &fake.Provider{GenerateFunc: func(context.Context, provider.Request) (provider.Result, error) {
			return provider.Result{}, provider.Permanent(errors.New("credential refused: check Secret vendor-admin"))
		}}
		op := startOperator(operatorOptions{random: p}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("vendor-key", ns, testgen.WithTarget("backend-env", "API_KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())

		expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, "credential refused: check Secret vendor-admin")
		Expect(cluster.RotatedSecret(rs).Status.FailedAttempts).To(BeZero())
		Expect(secretData(ns, "backend-env")).To(BeNil())
	})

	It("never lets a value that fails verification reach a target", func() {
		ns := cluster.NewNamespace("t-")
		p := &fake.Provider{VerifyFunc: func(context.Context, provider.Request, provider.Result) error {
			return errors.New("new key does not authenticate")
		}}
		op := startOperator(operatorOptions{random: p}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("vendor-key", ns, testgen.WithTarget("backend-env", "API_KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())

		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "verifying revision 1: new key does not authenticate")
		Expect(secretData(ns, "backend-env")).To(BeNil())
		Expect(secretData(ns, "vendor-key-rotation")).To(BeNil(), "an unverified value is not even staged")
	})
})
