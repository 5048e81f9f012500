package tenancy

import (
	"strings"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/staging"
)

// Preflight lists, in order and without repeats, what the actor of rs (its ServiceAccount actorSA) must be allowed
// before a rotation generates a value: create and patch the staging Secret, patch every Kubernetes target Secret,
// patch every workload of every stage (workloads: as the stages resolve now), create the validation and
// post-rotation Jobs and, for a Job that runs as another ServiceAccount, create a token for that account (running a
// pod as a ServiceAccount hands it that account's token). The reconciler asks these before every rotation;
// `kubectl rotation plan` asks the same.
func Preflight(rs *rotationv1alpha1.RotatedSecret, workloads []rollout.Workload, actorSA string) []Action {
	ns := rs.Namespace
	actions := []Action{
		{Verb: "create", Resource: "secrets", Namespace: ns},
		{Verb: "patch", Resource: "secrets", Namespace: ns, Name: staging.Name(rs.Name)},
	}
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions == nil {
			actions = append(actions, Action{Verb: "patch", Resource: "secrets", Namespace: specs.TargetNamespace(rs, t), Name: t.SecretName})
		}
	}
	for _, w := range workloads {
		actions = append(actions, WorkloadAction(w))
	}
	var jobs []rotationv1alpha1.ValidationJob
	if v := rs.Spec.Validation; v != nil {
		jobs = append(jobs, v.Jobs...)
	}
	if pr := rs.Spec.PostRotation; pr != nil {
		jobs = append(jobs, pr.Jobs...)
	}
	if len(jobs) > 0 {
		actions = append(actions, JobAction(ns))
		for _, j := range jobs {
			if sa := specs.JobServiceAccount(j); sa != actorSA {
				actions = append(actions, TokenAction(ns, sa))
			}
		}
	}
	seen := map[Action]bool{}
	out := actions[:0]
	for _, a := range actions {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// WorkloadAction is restarting w (a patch of its pod template).
func WorkloadAction(w rollout.Workload) Action {
	return Action{Verb: "patch", Group: "apps", Resource: strings.ToLower(string(w.Kind)) + "s", Namespace: w.Namespace, Name: w.Name}
}

// JobAction is creating a Job in namespace.
func JobAction(namespace string) Action {
	return Action{Verb: "create", Group: "batch", Resource: "jobs", Namespace: namespace}
}

// TokenAction is creating a token for ServiceAccount sa of namespace: what running a pod as sa amounts to.
func TokenAction(namespace, sa string) Action {
	return Action{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: namespace, Name: sa}
}

// OverrideAction is verb (get or patch) on the object of an emergency override: asked for every override before
// an emergency applies any of them.
func OverrideAction(verb string, kind rotationv1alpha1.OverrideKind, namespace, name string) Action {
	res := "configmaps"
	if kind == rotationv1alpha1.OverrideSecret {
		res = "secrets"
	}
	return Action{Verb: verb, Resource: res, Namespace: namespace, Name: name}
}
