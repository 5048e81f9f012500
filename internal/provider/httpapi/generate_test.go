package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

func TestRotationAgainstVendor(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	v := newVendor(t)
	spec := v.spec()
	p := New(Options{Egress: local})

	old, err := p.Generate(ctx, request(spec, 1, &guard{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(old.Values).To(HaveLen(2))
	g.Expect(string(old.Values["value"])).To(Equal(v.mintedKeys()[0]))
	g.Expect(string(old.Values["partner_id"])).To(Equal("4701"), "a number is written as the vendor sent it")
	g.Expect(old.State).To(MatchJSON(`{"id": "key_1"}`))
	g.Expect(v.mintBodies()[0]).To(MatchJSON(`{"label": "team-a/connectedyou", "revision": 1}`), "the body template reaches the vendor")
	g.Expect(p.Verify(ctx, request(spec, 1, nil), old)).To(Succeed())

	cur, err := p.Generate(ctx, request(spec, 2, &guard{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cur.State).To(MatchJSON(`{"id": "key_2"}`))
	g.Expect(cur.Values["value"]).NotTo(Equal(old.Values["value"]))
	g.Expect(v.mintBodies()[1]).To(MatchJSON(`{"label": "team-a/connectedyou", "revision": 2}`))
	g.Expect(p.Verify(ctx, request(spec, 2, nil), cur)).To(Succeed())

	// Revoking the old credential revokes exactly its id; the new key keeps working.
	g.Expect(p.Revoke(ctx, request(spec, 1, nil), old)).To(Succeed())
	g.Expect(v.revokedIDs()).To(Equal([]string{"key_1"}))
	g.Expect(v.liveIDs()).To(ConsistOf("key_2"))
	g.Expect(p.Verify(ctx, request(spec, 2, nil), cur)).To(Succeed())

	err = p.Verify(ctx, request(spec, 1, nil), old)
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(err).To(MatchError(ContainSubstring("verification with the new credential returned 401")))
	v.expectClean(g, err)

	// A second revoke reaches the vendor, gets 404 and succeeds.
	g.Expect(p.Revoke(ctx, request(spec, 1, nil), old)).To(Succeed())
	g.Expect(v.seen()[len(v.seen())-1]).To(Equal("DELETE /v1/keys/key_1"))
	g.Expect(v.revokedIDs()).To(Equal([]string{"key_1"}))

	// Revision 0 predates the operator: no state, nothing revoked, no request.
	before := len(v.seen())
	g.Expect(p.Revoke(ctx, request(spec, 0, nil), provider.Result{Values: provider.Values{"value": []byte("legacy")}})).To(Succeed())
	g.Expect(p.Revoke(ctx, request(spec, 0, nil), provider.Result{State: []byte(`{}`)})).To(Succeed())
	g.Expect(v.seen()).To(HaveLen(before))
	g.Expect(v.liveIDs()).To(ConsistOf("key_2"))
}

func TestGenerateBeginsTheGuardBeforeTheCall(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	gd := &guard{v: v}
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(v.spec(), 1, gd))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gd.calls).To(Equal(1))
	g.Expect(gd.seen).To(Equal(0), "the vendor saw a request before the guard was recorded")
	g.Expect(v.seen()).To(Equal([]string{"POST /v1/keys"}))
}

func TestGenerateDoesNotCallWithoutGuard(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	boom := errors.New("conflict writing the pending marker")
	gd := &guard{v: v, err: boom}
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(v.spec(), 1, gd))
	g.Expect(err).To(MatchError(boom))
	g.Expect(gd.calls).To(Equal(1))
	g.Expect(v.seen()).To(BeEmpty())

	_, err = New(Options{Egress: local}).Generate(context.Background(), request(v.spec(), 1, nil))
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(v.seen()).To(BeEmpty())
}

func TestGenerateWithWrongAdminToken(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	const wrong = "admin-token-from-last-year"
	req := request(v.spec(), 1, &guard{})
	req.Credentials = creds{adminRef: wrong}
	_, err := New(Options{Egress: local}).Generate(context.Background(), req)
	var ce *provider.CredentialError
	g.Expect(errors.As(err, &ce)).To(BeTrue(), "got %v", err)
	g.Expect(ce.Ref).To(Equal(adminRef))
	g.Expect(err.Error()).To(ContainSubstring("connectedyou-admin"))
	g.Expect(err.Error()).To(ContainSubstring("401"))
	g.Expect(err.Error()).To(ContainSubstring(`vendor code "invalid_token"`))
	v.expectClean(g, err, wrong, "8d1e77")
	g.Expect(v.liveIDs()).To(BeEmpty())
}

func TestGenerateCredentialTrimmed(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	req := request(v.spec(), 1, &guard{})
	req.Credentials = creds{adminRef: adminToken + "\n"} // kubectl create secret --from-file of an echo
	_, err := New(Options{Egress: local}).Generate(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v.liveIDs()).To(ConsistOf("key_1"))
}

func TestGenerateMissingCredential(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	req := request(v.spec(), 1, &guard{})
	gd := &guard{}
	req.Guard = gd
	req.Credentials = creds{}
	_, err := New(Options{Egress: local}).Generate(context.Background(), req)
	var ce *provider.CredentialError
	g.Expect(errors.As(err, &ce)).To(BeTrue())
	g.Expect(ce.Err).To(MatchError("not found"), "the reader's error is returned as it is")
	g.Expect(gd.calls).To(BeZero())
	g.Expect(v.seen()).To(BeEmpty())
}

func TestGenerateStatus(t *testing.T) {
	const body = `{"error": "quota_exceeded", "detail": "partner 4711 used key cy_live_0123456789abcdef"}`
	cases := []struct {
		status int
		want   string
	}{
		{http.StatusInternalServerError, "retryable"},
		{http.StatusBadGateway, "retryable"},
		{http.StatusTooManyRequests, "retryable"},
		{http.StatusUnauthorized, "credential"},
		{http.StatusForbidden, "credential"},
		{http.StatusBadRequest, "permanent"},
		{http.StatusConflict, "permanent"},
		{http.StatusFound, "permanent"},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			g := NewWithT(t)
			f := newFixed(t, c.status, body)
			spec := specAt(f.srv.URL)
			_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, &guard{}))
			g.Expect(kind(err)).To(Equal(c.want), "got %v", err)
			g.Expect(err.Error()).To(ContainSubstring("answered %d", c.status))
			g.Expect(err.Error()).To(ContainSubstring(`vendor code "quota_exceeded"`))
			expectClean(g, err, adminToken, body, "partner 4711", "cy_live_0123456789abcdef")
			g.Expect(f.received()).To(HaveLen(1), "a redirect is not followed")
		})
	}
}

