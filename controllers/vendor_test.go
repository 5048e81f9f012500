package controllers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// vendor is an eSIM vendor's key API, stateful: POST /v1/keys (admin token) mints a key and a partner id,
// GET /v1/inventory answers 200 for a live key and 401 otherwise, DELETE /v1/keys/{id} revokes.
type vendor struct {
	*httptest.Server
	mu      sync.Mutex
	admin   string
	keys    map[string]string // id -> key
	live    map[string]bool   // key -> live
	minted  int
	fail500 bool
	onMint  func() // called after a key is minted, before the response is sent
	// calls records "mint <id>" and "revoke <id>" in order; failRevoke answers 500 to revocations.
	calls      []string
	failRevoke bool
}

func newVendor() *vendor {
	v := &vendor{admin: "admin-token", keys: map[string]string{}, live: map[string]bool{}}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	DeferCleanup(v.Close)
	return v
}

func (v *vendor) serve(w http.ResponseWriter, r *http.Request) {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	v.mu.Lock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/keys":
		if auth != v.admin {
			v.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if v.fail500 {
			v.mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		v.minted++
		id, key := fmt.Sprintf("k%d", v.minted), fmt.Sprintf("cy_live_%d_%d", v.minted, time.Now().UnixNano())
		v.keys[id], v.live[key] = key, true
		v.calls = append(v.calls, "mint "+id)
		onMint := v.onMint
		v.mu.Unlock()
		if onMint != nil {
			onMint()
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "api_key": key, "partner_id": "tribi-" + id})
		return
	case r.Method == http.MethodGet && r.URL.Path == "/v1/inventory":
		if !v.live[auth] {
			w.WriteHeader(http.StatusUnauthorized)
		}
	case r.Method == http.MethodDelete && v.failRevoke:
		w.WriteHeader(http.StatusInternalServerError)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1/keys/"):
		v.calls = append(v.calls, "revoke "+strings.TrimPrefix(r.URL.Path, "/v1/keys/"))
		key, ok := v.keys[strings.TrimPrefix(r.URL.Path, "/v1/keys/")]
		if !ok || !v.live[key] {
			w.WriteHeader(http.StatusNotFound)
		}
		v.live[key] = false
	default:
		w.WriteHeader(http.StatusNotFound)
	}
	v.mu.Unlock()
}

func (v *vendor) isLive(key string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.live[key]
}

func (v *vendor) mintedKeys() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.minted
}

func (v *vendor) log() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.calls)
}

func (v *vendor) set(f func(v *vendor)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v)
}

// connectedYou is CONNECTED_YOU_API_KEY and CONNECTED_YOU_PARTNER_ID from one vendor call, checked by a smoke
// test before the old key is revoked.
func connectedYou(ns string, v *vendor) *rotationv1alpha1.RotatedSecret {
	rs := testgen.RotatedSecret("connectedyou", ns, testgen.WithTTL("60d"),
		testgen.WithValidation("", "15m", "smoke"))
	rs.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: &rotationv1alpha1.HTTPProvider{
		Auth:     rotationv1alpha1.HTTPAuth{SecretRef: rotationv1alpha1.SecretKeyRef{Name: "connectedyou-admin", Key: "token"}},
		Generate: rotationv1alpha1.HTTPRequest{Method: "POST", URL: rotationv1alpha1.HTTPURL(v.URL + "/v1/keys"), Body: `{"partner":"tribi","revision":{{ .Revision }}}`},
		Outputs:  map[string]string{"value": "{.api_key}", "partner_id": "{.partner_id}"},
		ID:       "{.id}",
		Verify:   &rotationv1alpha1.HTTPVerify{URL: rotationv1alpha1.HTTPURL(v.URL + "/v1/inventory?limit=1")},
		Revoke:   &rotationv1alpha1.HTTPRequest{Method: "DELETE", URL: rotationv1alpha1.HTTPURL(v.URL + "/v1/keys/{{ .ID }}")},
	}}
	rs.Spec.Targets = []rotationv1alpha1.Target{
		{SecretName: "backend-env", Key: "CONNECTED_YOU_API_KEY", From: "value"},
		{SecretName: "backend-env", Key: "CONNECTED_YOU_PARTNER_ID", From: "partner_id"},
	}
	return rs
}

