//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// The objects of every spec: the runbook's JWT secret, read by background workers and the API.
const (
	rsName    = "jwt"
	workers   = "esim-worker"
	api       = "backend-api"
	targetKey = "JWT_SECRET"
	// workersEnv and apiEnv are the two targets; each Deployment reads one of them.
	workersEnv = "esim-worker-env"
	apiEnv     = "backend-env"
	replicas   = 2
	// minReadySeconds makes each stage's rollout take a few seconds, so a pod of a new revision counts as
	// available a known time after it is Ready, and a SIGKILL can be aimed at a stage in progress.
	minReadySeconds = 2
	// failLabel makes kwok fail a pod 1-2s after it runs (docs/local-cluster.md).
	failLabel = "pod-container-running-failed.stage.kwok.x-k8s.io"

	// wait is how long an Eventually waits for the cluster: generous, the machine is shared.
	wait = 120 * time.Second
	poll = 200 * time.Millisecond
)

// annotationKey is the pod-template annotation through which the operator restarts a workload.
const annotationKey = rotationv1alpha1.RestartAnnotationPrefix + rsName

var (
	// currentNS is the namespace of the running spec, for the dump on failure.
	currentNS string
	// operatorRuns numbers operator processes, for their log file names.
	operatorRuns atomic.Int32
)

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() {
		keepWorkDir = true
		dump(currentNS)
	}
})

// newNamespace creates a namespace for one spec (deleted after it), waits for its default ServiceAccount, without
// which no pod can be created, and applies config/tenant in it.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cluster.NewNamespace("e2e-")}}
	currentNS = ns.Name
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(cl.Delete(ctx, ns))).To(Succeed())
	})
	Eventually(func() error {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{})
	}).WithTimeout(wait).WithPolling(poll).Should(Succeed())
	installTenant(ns.Name)
	return ns.Name
}

// startSpecOperator starts an operator for the running spec (opts as startOperator takes them); it is stopped
// when the spec ends.
func startSpecOperator(opts ...operatorOption) *operator {
	GinkgoHelper()
	op := startOperator(fmt.Sprintf("%s-%d", currentNS, operatorRuns.Add(1)), opts...)
	DeferCleanup(op.stop)
	return op
}

// createWorkloads creates the two Deployments, each with 2 replicas reading its target Secret through envFrom,
// and waits until they are available.
func createWorkloads(ns string) {
	GinkgoHelper()
	for name, secret := range map[string]string{workers: workersEnv, api: apiEnv} {
		d := testgen.Deployment(name, ns, replicas)
		d.Spec.MinReadySeconds = minReadySeconds
		// Optional: the Secret appears with the first rotation (kwok runs no container and would not care anyway).
		d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Optional: ptr.To(true)}}}
		Expect(cl.Create(ctx, d)).To(Succeed())
	}
	for _, name := range []string{workers, api} {
		Eventually(func(g Gomega) {
			d := cluster.Deployment(ns, name)
			g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
			g.Expect(d.Status.UpdatedReplicas).To(BeEquivalentTo(replicas))
			g.Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(replicas))
		}).WithTimeout(wait).WithPolling(poll).Should(Succeed(), "Deployment %s available", name)
	}
}

// jwtSecret is the RotatedSecret under test: JWT_SECRET in both Secrets, the workers restarted first and the API
// second, then a smoke Job (backoffLimit 0); a failure rolls back.
func jwtSecret(ns string, workersTimeout string) *rotationv1alpha1.RotatedSecret {
	return testgen.RotatedSecret(rsName, ns,
		testgen.WithTarget(workersEnv, targetKey),
		testgen.WithTarget(apiEnv, targetKey),
		testgen.WithRollout(testgen.Stage("workers", workersTimeout, workers), testgen.Stage("api", "5m", api)),
		testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke"))
}

// createJWT creates the RotatedSecret and waits until its first revision is rolled out, validated and committed.
func createJWT(ns string, workersTimeout string) *rotationv1alpha1.RotatedSecret {
	GinkgoHelper()
	Expect(cl.Create(ctx, jwtSecret(ns, workersTimeout))).To(Succeed())
	return cluster.WaitForRevision(jwtKey(ns), 1)
}

// jwtKey names the spec's RotatedSecret, for the fixture.Cluster methods that take one.
func jwtKey(ns string) client.Object {
	return &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rsName}}
}

