package plan_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// calls records every request the plan makes through the person's client.
type calls struct {
	mu   sync.Mutex
	list []string
}

func (c *calls) add(verb string, obj any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, fmt.Sprintf("%s %T", verb, obj))
}

// recording wraps c: reads and creates go through (and are recorded), any other write fails the test.
func recording(t *testing.T, rec *calls) client.Client {
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(verb string, obj any) error {
		rec.add(verb, obj)
		t.Errorf("the plan made a %s of %T", verb, obj)
		return fmt.Errorf("refused by the test: %s", verb)
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			rec.add("get", obj)
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			rec.add("list", list)
			return c.List(ctx, list, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			rec.add("create", obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.UpdateOption) error {
			return fail("update", obj)
		},
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
			return fail("patch", obj)
		},
		Apply: func(_ context.Context, _ client.WithWatch, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
			return fail("apply", obj)
		},
		Delete: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.DeleteOption) error {
			return fail("delete", obj)
		},
		DeleteAllOf: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.DeleteAllOfOption) error {
			return fail("deletecollection", obj)
		},
		SubResourceUpdate: func(_ context.Context, _ client.Client, _ string, obj client.Object, _ ...client.SubResourceUpdateOption) error {
			return fail("status update", obj)
		},
		SubResourceCreate: func(_ context.Context, _ client.Client, _ string, obj client.Object, _ client.Object, _ ...client.SubResourceCreateOption) error {
			return fail("subresource create", obj)
		},
		SubResourcePatch: func(_ context.Context, _ client.Client, _ string, obj client.Object, _ client.Patch, _ ...client.SubResourcePatchOption) error {
			return fail("status patch", obj)
		},
	})
}

// snapshot is what a plan must leave as it was: the resourceVersion of every object it reads or could touch, the
// dependency's status, and the Events and Jobs of both namespaces.
func snapshot(t *testing.T, p prod) map[string]string {
	t.Helper()
	g := NewWithT(t)
	out := map[string]string{}
	for _, ns := range []string{p.ns, staging} {
		lists := map[string]client.ObjectList{
			"rotatedsecrets": &rotationv1alpha1.RotatedSecretList{}, "secrets": &corev1.SecretList{},
			"deployments": &appsv1.DeploymentList{}, "jobs": &batchv1.JobList{}, "events": &eventsv1.EventList{},
			"core events": &corev1.EventList{}, "serviceaccounts": &corev1.ServiceAccountList{},
		}
		for kind, l := range lists {
			g.Expect(k8sClient.List(ctx, l, client.InNamespace(ns))).To(Succeed())
			items, err := metaItems(l)
			g.Expect(err).NotTo(HaveOccurred())
			out[ns+" "+kind+" count"] = fmt.Sprint(len(items))
			for _, o := range items {
				out[ns+" "+kind+" "+o.GetName()] = o.GetResourceVersion()
			}
		}
	}
	dep := &rotationv1alpha1.RotatedSecret{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p.dep), dep)).To(Succeed())
	out["dependency status"] = fmt.Sprintf("%+v", dep.Status)
	return out
}

func TestPlanChangesNothing(t *testing.T) {
	g := NewWithT(t)
	p := newProd(t)
	time.Sleep(time.Second) // let the operator's last Events of the dependency land before the snapshot
	before := snapshot(t, p)
	rec := &calls{}
	r := build(t, recording(t, rec), cfg, p.rs, settings(), t0.Add(30*time.Minute))
	g.Expect(r.Refusals).To(BeEmpty())
	g.Consistently(func() map[string]string { return snapshot(t, p) }, 2*time.Second).Should(Equal(before))

	// Through the person's client: reads, and access reviews (which store nothing). The impersonated reviews go
	// through the person's config, not this client: they are SelfSubjectAccessReviews too.
	sort.Strings(rec.list)
	for _, call := range rec.list {
		g.Expect(call).To(Or(HavePrefix("get "), HavePrefix("list "),
			Equal(fmt.Sprintf("create %T", &authorizationv1.SelfSubjectAccessReview{}))), call)
	}
	g.Expect(rec.list).To(ContainElement(HavePrefix("get *v1.Secret")))
}

// metaItems returns the objects of a list.
func metaItems(l client.ObjectList) ([]metav1Object, error) {
	objs, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]metav1Object, 0, len(objs))
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// metav1Object is what a snapshot reads of an object.
type metav1Object interface {
	GetName() string
	GetResourceVersion() string
}
