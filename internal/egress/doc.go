// Package egress is the admin's policy for the operator's outbound HTTP calls (flag --http-allowed-hosts): which
// hosts the http provider may call on behalf of a RotatedSecret, and which addresses those hosts may lead to.
// Without it, whoever may create a RotatedSecret could have the operator send its vendor credential to a server of
// their own (exfiltration) or reach addresses inside the cluster or the cloud (SSRF).
//
// The flag is a comma-separated list; spaces around entries and empty entries are ignored. An entry is one of:
//
//   - an exact host name, "api.vendor.com": that host only;
//   - a wildcard, "*.vendor.com": any subdomain of vendor.com at any depth (a.vendor.com, a.b.vendor.com), but
//     not vendor.com itself;
//   - an IP literal, "203.0.113.7" or "2001:db8::7" (brackets allowed, "[::1]"): calls to that address written as
//     an IP in the URL. An IPv4-mapped IPv6 address ("::ffff:127.0.0.1") is the same as its IPv4 address.
//
// Host names are compared case-insensitively, and a trailing dot is ignored, in entries and in URLs alike. A port
// (":443"), a scheme, a path, a CIDR range and a bare "*" are refused by Parse with an error naming the entry: the
// policy is about hosts, any port of an allowed host may be called.
//
// An empty list allows nothing: every call is refused with an error that names the host and the flag. So is every
// call made through a nil *Policy, which is what a provider built without one uses: production is safe by default.
//
// A host that is allowed must still not lead to a special address: unspecified, loopback, private (RFC 1918),
// unique-local (fc00::/7), link-local, shared CGNAT space (100.64.0.0/10), multicast, reserved (240.0.0.0/4,
// 0.0.0.0/8), cloud metadata (169.254.169.254, fd00:ec2::254) or a NAT64 address that embeds one of them (see
// Special). Only a host listed literally may: by an exact host-name entry (not through a wildcard) or by the IP
// literal itself. The address check runs at connect time, in the net.Dialer Control function, on the resolved
// address actually dialled, so a DNS answer that changes between Check and the connection (DNS rebinding) does
// not get through.
//
// Check is the pre-call test of a URL's host (no DNS lookup); Client returns an *http.Client that enforces the
// host check and the address check on every dial, never follows a redirect (a 3xx is returned as the answer),
// ignores HTTP_PROXY and HTTPS_PROXY, and speaks TLS 1.2 or later. Every refusal is a *RefusedError and matches
// ErrRefused with errors.Is.
//
// Connection failures are reduced by Describe (and Redact) to a few fixed phrases, without addresses, ports or
// operating-system error texts, so that error messages that reach a RotatedSecret's status do not tell its author
// which ports are open where.
package egress
