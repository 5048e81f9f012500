package egress

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// closedPort returns a loopback URL where nothing listens.
func closedPort(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

func TestDescribeLeavesNoAddressPortOrOSText(t *testing.T) {
	silent := newCounting(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake it refuses is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	hangUp := newCounting(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	local := withNames(MustParse("127.0.0.1, api.vendor.test"), nil)
	cases := []struct {
		name, url string
		timeout   time.Duration
		want      string
		timedOut  bool
	}{
		{name: "connection refused", url: closedPort(t), want: PhraseCouldNotConnect},
		{name: "no such host", url: "http://api.vendor.test/", want: PhraseCouldNotConnect},
		{name: "timeout", url: silent.srv.URL, timeout: 100 * time.Millisecond, want: PhraseTimedOut, timedOut: true},
		{name: "untrusted certificate", url: tlsSrv.URL, want: PhraseCertificate},
		{name: "connection closed", url: hangUp.srv.URL, want: PhraseConnectionFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			timeout := c.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = local.Client(0).Do(req)
			g.Expect(err).To(HaveOccurred())
			g.Expect(Describe(err)).To(Equal(c.want), "from %v", err)

			red := Redact(err)
			g.Expect(red).To(MatchError(c.want))
			g.Expect(errors.Is(red, err)).To(BeTrue(), "the original error stays reachable")
			g.Expect(errors.Is(red, context.DeadlineExceeded)).To(Equal(c.timedOut))
			for _, leak := range []string{"127.0.0.1", "10.96.0.10", ":53", "dial", "tcp", "connect:", "refused", "x509", "EOF",
				strings.TrimPrefix(c.url, "http://")} {
				g.Expect(red.Error()).NotTo(ContainSubstring(leak))
			}
		})
	}
}

func TestDescribeClassifies(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{err: nil, want: ""},
		{err: &RefusedError{Host: "x.example", Reason: "is not in " + Flag}, want: `refused by the egress policy: host "x.example" is not in --http-allowed-hosts`},
		{err: &net.OpError{Op: "dial", Net: "tcp", Err: &RefusedError{Host: "k.vendor.test", Reason: "resolves to a special address (loopback)"}},
			want: `refused by the egress policy: host "k.vendor.test" resolves to a special address (loopback)`},
		{err: ErrRefused, want: "refused by the egress policy"},
		{err: context.DeadlineExceeded, want: PhraseTimedOut},
		{err: context.Canceled, want: PhraseCancelled},
		{err: &net.DNSError{Err: "server misbehaving", Name: "x", Server: "10.96.0.10:53"}, want: PhraseCouldNotConnect},
		{err: &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, want: PhraseTimedOut},
		{err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, want: PhraseConnectionFailed},
		{err: errors.New("unexpected EOF"), want: PhraseConnectionFailed},
	}
	for _, c := range cases {
		g := NewWithT(t)
		g.Expect(Describe(c.err)).To(Equal(c.want), "%v", c.err)
	}
	NewWithT(t).Expect(Redact(nil)).To(Succeed())
}
