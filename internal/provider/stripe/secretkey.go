package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// revokeMessage tells a person how to revoke an old key; %s is " ending in XXXX" or "".
const revokeMessage = "revoke the old Stripe key%s in the Dashboard (Developers > API keys)"

// SecretKey is the stripeSecretKey provider. Stripe secret and restricted keys cannot be created, rolled or revoked
// through any API: a person stages a new key, Generate picks it up, Verify checks it before any target sees it,
// and Revoke reports the old key as a human step until it stops working.
type SecretKey struct{ api *api }

var _ provider.Provider = (*SecretKey)(nil)

// NewSecretKey returns the stripeSecretKey provider.
func NewSecretKey(opts Options) (*SecretKey, error) {
	a, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	return &SecretKey{api: a}, nil
}

// keyState is Result.State: only a hint, never the key.
type keyState struct {
	KeyHint string `json:"keyHint,omitempty"`
}

func keySpec(req provider.Request) (*rotationv1alpha1.StripeSecretKeyProvider, error) {
	if req.Spec.StripeSecretKey == nil {
		return nil, provider.Permanent(errors.New("spec.provider.stripeSecretKey is not set"))
	}
	return req.Spec.StripeSecretKey, nil
}

// Generate returns {"value": the staged key}, State {"keyHint": its last 4 characters}. It makes no call to
// Stripe. A missing staged Secret or key, or a staged key equal to the one in service, is an
// *AwaitingStagedValueError: a person has to create a key in the Dashboard and stage it first.
func (k *SecretKey) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	spec, err := keySpec(req)
	if err != nil {
		return provider.Result{}, err
	}
	if req.Credentials == nil {
		return provider.Result{}, errors.New("no credential reader in the request")
	}
	await := func(msg string) error {
		return &provider.AwaitingStagedValueError{Ref: spec.StagedSecretRef, Message: msg}
	}
	raw, err := req.Credentials.Credential(ctx, spec.StagedSecretRef)
	var cerr *provider.CredentialError
	if errors.As(err, &cerr) {
		return provider.Result{}, await("create a new key in the Stripe Dashboard and put it there")
	}
	if err != nil {
		return provider.Result{}, err
	}
	// Trimmed: a key saved with `kubectl create secret --from-file` often ends in a newline.
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return provider.Result{}, await("the staged key is empty")
	}
	if cur := strings.TrimSpace(string(req.Current[provider.DefaultOutput])); cur != "" && cur == key {
		return provider.Result{}, await("the staged key is the one in service; stage a new key")
	}
	state, err := json.Marshal(keyState{KeyHint: hint(key)})
	if err != nil {
		return provider.Result{}, err
	}
	return provider.Result{Values: provider.Values{provider.DefaultOutput: []byte(key)}, State: state}, nil
}

// Verify checks the candidate key before any target sees it: a secret (sk_) or restricted (rk_) key, restricted if
// the spec requires it, of the spec's mode, accepted by Stripe (GET /v1/balance), and passing every permission
// probe: each allow probe must succeed (2xx), each deny probe must be refused with 403. Any other answer to a deny
// probe (2xx, but also 400 or 404) means the key got past Stripe's permission check. Probes should be GETs: a POST
// deny probe that a too-powerful key passes may create something. Every failure is permanent except Stripe being
// unreachable, rate limiting or failing (5xx); no message contains more of the key than its last 4 characters.
func (k *SecretKey) Verify(ctx context.Context, req provider.Request, candidate provider.Result) error {
	spec, err := keySpec(req)
	if err != nil {
		return err
	}
	key := string(candidate.Values[provider.DefaultOutput])
	if err := checkShape(key, spec); err != nil {
		return provider.Permanent(err)
	}
	who := describeKey(key)
	b, err := k.api.balance(ctx, key)
	switch e := apiError("checking "+who, err, key); {
	case err == nil:
		// Stripe's answer cross-checks the mode the prefix claims.
		if b.Livemode != (spec.Mode == rotationv1alpha1.StripeModeLive) {
			return provider.Permanent(fmt.Errorf("%s is a %s key, Stripe says livemode=%t", who, spec.Mode, b.Livemode))
		}
	case e.Status == http.StatusUnauthorized:
		return provider.Permanent(fmt.Errorf("Stripe refused %s (401): it is invalid or revoked", who))
	case e.Status == http.StatusForbidden:
		// Authenticated, but a restricted key without Balance read: the mode was checked on the prefix only.
	case e.transient():
		return e
	default:
		return provider.Permanent(e)
	}
	if spec.Probes == nil {
		return nil
	}
	for _, p := range spec.Probes.Allow {
		if err := k.probe(ctx, key, p, true); err != nil {
			return err
		}
	}
	for _, p := range spec.Probes.Deny {
		if err := k.probe(ctx, key, p, false); err != nil {
			return err
		}
	}
	return nil
}

