package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhookendpoint"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// OutputEndpointID is the stripeWebhook output holding the id of the endpoint whose secret is in value.
const OutputEndpointID = "endpoint_id"

// Metadata the stripeWebhook provider sets on the endpoints it creates, so a person in the Dashboard can tell
// them apart (Stripe limits keys to 40 characters).
const (
	// MetaCreatedBy is set to "secret-rotator".
	MetaCreatedBy = "secret_rotator_created_by"
	// MetaRotatedSecret is the RotatedSecret as namespace/name.
	MetaRotatedSecret = "secret_rotator_rotated_secret"
	// MetaRevision is the revision whose secret the endpoint holds.
	MetaRevision = "secret_rotator_revision"
	// MetaReplaces is the id of the endpoint it was copied from.
	MetaReplaces = "secret_rotator_replaces"
)

const (
	secretPrefix   = "whsec_"
	statusEnabled  = "enabled"
	listPageLimit  = 100
	maxListedItems = 1000 // Stripe allows 16 endpoints per account; this only stops a runaway pager
)

// Webhook is the stripeWebhook provider. Stripe cannot roll a webhook signing secret, so Generate creates a twin
// of the endpoint in service (same URL, enabled events and API version; Stripe returns the secret of an endpoint
// only when it is created) and Revoke deletes an endpoint. Both endpoints deliver while apps accept either secret.
type Webhook struct{ api *api }

var (
	_ provider.Provider    = (*Webhook)(nil)
	_ provider.KeyedCaller = (*Webhook)(nil)
)

// NewWebhook returns the stripeWebhook provider.
func NewWebhook(opts Options) (*Webhook, error) {
	a, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	return &Webhook{api: a}, nil
}

// webhookState is Result.State: what Revoke needs to delete the endpoint.
type webhookState struct {
	EndpointID string `json:"endpointID"`
}

// session is one provider call: the spec, the operator's key and an endpoint client using it.
type session struct {
	spec *rotationv1alpha1.StripeWebhookProvider
	key  string
	c    webhookendpoint.Client
}

func (w *Webhook) session(ctx context.Context, req provider.Request) (*session, error) {
	spec := req.Spec.StripeWebhook
	if spec == nil {
		return nil, provider.Permanent(errors.New("spec.provider.stripeWebhook is not set"))
	}
	if req.Credentials == nil {
		return nil, errors.New("no credential reader in the request")
	}
	// A missing Secret or key comes back as the reader's own CredentialError, returned unchanged.
	raw, err := req.Credentials.Credential(ctx, spec.APIKeySecretRef)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return nil, &provider.CredentialError{Ref: spec.APIKeySecretRef, Err: errors.New("the Stripe key is empty")}
	}
	return &session{spec: spec, key: key, c: webhookendpoint.Client{B: w.api.backend, Key: key}}, nil
}

// fail sorts an error of a call made with the operator's key into the provider error kinds.
func (s *session) fail(op string, err error) error {
	e := apiError(op, err, s.key)
	switch {
	case e.Status == http.StatusUnauthorized:
		return &provider.CredentialError{Ref: s.spec.APIKeySecretRef,
			Err: fmt.Errorf("%s: Stripe refused the key (401): it is invalid or revoked", op)}
	case e.Status == http.StatusForbidden:
		return &provider.CredentialError{Ref: s.spec.APIKeySecretRef,
			Err: fmt.Errorf("%s: the key lacks a permission (403), it needs Webhook Endpoints write: %s", op, e.Message)}
	case e.transient():
		return e
	}
	return provider.Permanent(e)
}

func params(ctx context.Context) *stripego.WebhookEndpointParams {
	return &stripego.WebhookEndpointParams{Params: stripego.Params{Context: ctx}}
}

func notFound(err error) bool {
	var se *stripego.Error
	return errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound
}

