package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/tribi/secret-rotator/internal/provider"
)

// A vendor that answered 2xx carried out the call: whatever keeps its answer from being read, a credential may
// exist, and Generate must say so (IncompleteError) instead of letting the marker go and minting again.
func TestGenerateUnreadableSuccessIsIncomplete(t *testing.T) {
	const key = "cy_live_9b1f0c33d2e4"
	cases := []struct {
		name   string
		status int
		body   string
		opts   Options // Egress is local unless set
		want   string
	}{
		{name: "not JSON", status: http.StatusCreated, body: "api_key=" + key, want: "is not JSON"},
		{name: "HTML", status: http.StatusOK, body: "<html>" + key + "</html>", want: "is not JSON"},
		{name: "empty 204", status: http.StatusNoContent, want: "is not JSON"},
		{name: "too large", status: http.StatusCreated, body: `{"id": "k1", "api_key": "` + key + `", "partner_id": 1}`,
			opts: Options{Egress: local, MaxResponseBytes: 20}, want: "larger than 20 bytes"},
		{name: "output missing", status: http.StatusCreated, body: `{"id": "k1", "key": "` + key + `", "partner_id": 1}`,
			want: `outputs["value"] ({.api_key}) is missing`},
		{name: "id missing", status: http.StatusCreated, body: `{"key_id": "k1", "api_key": "` + key + `", "partner_id": 1}`,
			want: "the id ({.id}) is missing"},
		{name: "id null", status: http.StatusCreated, body: `{"id": null, "api_key": "` + key + `", "partner_id": 1}`,
			want: "the id ({.id}) is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixed(t, c.status, c.body)
			gd := &guard{}
			if c.opts.Egress == nil {
				c.opts.Egress = local
			}
			_, err := New(c.opts).Generate(context.Background(), request(specAt(f.srv.URL), 1, gd))
			g.Expect(kind(err)).To(Equal("incomplete"), "got %v", err)
			g.Expect(provider.Ambiguous(err)).To(BeTrue())
			g.Expect(err.Error()).To(ContainSubstring(c.want))
			g.Expect(gd.calls).To(Equal(1))
			expectClean(g, err, key, c.body, adminToken, "k1")
		})
	}
}

// hijack answers with raw bytes on the connection and then closes it.
func hijack(t *testing.T, raw string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGenerateConnectionLostAfterSending(t *testing.T) {
	t.Run("after 201, in the body", func(t *testing.T) {
		g := NewWithT(t)
		srv := hijack(t, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"api_key\": \"cy_live_cut")
		_, err := New(Options{Egress: local}).Generate(context.Background(), request(specAt(srv.URL), 1, &guard{}))
		g.Expect(kind(err)).To(Equal("incomplete"), "got %v", err)
		g.Expect(err).To(MatchError(ContainSubstring("answered 201 but its response could not be read")))
		expectClean(g, err, "cy_live_cut", adminToken)
	})
	t.Run("before any answer", func(t *testing.T) {
		g := NewWithT(t)
		srv := hijack(t, "")
		_, err := New(Options{Egress: local}).Generate(context.Background(), request(specAt(srv.URL), 1, &guard{}))
		g.Expect(kind(err)).To(Equal("incomplete"), "got %v", err)
		g.Expect(provider.Ambiguous(err)).To(BeTrue(), "the vendor got the whole request and may have minted")
		expectClean(g, err, adminToken)
	})
}

func TestVerifyAndRevokeFailuresThatSayNothingAreTransient(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusTooManyRequests, 0} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			g := NewWithT(t)
			base := gone.URL // 0: connection refused
			if status != 0 {
				base = newFixed(t, status, `{"error": "unavailable"}`).srv.URL
			}
			p := New(Options{Egress: local})
			err := p.Verify(context.Background(), request(specAt(base), 1, nil), candidate("cy_live_candidate"))
			g.Expect(kind(err)).To(Equal("transient"), "verify: got %v", err)
			g.Expect(provider.IsTransient(err)).To(BeTrue())
			g.Expect(provider.IsPermanent(err)).To(BeFalse())
			g.Expect(err.Error()).To(HavePrefix("verify: "))

			err = p.Revoke(context.Background(), request(specAt(base), 1, nil), candidate("cy_live_candidate"))
			g.Expect(kind(err)).To(Equal("transient"), "revoke: got %v", err)
			g.Expect(provider.IsTransient(err)).To(BeTrue())
			g.Expect(err.Error()).To(HavePrefix("revoke of revision 1: "))
			if status != 0 {
				g.Expect(err.Error()).To(HaveSuffix(fmt.Sprintf(`answered %d (vendor code "unavailable")`, status)))
			}
		})
	}
}

