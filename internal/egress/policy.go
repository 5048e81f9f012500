package egress

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Flag is the command-line flag that holds the list of allowed hosts; errors name it so an admin knows what to
// change.
const Flag = "--http-allowed-hosts"

// Policy is the set of hosts the operator may call. Build it with Parse; a nil *Policy allows nothing. It is safe
// for concurrent use and never changes after Parse.
type Policy struct {
	// exact holds host-name entries, lowercased, without a trailing dot.
	exact map[string]bool
	// suffixes holds wildcard entries as ".vendor.com" for "*.vendor.com".
	suffixes []string
	// ips holds IP-literal entries, unmapped.
	ips map[netip.Addr]bool
	// entries are the normalised entries in the order given, for String.
	entries []string
	// lookup resolves a host name to addresses; nil means net.DefaultResolver. Tests set it to answer for names
	// they control.
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Parse builds a Policy from the value of --http-allowed-hosts, a comma-separated list of host names, wildcards
// ("*.vendor.com") and IP literals. It validates every entry and names the first bad one. An empty list gives a
// Policy that allows nothing.
func Parse(list string) (*Policy, error) {
	p := &Policy{exact: map[string]bool{}, ips: map[netip.Addr]bool{}}
	for raw := range strings.SplitSeq(list, ",") {
		e, err := parseEntry(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", Flag, strings.TrimSpace(raw), err)
		}
		switch {
		case e.empty():
			continue
		case e.ip.IsValid():
			p.ips[e.ip] = true
		case e.wildcard:
			p.suffixes = append(p.suffixes, "."+e.host)
		default:
			p.exact[e.host] = true
		}
		p.entries = append(p.entries, e.String())
	}
	return p, nil
}

// MustParse is Parse for tests and constants: it panics on a bad list.
func MustParse(list string) *Policy {
	p, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return p
}

// WithLookup returns a copy of p that resolves host names with lookup instead of the system resolver, for tests
// that need names they control (a name allowed through a wildcard that resolves to 127.0.0.1). The addresses it
// returns are checked like any other.
func (p *Policy) WithLookup(lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)) *Policy {
	if p == nil {
		p = &Policy{}
	}
	c := *p
	c.lookup = lookup
	return &c
}

// String returns the normalised list, comma-separated, as Parse would accept it.
func (p *Policy) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(p.entries, ",")
}

// Empty reports whether the policy allows nothing.
func (p *Policy) Empty() bool { return p == nil || len(p.entries) == 0 }

// Check reports whether the policy allows a call to rawURL's host, without any DNS lookup: the addresses the host
// leads to are checked when the connection is made (see Client). The error is a *RefusedError naming the host and
// the flag; it never quotes the URL's path or query.
func (p *Policy) Check(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return &RefusedError{Reason: "the URL cannot be parsed"}
	}
	if u.Hostname() == "" {
		return &RefusedError{Reason: "the URL has no host"}
	}
	_, err = p.allow(u.Hostname())
	return err
}

// allow reports whether host (a URL's host without port or brackets) is allowed, and whether it is listed
// literally (an exact host-name entry or its IP literal), which lets it reach special addresses.
func (p *Policy) allow(host string) (literal bool, err error) {
	if p.Empty() {
		return false, &RefusedError{Host: host, Reason: "is not allowed: " + Flag + " is empty, so no outbound HTTP call is allowed"}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		// A zoned address ("fe80::1%eth0") names an interface, which no entry can: it never matches.
		if ip.Zone() == "" && p.ips[ip.Unmap()] {
			return true, nil
		}
		return false, &RefusedError{Host: host, Reason: "is not in " + Flag}
	}
	name := normalise(host)
	if p.exact[name] {
		return true, nil
	}
	for _, s := range p.suffixes {
		// The suffix starts with a dot, so "evilvendor.com" does not match "*.vendor.com", nor "vendor.com" itself.
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return false, nil
		}
	}
	return false, &RefusedError{Host: host, Reason: "is not in " + Flag}
}

// normalise lowercases a host name and drops one trailing dot.
func normalise(host string) string { return strings.TrimSuffix(strings.ToLower(host), ".") }
