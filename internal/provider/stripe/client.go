// Package stripe holds the two Stripe providers: stripeWebhook (a webhook signing secret, rotated by creating a
// twin endpoint) and stripeSecretKey (a secret or restricted API key that a person creates in the Dashboard and
// the operator checks, promotes and tracks until the old one is revoked).
//
// Both talk to Stripe through github.com/stripe/stripe-go/v76 with a backend of their own (never the package-level
// stripe.Key or backend), no automatic retries (the reconciler backs off), an idempotency key on every endpoint
// create that is fixed per RotatedSecret and revision (stripe-go would draw a random one per call, which makes a
// repeat after a lost answer a second create) and a logger that discards everything:
// stripe-go logs response bodies at debug level, and a webhook endpoint's body carries its signing secret.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
)

// Defaults for Options.
const (
	// DefaultBaseURL is Stripe's API.
	DefaultBaseURL = "https://api.stripe.com"
	// DefaultTimeout bounds one HTTP request when Options.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second
	// MaxResponseBytes bounds a response body; stripe-go reads bodies whole and does not bound them itself.
	MaxResponseBytes = 1 << 20
)

// Options say how the providers reach Stripe.
type Options struct {
	// BaseURL of the Stripe API, DefaultBaseURL when empty. An operator flag points it at stripe-mock in tests.
	// It must be https, or http to a loopback address.
	BaseURL string
	// HTTPClient makes the requests; a client with DefaultTimeout when nil. Its transport is wrapped to bound
	// response sizes; the client passed in is not modified.
	HTTPClient *http.Client
}

// api is the narrow client both providers use: one stripe-go backend, shared by all calls (it holds no key; the
// key is passed per call).
type api struct {
	backend stripego.Backend
}

func newAPI(opts Options) (*api, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	if err := checkBaseURL(base); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: DefaultTimeout}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		hc = &c
	}
	hc.Transport = limitTransport{base: hc.Transport}
	backend := stripego.GetBackendWithConfig(stripego.APIBackend, &stripego.BackendConfig{
		URL:               stripego.String(base),
		HTTPClient:        hc,
		MaxNetworkRetries: stripego.Int64(0),
		EnableTelemetry:   stripego.Bool(false),
		LeveledLogger:     &stripego.LeveledLogger{Level: stripego.LevelNull},
	})
	return &api{backend: backend}, nil
}

// checkBaseURL refuses a URL that would send a key in clear text to another machine.
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("stripe base URL: %w", err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("stripe base URL %q must be https (http only for loopback addresses)", base)
}

// limitTransport fails a response whose body is larger than MaxResponseBytes, and fills in the exchange of a
// request whose context carries one.
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					x.sent.Store(true)
				}
			},
		}))
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if x != nil {
		x.status.Store(int32(resp.StatusCode))
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

// exchange records what became of a request: whether it went out whole, and the status of its answer (0: none
// arrived). stripe-go reports a lost connection and an unreadable answer alike as plain errors; a caller making a
// call that must not be repeated tells them apart with it.
type exchange struct {
	sent   atomic.Bool
	status atomic.Int32
}

type exchangeKey struct{}

// withExchange returns a context whose requests fill in the returned exchange.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

// mayHaveActed reports whether Stripe may have carried out a request that failed: it was sent, and no answer
// came or the answer was a success that could not be read.
func (x *exchange) mayHaveActed() bool {
	st := x.status.Load()
	return x.sent.Load() && (st == 0 || st >= 200 && st <= 299)
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errTooLarge = fmt.Errorf("response from Stripe is larger than %d bytes", MaxResponseBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// anyResponse receives a response whose content is not needed (a probe).
type anyResponse struct{ stripego.APIResource }

// call makes one raw request with key (probes, and the key checks of stripeSecretKey). path may carry a query.
func (a *api) call(ctx context.Context, method, path, key string) error {
	return a.backend.CallRaw(method, path, key, nil, &stripego.Params{Context: ctx}, &anyResponse{})
}

// balance reads the balance with key: the cheapest call every working key may make (a restricted key only with
// the Balance read permission).
func (a *api) balance(ctx context.Context, key string) (*stripego.Balance, error) {
	b := &stripego.Balance{}
	err := a.backend.Call(http.MethodGet, "/v1/balance", key, &stripego.BalanceParams{Params: stripego.Params{Context: ctx}}, b)
	return b, err
}

// Error is a Stripe API error with everything that could carry a key or secret removed.
type Error struct {
	// Op is what was being done, e.g. "creating webhook endpoint".
	Op string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Code is Stripe's error code, e.g. resource_missing.
	Code string
	// Message is Stripe's message, redacted and shortened; empty for 401, whose message quotes the key.
	Message string
	// Err is the transport error when no response arrived.
	Err error
}

// Error says what failed, with Stripe's status, code and redacted message.
func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	s := fmt.Sprintf("%s: Stripe answered %d", e.Op, e.Status)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the transport error, so callers can tell a timeout from an answer.
func (e *Error) Unwrap() error { return e.Err }

// transient reports whether retrying later may help: no response, rate limited or a Stripe-side failure.
func (e *Error) transient() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

var (
	// Stripe quotes keys (partly masked) in messages; stripe-mock even echoes the Authorization header.
	keyPattern    = regexp.MustCompile(`\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+|whsec_[A-Za-z0-9*]+`)
	headerPattern = regexp.MustCompile(`(?i)(Bearer|Basic) [^\s'"]+`)
	// permPattern finds the permission Stripe names in a 403 message: "Having the 'rak_charge_read' permission".
	permPattern = regexp.MustCompile(`'(rak_[a-z0-9_]+)'`)
)

const maxMessage = 300

// apiError turns what stripe-go returned into an *Error, removing key from the message; nil for nil.
func apiError(op string, err error, key string) *Error {
	if err == nil {
		return nil
	}
	var se *stripego.Error
	if !errors.As(err, &se) {
		return &Error{Op: op, Err: redactErr{err, key}}
	}
	e := &Error{Op: op, Status: se.HTTPStatusCode, Code: string(se.Code)}
	if e.Status != http.StatusUnauthorized {
		e.Message = redact(se.Msg, key)
	}
	return e
}

func redact(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[key]")
	}
	msg = keyPattern.ReplaceAllString(msg, "[key]")
	msg = headerPattern.ReplaceAllString(msg, "[redacted]")
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return msg
}

// redactErr keeps a transport error (timeout, refused connection) for errors.Is while redacting its text.
type redactErr struct {
	err error
	key string
}

func (r redactErr) Error() string { return redact(r.err.Error(), r.key) }
func (r redactErr) Unwrap() error { return r.err }

// missingPermission returns the permission a 403 message names, or "".
func missingPermission(msg string) string {
	if m := permPattern.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// hint returns at most the last 4 characters of key, and nothing when the key is so short that 4 characters
// would give most of it away.
func hint(key string) string {
	if len(key) < 16 {
		return ""
	}
	return key[len(key)-4:]
}

// describeKey names a key in messages without giving it away.
func describeKey(key string) string {
	if h := hint(key); h != "" {
		return "the key ending in " + h
	}
	return "the key"
}
