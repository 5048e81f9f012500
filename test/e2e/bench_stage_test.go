//go:build e2e

package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// stageSize is the number of two-replica Deployments in the benchmark's one stage (a stage lists at most 50).
const stageSize = 50

// A benchmark, not a test: it records durations and asserts none of them (label "bench": `make bench` runs it,
// `make test-e2e` leaves it out). One stage of 50 two-replica Deployments on the local cluster (real Deployment and
// ReplicaSet controllers, kwok nodes), from the rotate token to every pod template restarted and to every
// Deployment rolled out, beside the cluster's own rollout of the same 50 restarted by a bare loop of patches.
var _ = Describe("Benchmark: one stage of 50 Deployments", Label("bench"), Serial, func() {
	It("measures trigger to restarted and to rolled out, beside the cluster's own rollout", func() {
		ns := newNamespace()
		names := make([]string, stageSize)
		for i := range names {
			names[i] = fmt.Sprintf("app-%02d", i)
			Expect(cl.Create(ctx, testgen.Deployment(names[i], ns, replicas))).To(Succeed())
		}
		waitRolledOut(ns, names)
		startSpecOperator()
		Expect(cl.Create(ctx, testgen.RotatedSecret(rsName, ns, testgen.WithTTL("90d"), testgen.WithTarget(workersEnv, targetKey),
			testgen.WithRollout(testgen.Stage("all", "10m", names...))))).To(Succeed())
		cluster.WaitForRevision(jwtKey(ns), 1)
		waitRolledOut(ns, names)

		exp := gmeasure.NewExperiment("One stage of 50 two-replica Deployments")
		AddReportEntry(exp.Name, exp)
		for run := 2; run <= 4; run++ {
			start := time.Now()
			cluster.Annotate(jwtKey(ns), rotationv1alpha1.RotateAnnotation, fmt.Sprintf("bench-%d", run))
			Eventually(func() int { return restartedTo(ns, fmt.Sprint(run)) }).WithTimeout(wait).WithPolling(20 * time.Millisecond).
				Should(Equal(stageSize))
			restarted := time.Since(start)
			waitRolledOut(ns, names)
			rolledOut := time.Since(start)
			cluster.WaitForRevision(jwtKey(ns), int64(run))

			// The cluster's own rollout: the same 50 restarted by 50 patches in a loop, nothing waited for.
			start = time.Now()
			for _, n := range names {
				patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"bench/restart":"%d-%d"}}}}}`, run, start.UnixNano())
				Expect(cl.Patch(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}}, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
			}
			waitRolledOut(ns, names)
			bare := time.Since(start)

			exp.RecordDuration("trigger to all restarted", restarted)
			exp.RecordDuration("trigger to all rolled out", rolledOut)
			exp.RecordDuration("bare loop of patches to all rolled out", bare)
			exp.RecordValue("rolled out / bare loop", rolledOut.Seconds()/bare.Seconds())
			GinkgoWriter.Printf("Run %d: restarted %s, rolled out %s; the cluster's own rollout %s (%.2fx)\n", run,
				restarted.Round(time.Millisecond), rolledOut.Round(time.Millisecond), bare.Round(time.Millisecond), rolledOut.Seconds()/bare.Seconds())
		}
	})
})

// restartedTo counts the Deployments of ns whose pod template carries revision rev of the RotatedSecret (one
// list a call: the polling must not load the API server it measures).
func restartedTo(ns string, rev string) int {
	var list appsv1.DeploymentList
	if err := cl.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0
	}
	n := 0
	for i := range list.Items {
		if fixture.TemplateRevision(&list.Items[i], rsName) == rev {
			n++
		}
	}
	return n
}

// waitRolledOut waits until every Deployment has rolled out its current template: observed, every replica updated
// and available.
func waitRolledOut(ns string, names []string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var list appsv1.DeploymentList
		g.Expect(cl.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		done := 0
		for _, d := range list.Items {
			if d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == replicas &&
				d.Status.AvailableReplicas == replicas && d.Status.Replicas == replicas {
				done++
			}
		}
		g.Expect(done).To(Equal(len(names)))
	}).WithTimeout(5 * time.Minute).WithPolling(50 * time.Millisecond).Should(Succeed())
}
