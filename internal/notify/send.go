package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tribi/secret-rotator/internal/egress"
)

// Request headers of a delivery, besides Content-Type.
const (
	// HeaderIdempotencyKey carries the delivery id, for receivers that deduplicate on the common header.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderDelivery carries the delivery id under the operator's own name.
	HeaderDelivery = "X-Secret-Rotator-Delivery"
)

// DefaultTimeout bounds a call made with the default client.
const DefaultTimeout = 10 * time.Second

// maxAnswer is the most of a webhook's answer that is read, and then discarded; maxID bounds a delivery id.
const (
	maxAnswer = 4 << 10
	maxID     = 128
)

// ErrInvalidID matches, with errors.Is, Send's error for an empty, too long or unprintable delivery id.
var ErrInvalidID = errors.New("invalid delivery id")

// Sender POSTs rendered notifications to webhooks. The zero Sender is ready to use.
type Sender struct {
	// Client makes the calls. The caller builds it from its egress policy (egress.Policy.Client), which decides
	// which hosts may be called and never follows a redirect. Nil means a client with DefaultTimeout that does
	// not follow redirects either: a 3xx is the answer, and not a success.
	Client *http.Client
}

// DeliveryError is a delivery that did not succeed. Its text holds the HTTP status, or a fixed phrase for a call
// that got no answer ("timed out", "could not connect", "the connection failed": see egress.Describe), never the
// URL nor the answer's body.
type DeliveryError struct {
	// Status is the HTTP status the webhook answered; 0 when it did not answer.
	Status int
	// Retryable says whether trying again later may succeed: true for 429, 5xx and a call without an answer
	// (other than one the egress policy refused); false for other statuses and for a bad URL or id.
	Retryable bool
	// Err is why a call got no answer, its text reduced as above (errors.Is still finds
	// context.DeadlineExceeded, egress.ErrRefused, ErrInvalidURL); nil when the webhook answered.
	Err error
}

// Error is "webhook answered <status>", or "webhook notification not delivered: <reason>" without an answer.
func (e *DeliveryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("webhook answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Err == nil {
		return "webhook notification not delivered"
	}
	return "webhook notification not delivered: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *DeliveryError) Unwrap() error { return e.Err }

// IsRetryable tells whether err is a *DeliveryError worth another attempt (see DeliveryError.Retryable).
func IsRetryable(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Retryable
}

// Send POSTs body (Content-Type application/json) to rawURL with id in HeaderIdempotencyKey and HeaderDelivery,
// and returns nil when the webhook answered 2xx. At most 4 KiB of the answer is read, then discarded. Any other
// outcome is a *DeliveryError. rawURL must pass CheckURL; ctx bounds the call.
func (s *Sender) Send(ctx context.Context, rawURL string, body []byte, id string) error {
	if err := CheckURL(rawURL); err != nil {
		return &DeliveryError{Err: err}
	}
	if !validID(id) {
		return &DeliveryError{Err: ErrInvalidID}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// The error quotes the URL; CheckURL let it through, so this is not expected.
		return &DeliveryError{Err: fmt.Errorf("%w: it does not make a request", ErrInvalidURL)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, id)
	req.Header.Set(HeaderDelivery, id)

	resp, err := s.client().Do(req)
	if err != nil {
		return &DeliveryError{Retryable: !errors.Is(err, egress.ErrRefused), Err: redact(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	// Read a little so a short answer frees the connection for the next call; its content is never used.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &DeliveryError{Status: resp.StatusCode, Retryable: retryableStatus(resp.StatusCode)}
}

// client is the Client to call with: s.Client, or one that does not follow redirects.
func (s *Sender) client() *http.Client {
	if s != nil && s.Client != nil {
		return s.Client
	}
	return &http.Client{
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// redact drops the *url.Error around err (its text holds the URL, token included) and reduces the rest to one of
// egress.Describe's phrases, keeping it reachable for errors.Is and errors.As.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return egress.Redact(err)
}

// retryableStatus: too many requests and server errors may pass later; other answers will not change.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// validID: what DeliveryID returns passes; a header value with a line break or a control character would not.
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}
