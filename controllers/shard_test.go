package controllers_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tribi/secret-rotator/internal/testgen"
)

var _ = Describe("Two operators with disjoint shard selectors", func() {
	It("split the RotatedSecrets: each object is handled by exactly one of them", func() {
		ns := cluster.NewNamespace("t-")
		opA := startOperator(operatorOptions{shard: labels.SelectorFromSet(labels.Set{"rotation.tribi.io/shard": "a"})}, ns)
		defer opA.stop()
		opB := startOperator(operatorOptions{shard: labels.SelectorFromSet(labels.Set{"rotation.tribi.io/shard": "b"})}, ns)
		defer opB.stop()

		for i := range 10 {
			shard := "a"
			if i%2 == 1 {
				shard = "b"
			}
			rs := testgen.RotatedSecret(fmt.Sprintf("%s-%d", shard, i), ns, testgen.WithTarget(fmt.Sprintf("env-%d", i), "SECRET"))
			rs.Labels = map[string]string{"rotation.tribi.io/shard": shard}
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			cluster.WaitForRevision(rs, 1)
		}
		unsharded := testgen.RotatedSecret("nobody", ns, testgen.WithTarget("env-nobody", "SECRET"))
		Expect(k8sClient.Create(ctx, unsharded)).To(Succeed())

		for name, op := range map[string]*operator{"a": opA, "b": opB} {
			calls := op.generated.Calls()
			Expect(calls).To(HaveLen(5), "operator %s generated for its five objects", name)
			for key, n := range calls {
				Expect(n).To(Equal(1), key)
				Expect(key).To(HavePrefix(ns+"/"+name+"-"), "operator %s generated only for its own shard", name)
			}
		}
		Consistently(func() int64 { return cluster.RotatedSecret(unsharded).Status.ObservedGeneration }, "1s").Should(BeZero(),
			"an object in no shard is handled by no operator")
	})
})
