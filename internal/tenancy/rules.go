package tenancy

import (
	"fmt"
	"slices"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// DefaultProtectedNamespaces are the namespaces --protected-namespaces names by default, besides the operator's own.
var DefaultProtectedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Rules are the admin's guard rails, checked before RBAC is asked anything. The zero value allows everything
// (tests); the manager's flags default to the strict setting.
type Rules struct {
	// NoCrossNamespaceRefs keeps targets and workloads in the RotatedSecret's own namespace
	// (--no-cross-namespace-refs, default true).
	NoCrossNamespaceRefs bool
	// Protected namespaces hold no RotatedSecret, and no target or workload of one (--protected-namespaces).
	Protected []string
}

// RuleError says which guard rail refused a RotatedSecret.
type RuleError struct {
	// CrossNamespace is true for --no-cross-namespace-refs, false for --protected-namespaces.
	CrossNamespace bool
	Message        string
}

// Error implements error.
func (e *RuleError) Error() string { return e.Message }

// CheckHome refuses a RotatedSecret in a protected namespace.
func (r Rules) CheckHome(namespace string) error {
	if slices.Contains(r.Protected, namespace) {
		return &RuleError{Message: fmt.Sprintf("namespace %s is protected (--protected-namespaces): the operator acts "+
			"on no RotatedSecret there; create it in the namespace of the application", namespace)}
	}
	return nil
}

// CheckRef refuses a reference (field, e.g. "spec.targets[0]") from a RotatedSecret in home to an object in
// namespace: another namespace when refs must stay home, or a protected namespace.
func (r Rules) CheckRef(home, field, namespace string) error {
	if namespace == "" || namespace == home {
		return nil
	}
	if r.NoCrossNamespaceRefs {
		return &RuleError{CrossNamespace: true, Message: fmt.Sprintf("%s names namespace %s, and the operator runs "+
			"with --no-cross-namespace-refs: a RotatedSecret acts only in its own namespace (%s); create one "+
			"RotatedSecret per namespace", field, namespace, home)}
	}
	if slices.Contains(r.Protected, namespace) {
		return &RuleError{Message: fmt.Sprintf("%s names namespace %s, which is protected (--protected-namespaces)",
			field, namespace)}
	}
	return nil
}

// CheckSpec applies the rules to a RotatedSecret: its own namespace, then the namespace of every Kubernetes target,
// dependency and named workload, in that order. The first refusal is returned as a *RuleError; nil when none.
func (r Rules) CheckSpec(rs *rotationv1alpha1.RotatedSecret) error {
	if err := r.CheckHome(rs.Namespace); err != nil {
		return err
	}
	for i, t := range rs.Spec.Targets {
		if t.GitHubActions == nil {
			if err := r.CheckRef(rs.Namespace, fmt.Sprintf("spec.targets[%d]", i), t.Namespace); err != nil {
				return err
			}
		}
	}
	for i, d := range rs.Spec.DependsOn {
		if err := r.CheckRef(rs.Namespace, fmt.Sprintf("spec.dependsOn[%d]", i), d.Namespace); err != nil {
			return err
		}
	}
	if ro := rs.Spec.Rollout; ro != nil {
		for i, st := range ro.Stages {
			for j, w := range st.Workloads {
				if err := r.CheckRef(rs.Namespace, fmt.Sprintf("spec.rollout.stages[%d].workloads[%d]", i, j), w.Namespace); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// WithOperatorNamespace returns the rules the operator runs with: its own namespace is protected besides
// Protected, unless it is a namespace a namespace-scoped install watches.
func (r Rules) WithOperatorNamespace(namespace string, watched []string) Rules {
	if namespace != "" && !slices.Contains(r.Protected, namespace) && !slices.Contains(watched, namespace) {
		r.Protected = append(slices.Clone(r.Protected), namespace)
	}
	return r
}
