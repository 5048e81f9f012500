package controllers_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/crypto/nacl/box"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/sink/github"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// actions is GitHub's Actions secrets API for one repository: it serves a real public key and decrypts what is
// PUT with the private key, so the test sees exactly what a workflow would.
type actions struct {
	*httptest.Server
	mu      sync.Mutex
	token   string
	secrets map[string]string // path -> plaintext
}

func newActions() *actions {
	pub, priv, err := box.GenerateKey(rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	a := &actions{token: "ghp_test", secrets: map[string]string{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+a.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/public-key") {
			_ = json.NewEncoder(w).Encode(map[string]string{"key_id": "kid-1", "key": base64.StdEncoding.EncodeToString(pub[:])})
			return
		}
		var body struct{ EncryptedValue, KeyID string }
		var raw map[string]string
		Expect(json.NewDecoder(r.Body).Decode(&raw)).To(Succeed())
		body.EncryptedValue, body.KeyID = raw["encrypted_value"], raw["key_id"]
		sealed, err := base64.StdEncoding.DecodeString(body.EncryptedValue)
		Expect(err).NotTo(HaveOccurred())
		plain, ok := box.OpenAnonymous(nil, sealed, pub, priv)
		if !ok || body.KeyID != "kid-1" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		a.mu.Lock()
		a.secrets[r.URL.Path] = string(plain)
		a.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	DeferCleanup(a.Close)
	return a
}

func (a *actions) secret(path string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.secrets[path]
}

var _ = Describe("A GitHub Actions mirror", func() {
	It("gets every revision, sealed for the repository's key, and a refused token stalls with the Secret named", func() {
		ns := cluster.NewNamespace("t-")
		gh := newActions()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github-token"},
			StringData: map[string]string{"token": gh.token + "\n"}})).To(Succeed())
		op := startOperator(operatorOptions{github: github.New(github.Options{BaseURL: gh.URL})}, ns)
		defer op.stop()
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("backend-env", "JWT_SECRET"))
		rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{GitHubActions: &rotationv1alpha1.GitHubActionsTarget{
			Repository: "tribi/backend", Name: "BACKEND_JWT_SECRET", Environment: "production",
			TokenSecretRef: rotationv1alpha1.SecretKeyRef{Name: "github-token", Key: "token"}}})
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		const path = "/repos/tribi/backend/environments/production/secrets/BACKEND_JWT_SECRET"

		got := cluster.WaitForRevision(rs, 1)
		Expect(gh.secret(path)).To(Equal(secretValue(ns, "backend-env", "JWT_SECRET")))
		Expect(got.Status.Mirrors).To(ConsistOf(rotationv1alpha1.MirrorStatus{Target: "github:tribi/backend/production/BACKEND_JWT_SECRET", Revision: 1}))

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.WaitForRevision(rs, 2)
		Expect(gh.secret(path)).To(Equal(secretValue(ns, "backend-env", "JWT_SECRET")))
		Expect(cluster.RotatedSecret(rs).Status.Mirrors[0].Revision).To(BeEquivalentTo(2))

		By("GitHub refuses the token: nothing is committed and the token Secret is named")
		gh.mu.Lock()
		gh.token = "ghp_rotated"
		gh.mu.Unlock()
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "t2")
		before := secretValue(ns, "backend-env", "JWT_SECRET")
		expectStalled(rs, rotationv1alpha1.ReasonMirrorFailed, "Secret github-token")
		Expect(cluster.RotatedSecret(rs).Status.CurrentRevision).To(BeEquivalentTo(2))
		Expect(secretValue(ns, "backend-env", "JWT_SECRET")).To(Equal(before), "no Kubernetes target changes before the mirror has the value")
	})
})
