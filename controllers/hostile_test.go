package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// Each spec here is one row of the "Hostile input" table in docs/design.md.
var _ = Describe("Hostile or careless input", func() {
	It("refuses a 200 KB or unprintable rotate token without copying it anywhere, and rotates for the next good one", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)

		huge := strings.Repeat("A", 200*1024)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, huge)
		expectStalled(rs, rotationv1alpha1.ReasonInvalidRequest, "is 204800 bytes long")
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1), "no rotation")
		status, err := json.Marshal(got.Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(status)).To(BeNumerically("<", 8*1024), "status stays small")
		for _, e := range events(rs) {
			Expect(len(e.Note)).To(BeNumerically("<=", 1024))
			Expect(e.Note).NotTo(ContainSubstring(strings.Repeat("A", 64)))
		}

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1\x1b[2J")
		expectStalled(rs, rotationv1alpha1.ReasonInvalidRequest, "control or space character at byte 2")
		Expect(cluster.RotatedSecret(rs).Status.LastHandledRotateRequest).To(BeEmpty())

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		got = cluster.WaitForRevision(rs, 2)
		Expect(got.Status.LastHandledRotateRequest).To(Equal("t2"))
	})

	It("takes the emergency token as the first word: a long reason is cut, editing only the reason starts nothing", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 leaked\x07 in CI "+strings.Repeat("r", 10*1024))
		got := cluster.WaitForRevision(rs, 2)
		Expect(got.Status.LastHandledEmergencyRequest).To(Equal("e1"))
		Expect(len(got.Status.History[0].Message)).To(BeNumerically("<", 400))
		Expect(got.Status.History[0].Message).NotTo(ContainSubstring("\x07"))

		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "e1 a better description of the leak")
		Expect(settle(rs).Status.CurrentRevision).To(BeEquivalentTo(2), "the same token with a new reason is not a new request")
	})

	It("keeps results by job name when validation jobs are added, removed or reordered while validating", func() {
		ns := backendWithOperator()
		rs := jwtWithRollout(ns, testgen.WithValidation("", "15m", "smoke", "auth"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		rollOutRevision(ns, 1)
		waitForJob(ns, "jwt-smoke-r1")
		waitForJob(ns, "jwt-auth-r1")
		finishJob(ns, "jwt-smoke-r1", true)
		Eventually(func() []rotationv1alpha1.ValidationJobStatus { return cluster.RotatedSecret(rs).Status.Validation.Jobs }, wait).Should(
			ContainElement(rotationv1alpha1.ValidationJobStatus{Name: "smoke", JobName: "jwt-smoke-r1", Result: rotationv1alpha1.JobSucceeded}))

		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) {
			tpl := live.Spec.Validation.Jobs[0].Template
			live.Spec.Validation.Jobs = []rotationv1alpha1.ValidationJob{{Name: "extra", Template: tpl}, {Name: "smoke", Template: tpl}}
		})
		waitForJob(ns, "jwt-extra-r1")
		Eventually(func() []rotationv1alpha1.ValidationJobStatus { return cluster.RotatedSecret(rs).Status.Validation.Jobs }, wait).Should(Equal(
			[]rotationv1alpha1.ValidationJobStatus{
				{Name: "extra", JobName: "jwt-extra-r1", Result: rotationv1alpha1.JobRunning},
				{Name: "smoke", JobName: "jwt-smoke-r1", Result: rotationv1alpha1.JobSucceeded},
			}), "the removed job is dropped, the kept one keeps its result")
		finishJob(ns, "jwt-extra-r1", true)
		cluster.WaitForRevision(rs, 1)
	})

	It("refuses a validation Job template that sets its own name, namespace or owner", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"),
			testgen.WithValidation("", "15m", "smoke"))
		rs.Spec.Validation.Jobs[0].Template.Namespace = "kube-system"
		rs.Spec.Validation.Jobs[0].Template.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Namespace", Name: ns, UID: "x"}}
		if err := k8sClient.Create(ctx, rs); err != nil {
			// Refused at apply by the CRD: the test of that is the admission table.
			Expect(err.Error()).To(ContainSubstring("spec.validation.jobs[0].template"))
			return
		}
		expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, "spec.validation.jobs[0].template.metadata")
		Expect(secretData(ns, "backend-env")).To(BeNil(), "nothing is generated or written")
	})

	It("keeps the create-pending marker when the vendor's 2xx answer cannot be read, and mints nothing twice", func() {
		ns := cluster.NewNamespace("t-")
		p := &fake.Provider{GenerateFunc: func(ctx context.Context, req provider.Request) (provider.Result, error) {
			if err := req.Guard.Begin(ctx); err != nil {
				return provider.Result{}, err
			}
			return provider.Result{}, provider.Incomplete(errors.New("generate: vendor answered 201 with a body that is not JSON"))
		}}
		op := startOperator(operatorOptions{random: p}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("vendor-key", ns, testgen.WithTarget("backend-env", "API_KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonGenerateIncomplete, "check the vendor")
		Expect(secretData(ns, "vendor-key-rotation")).To(HaveKey("r1-pending"), "the marker is kept")
		Expect(settle(rs).Status.FailedAttempts).To(BeZero())
		Expect(p.Calls("Generate")).To(Equal(1), "never called again without a person's go-ahead")
		Expect(secretData(ns, "backend-env")).To(BeNil())
	})

	It("verifies a candidate again after a 503 instead of revoking it and minting another", func() {
		ns := cluster.NewNamespace("t-")
		var verifyFailures atomic.Int32
		verifyFailures.Store(1)
		p := &fake.Provider{
			GenerateFunc: func(_ context.Context, req provider.Request) (provider.Result, error) {
				return provider.Result{Values: provider.Values{"value": []byte(fmt.Sprintf("key-%d", req.Revision))}, State: []byte("id-1")}, nil
			},
			VerifyFunc: func(context.Context, provider.Request, provider.Result) error {
				if verifyFailures.Add(-1) >= 0 {
					return provider.Transient(errors.New("verify: vendor answered 503"))
				}
				return nil
			},
			RevocableFunc: func(_ rotationv1alpha1.ProviderSpec, rev int64) bool { return rev > 0 },
		}
		op := startOperator(operatorOptions{random: p}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("vendor-key", ns, testgen.WithTarget("backend-env", "API_KEY"))
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "vendor answered 503 (attempt 1")
		Expect(secretData(ns, "backend-env")).To(BeNil(), "an unverified candidate reaches no target")

		clock.Step(11 * time.Second)
		poke(rs)
		got := cluster.WaitForRevision(rs, 1)
		Expect(secretValue(ns, "backend-env", "API_KEY")).To(Equal("key-1"), "the same candidate, verified again")
		Expect(p.Calls("Generate")).To(Equal(1))
		Expect(p.Calls("Verify")).To(Equal(2))
		Expect(p.Calls("Revoke")).To(BeZero())
		Expect(got.Status.Revocations).To(BeEmpty())
	})

	It("writes nothing anywhere when one target Secret is immutable or of a type Kubernetes owns", func() {
		ns := cluster.NewNamespace("t-")
		gh := &countingMirror{}
		op := startOperator(operatorOptions{github: gh}, ns)
		defer op.stop()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns},
			Immutable: ptr.To(true), Data: map[string][]byte{"other": []byte("x")}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns},
			Data: map[string][]byte{"ghp": []byte("ghp_test")}})).To(Succeed())
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"), testgen.WithTarget("frozen", "JWT_SECRET"),
			func(rs *rotationv1alpha1.RotatedSecret) {
				rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{GitHubActions: &rotationv1alpha1.GitHubActionsTarget{
					Repository: "tribi/backend", Name: "JWT_SECRET", TokenSecretRef: rotationv1alpha1.SecretKeyRef{Name: "token", Key: "ghp"}}})
			})
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonTargetRefused, "target Secret "+ns+"/frozen: it is immutable")
		Expect(settle(rs).Status.Mirrors).To(BeEmpty())
		Expect(secretData(ns, "backend-env")).To(BeNil(), "no Kubernetes target got the value")
		Expect(gh.puts.Load()).To(BeZero(), "no mirror holds a value that no Kubernetes target got")

		By("a TLS Secret is refused the same way")
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}})).To(Succeed())
		poke(rs)
		expectStalled(rs, rotationv1alpha1.ReasonTargetRefused, "its type kubernetes.io/tls")
		Expect(secretData(ns, "backend-env")).To(BeNil())
		Expect(gh.puts.Load()).To(BeZero())
	})
})

