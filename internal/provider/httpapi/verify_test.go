package httpapi

import (
	"context"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// candidate is a generated result with a key and a partner id.
func candidate(key string) provider.Result {
	return provider.Result{Values: provider.Values{"value": []byte(key), "partner_id": []byte("4701")}, State: []byte(`{"id":"k1"}`)}
}

func TestVerifyWithoutSpecAcceptsAndCallsNothing(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	spec := v.spec()
	spec.Verify = nil
	g.Expect(New(Options{Egress: local}).Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_unknown"))).To(Succeed())
	g.Expect(v.seen()).To(BeEmpty())
}

func TestVerifySendsTheCandidateInTheAuthHeader(t *testing.T) {
	g := NewWithT(t)
	f := newFixed(t, http.StatusOK, `{"items": []}`)
	spec := specAt(f.srv.URL)
	spec.Auth.Header, spec.Auth.ValueTemplate = "X-Api-Key", "key={{ .Secret }}"
	spec.Verify.AuthWith, spec.Verify.Method = "partner_id", http.MethodPost
	g.Expect(New(Options{Egress: local}).Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))).To(Succeed())
	got := f.received()
	g.Expect(got).To(HaveLen(1))
	g.Expect(got[0].method).To(Equal(http.MethodPost))
	g.Expect(got[0].path).To(Equal("/v1/inventory"))
	g.Expect(got[0].header.Get("X-Api-Key")).To(Equal("key=4701"))
	g.Expect(got[0].header.Values("Authorization")).To(BeEmpty(), "the operator's credential is not sent with a candidate")
}

func TestVerifyStatus(t *testing.T) {
	cases := []struct {
		status int
		expect []int32
		want   string
	}{
		{http.StatusOK, nil, "ok"},
		{http.StatusNoContent, nil, "permanent"}, // default [200]
		{http.StatusNoContent, []int32{200, 204}, "ok"},
		{http.StatusOK, []int32{204}, "permanent"},
		{http.StatusUnauthorized, nil, "permanent"}, // the candidate is refused: not the operator's credential
		{http.StatusForbidden, nil, "permanent"},
		{http.StatusServiceUnavailable, nil, "transient"},
		{http.StatusTooManyRequests, nil, "transient"},
		{http.StatusMovedPermanently, nil, "permanent"},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			g := NewWithT(t)
			const body = `{"error": "key_inactive", "hint": "cy_live_candidate is not active"}`
			f := newFixed(t, c.status, body)
			spec := specAt(f.srv.URL)
			spec.Verify.ExpectStatus = c.expect
			err := New(Options{Egress: local}).Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))
			g.Expect(kind(err)).To(Equal(c.want), "got %v", err)
			if err != nil {
				g.Expect(err.Error()).To(ContainSubstring("verification with the new credential returned %d", c.status))
				expectClean(g, err, "cy_live_candidate", body, "not active", adminToken)
			}
			g.Expect(f.received()).To(HaveLen(1))
		})
	}
}

func TestVerifyNeedsTheAuthOutput(t *testing.T) {
	g := NewWithT(t)
	f := newFixed(t, http.StatusOK, `{}`)
	spec := specAt(f.srv.URL)
	spec.Verify = &rotationv1alpha1.HTTPVerify{URL: spec.Verify.URL, AuthWith: "token"}
	err := New(Options{Egress: local}).Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(err).To(MatchError(ContainSubstring(`"token"`)))

	spec.Verify.AuthWith = ""
	err = New(Options{Egress: local}).Verify(context.Background(), request(spec, 1, nil), provider.Result{Values: provider.Values{"value": nil}})
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(f.received()).To(BeEmpty())
}
