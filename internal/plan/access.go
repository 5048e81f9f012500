package plan

import (
	"context"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Methods of an access check (Access.Method).
const (
	MethodImpersonation = "impersonation"
	MethodSubjectReview = "SubjectAccessReview"
	MethodLocalReview   = "LocalSubjectAccessReview"
	MethodNone          = "none"
)

// reviewer asks RBAC whether the actor may do an action, by the best means the person running the plan has.
type reviewer struct {
	method string
	actor  tenancy.Actor
	person client.Client
	// local records, per namespace, whether the person may create LocalSubjectAccessReviews there.
	local map[string]bool
}

// newReviewer picks how to check the actor's rights, and says why nothing can be checked when so: as the operator
// does (impersonating the ServiceAccount, a SelfSubjectAccessReview as it), else with a SubjectAccessReview about
// it, else with LocalSubjectAccessReviews in the namespaces where the person may create them.
func newReviewer(ctx context.Context, person client.Client, actor tenancy.Actor) (*reviewer, string, error) {
	r := &reviewer{method: MethodNone, actor: actor, person: person, local: map[string]bool{}}
	if !actor.Impersonated() {
		return r, "the operator acts as itself (single-tenant mode: no --default-service-account and no " +
			"spec.serviceAccountName): it checks nothing before acting, its own ClusterRole decides", nil
	}
	can := func(verb, group, resource, namespace, name string) (bool, error) {
		return selfCan(ctx, person, tenancy.Action{Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name})
	}
	ok, err := can("impersonate", "", "serviceaccounts", actor.Namespace, actor.ServiceAccount)
	if err != nil {
		return r, "", err
	}
	if ok {
		r.method = MethodImpersonation
		return r, "", nil
	}
	if ok, err = can("create", authorizationv1.GroupName, "subjectaccessreviews", "", ""); err != nil || ok {
		r.method = MethodSubjectReview
		return r, "", err
	}
	if ok, err = can("create", authorizationv1.GroupName, "localsubjectaccessreviews", actor.Namespace, ""); err != nil || ok {
		r.method = MethodLocalReview
		r.local[actor.Namespace] = ok
		return r, "", err
	}
	return r, fmt.Sprintf("you may neither impersonate %s nor create SubjectAccessReviews or LocalSubjectAccessReviews "+
		"in namespace %s: RBAC was not checked (an admin can: kubectl auth can-i --as=%s ...)", actor, actor.Namespace,
		"system:serviceaccount:"+actor.Namespace+":"+actor.ServiceAccount), nil
}

// check answers one action: Allowed, Refused (with the operator's Forbidden message) or Unknown (with why).
func (r *reviewer) check(ctx context.Context, a tenancy.Action) (string, string) {
	switch r.method {
	case MethodNone:
		return Unknown, "not checked"
	case MethodImpersonation:
		// The operator's own pre-flight: a SelfSubjectAccessReview made as the ServiceAccount, for the whole
		// namespace first, then for the name.
		err := r.actor.Check(ctx, a)
		var f *tenancy.ForbiddenError
		switch {
		case err == nil:
			return Allowed, ""
		case errors.As(err, &f):
			return Refused, err.Error()
		}
		return Unknown, err.Error()
	case MethodLocalReview:
		ok, known := r.local[a.Namespace]
		if !known {
			var err error
			ok, err = selfCan(ctx, r.person, tenancy.Action{Verb: "create", Group: authorizationv1.GroupName,
				Resource: "localsubjectaccessreviews", Namespace: a.Namespace})
			if err != nil {
				return Unknown, err.Error()
			}
			r.local[a.Namespace] = ok
		}
		if !ok {
			return Unknown, "you may not create LocalSubjectAccessReviews in namespace " + a.Namespace
		}
	}
	// The operator's order: the whole namespace first (a Role without resourceNames answers for every name).
	allowed, err := false, error(nil)
	if a.Name != "" {
		wide := a
		wide.Name = ""
		allowed, err = r.subjectCan(ctx, wide)
	}
	if err == nil && !allowed {
		allowed, err = r.subjectCan(ctx, a)
	}
	switch {
	case err != nil:
		return Unknown, err.Error()
	case !allowed:
		return Refused, (&tenancy.ForbiddenError{Actor: r.actor.String(), Action: a}).Error()
	}
	return Allowed, ""
}

// subjectCan asks a SubjectAccessReview (or a LocalSubjectAccessReview in the action's namespace) about the
// ServiceAccount, with the groups the API server gives its tokens.
func (r *reviewer) subjectCan(ctx context.Context, a tenancy.Action) (bool, error) {
	ns := r.actor.Namespace
	spec := authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + ns + ":" + r.actor.ServiceAccount,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		ResourceAttributes: attributes(a),
	}
	if r.method == MethodLocalReview {
		review := &authorizationv1.LocalSubjectAccessReview{Spec: spec}
		review.Namespace = a.Namespace
		if err := r.person.Create(ctx, review); err != nil {
			return false, reviewFailed(err)
		}
		return review.Status.Allowed && !review.Status.Denied, nil
	}
	review := &authorizationv1.SubjectAccessReview{Spec: spec}
	if err := r.person.Create(ctx, review); err != nil {
		return false, reviewFailed(err)
	}
	return review.Status.Allowed && !review.Status.Denied, nil
}

// selfCan asks whether the person may do a (a SelfSubjectAccessReview, `kubectl auth can-i`).
func selfCan(ctx context.Context, person client.Client, a tenancy.Action) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attributes(a)}}
	if err := person.Create(ctx, review); err != nil {
		return false, reviewFailed(err)
	}
	return review.Status.Allowed && !review.Status.Denied, nil
}

func attributes(a tenancy.Action) *authorizationv1.ResourceAttributes {
	return &authorizationv1.ResourceAttributes{Verb: a.Verb, Group: a.Group, Resource: a.Resource,
		Subresource: a.Subresource, Namespace: a.Namespace, Name: a.Name}
}

func reviewFailed(err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("you may not create the access review: %w", err)
	}
	return fmt.Errorf("access review: %w", err)
}