func TestVendorCodeIsAllowListed(t *testing.T) {
	cases := []struct {
		body, want string
	}{
		{`{"code": "RATE_LIMITED", "message": "slow down"}`, ` (vendor code "rate_limited")`},
		{`{"error": {"code": "Not-Found", "message": "no such key"}}`, ` (vendor code "not_found")`},
		{`{"error": "quota exceeded"}`, ` (vendor code "quota_exceeded")`},
		{`{"error": "resource_missing"}`, ""}, // not in the list
		{`{"error": "bad\n\"thing\"<script>"}`, ""},
		{`{"error": "not_found ` + adminToken + `"}`, ""},
		{`{"error": "` + adminToken + `"}`, ""},
		{`{"error": "` + strings.Repeat("x", 300) + `"}`, ""},
		{`{"error": 42}`, ""},
		{`<html>502 Bad Gateway</html>`, ""},
		{`["error"]`, ""},
	}
	for _, c := range cases {
		g := NewWithT(t)
		g.Expect(vendorCode(response{status: 400, body: []byte(c.body)})).To(Equal(c.want), c.body)
	}
}

func TestGenerateResponseLimit(t *testing.T) {
	g := NewWithT(t)
	key := "cy_live_" + strings.Repeat("a", 2000)
	body := `{"id": "k1", "api_key": "` + key + `", "partner_id": 1}`
	f := newFixed(t, http.StatusCreated, body)
	spec := specAt(f.srv.URL)

	res, err := New(Options{Egress: local, MaxResponseBytes: int64(len(body))}).Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(res.Values["value"])).To(Equal(key))

	_, err = New(Options{Egress: local, MaxResponseBytes: int64(len(body) - 1)}).Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(kind(err)).To(Equal("incomplete"), "the vendor minted a key nobody could read")
	g.Expect(err).To(MatchError(ContainSubstring("larger than")))
	expectClean(g, err, key, body, adminToken)
}

