package egress

import (
	"net/netip"
	"testing"

	. "github.com/onsi/gomega"
)

func TestSpecial(t *testing.T) {
	cases := map[string]string{
		"0.0.0.0":                "unspecified",
		"0.1.2.3":                "unspecified",
		"::":                     "unspecified",
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"::ffff:10.0.0.1":        "private",
		"fc00::1":                "unique-local",
		"fd12:3456::1":           "unique-local",
		"169.254.169.254":        "cloud metadata",
		"::ffff:169.254.169.254": "cloud metadata",
		"fd00:ec2::254":          "cloud metadata",
		"169.254.10.1":           "link-local",
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"100.64.0.1":             "shared (CGNAT)",
		"100.127.255.254":        "shared (CGNAT)",
		"224.0.0.1":              "multicast",
		"239.1.2.3":              "multicast",
		"ff02::1":                "multicast",
		"ff01::1":                "multicast",
		"255.255.255.255":        "reserved",
		"240.0.0.1":              "reserved",
		"fec0::1":                "reserved",
		"64:ff9b::7f00:1":        "NAT64 loopback",
		"64:ff9b::a9fe:a9fe":     "NAT64 cloud metadata",
		"64:ff9b:1::a00:1":       "NAT64 private",
		// Ordinary addresses.
		"64:ff9b::808:808":  "",
		"8.8.8.8":           "",
		"203.0.113.7":       "",
		"100.63.255.255":    "",
		"100.128.0.0":       "",
		"172.32.0.1":        "",
		"::ffff:8.8.8.8":    "",
		"2606:4700::1111":   "",
		"169.253.255.255":   "",
		"2001:4860:4860::8": "",
	}
	for addr, want := range cases {
		t.Run(addr, func(t *testing.T) {
			NewWithT(t).Expect(Special(netip.MustParseAddr(addr))).To(Equal(want))
		})
	}
	NewWithT(t).Expect(Special(netip.Addr{})).To(Equal("invalid"))
}
