package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that an error names the flag, and that what it accepts is stable:
// String parses back to the same policy, every exact and IP entry is literal, and nothing refused by Parse's rules
// (ports, schemes, paths, a bare *) slips into a policy.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "api.vendor.com", "*.vendor.com,api.vendor.com", "127.0.0.1,::1", "[::1]", "API.Vendor.COM.",
		"api.vendor.com:443", "*", "10.0.0.0/8", "https://x", "fe80::1%eth0", "127.1", " , a.b ,, ",
		"::ffff:127.0.0.1", "*.*.x", "a.*.b", "xn--bcher-kva.example",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		p, err := Parse(list)
		if err != nil {
			if !strings.HasPrefix(err.Error(), Flag+": entry ") {
				t.Fatalf("error does not name the flag and entry: %v", err)
			}
			return
		}
		again, err := Parse(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("String %q does not parse back: %v, %q", p.String(), err, again)
		}
		for _, e := range p.entries {
			if strings.ContainsAny(e, ":/@?# ") && !isIP(e) {
				t.Fatalf("entry %q carries a port, scheme, path or space", e)
			}
			if e == "*" || strings.Contains(strings.TrimPrefix(e, "*."), "*") {
				t.Fatalf("entry %q has a * that is not a leading wildcard label", e)
			}
			host := strings.TrimPrefix(e, "*.")
			if strings.HasPrefix(e, "*.") {
				host = "sub." + host
			}
			literal, err := p.allow(host)
			if err != nil {
				t.Fatalf("entry %q does not allow %q: %v", e, host, err)
			}
			if literal == strings.HasPrefix(e, "*.") {
				t.Fatalf("entry %q: %q literal=%v", e, host, literal)
			}
		}
		if p.Empty() {
			if err := p.Check("https://api.vendor.com/"); !errors.Is(err, ErrRefused) {
				t.Fatalf("an empty policy allowed a call: %v", err)
			}
		}
	})
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
