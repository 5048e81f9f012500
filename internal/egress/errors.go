package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// ErrRefused matches every refusal of the policy with errors.Is.
var ErrRefused = errors.New("refused by the egress policy")

// RefusedError is a call the policy did not allow. Its text names the host (as the URL wrote it) and the reason,
// never an address a name resolved to or a port.
type RefusedError struct {
	// Host is the URL's host, without port.
	Host string
	// Reason completes the sentence "host <Host> ...", e.g. "is not in --http-allowed-hosts".
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("%v: %s", ErrRefused, e.Reason)
	}
	return fmt.Sprintf("%v: host %q %s", ErrRefused, e.Host, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true for every RefusedError.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// The phrases Describe reduces a failed call to.
const (
	PhraseTimedOut         = "timed out"
	PhraseCancelled        = "cancelled"
	PhraseCouldNotConnect  = "could not connect"
	PhraseCertificate      = "the server's TLS certificate was not accepted"
	PhraseConnectionFailed = "the connection failed"
)

// Describe reduces the error of a failed call (dial, TLS, transport) to a text without addresses, ports or
// operating-system error texts: a refusal keeps its own text (host and reason: see RefusedError, with
// ErrRefused's text first), anything else becomes one of the Phrase constants. A connection refused, a reset, an
// unreachable network and a failed DNS lookup all read the same, so the text that reaches a RotatedSecret's status
// is no port scanner.
func Describe(err error) string {
	var refused *RefusedError
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var badCert x509.CertificateInvalidError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &refused):
		return refused.Error()
	case errors.Is(err, ErrRefused):
		return ErrRefused.Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return PhraseTimedOut
	case errors.Is(err, context.Canceled):
		return PhraseCancelled
	case errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &badCert):
		return PhraseCertificate
	case errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial":
		return PhraseCouldNotConnect
	}
	return PhraseConnectionFailed
}

// Redact returns an error whose text is Describe(err) and that wraps err, so errors.Is and errors.As still find
// what is inside (context.DeadlineExceeded, a net.Error that timed out, ErrRefused). Nil stays nil.
func Redact(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{text: Describe(err), err: err}
}

// redacted is Redact's error.
type redacted struct {
	text string
	err  error
}

func (r *redacted) Error() string { return r.text }
func (r *redacted) Unwrap() error { return r.err }
