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
	"github.com/tribi/secret-rotator/internal/schedule"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// dependsOnIndex indexes RotatedSecrets by the "<namespace>/<name>" of every RotatedSecret they depend on.
const dependsOnIndex = "rotation.tribi.io/depends-on"

// maxDependencyDepth bounds the walk that looks for a cycle.
const maxDependencyDepth = 32

// checkWhen parses spec.schedule, spec.notice and spec.dependsOnSoak, and refuses a dependency cycle.
func (r *RotatedSecretReconciler) checkWhen(ctx context.Context, s *scope) outcome {
	spec := s.rs.Spec
	var err error
	if s.schedule, err = schedule.FromSpec(spec.Schedule); err != nil {
		return invalid("%v", err)
	}
	if spec.Notice != "" {
		if s.notice, err = spec.Notice.Parse(); err != nil {
			return invalid("spec.notice: %v", err)
		}
	}
	s.soak = time.Hour
	if spec.DependsOnSoak != "" {
		if s.soak, err = spec.DependsOnSoak.Parse(); err != nil {
			return invalid("spec.dependsOnSoak: %v", err)
		}
	}
	if cycle := r.dependencyCycle(ctx, s.rs); cycle != "" {
		return invalid("spec.dependsOn: a cycle: %s; a RotatedSecret cannot wait for itself", cycle)
	}
	return goOnOutcome()
}

// dependencyKey names a dependency as "<namespace>/<name>".
func dependencyKey(rs *rotationv1alpha1.RotatedSecret, d rotationv1alpha1.DependencyRef) string {
	ns := d.Namespace
	if ns == "" {
		ns = rs.Namespace
	}
	return ns + "/" + d.Name
}

// dependencyCycle follows spec.dependsOn through the cache and returns the cycle back to rs ("a -> b -> a"), ""
// when there is none. A dependency that does not exist yet ends its path.
func (r *RotatedSecretReconciler) dependencyCycle(ctx context.Context, rs *rotationv1alpha1.RotatedSecret) string {
	self := rs.Namespace + "/" + rs.Name
	var walk func(obj *rotationv1alpha1.RotatedSecret, path []string) string
	walk = func(obj *rotationv1alpha1.RotatedSecret, path []string) string {
		if len(path) > maxDependencyDepth {
			return ""
		}
		for _, d := range obj.Spec.DependsOn {
			key := dependencyKey(obj, d)
			if key == self {
				return strings.Join(append(path, key), " -> ")
			}
			ns, name, _ := strings.Cut(key, "/")
			var next rotationv1alpha1.RotatedSecret
			if r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &next) != nil {
				continue
			}
			if c := walk(&next, append(path, key)); c != "" {
				return c
			}
		}
		return ""
	}
	return walk(rs, []string{self})
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
		if until, why := dependencyDone(&dep, due, now, s.soak); why != "" {
			return s.waitForDependency(until, fmt.Sprintf("dependency %s %s", key, why))
		}
	}
	return goOnOutcome()
}

// dependencyDone says what dep still lacks (and until when, if only time is missing); "" when it is done.
func dependencyDone(dep *rotationv1alpha1.RotatedSecret, due, now time.Time, soak time.Duration) (time.Time, string) {
	var rotated *rotationv1alpha1.RotationRecord
	for i := range dep.Status.History {
		h := &dep.Status.History[i]
		if h.Outcome == rotationv1alpha1.OutcomeSucceeded && !h.StartTime.Time.Before(due) && h.CompletionTime != nil {
			rotated = h
			break
		}
	}
	if rotated == nil {
		return time.Time{}, fmt.Sprintf("has not completed a rotation started since %s: rotate it first", rfc3339(due))
	}
	ready := conditions.Get(dep, rotationv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		return time.Time{}, "is not Ready"
	}
	since := later(rotated.CompletionTime.Time, ready.LastTransitionTime.Time)
	if until := since.Add(soak); now.Before(until) {
		return until, fmt.Sprintf("rotated at %s and must stay Ready for %s, until %s", rfc3339(rotated.CompletionTime.Time),
			soak, rfc3339(until))
	}
	return time.Time{}, ""
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
