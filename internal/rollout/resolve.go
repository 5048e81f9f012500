package rollout

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// Workload is one Deployment, StatefulSet or DaemonSet of a stage.
type Workload struct {
	Kind            rotationv1alpha1.WorkloadKind
	Namespace, Name string
	// Object is the *appsv1.Deployment, *appsv1.StatefulSet or *appsv1.DaemonSet; nil if it does not exist.
	Object client.Object
}

// String names the workload for messages, e.g. "Deployment backend/api".
func (w Workload) String() string { return describe(w.Kind, w.Namespace, w.Name) }

// kinds are the workload kinds a selector adds, in the order Resolve lists them.
var kinds = []rotationv1alpha1.WorkloadKind{
	rotationv1alpha1.KindDaemonSet, rotationv1alpha1.KindDeployment, rotationv1alpha1.KindStatefulSet,
}

// Resolve lists the stage's workloads: every named one (an empty namespace means defaultNamespace) plus every
// Deployment, StatefulSet and DaemonSet in defaultNamespace whose labels match stage.Selector, deduplicated and
// sorted by kind, namespace and name. As everywhere in Kubernetes, an empty selector matches every workload of
// the namespace; a nil one matches none. A named workload that does not exist is returned with a nil Object, for
// the caller to report as WorkloadNotFound.
func Resolve(ctx context.Context, c client.Reader, defaultNamespace string, stage rotationv1alpha1.RolloutStage) ([]Workload, error) {
	type key struct {
		kind      rotationv1alpha1.WorkloadKind
		namespace string
		name      string
	}
	seen := map[key]Workload{}

	for _, ref := range stage.Workloads {
		w := Workload{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
		if w.Namespace == "" {
			w.Namespace = defaultNamespace
		}
		obj, err := newObject(ref.Kind)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", stage.Name, err)
		}
		switch err := c.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, obj); {
		case apierrors.IsNotFound(err):
			// Left nil: the caller reports it; a missing workload is not an error of the read.
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", w, err)
		default:
			w.Object = obj
		}
		seen[key{w.Kind, w.Namespace, w.Name}] = w
	}

	if stage.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(stage.Selector)
		if err != nil {
			return nil, fmt.Errorf("stage %s: invalid selector: %w", stage.Name, err)
		}
		for _, kind := range kinds {
			objs, err := list(ctx, c, kind, client.InNamespace(defaultNamespace), client.MatchingLabelsSelector{Selector: sel})
			if err != nil {
				return nil, fmt.Errorf("stage %s: listing %ss: %w", stage.Name, kind, err)
			}
			for _, obj := range objs {
				k := key{kind, obj.GetNamespace(), obj.GetName()}
				if _, ok := seen[k]; !ok {
					seen[k] = Workload{Kind: kind, Namespace: k.namespace, Name: k.name, Object: obj}
				}
			}
		}
	}

	out := make([]Workload, 0, len(seen))
	for _, w := range seen {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}

// newObject returns an empty object of kind.
func newObject(kind rotationv1alpha1.WorkloadKind) (client.Object, error) {
	switch kind {
	case rotationv1alpha1.KindDeployment:
		return &appsv1.Deployment{}, nil
	case rotationv1alpha1.KindStatefulSet:
		return &appsv1.StatefulSet{}, nil
	case rotationv1alpha1.KindDaemonSet:
		return &appsv1.DaemonSet{}, nil
	}
	return nil, fmt.Errorf("unsupported workload kind %q", kind)
}

// list returns the workloads of kind that match opts.
func list(ctx context.Context, c client.Reader, kind rotationv1alpha1.WorkloadKind, opts ...client.ListOption) ([]client.Object, error) {
	var objs []client.Object
	switch kind {
	case rotationv1alpha1.KindDeployment:
		l := &appsv1.DeploymentList{}
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		for i := range l.Items {
			objs = append(objs, &l.Items[i])
		}
	case rotationv1alpha1.KindStatefulSet:
		l := &appsv1.StatefulSetList{}
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		for i := range l.Items {
			objs = append(objs, &l.Items[i])
		}
	case rotationv1alpha1.KindDaemonSet:
		l := &appsv1.DaemonSetList{}
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		for i := range l.Items {
			objs = append(objs, &l.Items[i])
		}
	default:
		return nil, fmt.Errorf("unsupported workload kind %q", kind)
	}
	return objs, nil
}

// describe names a workload for messages.
func describe(kind rotationv1alpha1.WorkloadKind, namespace, name string) string {
	return fmt.Sprintf("%s %s/%s", kind, namespace, name)
}