var _ = Describe("An http provider template with a loop", func() {
	It("is refused with InvalidSpec before any vendor call", func() {
		ns := cluster.NewNamespace("t-")
		var calls atomic.Int32
		vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusCreated)
		}))
		DeferCleanup(vendor.Close)
		op := startOperator(operatorOptions{providers: provider.Registry{provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1")})}}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("esim", ns, testgen.WithTarget("esim-env", "TOKEN"))
		rs.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: &rotationv1alpha1.HTTPProvider{
			Auth: rotationv1alpha1.HTTPAuth{SecretRef: rotationv1alpha1.SecretKeyRef{Name: "vendor-admin", Key: "token"}},
			Generate: rotationv1alpha1.HTTPRequest{Method: "POST", URL: rotationv1alpha1.HTTPURL(vendor.URL + "/v1/tokens"),
				Body: `{"n":[{{ range $i := .Revision }}{{ $i }},{{ end }}]}`},
			Outputs: map[string]string{"value": "{.token}"},
		}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonInvalidSpec, "spec.provider.http.generate.body")
		Expect(settle(rs).Status.Pending).To(BeNil(), "no rotation starts")
		Expect(calls.Load()).To(BeZero())
	})
})

var _ = Describe("Vendors that never answer", func() {
	It("cannot hold every worker: 100 random RotatedSecrets rotate while 16 vendor calls hang", func() {
		ns := cluster.NewNamespace("t-")
		release := make(chan struct{})
		var hanging, answered atomic.Int32
		vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hanging.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			answered.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		DeferCleanup(vendor.Close)
		DeferCleanup(func() { close(release) })
		// Each call may hang for a minute: only the vendor call slots keep workers free for everything else.
		slow := provider.Bound(httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1"), Timeout: time.Minute}), provider.NewSlots(2), time.Minute)
		op := startOperator(operatorOptions{workers: 4, providers: provider.Registry{provider.KindHTTP: slow}}, ns)
		defer op.stop()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vendor-admin"},
			StringData: map[string]string{"token": "admin"}})).To(Succeed())
		for i := range 16 {
			rs := testgen.RotatedSecret(fmt.Sprintf("esim-%d", i), ns, testgen.WithTarget("esim-env", fmt.Sprintf("TOKEN_%d", i)))
			rs.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: &rotationv1alpha1.HTTPProvider{
				Auth:     rotationv1alpha1.HTTPAuth{SecretRef: rotationv1alpha1.SecretKeyRef{Name: "vendor-admin", Key: "token"}},
				Generate: rotationv1alpha1.HTTPRequest{Method: "POST", URL: rotationv1alpha1.HTTPURL(vendor.URL + "/v1/tokens")},
				Outputs:  map[string]string{"value": "{.token}"},
			}}
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}
		Eventually(hanging.Load, wait).Should(BeEquivalentTo(2), "the vendor calls have taken their slots")

		var randoms []*rotationv1alpha1.RotatedSecret
		for i := range 100 {
			rs := testgen.RotatedSecret(fmt.Sprintf("random-%d", i), ns, testgen.WithTarget(fmt.Sprintf("app-%d", i), "SECRET"))
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
			randoms = append(randoms, rs)
		}
		for _, rs := range randoms {
			cluster.WaitForRevision(rs, 1)
		}
		for _, rs := range randoms {
			cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "forced")
		}
		for _, rs := range randoms {
			cluster.WaitForRevision(rs, 2)
		}
		Expect(answered.Load()).To(BeZero(), "every random rotation finished while the vendor calls still hung")
		Expect(hanging.Load()).To(BeEquivalentTo(2), "no more vendor calls than slots")
	})
})

// countingMirror is a GitHub Actions writer that only counts.
type countingMirror struct{ puts atomic.Int32 }

func (m *countingMirror) Put(context.Context, []byte, rotationv1alpha1.GitHubActionsTarget, []byte) error {
	m.puts.Add(1)
	return nil
}
