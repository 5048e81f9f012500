package tenancy

import (
	"fmt"
	"slices"
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
