package notify

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
)

func TestCheckURL(t *testing.T) {
	cases := []struct {
		name, url string
		ok        bool
		says      string // part of the error text
	}{
		{name: "slack", url: "https://hooks.slack.com/services/T000/B000/SECRETTOKEN", ok: true},
		{name: "https with port and query", url: "https://support.example:8443/hook?token=SECRETTOKEN", ok: true},
		{name: "scheme in capitals", url: "HTTPS://hooks.slack.com/services/T000/B000/SECRETTOKEN", ok: true},
		{name: "http to 127.0.0.1", url: "http://127.0.0.1:8080/services/T000/B000/SECRETTOKEN", ok: true},
		{name: "http to localhost", url: "http://LocalHost/SECRETTOKEN", ok: true},
		{name: "http to ::1", url: "http://[::1]:9000/SECRETTOKEN", ok: true},
		{name: "plain http elsewhere", url: "http://hooks.slack.com/services/T000/B000/SECRETTOKEN",
			says: `plain http to host "hooks.slack.com"`},
		{name: "http to another loopback address", url: "http://127.0.0.2/SECRETTOKEN", says: "plain http"},
		{name: "http to a name that starts like localhost", url: "http://localhost.evil.example/SECRETTOKEN",
			says: "plain http"},
		{name: "user info", url: "https://user:SECRETTOKEN@hooks.slack.com/services", says: "user info"},
		{name: "user only", url: "https://SECRETTOKEN@hooks.slack.com/", says: "user info"},
		{name: "other scheme", url: "ftp://files.example/SECRETTOKEN", says: `scheme "ftp"`},
		{name: "javascript", url: "javascript:SECRETTOKEN", says: `scheme "javascript"`},
		{name: "no scheme", url: "hooks.slack.com/services/T000/B000/SECRETTOKEN", says: "no scheme"},
		{name: "relative", url: "/services/T000/B000/SECRETTOKEN", says: "no scheme"},
		{name: "empty", url: "", says: "no scheme"},
		{name: "no host", url: "https:///services/SECRETTOKEN", says: "no host"},
		{name: "opaque", url: "https:SECRETTOKEN", says: "no host"},
		{name: "does not parse", url: "https://hooks.slack.com/%zzSECRETTOKEN", says: "does not parse"},
		{name: "control character", url: "https://hooks.slack.com/SECRETTOKEN\n", says: "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			err := CheckURL(c.url)
			if c.ok {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(errors.Is(err, ErrInvalidURL)).To(BeTrue(), "got %v", err)
			g.Expect(err.Error()).To(ContainSubstring(c.says))
			g.Expect(err.Error()).NotTo(ContainSubstring("SECRETTOKEN"))
			g.Expect(err.Error()).NotTo(ContainSubstring("/services"))
		})
	}
}
