package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/provider"
)

// A RotatedSecret names an attacker's server (here a loopback one): unless the admin listed it, no request
// reaches it, from any of the three calls, and the error is permanent and says which host and which flag.
func TestEgressPolicyRefusesUnlistedHosts(t *testing.T) {
	cases := map[string]*egress.Policy{
		"no policy":       nil,
		"empty list":      egress.MustParse(""),
		"other host":      egress.MustParse("api.connectedyou.example, *.connectedyou.example"),
		"other IP":        egress.MustParse("127.0.0.2, ::1"),
		"host name alone": egress.MustParse("localhost"),
	}
	for name, policy := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			attacker := newFixed(t, http.StatusCreated, `{"id": "k1", "api_key": "cy_live_x", "partner_id": 1}`)
			spec := specAt(attacker.srv.URL)
			p := New(Options{Egress: policy})
			gd := &guard{}
			old := candidate("cy_live_candidate")
			old.State = []byte(`{"id": "kid_1"}`)

			_, genErr := p.Generate(context.Background(), request(spec, 1, gd))
			verifyErr := p.Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))
			revokeErr := p.Revoke(context.Background(), request(spec, 1, nil), old)

			g.Expect(attacker.received()).To(BeEmpty(), "a request reached the unlisted host")
			g.Expect(gd.calls).To(BeZero(), "the URL is checked before the create-pending guard")
			for call, err := range map[string]error{"generate": genErr, "verify": verifyErr, "revoke": revokeErr} {
				g.Expect(kind(err)).To(Equal("permanent"), "%s: got %v", call, err)
				g.Expect(provider.IsTransient(err)).To(BeFalse(), call)
				g.Expect(errors.Is(err, egress.ErrRefused)).To(BeTrue(), call)
				g.Expect(err.Error()).To(ContainSubstring(`refused by the egress policy: host "127.0.0.1"`), call)
				g.Expect(err.Error()).To(ContainSubstring("--http-allowed-hosts"), call)
				expectClean(g, err, adminToken, "cy_live_candidate", "kid_1", "/v1/")
			}
			g.Expect(genErr).To(MatchError(HavePrefix("spec.provider.http.generate.url: ")))
		})
	}
}

func TestEgressPolicyAllowsListedHosts(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	p := New(Options{Egress: egress.MustParse("api.connectedyou.example, 127.0.0.1")})
	res, err := p.Generate(context.Background(), request(v.spec(), 1, &guard{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.Verify(context.Background(), request(v.spec(), 1, nil), res)).To(Succeed())
	g.Expect(p.Revoke(context.Background(), request(v.spec(), 1, nil), res)).To(Succeed())
	g.Expect(v.seen()).To(HaveLen(3))
}

// A host allowed through a wildcard that resolves to a loopback address is refused when the connection is made:
// permanent, nothing sent, and the reconciler does not keep retrying it.
func TestEgressPolicyRefusesAWildcardHostThatLeadsInside(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	var accepted int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted++
			_ = c.Close()
		}
	}()
	policy := egress.MustParse("*.connectedyou.example").WithLookup(func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	port := ln.Addr().(*net.TCPAddr).Port
	spec := specAt(fmt.Sprintf("https://keys.connectedyou.example:%d", port))
	p := New(Options{Egress: policy})
	gd := &guard{}
	_, genErr := p.Generate(context.Background(), request(spec, 1, gd))
	verifyErr := p.Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))
	_ = ln.Close()
	<-done
	g.Expect(accepted).To(BeZero(), "a connection was made")
	g.Expect(gd.calls).To(Equal(1), "Check passes the name: the address is judged at connect time")
	for _, err := range []error{genErr, verifyErr} {
		g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
		g.Expect(provider.Ambiguous(err)).To(BeFalse(), "nothing was sent")
		g.Expect(errors.Is(err, egress.ErrRefused)).To(BeTrue())
		g.Expect(err.Error()).To(ContainSubstring(`host "keys.connectedyou.example" resolves to a special address (loopback)`))
		expectClean(g, err, "127.0.0.1", fmt.Sprint(port), adminToken)
	}
}

// A closed port and an open one read differently only as "could not connect" against an answer: the text names
// no address, port or operating-system error, and the classification is the one of any refused connection.
func TestConnectionRefusedNamesNoAddress(t *testing.T) {
	g := NewWithT(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	spec := specAt(gone.URL)
	port := gone.URL[strings.LastIndex(gone.URL, ":")+1:]
	p := New(Options{Egress: local})
	old := candidate("cy_live_candidate")
	old.State = []byte(`{"id": "kid_1"}`)

	_, err := p.Generate(context.Background(), request(spec, 1, &guard{}))
	g.Expect(err).To(MatchError("generate: calling the vendor: could not connect"))
	g.Expect(kind(err)).To(Equal("retryable"))
	g.Expect(provider.Ambiguous(err)).To(BeFalse(), "a refused connection minted nothing")
	var opErr *net.OpError
	g.Expect(errors.As(err, &opErr)).To(BeTrue(), "the transport's error stays reachable for errors.As")

	err = p.Verify(context.Background(), request(spec, 1, nil), candidate("cy_live_candidate"))
	g.Expect(err).To(MatchError("verify: calling the vendor: could not connect"))
	g.Expect(kind(err)).To(Equal("transient"))

	err = p.Revoke(context.Background(), request(spec, 1, nil), old)
	g.Expect(err).To(MatchError("revoke of revision 1: calling the vendor: could not connect"))
	g.Expect(kind(err)).To(Equal("transient"))
	expectClean(g, err, port, "127.0.0.1", "dial", "connect:", "connection refused")
}

// A verify or revoke host the admin has not listed is found by Check, before any credential is minted; a host
// written with a placeholder can only be checked at the call.
func TestCheckRefusesUnlistedLiteralHostsOfEveryCall(t *testing.T) {
	p := New(Options{Egress: egress.MustParse("api.vendor.example")})
	spec := specAt("https://api.vendor.example")
	g := NewWithT(t)
	g.Expect(p.Check(rotationv1alpha1.ProviderSpec{HTTP: spec})).To(Succeed())

	spec.Verify.URL = "https://collector.attacker.example/verify"
	err := p.Check(rotationv1alpha1.ProviderSpec{HTTP: spec})
	g.Expect(kind(err)).To(Equal("permanent"))
	g.Expect(err).To(MatchError(ContainSubstring(`spec.provider.http.verify.url: refused by the egress policy: host "collector.attacker.example"`)))

	spec = specAt("https://api.vendor.example")
	spec.Revoke.URL = "http://127.0.0.1:9/{{ .ID }}"
	g.Expect(p.Check(rotationv1alpha1.ProviderSpec{HTTP: spec})).To(MatchError(ContainSubstring("spec.provider.http.revoke.url")))

	spec = specAt("https://api.vendor.example")
	spec.Revoke.URL = "https://{{ .ID }}.attacker.example/"
	g.Expect(p.Check(rotationv1alpha1.ProviderSpec{HTTP: spec})).To(Succeed(), "a placeholder host is checked at the call")
}