// Generate creates a twin of the endpoint in service and returns {"value": its whsec_ secret, "endpoint_id": its
// id}; State records the id for Revoke. It calls req.Guard.Begin right before the create, the one call that must
// not be repeated, and sends req.IdempotencyKey with it, so that a repeat after an answer that leaves open whether
// Stripe created the twin (a 5xx, a timeout, a reset connection) gets that twin back instead of making another;
// such a failure is a provider.RepeatableError.
func (w *Webhook) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	s, err := w.session(ctx, req)
	if err != nil {
		return provider.Result{}, err
	}
	old, err := s.current(ctx, req)
	if err != nil {
		return provider.Result{}, err
	}
	// A twin is created enabled; copying a disabled endpoint would start deliveries nobody asked for.
	if old.Status != statusEnabled {
		return provider.Result{}, provider.Permanent(fmt.Errorf("webhook endpoint %s is %s: enable it before rotating its secret", old.ID, old.Status))
	}
	if req.Guard == nil {
		return provider.Result{}, errors.New("no create-pending guard in the request: refusing to create an endpoint")
	}
	if req.IdempotencyKey == "" {
		return provider.Result{}, errors.New("no idempotency key in the request: refusing to create an endpoint")
	}
	if err := req.Guard.Begin(ctx); err != nil {
		return provider.Result{}, fmt.Errorf("recording that an endpoint is about to be created: %w", err)
	}
	callCtx, x := withExchange(ctx)
	p := twinParams(callCtx, old, req)
	p.SetIdempotencyKey(req.IdempotencyKey)
	created, err := s.c.New(p)
	if err != nil {
		return provider.Result{}, s.createFailed(old.ID, req, x, err)
	}
	if !strings.HasPrefix(created.Secret, secretPrefix) {
		// The secret is only ever returned here: a twin without one is useless, so it is removed again.
		msg := fmt.Sprintf("Stripe created webhook endpoint %s without a signing secret", created.ID)
		if _, derr := s.c.Del(created.ID, params(ctx)); derr != nil && !notFound(derr) {
			msg += "; deleting it failed too, delete it in the Dashboard"
		} else {
			msg += "; it was deleted again"
		}
		return provider.Result{}, provider.Permanent(errors.New(msg))
	}
	state, err := json.Marshal(webhookState{EndpointID: created.ID})
	if err != nil {
		return provider.Result{}, err
	}
	return provider.Result{
		Values: provider.Values{provider.DefaultOutput: []byte(created.Secret), OutputEndpointID: []byte(created.ID)},
		State:  state,
	}, nil
}

// createFailed sorts a failed create. One Stripe may have carried out (the request went out and no answer came,
// the answer was a 2xx that could not be read, or a 5xx, whose outcome Stripe calls indeterminate) is repeatable:
// sent again with the same idempotency key, Stripe answers with the first one's saved result, or carries it out
// if it never did. A repeat whose parameters differ from the first use of the key (the endpoint in service
// changed in between) is refused by Stripe and left to a person: the first one may have created an endpoint.
func (s *session) createFailed(oldID string, req provider.Request, x *exchange, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && se.Type == stripego.ErrorTypeIdempotency && se.HTTPStatusCode != http.StatusConflict {
		return provider.Incomplete(fmt.Errorf("creating a twin of webhook endpoint %s: Stripe refused to repeat the "+
			"create with its idempotency key (%s), so an earlier attempt may have created the twin: it carries metadata %s=%s/%s and %s=%d",
			oldID, redact(se.Msg, s.key), MetaRotatedSecret, req.Namespace, req.Name, MetaRevision, req.Revision))
	}
	st := int(x.status.Load())
	if x.mayHaveActed() || x.sent.Load() && (st >= 500 || st == http.StatusConflict) {
		// 409 is Stripe still carrying out an earlier attempt with the same key: asked again later, it answers.
		return provider.Repeatable(lostCreate(oldID, req, x, apiError("", err, s.key)))
	}
	return s.fail("creating a twin of webhook endpoint "+oldID, err)
}

// lostCreate describes a create whose answer was lost (e carries the transport error) or unreadable (never
// quoted: it holds the signing secret), and how to find the endpoint it may have made.
func lostCreate(oldID string, req provider.Request, x *exchange, e *Error) error {
	what := fmt.Sprintf("the connection failed before Stripe's answer arrived (%v)", e.Err)
	switch st := x.status.Load(); {
	case st >= 200 && st <= 299:
		what = fmt.Sprintf("Stripe answered %d but the answer could not be read", st)
	case st != 0:
		what = fmt.Sprintf("Stripe answered %d, which leaves open whether it was carried out", st)
		if e.Code != "" {
			what += " (" + e.Code + ")"
		}
	}
	return fmt.Errorf("creating a twin of webhook endpoint %s: %s; the twin may exist: it carries metadata %s=%s/%s and %s=%d",
		oldID, what, MetaRotatedSecret, req.Namespace, req.Name, MetaRevision, req.Revision)
}

