// Package github mirrors secret values into GitHub Actions secrets (repository or environment) through the
// GitHub REST API. The value is encrypted for the repository's or environment's public key with a libsodium
// sealed box before it leaves the process; GitHub secrets are write-only, so a mirror cannot be read back.
package github

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/nacl/box"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

const (
	// DefaultBaseURL is github.com's API. GitHub Enterprise Server uses https://HOST/api/v3.
	DefaultBaseURL = "https://api.github.com"
	// DefaultTimeout bounds each request when Options.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second
	// UserAgent is sent with every request; GitHub refuses requests without one.
	UserAgent = "secret-rotator"
	// APIVersion is the REST API version requested.
	APIVersion = "2022-11-28"
	// MaxValueSize is GitHub's limit on a secret value (48 KB).
	MaxValueSize = 48 * 1024

	// maxBody caps how much of a response is read.
	maxBody = 64 << 10
	// maxMessage caps how much of GitHub's message goes into an error.
	maxMessage = 200
)

var (
	// Same patterns as the GitHubActionsTarget validation markers, checked again so a bad target fails here
	// instead of becoming a request to another path.
	repoPart   = regexp.MustCompile(`^[-_.a-zA-Z0-9]+$`)
	secretName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Options configure a Client.
type Options struct {
	// BaseURL of the REST API, default DefaultBaseURL; for GitHub Enterprise Server https://HOST/api/v3.
	BaseURL string
	// HTTPClient makes the requests; default a client with DefaultTimeout.
	HTTPClient *http.Client
}

// Client writes GitHub Actions secrets.
type Client struct {
	baseURL string
	http    *http.Client
}

// New returns a Client for opts.
func New(opts Options) *Client {
	c := &Client{baseURL: strings.TrimRight(opts.BaseURL, "/"), http: opts.HTTPClient}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	return c
}

// Target returns the display id of t used in status: github:<owner>/<repo>[/<environment>]/<name>.
func Target(t rotationv1alpha1.GitHubActionsTarget) string {
	if t.Environment != "" {
		return "github:" + t.Repository + "/" + t.Environment + "/" + t.Name
	}
	return "github:" + t.Repository + "/" + t.Name
}

// Put creates or replaces the Actions secret t with value, authenticating with token (surrounding whitespace,
// such as the newline of a Secret made with echo, is ignored). It fetches the public key of the repository or
// environment, seals value for it and uploads the sealed box. Errors never contain the token or the value:
// *AuthError when GitHub refuses the token, *StatusError for other statuses (errors.Is(err, ErrNotFound) for
// 404), ErrInvalid for a target GitHub would refuse; IsPermanent tells them from retryable ones.
func (c *Client) Put(ctx context.Context, token []byte, t rotationv1alpha1.GitHubActionsTarget, value []byte) error {
	if err := c.put(ctx, token, t, value); err != nil {
		return fmt.Errorf("%s: %w", Target(t), err)
	}
	return nil
}

func (c *Client) put(ctx context.Context, token []byte, t rotationv1alpha1.GitHubActionsTarget, value []byte) error {
	base, err := secretsPath(t)
	if err != nil {
		return err
	}
	token = bytes.TrimSpace(token)
	if len(token) == 0 {
		return &AuthError{Ref: t.TokenSecretRef, Message: "the token is empty"}
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: value is %d bytes, GitHub allows %d", ErrInvalid, len(value), MaxValueSize)
	}
	r := &requester{c: c, token: token, value: value, ref: t.TokenSecretRef}

	status, body, err := r.do(ctx, http.MethodGet, base+"/public-key", nil)
	if err != nil {
		return fmt.Errorf("get public key: %w", err)
	}
	if status != http.StatusOK {
		return r.statusError("get public key", status, body)
	}
	if body.truncated {
		return fmt.Errorf("get public key: response larger than %d bytes", maxBody)
	}
	var pk struct {
		KeyID string `json:"key_id"`
		Key   string `json:"key"`
	}
	if err := json.Unmarshal(body.data, &pk); err != nil {
		return fmt.Errorf("get public key: malformed response: %w", err)
	}
	key, err := DecodePublicKey(pk.Key)
	if err != nil {
		return fmt.Errorf("get public key: %w", err)
	}
	if pk.KeyID == "" {
		return fmt.Errorf("get public key: response has no key_id")
	}

	sealed, err := box.SealAnonymous(nil, value, key, rand.Reader)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	payload, err := json.Marshal(struct {
		EncryptedValue string `json:"encrypted_value"`
		KeyID          string `json:"key_id"`
	}{base64.StdEncoding.EncodeToString(sealed), pk.KeyID})
	if err != nil {
		return err
	}
	status, body, err = r.do(ctx, http.MethodPut, base+"/"+url.PathEscape(t.Name), payload)
	if err != nil {
		return fmt.Errorf("put secret: %w", err)
	}
	// 201: created, 204: replaced.
	if status != http.StatusCreated && status != http.StatusNoContent {
		return r.statusError("put secret", status, body)
	}
	return nil
}

// DecodePublicKey decodes the key of a public-key response: standard base64 of a 32-byte curve25519 key.
func DecodePublicKey(key string) (*[32]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("public key is not base64: %w", err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("public key is %d bytes, want 32", len(raw))
	}
	var k [32]byte
	copy(k[:], raw)
	return &k, nil
}

// secretsPath returns the escaped path of the secrets collection of t, relative to the base URL:
// /repos/{owner}/{repo}/actions/secrets or /repos/{owner}/{repo}/environments/{environment}/secrets.
func secretsPath(t rotationv1alpha1.GitHubActionsTarget) (string, error) {
	owner, repo, ok := strings.Cut(t.Repository, "/")
	if !ok || !validRepoPart(owner) || !validRepoPart(repo) {
		return "", fmt.Errorf("%w: repository must be owner/name", ErrInvalid)
	}
	if !secretName.MatchString(t.Name) {
		return "", fmt.Errorf("%w: secret name must be letters, digits and underscores, not starting with a digit", ErrInvalid)
	}
	if strings.HasPrefix(strings.ToUpper(t.Name), "GITHUB_") {
		return "", fmt.Errorf("%w: GitHub reserves secret names starting with GITHUB_", ErrInvalid)
	}
	p := "/repos/" + owner + "/" + repo
	if t.Environment == "" {
		return p + "/actions/secrets", nil
	}
	// "." and ".." survive escaping and would be resolved as path segments by servers and proxies.
	if t.Environment == "." || t.Environment == ".." {
		return "", fmt.Errorf("%w: environment name %q", ErrInvalid, t.Environment)
	}
	// PathEscape turns "/" into %2F and " " into %20, as GitHub asks for environment names.
	return p + "/environments/" + url.PathEscape(t.Environment) + "/secrets", nil
}

func validRepoPart(s string) bool {
	return repoPart.MatchString(s) && s != "." && s != ".."
}

// requester makes the requests of one Put and keeps what must never appear in an error.
type requester struct {
	c            *Client
	token, value []byte
	ref          rotationv1alpha1.SecretKeyRef
}

// response is a response body read up to maxBody.
type response struct {
	data      []byte
	truncated bool
	header    http.Header
}

func (r *requester) do(ctx context.Context, method, path string, payload []byte) (int, response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.c.baseURL+path, body)
	if err != nil {
		return 0, response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+string(r.token))
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("User-Agent", UserAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.c.http.Do(req)
	if err != nil {
		// url.Error names the method and URL only; neither holds the token or the value.
		return 0, response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, response{}, fmt.Errorf("read response: %w", err)
	}
	out := response{data: data, header: resp.Header}
	if len(data) > maxBody {
		out.data, out.truncated = data[:maxBody], true
	}
	return resp.StatusCode, out, nil
}

// statusError turns an unexpected status into *AuthError or *StatusError.
func (r *requester) statusError(op string, status int, body response) error {
	msg := r.message(body)
	rateLimited := status == http.StatusTooManyRequests ||
		(status == http.StatusForbidden &&
			(body.header.Get("Retry-After") != "" || body.header.Get("X-RateLimit-Remaining") == "0"))
	if (status == http.StatusUnauthorized || status == http.StatusForbidden) && !rateLimited {
		return &AuthError{StatusCode: status, Ref: r.ref, Message: msg}
	}
	e := &StatusError{Op: op, StatusCode: status, RateLimited: rateLimited, Message: msg}
	if secs, err := strconv.Atoi(body.header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// message returns GitHub's "message" field, clipped to maxMessage and printable. The rest of the body is never
// used: it may be large, HTML from a proxy, or echo what was sent. A message that shares any leakWindow
// consecutive bytes with the token or the value is dropped whole: an echo may have been re-encoded (invalid UTF-8
// replaced, clipped), so exact redaction would not be enough.
func (r *requester) message(body response) string {
	var m struct {
		Message string `json:"message"`
	}
	if body.truncated || json.Unmarshal(body.data, &m) != nil {
		return ""
	}
	msg := strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, m.Message)
	if len(msg) > maxMessage {
		// Clip at a rune boundary.
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	if overlaps(msg, r.token) || overlaps(msg, r.value) {
		return ""
	}
	return msg
}

// leakWindow is how many consecutive bytes of a secret count as a leak.
const leakWindow = 8

// overlaps reports whether msg holds leakWindow consecutive bytes of secret (all of it, if shorter).
func overlaps(msg string, secret []byte) bool {
	w := min(leakWindow, len(secret))
	if w == 0 {
		return false
	}
	for i := 0; i+w <= len(msg); i++ {
		if bytes.Contains(secret, []byte(msg[i:i+w])) {
			return true
		}
	}
	return false
}
