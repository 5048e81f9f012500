package egress

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Transport settings; the caller's context bounds each call as a whole.
const (
	dialTimeout         = 30 * time.Second
	keepAlive           = 30 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxHeaderBytes      = 64 << 10
	// minAttemptTime is the least time one address gets when a name resolves to several (as in package net).
	minAttemptTime = 2 * time.Second
)

// Client returns an HTTP client that calls only what p allows. Every new connection checks the host against the
// list and the address actually dialled against the special address classes (see the package doc). It never
// follows a redirect: a 3xx is returned as the answer, so a credential only goes where the URL said. It ignores
// HTTP_PROXY and HTTPS_PROXY (a proxy would dial in place of the policy) and speaks TLS 1.2 or later with the
// system's roots. timeout is http.Client.Timeout; 0 leaves each call to its context.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     p.Transport(),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Transport returns the http.Transport behind Client, for callers that need their own http.Client. Such a client
// follows redirects unless told otherwise; every connection it makes is still checked.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		IdleConnTimeout:        idleConnTimeout,
		MaxIdleConns:           100,
		MaxResponseHeaderBytes: maxHeaderBytes,
		ExpectContinueTimeout:  time.Second,
	}
}

// DialContext connects to address ("host:port") if p allows the host, trying the addresses it resolves to in
// turn. Each address is checked in the dialer's Control function, right before the connect, so what is checked is
// what is dialled. A refusal is a *RefusedError (wrapped in a *net.OpError for an address).
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &RefusedError{Reason: "the address to dial has no port"}
	}
	literal, err := p.allow(host)
	if err != nil {
		return nil, err
	}
	addrs, err := p.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive, Control: p.control(host, literal)}
	var first error
	for i, ip := range addrs {
		attempt, cancel := partial(ctx, len(addrs)-i)
		conn, err := d.DialContext(attempt, network, net.JoinHostPort(ip.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve returns the addresses of host, unmapped: host itself when it is an IP literal.
func (p *Policy) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	lookup := net.DefaultResolver.LookupNetIP
	if p.lookup != nil {
		lookup = p.lookup
	}
	addrs, err := lookup(ctx, ipNet, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// control returns the net.Dialer Control function for host: it refuses a special address unless the host is
// listed literally. It runs after the name was resolved and before the connect, on the address being dialled.
func (p *Policy) control(host string, literal bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{Host: host, Reason: "resolves to an address that cannot be checked"}
		}
		if literal {
			return nil
		}
		if class := Special(ap.Addr()); class != "" {
			return &RefusedError{Host: host, Reason: "resolves to a special address (" + class + "), which only a host " +
				"listed by its exact name or IP in " + Flag + " may reach"}
		}
		return nil
	}
}

// partial gives one of remaining addresses its share of ctx's time left, at least minAttemptTime, as package net
// does, so an address that does not answer leaves time for the next.
func partial(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return ctx, func() {}
	}
	left := time.Until(deadline)
	share := max(left/time.Duration(remaining), minAttemptTime)
	if share >= left {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, share)
}