// checkShape checks the key's prefix and mode without calling Stripe.
func checkShape(key string, spec *rotationv1alpha1.StripeSecretKeyProvider) error {
	who := describeKey(key)
	switch {
	case strings.HasPrefix(key, "pk_"):
		return fmt.Errorf("%s is a publishable key (pk_), not a secret or restricted key", who)
	case !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_"):
		return fmt.Errorf("%s is not a Stripe secret or restricted key (sk_... or rk_...)", who)
	}
	// Only a known mode is ever quoted back: in a malformed key the second part could be secret material.
	parts := strings.SplitN(key, "_", 3)
	if len(parts) < 3 || parts[2] == "" || parts[1] != "test" && parts[1] != "live" {
		return fmt.Errorf("%s is malformed: a Stripe key starts with sk_test_, sk_live_, rk_test_ or rk_live_", who)
	}
	if parts[0] == "sk" && spec.RequireRestricted {
		return fmt.Errorf("%s is a full secret key (sk_), but the spec requires a restricted key (rk_)", who)
	}
	if spec.Mode != rotationv1alpha1.StripeModeTest && spec.Mode != rotationv1alpha1.StripeModeLive {
		return fmt.Errorf("spec.mode must be test or live, not %q", spec.Mode)
	}
	if parts[1] != string(spec.Mode) {
		return fmt.Errorf("%s is a %s-mode key (%s_%s_), but the spec wants mode %s", who, parts[1], parts[0], parts[1], spec.Mode)
	}
	return nil
}

// probe makes one permission probe with key; allow says whether it must succeed or be refused.
func (k *SecretKey) probe(ctx context.Context, key string, p rotationv1alpha1.StripeProbe, allow bool) error {
	method := p.Method
	if method == "" {
		method = http.MethodGet
	}
	name := method + " " + p.Path
	kind := "deny"
	if allow {
		kind = "allow"
	}
	if !strings.HasPrefix(p.Path, "/v1/") {
		return provider.Permanent(fmt.Errorf("%s probe %s: the path must start with /v1/", kind, name))
	}
	err := k.api.call(ctx, method, p.Path, key)
	e := apiError(kind+" probe "+name, err, key)
	switch {
	case err == nil && allow:
		return nil
	case err == nil:
		return provider.Permanent(fmt.Errorf("deny probe %s succeeded: %s has more permission than the spec allows", name, describeKey(key)))
	case e.Status == http.StatusForbidden && !allow:
		return nil
	case e.Status == http.StatusForbidden:
		if perm := missingPermission(e.Message); perm != "" {
			return provider.Permanent(fmt.Errorf("allow probe %s was refused (403): %s lacks the permission %s", name, describeKey(key), perm))
		}
		return provider.Permanent(e)
	case e.Status == http.StatusUnauthorized:
		return provider.Permanent(fmt.Errorf("%s: Stripe refused %s (401): it is invalid or revoked", e.Op, describeKey(key)))
	case e.transient():
		return e
	case !allow:
		got := strings.TrimPrefix(e.Error(), e.Op+": Stripe answered ")
		return provider.Permanent(fmt.Errorf("deny probe %s was not refused with 403 but answered %s: %s got past Stripe's permission check",
			name, got, describeKey(key)))
	}
	return provider.Permanent(e)
}

// Revoke asks Stripe whether the old key still works (GET /v1/balance with it). A refused key (401) is revoked:
// nil. A key that still works (2xx, or 403: authenticated but not allowed to read the balance) is a
// *HumanRevocationError with the key's last 4 characters as hint. An empty old (revision 0, the key in use before
// the operator took over) cannot be checked: Revoke always returns a HumanRevocationError without a hint for it,
// so it is up to the reconciler (or the person acknowledging it) to stop asking.
func (k *SecretKey) Revoke(ctx context.Context, req provider.Request, old provider.Result) error {
	key := strings.TrimSpace(string(old.Values[provider.DefaultOutput]))
	if key == "" {
		return &provider.HumanRevocationError{Message: "revoke the Stripe key that was in use before secret-rotator " +
			"managed this secret, in the Stripe Dashboard (Developers > API keys); the operator does not know that key and cannot check it"}
	}
	_, err := k.api.balance(ctx, key)
	e := apiError("checking the old key", err, key)
	switch {
	case err == nil, e.Status == http.StatusForbidden:
		h := hint(key)
		if h != "" {
			return &provider.HumanRevocationError{Hint: h, Message: fmt.Sprintf(revokeMessage, " ending in "+h)}
		}
		return &provider.HumanRevocationError{Message: fmt.Sprintf(revokeMessage, "")}
	case e.Status == http.StatusUnauthorized:
		return nil
	case e.transient():
		return e
	}
	return provider.Permanent(e)
}

// Outputs implements provider.Provider: the staged key.
func (k *SecretKey) Outputs(rotationv1alpha1.ProviderSpec) []string {
	return []string{provider.DefaultOutput}
}

// Check implements provider.Provider: the schema checks the block.
func (k *SecretKey) Check(rotationv1alpha1.ProviderSpec) error { return nil }

// Inputs implements provider.Provider: the Secret where a person stages the new key.
func (k *SecretKey) Inputs(spec rotationv1alpha1.ProviderSpec) []string {
	if spec.StripeSecretKey == nil {
		return nil
	}
	return []string{spec.StripeSecretKey.StagedSecretRef.Name}
}

// RevokesBeforeIssue implements provider.EarlyRevoker: only a person can roll a Stripe key, so an emergency asks
// its owner at once, before the replacement is promoted.
func (k *SecretKey) RevokesBeforeIssue(rotationv1alpha1.ProviderSpec) bool { return true }

// Revocable implements provider.Provider: a key the operator promoted is tracked until a person has revoked it;
// the key in service before the first rotation is unknown to it.
func (k *SecretKey) Revocable(_ rotationv1alpha1.ProviderSpec, rev int64) bool { return rev > 0 }