// waitEnded waits until the rotation to rev is over, whatever its outcome, and returns the RotatedSecret.
func waitEnded(ns string, rev int64, timeout time.Duration) *rotationv1alpha1.RotatedSecret {
	GinkgoHelper()
	var rs *rotationv1alpha1.RotatedSecret
	Eventually(func(g Gomega) {
		rs = cluster.RotatedSecret(jwtKey(ns))
		g.Expect(rs.Status.Pending).To(BeNil())
		g.Expect(rs.Status.History).NotTo(BeEmpty())
		g.Expect(rs.Status.History[0].Revision).To(Equal(rev))
		g.Expect(rs.Status.History[0].Outcome).NotTo(Equal(rotationv1alpha1.OutcomeInProgress))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed(), "the rotation to revision %d ended", rev)
	return rs
}

// historyOf returns the history records of rev.
func historyOf(rs *rotationv1alpha1.RotatedSecret, rev int64) []rotationv1alpha1.RotationRecord {
	var out []rotationv1alpha1.RotationRecord
	for _, h := range rs.Status.History {
		if h.Revision == rev {
			out = append(out, h)
		}
	}
	return out
}

// replicaSetsFor lists the ReplicaSets of a Deployment whose pod template carries rev.
func replicaSetsFor(ns, name string, rev int64) []appsv1.ReplicaSet {
	GinkgoHelper()
	var list appsv1.ReplicaSetList
	Expect(cl.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": name})).To(Succeed())
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if rs.Spec.Template.Annotations[annotationKey] == strconv.FormatInt(rev, 10) {
			out = append(out, rs)
		}
	}
	return out
}

// replicaSetNames names the ReplicaSets of a Deployment whose pod template carries rev.
func replicaSetNames(ns, name string, rev int64) []string {
	GinkgoHelper()
	var out []string
	for _, rs := range replicaSetsFor(ns, name, rev) {
		out = append(out, rs.Name)
	}
	return out
}

func podsOf(ns, name string) []corev1.Pod {
	GinkgoHelper()
	var list corev1.PodList
	Expect(cl.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": name})).To(Succeed())
	return list.Items
}

// podRevisions counts a Deployment's pods by the revision their restart annotation carries.
func podRevisions(ns, name string) map[string]int {
	GinkgoHelper()
	out := map[string]int{}
	for _, p := range podsOf(ns, name) {
		out[p.Annotations[annotationKey]]++
	}
	return out
}

// readySince is the lastTransitionTime of the pod's Ready condition, if it is Ready.
func readySince(p corev1.Pod) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// targetValues reads JWT_SECRET from both target Secrets, by Secret name, as digests.
func targetValues(ns string) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	for _, name := range []string{workersEnv, apiEnv} {
		var s corev1.Secret
		Expect(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
		Expect(s.Data[targetKey]).NotTo(BeEmpty(), "Secret %s holds %s", name, targetKey)
		out[name] = digest(s.Data[targetKey])
	}
	return out
}

// digest stands for a value in comparisons and failure messages, so that no value is ever printed, not even a
// test one.
func digest(value []byte) string {
	sum := sha256.Sum256(value)
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// dump prints what a person would look at after a failure: the RotatedSecret, the workloads, the Jobs, the
// Events and the logs of every operator process of the spec.
func dump(ns string) {
	if ns == "" {
		return
	}
	w := GinkgoWriter
	for _, args := range [][]string{
		{"-n", ns, "get", "rotatedsecret", rsName, "-o", "yaml"},
		{"-n", ns, "get", "deployments,replicasets,pods,jobs,resourcequotas", "-o", "wide", "--show-labels"},
		{"-n", ns, "get", "replicasets", "-o", "custom-columns=NAME:.metadata.name,CREATED:.metadata.creationTimestamp," +
			"REVISION:.spec.template.metadata.annotations.rotation\\.tribi\\.io/jwt,DESIRED:.spec.replicas,AVAILABLE:.status.availableReplicas"},
		{"-n", ns, "get", "events", "--sort-by=.metadata.creationTimestamp"},
	} {
		out, err := tryKubectl(args...)
		fmt.Fprintf(w, "\n$ kubectl %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			fmt.Fprintf(w, "(%v)\n", err)
		}
	}
	operatorsMu.Lock()
	defer operatorsMu.Unlock()
	for _, o := range operators {
		if strings.HasPrefix(o.name, ns+"-") {
			fmt.Fprintf(w, "\n=== operator %s (%s) ===\n%s", o.name, o.logPath, o.logs())
		}
	}
}
