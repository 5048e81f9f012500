package egress

import "net/netip"

// Address classes that only a host listed literally may reach.
var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
	reserved   = netip.MustParsePrefix("240.0.0.0/4") // includes the broadcast address
	siteLocal  = netip.MustParsePrefix("fec0::/10")   // deprecated, still routed inside some networks
	// NAT64 prefixes (RFC 6052, RFC 8215) carry an IPv4 address in their last 32 bits.
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
)

// Special returns the class of ip ("loopback", "private", "cloud metadata", ...) when it is an address that a host
// allowed through a wildcard must not lead to, or "" for an ordinary public address. An IPv4-mapped IPv6 address
// is judged as its IPv4 address, a NAT64 address by the IPv4 address it embeds.
func Special(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip == metadataV4 || ip == metadataV6:
		// Before link-local and unique-local, which contain them: the name tells the admin why it matters.
		return "cloud metadata"
	case ip.IsUnspecified() || thisNet.Contains(ip):
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.Is4() && ip.IsPrivate():
		return "private"
	case ip.IsPrivate():
		return "unique-local"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case cgnat.Contains(ip):
		return "shared (CGNAT)"
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast():
		return "multicast"
	case reserved.Contains(ip) || siteLocal.Contains(ip):
		return "reserved"
	case nat64.Contains(ip) || nat64Local.Contains(ip):
		b := ip.As16()
		if class := Special(netip.AddrFrom4([4]byte(b[12:]))); class != "" {
			return "NAT64 " + class
		}
	}
	return ""
}