func TestGenerateTransportFailuresAreRetryable(t *testing.T) {
	g := NewWithT(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	spec := specAt(gone.URL)
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(kind(err)).To(Equal("retryable"), "got %v", err)
	g.Expect(provider.Ambiguous(err)).To(BeFalse(), "a refused connection minted nothing")
	expectClean(g, err, adminToken)

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving only once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	spec = specAt(slow.URL)
	p := New(Options{Egress: local, Timeout: 100 * time.Millisecond})
	_, err = p.Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(kind(err)).To(Equal("retryable"), "got %v", err)
	g.Expect(provider.Ambiguous(err)).To(BeTrue(), "a timed out generate may have minted")
	expectClean(g, err, adminToken)
}

func TestGenerateURLRule(t *testing.T) {
	for _, u := range []string{
		"http://vendor.example/v1/keys",
		"http://10.0.0.1/v1/keys",
		"http://127.0.0.2/v1/keys",
		"http://localhost.vendor.example/v1/keys",
		"http://{{ .Namespace }}.svc/v1/keys", // rendered, then checked
		"ftp://127.0.0.1/v1/keys",
		"https:///v1/keys",
		"//vendor.example/v1/keys",
		"https://user:pass@vendor.example/v1/keys",
	} {
		t.Run(u, func(t *testing.T) {
			g := NewWithT(t)
			spec := specAt("https://unused.example")
			spec.Generate.URL = rotationv1alpha1.HTTPURL(u)
			gd := &guard{}
			_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, gd))
			g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
			g.Expect(gd.calls).To(BeZero())
			expectClean(g, err, adminToken, "pass")
		})
	}
	g := NewWithT(t)
	for _, u := range []string{"https://api.connectedyou.example/v1/keys", "http://127.0.0.1:8080/v1", "http://LOCALHOST/x?y=1", "http://[::1]:9/"} {
		g.Expect(checkURL("url", u)).To(Succeed(), u)
	}
}

func TestGenerateOutputs(t *testing.T) {
	const body = `{"id": "k9", "api_key": "cy_live_feedface", "partner_id": 12345678901234567890, "ratio": 1000000,
		"empty": "", "none": null, "data": {"key": "nested"}, "ok": true}`
	cases := []struct {
		name    string
		outputs map[string]string
		id      string
		want    provider.Values // nil: a permanent error naming missing
		missing string
	}{
		{name: "plain", outputs: map[string]string{"value": "{.api_key}", "n": "{.partner_id}", "r": "{.ratio}", "b": "{.ok}"}, id: "{.id}",
			want: provider.Values{"value": []byte("cy_live_feedface"), "n": []byte("12345678901234567890"), "r": []byte("1000000"), "b": []byte("true")}},
		{name: "kubectl style without braces", outputs: map[string]string{"value": ".data.key"},
			want: provider.Values{"value": []byte("nested")}},
		{name: "absent", outputs: map[string]string{"value": "{.api_key}", "partner_id": "{.partner}"}, missing: `outputs["partner_id"]`},
		{name: "empty", outputs: map[string]string{"value": "{.empty}"}, missing: `outputs["value"]`},
		{name: "null", outputs: map[string]string{"value": "{.none}"}, missing: `outputs["value"]`},
		{name: "id absent", outputs: map[string]string{"value": "{.api_key}"}, id: "{.key_id}", missing: "the id ({.key_id})"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixed(t, http.StatusOK, body)
			spec := specAt(f.srv.URL)
			spec.Outputs, spec.ID = c.outputs, c.id
			res, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, &guard{}))
			if c.missing == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.Values).To(Equal(c.want))
				return
			}
			g.Expect(kind(err)).To(Equal("incomplete"), "got %v", err)
			g.Expect(err.Error()).To(ContainSubstring(c.missing))
			expectClean(g, err, body, "cy_live_feedface", "nested", adminToken)
		})
	}
}

