package stripe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestOptionsRefuseClearTextToOtherHosts(t *testing.T) {
	g := NewWithT(t)
	for _, ok := range []string{"", "https://api.stripe.com", "http://127.0.0.1:12111", "http://localhost:1/", "http://[::1]:8080"} {
		_, err := NewWebhook(Options{BaseURL: ok})
		g.Expect(err).NotTo(HaveOccurred(), ok)
	}
	for _, bad := range []string{"http://api.stripe.com", "http://10.0.0.1:12111", "ftp://x", "https://", "::"} {
		_, err := NewSecretKey(Options{BaseURL: bad})
		g.Expect(err).To(HaveOccurred(), bad)
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"object":"balance","pad":"` + strings.Repeat("x", MaxResponseBytes) + `"}`))
	}))
	t.Cleanup(srv.Close)
	a, err := newAPI(Options{BaseURL: srv.URL})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = a.balance(context.Background(), "sk_test_x")
	g.Expect(err).To(MatchError(ContainSubstring("larger than")))

	small := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"object":"balance","livemode":true}`))
	}))
	t.Cleanup(small.Close)
	a, _ = newAPI(Options{BaseURL: small.URL, HTTPClient: &http.Client{}})
	b, err := a.balance(context.Background(), "sk_test_x")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.Livemode).To(BeTrue())
}

func TestRedact(t *testing.T) {
	g := NewWithT(t)
	const key = "rk_live_abcdefghijklmnop1234"
	msg := redact("The provided key 'rk_live_****1234' (was "+key+"), Authorization was 'Basic cmtfbGl2ZV8=' whsec_abc", key)
	g.Expect(msg).NotTo(ContainSubstring("abcdefgh"))
	g.Expect(msg).NotTo(ContainSubstring("cmtfbGl2ZV8"))
	g.Expect(msg).NotTo(ContainSubstring("whsec_abc"))
	g.Expect(msg).To(ContainSubstring("The provided key"))
	g.Expect(hint(key)).To(Equal("1234"))
	g.Expect(hint("sk_test_123")).To(BeEmpty(), "too short to give 4 characters away")
}
