package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// counting is a loopback server that counts the requests it receives and answers 200 "ok".
type counting struct {
	srv  *httptest.Server
	hits atomic.Int32
}

func newCounting(t *testing.T, h http.HandlerFunc) *counting {
	c := &counting{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// port is the server's port.
func (c *counting) port() string { return c.srv.URL[strings.LastIndex(c.srv.URL, ":")+1:] }

// withNames makes p resolve the names in zone (and nothing else), as a DNS server the test controls would.
func withNames(p *Policy, zone map[string][]string) *Policy {
	return p.WithLookup(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range zone[strings.ToLower(host)] {
			out = append(out, netip.MustParseAddr(a))
		}
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.96.0.10:53", IsNotFound: true}
		}
		return out, nil
	})
}

func mustHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u.Hostname()
}

func get(p *Policy, rawURL string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.Client(0).Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp, nil
}

func TestClientChecksTheHostAndTheAddressDialled(t *testing.T) {
	zone := map[string][]string{
		"api.vendor.test":       {"127.0.0.1"}, // listed by exact name: may reach loopback
		"keys.vendor.test":      {"127.0.0.1"}, // allowed through *.vendor.test, resolves to loopback
		"mapped.vendor.test":    {"::ffff:127.0.0.1"},
		"metadata.vendor.test":  {"169.254.169.254"},
		"attacker.example":      {"127.0.0.1"},
		"rebind.wild.test":      {"127.0.0.1"},
		"first.bad.vendor.test": {"10.0.0.1", "127.0.0.1"},
	}
	cases := []struct {
		name, list, host string
		// refused is a substring of the error; "" means the call reaches the server.
		refused string
	}{
		{name: "exact name to loopback", list: "api.vendor.test", host: "api.vendor.test"},
		{name: "exact name, other case", list: "API.vendor.test.", host: "Api.Vendor.Test"},
		{name: "IP literal", list: "127.0.0.1", host: "127.0.0.1"},
		{name: "not listed", list: "api.vendor.test", host: "attacker.example",
			refused: `host "attacker.example" is not in --http-allowed-hosts`},
		{name: "IP not listed", list: "api.vendor.test", host: "127.0.0.1",
			refused: `host "127.0.0.1" is not in --http-allowed-hosts`},
		{name: "empty list", list: "", host: "127.0.0.1", refused: "--http-allowed-hosts is empty"},
		{name: "wildcard to loopback", list: "*.vendor.test", host: "keys.vendor.test",
			refused: `host "keys.vendor.test" resolves to a special address (loopback)`},
		{name: "wildcard to IPv4-mapped loopback", list: "*.vendor.test", host: "mapped.vendor.test",
			refused: "special address (loopback)"},
		{name: "wildcard to metadata", list: "*.vendor.test", host: "metadata.vendor.test",
			refused: "special address (cloud metadata)"},
		{name: "wildcard does not list the name exactly", list: "*.vendor.test,vendor.test", host: "keys.vendor.test",
			refused: "special address (loopback)"},
		{name: "every address is checked", list: "*.vendor.test", host: "first.bad.vendor.test",
			refused: "special address (private)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newCounting(t, nil)
			p := withNames(MustParse(c.list), zone)
			resp, err := get(p, "http://"+net.JoinHostPort(c.host, srv.port())+"/v1/keys")
			if c.refused == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
				g.Expect(srv.hits.Load()).To(BeEquivalentTo(1))
				return
			}
			g.Expect(errors.Is(err, ErrRefused)).To(BeTrue(), "got %v", err)
			g.Expect(err).To(MatchError(ContainSubstring(c.refused)))
			g.Expect(srv.hits.Load()).To(BeZero(), "the request reached the server")
			g.Expect(Describe(err)).To(HavePrefix("refused by the egress policy: host "))
			g.Expect(Describe(err)).NotTo(ContainSubstring(srv.port()))
		})
	}
}

// Check passes a wildcard host without a DNS lookup; what it resolves to when the connection is made decides.
func TestAddressIsCheckedAtConnectTime(t *testing.T) {
	g := NewWithT(t)
	srv := newCounting(t, nil)
	answer := "203.0.113.7"
	p := MustParse("*.wild.test")
	p.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr(answer)}, nil
	}
	u := "http://rebind.wild.test:" + srv.port() + "/"
	g.Expect(p.Check(u)).To(Succeed())
	answer = "127.0.0.1" // the name is rebound between the check and the call
	_, err := get(p, u)
	g.Expect(errors.Is(err, ErrRefused)).To(BeTrue(), "got %v", err)
	g.Expect(srv.hits.Load()).To(BeZero())

	// The Control function judges the address it is handed, in any spelling.
	for _, addr := range []string{"127.0.0.1:443", "[::ffff:127.0.0.1]:443", "[::1]:443", "169.254.169.254:80",
		"[fd00:ec2::254]:80", "100.64.1.1:443", "[fe80::1%eth0]:443", "not-an-address"} {
		err := p.control("x.wild.test", false)("tcp", addr, nil)
		g.Expect(errors.Is(err, ErrRefused)).To(BeTrue(), addr)
		g.Expect(p.control("x.wild.test", true)("tcp", addr, nil) == nil).To(Equal(addr != "not-an-address"), addr)
	}
	g.Expect(p.control("x.wild.test", false)("tcp", "203.0.113.7:443", nil)).To(Succeed())
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	g := NewWithT(t)
	target := newCounting(t, nil)
	redirect := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	resp, err := get(MustParse("127.0.0.1"), redirect.srv.URL+"/v1/keys")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusTemporaryRedirect), "the 3xx is the answer")
	g.Expect(target.hits.Load()).To(BeZero())
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	g := NewWithT(t)
	proxy := newCounting(t, nil)
	t.Setenv("HTTP_PROXY", proxy.srv.URL)
	t.Setenv("HTTPS_PROXY", proxy.srv.URL)
	t.Setenv("NO_PROXY", "")
	// Without the policy's client the proxy would carry the call: it is not dialled, so it is not checked.
	srv := newCounting(t, nil)
	_, err := get(withNames(MustParse("api.vendor.test"), map[string][]string{"api.vendor.test": {"127.0.0.1"}}),
		"http://api.vendor.test:"+srv.port()+"/")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.hits.Load()).To(BeEquivalentTo(1))
	g.Expect(proxy.hits.Load()).To(BeZero())
}

func TestNilPolicyClientRefusesEverything(t *testing.T) {
	g := NewWithT(t)
	srv := newCounting(t, nil)
	var p *Policy
	_, err := get(p, srv.srv.URL)
	g.Expect(errors.Is(err, ErrRefused)).To(BeTrue(), "got %v", err)
	g.Expect(err).To(MatchError(ContainSubstring("--http-allowed-hosts is empty")))
	g.Expect(srv.hits.Load()).To(BeZero())
}
