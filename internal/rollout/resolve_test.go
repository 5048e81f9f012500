package rollout

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// meta names an object and gives it labels.
func meta(namespace, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}
}

// cluster holds workloads in shop and other; tier=web marks some of them.
func cluster() client.Client {
	web := map[string]string{"tier": "web"}
	return fake.NewClientBuilder().WithObjects(
		&appsv1.Deployment{ObjectMeta: meta("shop", "api", web)},
		&appsv1.Deployment{ObjectMeta: meta("shop", "worker", map[string]string{"tier": "background"})},
		&appsv1.StatefulSet{ObjectMeta: meta("shop", "db", web)},
		&appsv1.DaemonSet{ObjectMeta: meta("shop", "agent", web)},
		&appsv1.Deployment{ObjectMeta: meta("other", "web", web)},
		&appsv1.Deployment{ObjectMeta: meta("other", "shared", nil)},
	).Build()
}

// names lists the workloads as "Kind ns/name", with " (missing)" when Object is nil, and checks that each Object
// is the workload it names.
func names(g Gomega, ws []Workload) []string {
	var out []string
	for _, w := range ws {
		if w.Object == nil {
			out = append(out, w.String()+" (missing)")
			continue
		}
		g.Expect(w.Object.GetNamespace()).To(Equal(w.Namespace))
		g.Expect(w.Object.GetName()).To(Equal(w.Name))
		want, _ := newObject(w.Kind)
		g.Expect(w.Object).To(BeAssignableToTypeOf(want))
		out = append(out, w.String())
	}
	return out
}

func TestResolve(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	stage := rotationv1alpha1.RolloutStage{
		Name: "web",
		Workloads: []rotationv1alpha1.WorkloadRef{
			{Kind: rotationv1alpha1.KindStatefulSet, Name: "db"}, // also matched by the selector
			{Kind: rotationv1alpha1.KindDeployment, Name: "shared", Namespace: "other"},
			{Kind: rotationv1alpha1.KindDeployment, Name: "gone"},
			{Kind: rotationv1alpha1.KindDeployment, Name: "api"}, // also matched by the selector
		},
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
	}
	ws, err := Resolve(ctx, cluster(), "shop", stage)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{
		"DaemonSet shop/agent",
		"Deployment other/shared",
		"Deployment shop/api",
		"Deployment shop/gone (missing)",
		"StatefulSet shop/db",
	}), "deduplicated, sorted; the selector does not reach other/web nor the background worker")
}

func TestResolveNamedOnly(t *testing.T) {
	g := NewWithT(t)
	stage := rotationv1alpha1.RolloutStage{Name: "workers", Workloads: []rotationv1alpha1.WorkloadRef{
		{Kind: rotationv1alpha1.KindDeployment, Name: "worker"},
		{Kind: rotationv1alpha1.KindDaemonSet, Name: "agent"},
		{Kind: rotationv1alpha1.KindStatefulSet, Name: "api"}, // a Deployment of that name is not a StatefulSet
	}}
	ws, err := Resolve(context.Background(), cluster(), "shop", stage)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{"DaemonSet shop/agent", "Deployment shop/worker", "StatefulSet shop/api (missing)"}))

	// The same names in another default namespace do not exist.
	ws, err = Resolve(context.Background(), cluster(), "other", stage)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{"DaemonSet other/agent (missing)", "Deployment other/worker (missing)", "StatefulSet other/api (missing)"}))
}

func TestResolveSelector(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sel := func(s *metav1.LabelSelector) rotationv1alpha1.RolloutStage {
		return rotationv1alpha1.RolloutStage{Name: "s", Selector: s}
	}

	ws, err := Resolve(ctx, cluster(), "other", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{"Deployment other/web"}))

	ws, err = Resolve(ctx, cluster(), "shop", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
	}}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{"Deployment shop/worker"}))

	// An empty selector matches everything in the namespace, as it does everywhere in Kubernetes.
	ws, err = Resolve(ctx, cluster(), "shop", sel(&metav1.LabelSelector{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(g, ws)).To(Equal([]string{"DaemonSet shop/agent", "Deployment shop/api", "Deployment shop/worker", "StatefulSet shop/db"}))

	ws, err = Resolve(ctx, cluster(), "shop", sel(nil))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ws).To(BeEmpty(), "no selector, no names, no workloads")

	_, err = Resolve(ctx, cluster(), "shop", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "tier", Operator: "Near", Values: []string{"web"}},
	}}))
	g.Expect(err).To(MatchError(ContainSubstring("invalid selector")))
}

func TestResolveErrors(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()

	_, err := Resolve(ctx, cluster(), "shop", rotationv1alpha1.RolloutStage{Name: "s", Workloads: []rotationv1alpha1.WorkloadRef{{Kind: "CronJob", Name: "x"}}})
	g.Expect(err).To(MatchError(ContainSubstring(`unsupported workload kind "CronJob"`)))

	// A read that fails for another reason than NotFound is an error, not a missing workload.
	boom := errors.New("connection refused")
	failing := interceptor.NewClient(cluster().(client.WithWatch), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return boom
		},
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return boom
		},
	})
	_, err = Resolve(ctx, failing, "shop", rotationv1alpha1.RolloutStage{Name: "s", Workloads: []rotationv1alpha1.WorkloadRef{{Kind: rotationv1alpha1.KindDeployment, Name: "api"}}})
	g.Expect(err).To(MatchError(boom))
	_, err = Resolve(ctx, failing, "shop", rotationv1alpha1.RolloutStage{Name: "s", Selector: &metav1.LabelSelector{}})
	g.Expect(err).To(MatchError(boom))
}
