package egress

import (
	"errors"
	"net/netip"
	"strings"
)

// entry is one parsed element of the allowed-hosts list.
type entry struct {
	// host is the normalised host name, or for a wildcard the part after "*.". Empty for an IP literal.
	host string
	// wildcard marks "*.host".
	wildcard bool
	// ip is set for an IP literal, unmapped.
	ip netip.Addr
}

// empty reports whether the entry was blank (a doubled or trailing comma).
func (e entry) empty() bool { return e.host == "" && !e.ip.IsValid() }

// String returns the entry as Parse accepts it.
func (e entry) String() string {
	switch {
	case e.ip.IsValid():
		return e.ip.String()
	case e.wildcard:
		return "*." + e.host
	}
	return e.host
}

// Maximum lengths of a DNS name and of one of its labels (RFC 1035).
const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// parseEntry parses one trimmed entry; "" is the empty entry.
func parseEntry(s string) (entry, error) {
	if s == "" {
		return entry{}, nil
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@") {
		if strings.Contains(s, "/") && !strings.Contains(s, "://") {
			if _, err := netip.ParsePrefix(s); err == nil {
				return entry{}, errors.New("CIDR ranges are not supported: list each IP address")
			}
		}
		return entry{}, errors.New("not a host: write the host name alone, without scheme, path or user")
	}
	// An IP literal, bracketed or not. A bracketed one followed by ":port" is refused below with the others.
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil &&
		(!strings.HasPrefix(s, "[") || strings.HasSuffix(s, "]")) {
		if ip.Zone() != "" {
			return entry{}, errors.New("an IPv6 zone (%...) is not supported")
		}
		return entry{ip: ip.Unmap()}, nil
	}
	if strings.Contains(s, ":") {
		return entry{}, errors.New("a port is not supported: list the host alone (any port of an allowed host may be called)")
	}
	if s == "*" || s == "*." {
		return entry{}, errors.New("a bare * is not supported: list the hosts, or *.domain for the subdomains of one")
	}
	e := entry{}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		e.wildcard, s = true, rest
	}
	if strings.Contains(s, "*") {
		return entry{}, errors.New("* is only allowed as the whole first label, as in *.vendor.com")
	}
	name := normalise(s)
	if err := checkHostName(name); err != nil {
		return entry{}, err
	}
	e.host = name
	return e, nil
}

// checkHostName reports what is wrong with a normalised DNS host name: letters, digits, '-' and '_' in labels of
// 1 to 63 characters that neither start nor end with '-'. A name whose last label is all digits is refused: URL
// parsers and resolvers may read it as an IPv4 address ("127.1").
func checkHostName(name string) error {
	if name == "" {
		return errors.New("empty host name")
	}
	if len(name) > maxNameLen {
		return errors.New("host name longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return errors.New("each dot-separated label must have 1 to 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("a label must not start or end with '-'")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c >= 0x80 {
					return errors.New("non-ASCII host name: write it in its xn-- (punycode) form")
				}
				return errors.New("a host name may only contain letters, digits, '-', '_' and '.'")
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("the last label is a number: write an IP address in full, as 203.0.113.7")
	}
	return nil
}