var _ = Describe("A vendor HTTP API provider (ConnectedYou)", func() {
	var ns string
	var v *vendor
	var op *operator
	start := func(hook func(string) bool) {
		op = startOperator(operatorOptions{hook: hook, providers: provider.Registry{provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1")})}}, ns)
	}
	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		v = newVendor()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "connectedyou-admin"},
			StringData: map[string]string{"token": v.admin}})).To(Succeed())
	})
	AfterEach(func() {
		if op != nil {
			op.stop()
		}
	})

	It("writes two outputs, verifies the new key, and revokes the old key only after validation passes", func() {
		start(nil)
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		passValidation(rs, 1)
		key1 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")
		Expect(key1).To(HavePrefix("cy_live_1_"))
		Expect(secretValue(ns, "backend-env", "CONNECTED_YOU_PARTNER_ID")).To(Equal("tribi-k1"))

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		waitForJob(ns, "connectedyou-smoke-r2")
		key2 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")
		Expect(key2).To(HavePrefix("cy_live_2_"), "the new key is in the targets while the smoke test runs")
		Consistently(func() bool { return v.isLive(key1) }, time.Second).Should(BeTrue(), "the old key stays until validation passes")

		finishJob(ns, "connectedyou-smoke-r2", true)
		cluster.WaitForRevision(rs, 2)
		Eventually(func() bool { return v.isLive(key1) }, wait).Should(BeFalse(), "the old key is revoked after the commit")
		Expect(v.isLive(key2)).To(BeTrue())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonOldCredentialRevoked))
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(v.mintedKeys()).To(Equal(2))
	})

	It("revokes the new key instead when validation fails, and the old key stays in service", func() {
		start(nil)
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		passValidation(rs, 1)
		key1 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		waitForJob(ns, "connectedyou-smoke-r2")
		key2 := secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")
		finishJob(ns, "connectedyou-smoke-r2", false)
		expectStalled(rs, rotationv1alpha1.ReasonRolledBack, "connectedyou-smoke-r2 failed")
		Expect(secretValue(ns, "backend-env", "CONNECTED_YOU_API_KEY")).To(Equal(key1))
		Eventually(func() bool { return v.isLive(key2) }, wait).Should(BeFalse(), "the failed rotation's key is revoked")
		Expect(v.isLive(key1)).To(BeTrue())
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonNewCredentialRevoked))
	})

	It("backs off on 500s and says which Secret holds a refused credential", func() {
		v.set(func(v *vendor) { v.fail500 = true })
		start(nil)
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "attempt 1")
		Expect(cluster.RotatedSecret(rs).Status.FailedAttempts).To(BeEquivalentTo(1))
		Expect(v.mintedKeys()).To(BeZero())
		Expect(secretData(ns, "backend-env")).To(BeNil(), "nothing reaches a target")

		v.set(func(v *vendor) { v.fail500, v.admin = false, "rotated-admin-token" })
		clock.Step(time.Minute)
		poke(rs)
		expectStalled(rs, rotationv1alpha1.ReasonCredentialInvalid, "Secret connectedyou-admin")
		Expect(v.mintedKeys()).To(BeZero())
	})

	It("stalls instead of minting twice when the operator dies between the vendor call and recording its result", func() {
		// The operator "dies" the moment the vendor has minted the key: it never stages what came back.
		var dead atomic.Bool
		v.set(func(v *vendor) { v.onMint = func() { dead.Store(true) } })
		start(func(string) bool { return dead.Load() })
		rs := connectedYou(ns, v)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		Eventually(v.mintedKeys, wait).Should(Equal(1))
		Eventually(dead.Load, wait).Should(BeTrue())
		op.stop()
		v.set(func(v *vendor) { v.onMint = nil })

		start(nil)
		expectStalled(rs, rotationv1alpha1.ReasonGenerateIncomplete, "check the vendor")
		Consistently(v.mintedKeys, 2*time.Second).Should(Equal(1), "no second key is minted")
		Expect(secretData(ns, "backend-env")).To(BeNil())

		By("a new rotate token is the owner's go-ahead")
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "checked-vendor")
		passValidation(rs, 1)
		Expect(v.mintedKeys()).To(Equal(2))
	})
})
