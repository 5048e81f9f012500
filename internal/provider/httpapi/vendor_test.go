package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
)

// adminToken is the operator's own credential at the test vendor.
const adminToken = "admin-token-7f3c9a51e2"

var adminRef = rotationv1alpha1.SecretKeyRef{Name: "connectedyou-admin", Key: "token"}

// local is the egress policy of the tests: every test vendor listens on 127.0.0.1.
var local = egress.MustParse("127.0.0.1")

// vendor is an in-test ConnectedYou: POST /v1/keys mints {id, api_key, partner_id} with the admin token,
// GET /v1/inventory answers 200 for a live key, DELETE /v1/keys/{id} revokes (404 when gone or unknown).
type vendor struct {
	srv *httptest.Server

	mu       sync.Mutex
	minted   int
	live     map[string]string // id → api_key
	keys     []string          // every api_key ever minted
	requests []string          // "METHOD /path", in order
	bodies   []string          // request bodies of POST /v1/keys
	sent     []string          // every response body
	revoked  []string          // ids revoked, in order
}

func newVendor(t *testing.T) *vendor {
	v := &vendor{live: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/keys", v.mint)
	mux.HandleFunc("GET /v1/inventory", v.inventory)
	mux.HandleFunc("DELETE /v1/keys/{id}", v.revoke)
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		v.requests = append(v.requests, r.Method+" "+r.URL.Path)
		v.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

// reply writes a JSON response and remembers its body, which no error may quote.
func (v *vendor) reply(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	v.mu.Lock()
	v.sent = append(v.sent, string(b))
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (v *vendor) admin(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+adminToken {
		v.reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "detail": "admin token rejected (request 8d1e77)"})
		return false
	}
	return true
}

func (v *vendor) mint(w http.ResponseWriter, r *http.Request) {
	if !v.admin(w, r) {
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		v.reply(w, http.StatusUnsupportedMediaType, map[string]string{"error": "json_only"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	key := "cy_live_" + hex.EncodeToString(buf)
	v.mu.Lock()
	v.minted++
	id := fmt.Sprintf("key_%d", v.minted)
	v.live[id] = key
	v.keys = append(v.keys, key)
	v.bodies = append(v.bodies, string(body))
	n := v.minted
	v.mu.Unlock()
	v.reply(w, http.StatusCreated, map[string]any{"id": id, "api_key": key, "partner_id": 4700 + n, "scopes": []string{"inventory"}})
}

func (v *vendor) inventory(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	v.mu.Lock()
	ok := false
	for _, k := range v.live {
		ok = ok || k == token
	}
	v.mu.Unlock()
	if !ok {
		v.reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid_api_key", "detail": "key unknown or revoked"})
		return
	}
	v.reply(w, http.StatusOK, map[string]any{"items": []string{"esim-de-5gb"}})
}

func (v *vendor) revoke(w http.ResponseWriter, r *http.Request) {
	if !v.admin(w, r) {
		return
	}
	id := r.PathValue("id")
	v.mu.Lock()
	_, ok := v.live[id]
	if ok {
		delete(v.live, id)
		v.revoked = append(v.revoked, id)
	}
	v.mu.Unlock()
	if !ok {
		v.reply(w, http.StatusNotFound, map[string]string{"error": "not_found"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// seen returns the requests the vendor received so far.
func (v *vendor) seen() []string { return v.locked(&v.requests) }

// mintedKeys returns the keys minted so far, mintBodies the bodies of the mint requests, revokedIDs the ids
// revoked.
func (v *vendor) mintedKeys() []string { return v.locked(&v.keys) }
func (v *vendor) mintBodies() []string { return v.locked(&v.bodies) }
func (v *vendor) revokedIDs() []string { return v.locked(&v.revoked) }

func (v *vendor) locked(s *[]string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string{}, *s...)
}

// liveIDs returns the ids of the keys that still work.
func (v *vendor) liveIDs() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := []string{}
	for id := range v.live {
		ids = append(ids, id)
	}
	return ids
}

// expectClean asserts that err quotes neither the admin token, nor any key the vendor minted, nor any response
// body it sent, nor any of extra.
func (v *vendor) expectClean(g Gomega, err error, extra ...string) {
	v.mu.Lock()
	forbidden := append(append(append([]string{adminToken}, v.keys...), v.sent...), extra...)
	v.mu.Unlock()
	expectClean(g, err, forbidden...)
}

// expectClean asserts that err is set and quotes none of forbidden.
func expectClean(g Gomega, err error, forbidden ...string) {
	g.ExpectWithOffset(1, err).To(HaveOccurred())
	for _, f := range forbidden {
		if f != "" {
			g.ExpectWithOffset(1, err.Error()).NotTo(ContainSubstring(f))
		}
	}
}

// spec is the ConnectedYou configuration of the provider against v.
func (v *vendor) spec() *rotationv1alpha1.HTTPProvider { return specAt(v.srv.URL) }

// specAt is the ConnectedYou configuration of the provider against a vendor at base.
func specAt(base string) *rotationv1alpha1.HTTPProvider {
	return &rotationv1alpha1.HTTPProvider{
		Auth: rotationv1alpha1.HTTPAuth{SecretRef: adminRef},
		Generate: rotationv1alpha1.HTTPRequest{
			URL:  rotationv1alpha1.HTTPURL(base + "/v1/keys"),
			Body: `{"label": "{{ .Namespace }}/{{ .Name }}", "revision": {{ .Revision }}}`,
		},
		Outputs: map[string]string{"value": "{.api_key}", "partner_id": "{.partner_id}"},
		ID:      "{.id}",
		Verify:  &rotationv1alpha1.HTTPVerify{URL: rotationv1alpha1.HTTPURL(base + "/v1/inventory")},
		Revoke:  &rotationv1alpha1.HTTPRequest{URL: rotationv1alpha1.HTTPURL(base + "/v1/keys/{{ .ID }}")},
	}
}

// creds is a provider.Credentials over a map; a missing key is a CredentialError, as in the operator.
type creds map[rotationv1alpha1.SecretKeyRef]string

func (c creds) Credential(_ context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error) {
	v, ok := c[ref]
	if !ok {
		return nil, &provider.CredentialError{Ref: ref, Err: errors.New("not found")}
	}
	return []byte(v), nil
}

// guard counts Begin calls and records how many requests the vendor had seen at the first one.
type guard struct {
	v     *vendor
	err   error
	calls int
	seen  int
}

func (g *guard) Begin(context.Context) error {
	if g.calls == 0 && g.v != nil {
		g.seen = len(g.v.seen())
	}
	g.calls++
	return g.err
}

// request is a request for revision rev of team-a/connectedyou with the right admin token.
func request(spec *rotationv1alpha1.HTTPProvider, rev int64, gd provider.Guard) provider.Request {
	return provider.Request{
		Namespace: "team-a", Name: "connectedyou", Revision: rev,
		Spec:        rotationv1alpha1.ProviderSpec{HTTP: spec},
		Credentials: creds{adminRef: adminToken},
		Guard:       gd,
	}
}

// kind classifies err the way the reconciler does.
func kind(err error) string {
	var ce *provider.CredentialError
	var inc *provider.IncompleteError
	var tr *provider.TransientError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ce):
		return "credential"
	case errors.As(err, &inc):
		return "incomplete"
	case errors.As(err, &tr):
		return "transient"
	case provider.IsPermanent(err):
		return "permanent"
	}
	return "retryable"
}

// recorded is one request a fixed server received.
type recorded struct {
	method, path, body string
	header             http.Header
}

// fixedServer answers every request with status and body and records what it received.
type fixedServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFixed(t *testing.T, status int, body string) *fixedServer {
	f := &fixedServer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{method: r.Method, path: r.URL.EscapedPath(), body: string(b), header: r.Header.Clone()})
		f.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixedServer) received() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}
