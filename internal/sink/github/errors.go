package github

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// ErrInvalid marks a target, token or value that GitHub would refuse before any request is made (bad repository,
// reserved secret name, value too large). Retrying cannot fix it.
var ErrInvalid = errors.New("invalid GitHub Actions target")

// ErrNotFound is what a 404 means for the Actions secrets API: GitHub answers 404, not 403, when the token may not
// see the repository, so the two cannot be told apart.
var ErrNotFound = errors.New("repository or environment not found or token lacks access")

// AuthError means GitHub refused the token (401, or 403 without rate limiting). The caller reports the token
// Secret (Ref) as refused; a change to that Secret is what fixes it.
type AuthError struct {
	// StatusCode is 401 or 403; 0 when the token is empty and no request was made.
	StatusCode int
	// Ref is the Secret key the token came from.
	Ref rotationv1alpha1.SecretKeyRef
	// Message is GitHub's short explanation, clipped, with the token and value removed.
	Message string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("GitHub refused the token in Secret %s (key %s): HTTP %d%s",
		e.Ref.Name, e.Ref.Key, e.StatusCode, suffix(e.Message))
}

// StatusError is any other unexpected HTTP status from GitHub.
type StatusError struct {
	// Op is the request that failed: "get public key" or "put secret".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// RateLimited is set for 429, and for 403 with a rate-limit header (GitHub's secondary rate limits use 403).
	RateLimited bool
	// RetryAfter is GitHub's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Message is GitHub's short explanation, clipped, with the token and value removed.
	Message string
}

func (e *StatusError) Error() string {
	switch {
	case e.StatusCode == http.StatusNotFound:
		return fmt.Sprintf("%s: %v (HTTP 404)%s", e.Op, ErrNotFound, suffix(e.Message))
	case e.RateLimited:
		return fmt.Sprintf("%s: rate limited by GitHub (HTTP %d)%s", e.Op, e.StatusCode, suffix(e.Message))
	}
	return fmt.Sprintf("%s: HTTP %d%s", e.Op, e.StatusCode, suffix(e.Message))
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// IsPermanent reports whether repeating the same Put cannot succeed until someone changes the spec, the token or
// GitHub: a refused token, an invalid target, or a 4xx that is not a timeout or rate limit (404, 422, ...).
// Network errors, timeouts, 5xx and rate limits are not permanent: return them and let the queue back off.
func IsPermanent(err error) bool {
	var auth *AuthError
	if errors.As(err, &auth) || errors.Is(err, ErrInvalid) {
		return true
	}
	var st *StatusError
	if errors.As(err, &st) {
		return !st.RateLimited && st.StatusCode >= 400 && st.StatusCode < 500 &&
			st.StatusCode != http.StatusRequestTimeout
	}
	return false
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
