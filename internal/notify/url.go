package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidURL matches, with errors.Is, every error of CheckURL.
var ErrInvalidURL = errors.New("invalid webhook URL")

// loopback are the hosts a plain http URL may name, for tests against a local server.
var loopback = map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true}

// CheckURL tells whether raw may be a webhook URL: absolute, https (plain http only to 127.0.0.1, localhost or
// ::1, for tests), with a host and no user info. It says nothing about whether the egress policy lets the
// operator call the host. Its error wraps ErrInvalidURL and shows at most the scheme and the host, never the
// path, query or user info: a webhook URL is a secret.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL.
		return fmt.Errorf("%w: it does not parse", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: it must not carry user info", ErrInvalidURL)
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "":
		return fmt.Errorf("%w: it has no scheme; use https", ErrInvalidURL)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: scheme %q is not allowed; use https", ErrInvalidURL, clip(u.Scheme, 32))
	case u.Opaque != "" || host == "":
		return fmt.Errorf("%w: it has no host", ErrInvalidURL)
	case u.Scheme == "http" && !loopback[strings.ToLower(host)]:
		return fmt.Errorf("%w: plain http to host %q; use https", ErrInvalidURL, clip(host, MaxField))
	}
	return nil
}