// silent accepts requests and never answers until the test ends.
func silent(t *testing.T) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

func TestEveryCallHasItsOwnDeadline(t *testing.T) {
	g := NewWithT(t)
	g.Expect(New(Options{Egress: local}).timeout).To(Equal(10 * time.Second))
	g.Expect(New(Options{Egress: local}).client.Timeout).To(BeZero(), "the per-call deadline bounds the call, not a client timeout")

	srv := silent(t)
	spec := specAt(srv.URL)
	p := New(Options{Egress: local, Timeout: 200 * time.Millisecond})
	// The caller's context has no deadline: the provider's own must release it.
	ctx := context.Background()

	start := time.Now()
	_, err := p.Generate(ctx, request(spec, 1, &guard{}))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))
	g.Expect(provider.Ambiguous(err)).To(BeTrue(), "a generate that timed out may have minted: got %v", err)
	g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "got %v", err)
	g.Expect(kind(err)).To(Equal("retryable"), "the timeout itself is returned, not wrapped as another kind")

	start = time.Now()
	err = p.Verify(ctx, request(spec, 1, nil), candidate("cy_live_candidate"))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))
	g.Expect(kind(err)).To(Equal("transient"), "got %v", err)

	start = time.Now()
	err = p.Revoke(ctx, request(spec, 1, nil), candidate("cy_live_candidate"))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))
	g.Expect(kind(err)).To(Equal("transient"), "got %v", err)

	// A body that stops half way after 201 also ends at the deadline; the vendor minted, so it is ambiguous.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"api_key": "cy_live_`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer stall.Close()
	start = time.Now()
	_, err = p.Generate(ctx, request(specAt(stall.URL), 1, &guard{}))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))
	g.Expect(provider.Ambiguous(err)).To(BeTrue(), "got %v", err)
	expectClean(g, err, "cy_live_", adminToken)
}

// echoVendor answers every call with status and an error body that echoes everything it knows: the credential it
// was sent, the request body, and the key it minted before, in the error code and in every other field.
func echoVendor(t *testing.T, status int, minted string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		echo := fmt.Sprintf("%s %s %s", auth, body, minted)
		b, _ := json.Marshal(map[string]any{
			"error":   map[string]any{"code": "not_found: " + echo, "message": echo},
			"code":    strings.TrimPrefix(auth, "Bearer "),
			"detail":  echo,
			"request": string(body),
		})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestErrorsNeverQuoteWhatTheVendorEchoes(t *testing.T) {
	const minted = "cy_live_4f0e2d9a7b1c"
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotAcceptable,
		http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			g := NewWithT(t)
			srv := echoVendor(t, status, minted)
			spec := specAt(srv.URL)
			spec.Revoke.Method = http.MethodPost
			spec.Revoke.Body = `{"key_id": "{{ .ID }}", "reason": "rotated by {{ .Namespace }}/{{ .Name }}"}`
			p := New(Options{Egress: local})
			forbidden := []string{adminToken, minted, "team-a/connectedyou", "cy_live", "Bearer", "label", "rotated by",
				"key_1", "not_found:"}

			_, err := p.Generate(context.Background(), request(spec, 1, &guard{}))
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`generate: the vendor answered %d$`, status), "nothing of the body, no code outside the list")

			err = p.Verify(context.Background(), request(spec, 1, nil), candidate(minted))
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`verify: verification with the new credential returned %d$`, status))

			old := candidate(minted)
			old.State = []byte(`{"id": "key_1"}`)
			err = p.Revoke(context.Background(), request(spec, 1, nil), old)
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`revoke of revision 1: the vendor answered %d$`, status))
		})
	}
}

func TestTransportErrorsNameNoAddressNorPath(t *testing.T) {
	g := NewWithT(t)
	srv := silent(t)
	old := candidate("cy_live_candidate")
	old.State = []byte(`{"id": "kid_5e1d"}`)
	err := New(Options{Egress: local, Timeout: 100 * time.Millisecond}).Revoke(context.Background(), request(specAt(srv.URL), 1, nil), old)
	g.Expect(kind(err)).To(Equal("transient"), "got %v", err)
	g.Expect(err).To(MatchError("revoke of revision 1: calling the vendor: timed out"))
	expectClean(g, err, "kid_5e1d", "/v1/keys", adminToken, strings.TrimPrefix(srv.URL, "http://"), "127.0.0.1")
}
