package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// dependsOnIndex indexes RotatedSecrets by the "<namespace>/<name>" of every RotatedSecret they depend on.
const dependsOnIndex = "rotation.tribi.io/depends-on"

// dependencyKey names a dependency as "<namespace>/<name>".
var dependencyKey = specs.DependencyKey

// dependencyCycle follows spec.dependsOn through c (the cache) and returns the cycle back to rs ("a -> b -> a"), ""
// when there is none.
func dependencyCycle(ctx context.Context, c client.Reader, rs *rotationv1alpha1.RotatedSecret) string {
	return specs.DependencyCycle(rs, func(namespace, name string) *rotationv1alpha1.RotatedSecret {
		var next rotationv1alpha1.RotatedSecret
		if c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &next) != nil {
			return nil
		}
		return &next
	})
}

// waitForDependencies holds a due rotation (due at due) until every dependency has completed a successful
// rotation that started at or after due, and has been Ready since, for spec.dependsOnSoak. Each dependency is read
// only if the RotatedSecret's ServiceAccount may read it.
func (r *RotatedSecretReconciler) waitForDependencies(ctx context.Context, s *scope, now, due time.Time) outcome {
	for _, d := range s.rs.Spec.DependsOn {
		key := dependencyKey(s.rs, d)
		ns, name, _ := strings.Cut(key, "/")
		if err := s.actor.Check(ctx, tenancy.Action{Verb: "get", Group: rotationv1alpha1.GroupVersion.Group,
			Resource: "rotatedsecrets", Namespace: ns, Name: name}); err != nil {
			return forbidden(err)
		}
		var dep rotationv1alpha1.RotatedSecret
		err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep)
		switch {
		case apierrors.IsNotFound(err):
			return s.waitForDependency(time.Time{}, fmt.Sprintf("dependency %s does not exist", key))
		case err != nil:
			return retry(err)
		}
		if until, why := policy.DependencyDone(&dep, due, now, s.soak); why != "" {
			return s.waitForDependency(until, fmt.Sprintf("dependency %s %s", key, why))
		}
	}
	return goOnOutcome()
}

// waitForDependency holds the rotation: RotationScheduled=True with reason WaitingForDependency, looked at again
// at until (a soak ending) or when the dependency changes (watched).
func (s *scope) waitForDependency(until time.Time, msg string) outcome {
	s.holding = true
	s.wakeAt(until, 0)
	msg = fmt.Sprintf("Waiting for %s", msg)
	if c := conditions.Get(s.rs, rotationv1alpha1.ConditionRotationScheduled); c == nil || c.Reason != rotationv1alpha1.ReasonWaitingForDependency || c.Message != msg {
		s.event(corev1.EventTypeNormal, rotationv1alpha1.ReasonWaitingForDependency, "Schedule", "%s", msg)
	}
	s.setCondition(rotationv1alpha1.ConditionRotationScheduled, metav1.ConditionTrue, rotationv1alpha1.ReasonWaitingForDependency, msg)
	return goOnOutcome()
}

// indexDependsOn lists the RotatedSecrets a RotatedSecret depends on.
func indexDependsOn(o client.Object) []string {
	rs := o.(*rotationv1alpha1.RotatedSecret)
	keys := make([]string, 0, len(rs.Spec.DependsOn))
	for _, d := range rs.Spec.DependsOn {
		keys = append(keys, dependencyKey(rs, d))
	}
	return keys
}

// dependents maps a change of a RotatedSecret (its status: a rotation committed, Ready changed) to the
// RotatedSecrets that depend on it.
func (r *RotatedSecretReconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	var list rotationv1alpha1.RotatedSecretList
	if err := r.List(ctx, &list, client.MatchingFields{dependsOnIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
