// Package tenancy decides who the operator is when it acts for a RotatedSecret. With a ServiceAccount (the
// RotatedSecret's spec.serviceAccountName, else the operator's --default-service-account) every write, restart,
// Job and credential read is made impersonating it, so Kubernetes RBAC decides what a RotatedSecret may do: whoever
// may create one gains nothing through the operator. Without one the operator's own identity is used
// (single-tenant mode). The admin's guard rails (--no-cross-namespace-refs, --protected-namespaces) are Rules.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Actor is the identity the operator acts as for one RotatedSecret.
type Actor struct {
	// Writer writes as the actor. Impersonated, it reads too (past any cache).
	Writer client.Client
	// Reader reads as the actor, past the operator's cache.
	Reader client.Reader
	// Namespace and ServiceAccount name the impersonated ServiceAccount; both empty for the operator's own identity.
	Namespace, ServiceAccount string

	// allowed remembers, for a short while, what the API server allowed this ServiceAccount (shared by its actors).
	allowed *decisions
}

// Impersonated reports whether the actor is a ServiceAccount rather than the operator itself.
func (a Actor) Impersonated() bool { return a.ServiceAccount != "" }

// String names the actor in messages: "ServiceAccount team-a/rotator" or "the operator".
func (a Actor) String() string {
	if !a.Impersonated() {
		return "the operator"
	}
	return "ServiceAccount " + a.Namespace + "/" + a.ServiceAccount
}

// Action is one request the operator makes as an actor, for access checks and messages.
type Action struct {
	Verb, Group, Resource, Subresource, Namespace, Name string
}

// String names the action, e.g. `patch deployments.apps "api" in namespace team-b`.
func (a Action) String() string {
	res := a.Resource
	if a.Group != "" {
		res += "." + a.Group
	}
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	out := a.Verb + " " + res
	if a.Name != "" {
		out += fmt.Sprintf(" %q", a.Name)
	}
	if a.Namespace != "" {
		out += " in namespace " + a.Namespace
	}
	return out
}

// ForbiddenError says that RBAC refused an action of an actor.
type ForbiddenError struct {
	Actor  string
	Action Action
}

// Error names who may not do what, and how to allow it.
func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s may not %s (Kubernetes RBAC); nothing was written; an admin can allow it with a Role "+
		"and RoleBinding", e.Actor, e.Action)
}

// IsForbidden reports whether err is (or wraps) a ForbiddenError.
func IsForbidden(err error) bool {
	var f *ForbiddenError
	return errors.As(err, &f)
}

// Refused turns a 403 from the API server, answered to action made by a, into a ForbiddenError; any other error
// is returned as it is.
func (a Actor) Refused(action Action, err error) error {
	if apierrors.IsForbidden(err) {
		return &ForbiddenError{Actor: a.String(), Action: action}
	}
	return err
}

// Check asks the API server whether the actor may do action (a SelfSubjectAccessReview made as the actor, which
// every authenticated identity may create). The operator's own identity is not checked: in single-tenant mode its
// RBAC is the admin's choice. nil means allowed; a ForbiddenError means refused.
//
// A named action is first asked for every name of the namespace: a Role without resourceNames answers for all
// of them at once. What was allowed is remembered for allowedFor, so 500 RotatedSecrets of one namespace cost a
// handful of reviews; a refusal is never remembered (an admin may grant it the next moment). A pre-flight only:
// the API server still authorizes the action itself.
func (a Actor) Check(ctx context.Context, action Action) error {
	if !a.Impersonated() {
		return nil
	}
	if action.Name != "" {
		wide := action
		wide.Name = ""
		if ok, err := a.review(ctx, wide); err != nil || ok {
			return err
		}
	}
	ok, err := a.review(ctx, action)
	if err == nil && !ok {
		err = &ForbiddenError{Actor: a.String(), Action: action}
	}
	return err
}

// review asks the API server (or the recent answers) whether the actor may do action.
func (a Actor) review(ctx context.Context, action Action) (bool, error) {
	if a.allowed.has(action) {
		return true, nil
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: action.Verb, Group: action.Group, Resource: action.Resource, Subresource: action.Subresource,
			Namespace: action.Namespace, Name: action.Name,
		},
	}}
	if err := a.Writer.Create(ctx, review); err != nil {
		return false, a.Refused(action, fmt.Errorf("checking whether %s may %s: %w", a, action, err))
	}
	if !review.Status.Allowed || review.Status.Denied {
		return false, nil
	}
	a.allowed.add(action)
	return true, nil
}

// Identities hands out Actors. Impersonating clients are built once per ServiceAccount and kept: they share the
// operator's REST mapper and connection pool, so a ServiceAccount costs no discovery and no extra connection.
type Identities struct {
	base     *rest.Config
	opts     client.Options
	own      Actor
	fallback string

	mu      sync.Mutex
	clients map[string]identity
}

// identity is what is kept per ServiceAccount.
type identity struct {
	client  client.Client
	allowed *decisions
}

// maxClients bounds the kept clients; past it they are dropped and built again on demand.
const maxClients = 4096

// NewIdentities returns the identities of an operator whose own client is own (writes) and ownReader (reads past
// the cache). cfg and opts (scheme, mapper, HTTP client) build impersonating clients; defaultServiceAccount is
// used for RotatedSecrets that name none ("" = the operator's own identity for those).
func NewIdentities(cfg *rest.Config, opts client.Options, own client.Client, ownReader client.Reader, defaultServiceAccount string) *Identities {
	return &Identities{
		base: rest.CopyConfig(cfg), opts: opts, own: Actor{Writer: own, Reader: ownReader},
		fallback: defaultServiceAccount, clients: map[string]identity{},
	}
}

// For returns the actor of a RotatedSecret in namespace that names serviceAccount (may be empty).
func (i *Identities) For(namespace, serviceAccount string) (Actor, error) {
	if serviceAccount == "" {
		serviceAccount = i.fallback
	}
	if serviceAccount == "" {
		return i.own, nil
	}
	user := "system:serviceaccount:" + namespace + ":" + serviceAccount
	i.mu.Lock()
	defer i.mu.Unlock()
	id, ok := i.clients[user]
	if !ok {
		cfg := rest.CopyConfig(i.base)
		// Only the user: the API server adds the ServiceAccount's groups itself, as for its own tokens.
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		opts := i.opts
		if opts.HTTPClient != nil {
			// The shared HTTP client would drop the impersonation headers: wrap its transport per identity.
			hc := *opts.HTTPClient
			hc.Transport = transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{UserName: user}, hc.Transport)
			opts.HTTPClient = &hc
		}
		c, err := client.New(cfg, opts)
		if err != nil {
			return Actor{}, fmt.Errorf("client for %s: %w", user, err)
		}
		if len(i.clients) >= maxClients {
			clear(i.clients)
		}
		id = identity{client: c, allowed: &decisions{}}
		i.clients[user] = id
	}
	return Actor{Writer: id.client, Reader: id.client, Namespace: namespace, ServiceAccount: serviceAccount, allowed: id.allowed}, nil
}
