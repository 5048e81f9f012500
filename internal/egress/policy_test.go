package egress

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseNormalisesEntries(t *testing.T) {
	cases := []struct {
		list, want string
	}{
		{list: "", want: ""},
		{list: " , ,", want: ""},
		{list: "api.vendor.com", want: "api.vendor.com"},
		{list: " API.Vendor.COM. ", want: "api.vendor.com"},
		{list: "*.Vendor.com.", want: "*.vendor.com"},
		{list: "127.0.0.1,::1,[2001:db8::7]", want: "127.0.0.1,::1,2001:db8::7"},
		{list: "::ffff:127.0.0.1", want: "127.0.0.1"},
		{list: "a.example,,b.example,", want: "a.example,b.example"},
		{list: "localhost", want: "localhost"},
		{list: "xn--bcher-kva.example,_acme.example", want: "xn--bcher-kva.example,_acme.example"},
	}
	for _, c := range cases {
		t.Run(c.list, func(t *testing.T) {
			g := NewWithT(t)
			p, err := Parse(c.list)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.String()).To(Equal(c.want))
			g.Expect(p.Empty()).To(Equal(c.want == ""))
		})
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	cases := []struct {
		list, bad, why string
	}{
		{list: "api.vendor.com:443", bad: "api.vendor.com:443", why: "a port is not supported"},
		{list: "ok.example, 127.0.0.1:8080", bad: "127.0.0.1:8080", why: "a port is not supported"},
		{list: "[::1]:443", bad: "[::1]:443", why: "a port is not supported"},
		{list: "https://api.vendor.com", bad: "https://api.vendor.com", why: "without scheme"},
		{list: "api.vendor.com/v1", bad: "api.vendor.com/v1", why: "without scheme, path"},
		{list: "user@api.vendor.com", bad: "user@api.vendor.com", why: "not a host"},
		{list: "10.0.0.0/8", bad: "10.0.0.0/8", why: "CIDR ranges are not supported"},
		{list: "*", bad: "*", why: "a bare * is not supported"},
		{list: "*.", bad: "*.", why: "a bare * is not supported"},
		{list: "api.*.com", bad: "api.*.com", why: "* is only allowed as the whole first label"},
		{list: "*vendor.com", bad: "*vendor.com", why: "* is only allowed"},
		{list: "*.*.vendor.com", bad: "*.*.vendor.com", why: "* is only allowed"},
		{list: "fe80::1%eth0", bad: "fe80::1%eth0", why: "zone"},
		{list: "a..example", bad: "a..example", why: "1 to 63 characters"},
		{list: ".example", bad: ".example", why: "1 to 63 characters"},
		{list: "-a.example", bad: "-a.example", why: "must not start or end with '-'"},
		{list: "bücher.example", bad: "bücher.example", why: "punycode"},
		{list: "a b.example", bad: "a b.example", why: "only contain letters"},
		{list: "127.1", bad: "127.1", why: "the last label is a number"},
		{list: "0x7f.0.0.1", bad: "0x7f.0.0.1", why: "the last label is a number"},
	}
	for _, c := range cases {
		t.Run(c.list, func(t *testing.T) {
			g := NewWithT(t)
			p, err := Parse(c.list)
			g.Expect(p).To(BeNil())
			g.Expect(err).To(MatchError(ContainSubstring(Flag + `: entry "` + c.bad + `"`)))
			g.Expect(err).To(MatchError(ContainSubstring(c.why)))
		})
	}
	g := NewWithT(t)
	g.Expect(func() { MustParse("a.example:1") }).To(Panic())
}

func TestCheck(t *testing.T) {
	p := MustParse("api.vendor.com, *.vendor.net, 203.0.113.7, 2001:db8::7, localhost")
	cases := []struct {
		url     string
		allowed bool
		literal bool
	}{
		{url: "https://api.vendor.com/v1/keys", allowed: true, literal: true},
		{url: "https://API.VENDOR.COM./v1", allowed: true, literal: true},
		{url: "https://api.vendor.com:8443/v1", allowed: true, literal: true},
		{url: "https://vendor.com/v1", allowed: false},
		{url: "https://evil-api.vendor.com/v1", allowed: false},
		{url: "https://api.vendor.com.evil.example/v1", allowed: false},
		{url: "https://keys.vendor.net/v1", allowed: true},
		{url: "https://a.b.Vendor.NET./v1", allowed: true},
		{url: "https://vendor.net/v1", allowed: false, literal: false},
		{url: "https://evilvendor.net/v1", allowed: false},
		{url: "https://203.0.113.7/v1", allowed: true, literal: true},
		{url: "https://[::ffff:203.0.113.7]/v1", allowed: true, literal: true},
		{url: "https://[2001:db8::7]:443/v1", allowed: true, literal: true},
		{url: "https://[2001:DB8:0::7]/v1", allowed: true, literal: true},
		{url: "https://203.0.113.8/v1", allowed: false},
		{url: "https://[fe80::1%25eth0]/v1", allowed: false},
		{url: "http://localhost:8080/v1", allowed: true, literal: true},
		{url: "http://127.0.0.1:8080/v1", allowed: false},
		{url: "/relative/only", allowed: false},
		{url: "https://%zz/", allowed: false},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			g := NewWithT(t)
			err := p.Check(c.url)
			if !c.allowed {
				g.Expect(errors.Is(err, ErrRefused)).To(BeTrue(), "got %v", err)
				var re *RefusedError
				g.Expect(errors.As(err, &re)).To(BeTrue())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			host := mustHost(c.url)
			literal, err := p.allow(host)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(literal).To(Equal(c.literal), "only exact and IP entries are literal")
		})
	}
}

func TestRefusalNamesTheHostAndTheFlag(t *testing.T) {
	g := NewWithT(t)
	err := MustParse("api.vendor.com").Check("https://attacker.example/collect?key=secret")
	g.Expect(err).To(MatchError(`refused by the egress policy: host "attacker.example" is not in --http-allowed-hosts`))

	for _, p := range []*Policy{nil, MustParse(""), MustParse(" , ")} {
		err := p.Check("https://api.vendor.com/v1/keys?id=secret")
		g.Expect(errors.Is(err, ErrRefused)).To(BeTrue())
		g.Expect(err).To(MatchError(`refused by the egress policy: host "api.vendor.com" is not allowed: ` +
			`--http-allowed-hosts is empty, so no outbound HTTP call is allowed`))
		g.Expect(p.String()).To(BeEmpty())
	}
}