func TestGenerateOutputOverANull(t *testing.T) {
	// client-go's jsonpath panics when it indexes or ranges over a null; the vendor has minted by then.
	for body, expr := range map[string]string{
		`null`:                  "{[0]}",
		`{"keys": null}`:        "{range .keys[*]}{[0]}{end}",
		`{"keys": [null, "k"]}`: "{.keys[0][0]}",
	} {
		g := NewWithT(t)
		f := newFixed(t, http.StatusOK, body)
		spec := specAt(f.srv.URL)
		spec.Outputs, spec.ID = map[string]string{"value": expr}, ""
		_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, &guard{}))
		g.Expect(kind(err)).To(Equal("incomplete"), "%s on %s: %v", expr, body, err)
		g.Expect(err.Error()).To(ContainSubstring(`outputs["value"] (` + expr + `) is missing or empty`))
	}
}

func TestGenerateNotJSON(t *testing.T) {
	g := NewWithT(t)
	f := newFixed(t, http.StatusOK, `api_key=cy_live_feedface`)
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(specAt(f.srv.URL), 1, &guard{}))
	g.Expect(kind(err)).To(Equal("incomplete"))
	expectClean(g, err, "cy_live_feedface", "api_key", "=")
}

func TestGenerateConfigErrorsComeBeforeTheGuard(t *testing.T) {
	cases := map[string]func(*rotationv1alpha1.HTTPProvider){
		"bad JSONPath":      func(s *rotationv1alpha1.HTTPProvider) { s.Outputs["value"] = "{.api_key" },
		"bad id JSONPath":   func(s *rotationv1alpha1.HTTPProvider) { s.ID = "{.id[}" },
		"no outputs":        func(s *rotationv1alpha1.HTTPProvider) { s.Outputs = nil },
		"body not JSON":     func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Body = `{"revision": {{ .Revision }}` },
		"ID in generate":    func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Body = `{"id": "{{ .ID }}"}` },
		"bad URL template":  func(s *rotationv1alpha1.HTTPProvider) { s.Generate.URL += "/{{ .Revision" },
		"bad auth template": func(s *rotationv1alpha1.HTTPProvider) { s.Auth.ValueTemplate = "Bearer {{ .Token }}" },
		"bad header name":   func(s *rotationv1alpha1.HTTPProvider) { s.Auth.Header = "X Api Key" },
		"control in header": func(s *rotationv1alpha1.HTTPProvider) { s.Auth.ValueTemplate = "Bearer {{ .Secret }}\r\nX-Evil: 1" },
		"bad method":        func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Method = "PO ST" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			v := newVendor(t)
			spec := v.spec()
			mutate(spec)
			gd := &guard{}
			_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, gd))
			g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
			g.Expect(gd.calls).To(BeZero())
			g.Expect(v.seen()).To(BeEmpty())
			v.expectClean(g, err)
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	g := NewWithT(t)
	elsewhere := newFixed(t, http.StatusOK, `{"api_key": "x"}`)
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.srv.URL+"/v1/keys", http.StatusTemporaryRedirect))
	defer redirect.Close()
	spec := specAt(redirect.URL)
	spec.Auth.Header, spec.Auth.ValueTemplate = "X-Api-Key", "{{ .Secret }}"
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(err).To(MatchError(ContainSubstring("answered 307")))
	g.Expect(elsewhere.received()).To(BeEmpty(), "the credential followed a redirect")
}