// twinParams copies what decides which events an endpoint gets and how they are rendered, plus its description
// and metadata, and marks the copy as the operator's. Stripe does not report whether an endpoint listens to
// connected accounts (connect=true), so a Connect endpoint cannot be copied faithfully.
func twinParams(ctx context.Context, old *stripego.WebhookEndpoint, req provider.Request) *stripego.WebhookEndpointParams {
	p := params(ctx)
	p.URL = stripego.String(old.URL)
	p.EnabledEvents = stripego.StringSlice(old.EnabledEvents)
	// An endpoint without an API version gets events in the account's default version; so will its twin.
	if old.APIVersion != "" {
		p.APIVersion = stripego.String(old.APIVersion)
	}
	if old.Description != "" {
		p.Description = stripego.String(old.Description)
	}
	for k, v := range old.Metadata {
		p.AddMetadata(k, v)
	}
	p.AddMetadata(MetaCreatedBy, "secret-rotator")
	p.AddMetadata(MetaRotatedSecret, req.Namespace+"/"+req.Name)
	p.AddMetadata(MetaRevision, strconv.FormatInt(req.Revision, 10))
	p.AddMetadata(MetaReplaces, old.ID)
	return p
}

// current finds the endpoint in service: the twin of the last rotation (Current's endpoint_id), else
// spec.endpointID, else the one endpoint with spec.url.
func (s *session) current(ctx context.Context, req provider.Request) (*stripego.WebhookEndpoint, error) {
	id, what := string(req.Current[OutputEndpointID]), "the endpoint in service"
	if id == "" {
		id, what = s.spec.EndpointID, "spec.endpointID"
	}
	if id != "" {
		ep, err := s.c.Get(id, params(ctx))
		if notFound(err) {
			return nil, provider.Permanent(fmt.Errorf("webhook endpoint %s (%s) does not exist at Stripe", id, what))
		}
		if err != nil {
			return nil, s.fail("reading webhook endpoint "+id, err)
		}
		return ep, nil
	}
	matches, err := s.byURL(ctx, nil)
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, provider.Permanent(fmt.Errorf("no webhook endpoint has URL %s", s.spec.URL))
	case 1:
		return matches[0], nil
	}
	return nil, provider.Permanent(fmt.Errorf("%d webhook endpoints have URL %s (%s): set spec.endpointID", len(matches), s.spec.URL, ids(matches)))
}

// byURL lists the endpoints with spec.url, leaving out those skip returns true for.
func (s *session) byURL(ctx context.Context, skip func(*stripego.WebhookEndpoint) bool) ([]*stripego.WebhookEndpoint, error) {
	if s.spec.URL == "" {
		return nil, provider.Permanent(errors.New("spec.provider.stripeWebhook sets neither endpointID nor url"))
	}
	lp := &stripego.WebhookEndpointListParams{ListParams: stripego.ListParams{Context: ctx, Limit: stripego.Int64(listPageLimit)}}
	it := s.c.List(lp)
	var matches []*stripego.WebhookEndpoint
	for n := 0; it.Next() && n < maxListedItems; n++ {
		ep := it.WebhookEndpoint()
		if ep.URL == s.spec.URL && (skip == nil || !skip(ep)) {
			matches = append(matches, ep)
		}
	}
	if err := it.Err(); err != nil {
		return nil, s.fail("listing webhook endpoints", err)
	}
	return matches, nil
}

func ids(eps []*stripego.WebhookEndpoint) string {
	out := make([]string, len(eps))
	for i, ep := range eps {
		out[i] = ep.ID
	}
	return strings.Join(out, ", ")
}

// endpointID returns the endpoint a result describes: from its state, else from its values.
func endpointID(r provider.Result) string {
	var st webhookState
	if len(r.State) > 0 && json.Unmarshal(r.State, &st) == nil && st.EndpointID != "" {
		return st.EndpointID
	}
	return string(r.Values[OutputEndpointID])
}

