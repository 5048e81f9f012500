package plan

import (
	"context"
	"fmt"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// access asks RBAC, for the RotatedSecret's ServiceAccount, every action the operator would take for it: first
// its pre-flight (tenancy.Preflight, with the stages as they resolve now), in the operator's order, then what it
// asks or does later (credential reads, dependencies, an emergency's overrides and purge Jobs, webhook URLs). A
// refusal is a Forbidden refusal with the operator's message.
func (b *builder) access(ctx context.Context) error {
	b.credentials()
	var checks []pendingCheck
	for _, a := range tenancy.Preflight(b.rs, b.workloads, b.actor.ServiceAccount) {
		checks = append(checks, pendingCheck{action: a, what: b.preflightWhat(a), preflight: true})
	}
	for _, c := range b.checks {
		if !containsAction(checks, c.action) {
			checks = append(checks, c)
		}
	}
	rev, msg, err := newReviewer(ctx, b.in.Client, b.actor)
	if err != nil {
		return err
	}
	b.r.Access = Access{Checked: rev.method != MethodNone, Method: rev.method, Message: msg, Checks: []Check{}}
	for _, c := range checks {
		result, why := rev.check(ctx, c.action)
		b.r.Access.Checks = append(b.r.Access.Checks, Check{Action: c.action.String(), For: c.what, Preflight: c.preflight,
			Result: result, Message: why})
		if result != Refused {
			continue
		}
		if !c.preflight {
			why = fmt.Sprintf("%s (needed for %s, when the operator gets there)", why, c.what)
		}
		b.refuse(rotationv1alpha1.ReasonForbidden, why)
	}
	return nil
}

// credentials queues the reads of the Secrets the provider takes its credential or a staged value from, and the
// gets and patches of an emergency's overrides (the operator asks those when an emergency starts).
func (b *builder) credentials() {
	ns, p := b.rs.Namespace, b.rs.Spec.Provider
	switch {
	case p.StripeWebhook != nil:
		b.want(secretRead(ns, p.StripeWebhook.APIKeySecretRef.Name), "the provider's Stripe key", false)
	case p.StripeSecretKey != nil:
		b.want(secretRead(ns, p.StripeSecretKey.StagedSecretRef.Name), "the staged Stripe key", false)
	case p.HTTP != nil:
		b.want(secretRead(ns, p.HTTP.Auth.SecretRef.Name), "the provider's vendor credential", false)
	}
	if e := b.rs.Spec.Emergency; e != nil {
		for i, o := range e.Overrides {
			kind, name := specs.OverrideRef(o)
			what := fmt.Sprintf("spec.emergency.overrides[%d] (asked when an emergency starts)", i)
			b.want(tenancy.OverrideAction("get", kind, ns, name), what, false)
			b.want(tenancy.OverrideAction("patch", kind, ns, name), what, false)
		}
	}
}

// preflightWhat says what a pre-flight action is for.
func (b *builder) preflightWhat(a tenancy.Action) string {
	switch {
	case a.Resource == "secrets" && a.Name == "":
		return "staging Secret (create)"
	case a.Resource == "secrets" && a.Name == staging.Name(b.rs.Name) && a.Namespace == b.rs.Namespace:
		return "staging Secret"
	case a.Resource == "secrets":
		return "target"
	case a.Group == "apps":
		return "workload of stage " + b.stageOf[a]
	case a.Resource == "jobs":
		return "validation and post-rotation Jobs"
	case a.Subresource == "token":
		return "Jobs run as ServiceAccount " + a.Name
	}
	return ""
}

func containsAction(checks []pendingCheck, a tenancy.Action) bool {
	for _, c := range checks {
		if c.action == a {
			return true
		}
	}
	return false
}
