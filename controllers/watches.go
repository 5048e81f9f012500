package controllers

import (
	"context"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/sink"
)

// workloadToRotatedSecrets maps a workload event to the RotatedSecrets whose restart annotation (or override
// revert annotation) its pod template carries (same namespace). Workloads elsewhere are looked at by the
// rollout's short requeue.
func workloadToRotatedSecrets(_ context.Context, o client.Object) []reconcile.Request {
	var tpl map[string]string
	switch w := o.(type) {
	case *appsv1.Deployment:
		tpl = w.Spec.Template.Annotations
	case *appsv1.StatefulSet:
		tpl = w.Spec.Template.Annotations
	case *appsv1.DaemonSet:
		tpl = w.Spec.Template.Annotations
	}
	var reqs []reconcile.Request
	for k := range tpl {
		name, ok := strings.CutPrefix(k, rotationv1alpha1.RestartAnnotationPrefix)
		if !ok {
			name, ok = strings.CutPrefix(k, rollout.OverrideAnnotationPrefix)
		}
		if ok && name != "" && !strings.Contains(name, "/") {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}})
		}
	}
	return reqs
}

// secretHandler enqueues the RotatedSecrets a Secret event concerns. A deletion concerns every one of them, even
// the one whose write was the Secret's last.
func (r *RotatedSecretReconciler) secretHandler() handler.EventHandler {
	add := func(ctx context.Context, o client.Object, skipOwn bool, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range r.secretToRotatedSecrets(ctx, o, skipOwn) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, true, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectNew, true, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, false, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, false, q)
		},
	}
}

// secretToRotatedSecrets maps a Secret event to the RotatedSecrets that stage in it or write to it; with skipOwn,
// not to the RotatedSecret whose own write the event reports.
func (r *RotatedSecretReconciler) secretToRotatedSecrets(ctx context.Context, o client.Object, skipOwn bool) []reconcile.Request {
	var reqs []reconcile.Request
	if name := o.GetLabels()[rotationv1alpha1.RotatedSecretLabel]; name != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}})
	}
	var list rotationv1alpha1.RotatedSecretList
	if err := r.List(ctx, &list, client.MatchingFields{targetIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing RotatedSecrets that write a Secret", "secret", client.ObjectKeyFromObject(o))
		return reqs
	}
	latest := latestManagers(o)
	for _, rs := range list.Items {
		// A write of this RotatedSecret's own is known to the reconcile that made it; another RotatedSecret's
		// write to the same Secret (or anyone else's) is looked at.
		if skipOwn && len(latest) == 1 && latest[0] == sink.FieldManager(rs.Namespace, rs.Name) {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rs)})
	}
	return reqs
}

// latestManagers lists the field managers that wrote o in the latest second (managedFields timestamps have
// one-second resolution), nil when none is recorded.
func latestManagers(o client.Object) []string {
	var newest *metav1.Time
	for _, mf := range o.GetManagedFields() {
		if mf.Time != nil && (newest == nil || newest.Before(mf.Time)) {
			newest = mf.Time
		}
	}
	var out []string
	for _, mf := range o.GetManagedFields() {
		if newest != nil && mf.Time != nil && mf.Time.Equal(newest) && !slices.Contains(out, mf.Manager) {
			out = append(out, mf.Manager)
		}
	}
	return out
}

// FieldOwner is the field manager of the operator's writes to its own Secrets (staging). Writes to targets use
// one field manager per RotatedSecret (sink.FieldManager).
const FieldOwner = "secret-rotator"

// notWrittenByOperator drops Secret events that only report the operator's writes to its staging Secrets (field
// manager FieldOwner, matched exactly): the reconcile that made them already knows. A target write reaches
// secretToRotatedSecrets, which drops it only for the RotatedSecret that made it; a hand edit, a deletion or a
// Secret created by someone else gets through.
func notWrittenByOperator() predicate.Predicate {
	ours := func(o client.Object) bool {
		latest := latestManagers(o)
		// A person's edit in the same second as the operator's write keeps the event.
		return len(latest) == 1 && latest[0] == FieldOwner
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return !ours(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return !ours(e.ObjectNew) },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}