// Verify checks that the candidate's value is a signing secret and that its endpoint exists and is enabled.
func (w *Webhook) Verify(ctx context.Context, req provider.Request, candidate provider.Result) error {
	if !strings.HasPrefix(string(candidate.Values[provider.DefaultOutput]), secretPrefix) {
		return provider.Permanent(errors.New("the candidate value is not a Stripe webhook signing secret (whsec_...)"))
	}
	id := endpointID(candidate)
	if id == "" {
		return provider.Permanent(errors.New("the candidate names no webhook endpoint"))
	}
	s, err := w.session(ctx, req)
	if err != nil {
		return err
	}
	ep, err := s.c.Get(id, params(ctx))
	if notFound(err) {
		return provider.Permanent(fmt.Errorf("webhook endpoint %s no longer exists at Stripe", id))
	}
	if err != nil {
		return s.fail("reading webhook endpoint "+id, err)
	}
	if ep.Status != statusEnabled {
		return provider.Permanent(fmt.Errorf("webhook endpoint %s is %s", id, ep.Status))
	}
	return nil
}

// Revoke deletes the endpoint old describes; an endpoint that is gone already counts as deleted. With an empty old
// (revision 0, the endpoint that predates the operator) it deletes spec.endpointID, or the one endpoint with
// spec.url that the operator did not create for this RotatedSecret. The reconciler calls Revoke only for an endpoint
// that is not in service; with an empty old this is also checked against req.Current, because the endpoint is
// found by a search rather than by the id Generate returned.
func (w *Webhook) Revoke(ctx context.Context, req provider.Request, old provider.Result) error {
	s, err := w.session(ctx, req)
	if err != nil {
		return err
	}
	id := endpointID(old)
	if id == "" {
		if id, err = s.preOperator(ctx, req); err != nil || id == "" {
			return err
		}
	}
	if _, err := s.c.Del(id, params(ctx)); err != nil && !notFound(err) {
		return s.fail("deleting webhook endpoint "+id, err)
	}
	return nil
}

// preOperator finds the endpoint that was in service before the operator's first rotation; "" if it is gone.
func (s *session) preOperator(ctx context.Context, req provider.Request) (string, error) {
	inService := string(req.Current[OutputEndpointID])
	if id := s.spec.EndpointID; id != "" {
		if id == inService {
			return "", provider.Permanent(fmt.Errorf("refusing to delete webhook endpoint %s: it holds the secret in service", id))
		}
		return id, nil
	}
	owner := req.Namespace + "/" + req.Name
	matches, err := s.byURL(ctx, func(ep *stripego.WebhookEndpoint) bool {
		return ep.ID == inService || ep.Metadata[MetaRotatedSecret] == owner
	})
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", nil
	case 1:
		return matches[0].ID, nil
	}
	return "", provider.Permanent(fmt.Errorf("%d webhook endpoints with URL %s predate the operator (%s): delete the old one in the Dashboard",
		len(matches), s.spec.URL, ids(matches)))
}

// Outputs implements provider.Provider: the signing secret and the id of the endpoint it belongs to.
func (w *Webhook) Outputs(rotationv1alpha1.ProviderSpec) []string {
	return []string{OutputEndpointID, provider.DefaultOutput}
}

// Check implements provider.Provider: the schema checks the block.
func (w *Webhook) Check(rotationv1alpha1.ProviderSpec) error { return nil }

// Inputs implements provider.Provider: nothing is staged by a person.
func (w *Webhook) Inputs(rotationv1alpha1.ProviderSpec) []string { return nil }

// KeyWindow is how long after a create's first attempt the stripeWebhook provider repeats it with the same
// idempotency key. Stripe keeps a key for at least 24 hours and answers a repeat with the first request's saved
// result; an hour is kept back for a clock that runs behind Stripe's and for slow calls.
const KeyWindow = 23 * time.Hour

// KeyWindow implements provider.KeyedCaller: every create carries req.IdempotencyKey.
func (w *Webhook) KeyWindow(rotationv1alpha1.ProviderSpec) time.Duration { return KeyWindow }

// Revocable implements provider.Provider: every endpoint that leaves service is deleted, including the one in
// service before the operator took over (revision 0, found by spec.endpointID or spec.url).
func (w *Webhook) Revocable(rotationv1alpha1.ProviderSpec, int64) bool { return true }
