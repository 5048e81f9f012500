package httpapi

import (
	"context"
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/tribi/secret-rotator/internal/provider"
)

func TestRevokeWithoutSpecOrIDCallsNothing(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	p := New(Options{Egress: local})
	spec := v.spec()
	spec.Revoke = nil
	g.Expect(p.Revoke(context.Background(), request(spec, 1, nil), candidate("cy_live_x"))).To(Succeed())

	spec = v.spec()
	g.Expect(p.Revoke(context.Background(), request(spec, 0, nil), provider.Result{})).To(Succeed())
	g.Expect(p.Revoke(context.Background(), request(spec, 1, nil), provider.Result{State: []byte(`{"id": ""}`)})).To(Succeed())
	g.Expect(v.seen()).To(BeEmpty())

	err := p.Revoke(context.Background(), request(spec, 1, nil), provider.Result{State: []byte(`key_1`)})
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(v.seen()).To(BeEmpty())
	v.expectClean(g, err, "key_1")
}

func TestRevokeStatus(t *testing.T) {
	cases := []struct {
		status int
		want   string
	}{
		{http.StatusNoContent, "ok"},
		{http.StatusOK, "ok"},
		{http.StatusNotFound, "ok"},
		{http.StatusGone, "ok"},
		{http.StatusUnauthorized, "credential"},
		{http.StatusForbidden, "credential"},
		{http.StatusInternalServerError, "transient"},
		{http.StatusTooManyRequests, "transient"},
		{http.StatusBadRequest, "permanent"},
		{http.StatusMovedPermanently, "permanent"},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			g := NewWithT(t)
			const body = `{"code": "locked", "message": "key cy_live_abc is locked"}`
			f := newFixed(t, c.status, body)
			err := New(Options{Egress: local}).Revoke(context.Background(), request(specAt(f.srv.URL), 3, nil), candidate("cy_live_abc"))
			g.Expect(kind(err)).To(Equal(c.want), "got %v", err)
			var ce *provider.CredentialError
			if errors.As(err, &ce) {
				g.Expect(ce.Ref).To(Equal(adminRef))
			}
			if err != nil {
				g.Expect(err.Error()).To(ContainSubstring("revoke of revision 3: the vendor answered %d", c.status))
				expectClean(g, err, body, "cy_live_abc", adminToken)
			}
			got := f.received()
			g.Expect(got).To(HaveLen(1))
			g.Expect(got[0].method).To(Equal(http.MethodDelete))
			g.Expect(got[0].path).To(Equal("/v1/keys/k1"))
			g.Expect(got[0].header.Get("Authorization")).To(Equal("Bearer " + adminToken))
		})
	}
}

func TestRevokeEscapesTheID(t *testing.T) {
	g := NewWithT(t)
	f := newFixed(t, http.StatusNoContent, "")
	spec := specAt(f.srv.URL)
	spec.Revoke.Method = http.MethodPost
	spec.Revoke.URL += "/revoke?reason=rotated&rev={{ .Revision }}"
	spec.Revoke.Body = `{"key_id": "{{ .ID }}", "by": "{{ .Namespace }}/{{ .Name }}"}`
	old := provider.Result{State: []byte(`{"id": "../admin?all=\"1\"&x"}`)}
	g.Expect(New(Options{Egress: local}).Revoke(context.Background(), request(spec, 4, nil), old)).To(Succeed())
	got := f.received()
	g.Expect(got).To(HaveLen(1))
	g.Expect(got[0].path).To(Equal("/v1/keys/..%2Fadmin%3Fall%3D%221%22%26x/revoke"))
	g.Expect(got[0].body).To(MatchJSON(`{"key_id": "../admin?all=\"1\"&x", "by": "team-a/connectedyou"}`))
	g.Expect(got[0].header.Get("Content-Type")).To(Equal("application/json"))
}
