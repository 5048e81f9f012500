package rollout

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestAnnotationKey(t *testing.T) {
	g := NewWithT(t)
	g.Expect(AnnotationKey("jwt-secret")).To(Equal("rotation.tribi.io/jwt-secret"))
	g.Expect(AnnotationKey(strings.Repeat("a", 63))).To(Equal("rotation.tribi.io/" + strings.Repeat("a", 63)))

	for _, name := range []string{strings.Repeat("a", 64), strings.Repeat("a.b-", 63) + "c"} {
		key := AnnotationKey(name)
		g.Expect(validation.IsQualifiedName(key)).To(BeEmpty(), "the API server must accept %q", key)
		g.Expect(key).To(HavePrefix("rotation.tribi.io/" + name[:20]))
	}
	long := strings.Repeat("n", 200)
	g.Expect(AnnotationKey(long+"a")).NotTo(Equal(AnnotationKey(long+"b")), "shortened keys stay unique")

	g.Expect(OverrideAnnotationKey("jwt-secret")).To(Equal("override.rotation.tribi.io/jwt-secret"))
	g.Expect(validation.IsQualifiedName(OverrideAnnotationKey(long))).To(BeEmpty())
	g.Expect(OverrideAnnotationKey(long)).To(HavePrefix("override.rotation.tribi.io/" + long[:20]))
}

// withTemplateAnnotations sets the pod-template annotations of a Deployment, StatefulSet or DaemonSet.
func withTemplateAnnotations(obj client.Object, a map[string]string) client.Object {
	tpl, err := podTemplate(obj)
	if err != nil {
		panic(err)
	}
	tpl.Annotations = a
	return obj
}

func TestTemplateRevision(t *testing.T) {
	g := NewWithT(t)
	const key = "rotation.tribi.io/jwt"
	for _, obj := range []client.Object{deployment(nil), statefulSet(nil), daemonSet(nil)} {
		_, ok := TemplateRevision(obj, key)
		g.Expect(ok).To(BeFalse(), "%T without annotations", obj)

		withTemplateAnnotations(obj, map[string]string{"rotation.tribi.io/other": "9", key: "7"})
		rev, ok := TemplateRevision(obj, key)
		g.Expect(ok).To(BeTrue(), "%T", obj)
		g.Expect(rev).To(Equal(int64(7)), "%T", obj)

		// The annotation on the workload itself is not the pod template's.
		obj.SetAnnotations(map[string]string{key: "8"})
		rev, _ = TemplateRevision(obj, key)
		g.Expect(rev).To(Equal(int64(7)), "%T reads the pod template", obj)

		withTemplateAnnotations(obj, map[string]string{key: "seven"})
		_, ok = TemplateRevision(obj, key)
		g.Expect(ok).To(BeFalse(), "%T with a value that is not a revision", obj)
	}
	_, ok := TemplateRevision(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{key: "7"}}}, key)
	g.Expect(ok).To(BeFalse())
	_, ok = TemplateRevision(nil, key)
	g.Expect(ok).To(BeFalse())
}

// patchRecorder counts the Patch calls that reach the fake API server and keeps the last one.
type patchRecorder struct {
	calls int
	typ   types.PatchType
	body  map[string]any
	owner string
}

func (r *patchRecorder) client(objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			r.calls++
			r.typ = patch.Type()
			data, err := patch.Data(obj)
			if err != nil {
				return err
			}
			r.body = nil
			if err := json.Unmarshal(data, &r.body); err != nil {
				return err
			}
			po := &client.PatchOptions{}
			po.ApplyOptions(opts)
			r.owner = po.FieldManager
			return c.Patch(ctx, obj, patch, opts...)
		},
	}).Build()
}

func TestRestart(t *testing.T) {
	const (
		key   = "rotation.tribi.io/jwt"
		other = "rotation.tribi.io/db-password"
		human = "kubectl.kubernetes.io/restartedAt"
	)
	workloads := map[string]func() client.Object{
		"Deployment":  func() client.Object { return deployment(nil) },
		"StatefulSet": func() client.Object { return statefulSet(nil) },
		"DaemonSet":   func() client.Object { return daemonSet(nil) },
	}
	for kind, build := range workloads {
		t.Run(kind, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			rec := &patchRecorder{}
			c := rec.client(withTemplateAnnotations(build(), map[string]string{human: "2026-01-01T00:00:00Z"}))

			obj := build()
			g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			patched, err := Restart(ctx, c, obj, key, 5)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(patched).To(BeTrue())
			g.Expect(rec.calls).To(Equal(1))
			g.Expect(rec.typ).To(Equal(types.StrategicMergePatchType))
			g.Expect(rec.owner).To(Equal("secret-rotator"))
			g.Expect(rec.body).To(Equal(map[string]any{"spec": map[string]any{"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{key: "5"}},
			}}}), "the patch touches the one annotation and nothing else")
			rev, _ := TemplateRevision(obj, key)
			g.Expect(rev).To(Equal(int64(5)), "obj holds the patched workload")

			// Read back from the server: ours is added, the one a person set is kept.
			stored := build()
			g.Expect(c.Get(ctx, client.ObjectKeyFromObject(stored), stored)).To(Succeed())
			tpl, _ := podTemplate(stored)
			g.Expect(tpl.Annotations).To(Equal(map[string]string{human: "2026-01-01T00:00:00Z", key: "5"}))

			// The same revision again sends nothing.
			patched, err = Restart(ctx, c, stored, key, 5)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(patched).To(BeFalse())
			g.Expect(rec.calls).To(Equal(1), "no request for a revision the template already carries")

			// A second RotatedSecret restarts the same workload; both annotations stay.
			patched, err = Restart(ctx, c, stored, other, 2)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(patched).To(BeTrue())
			g.Expect(rec.calls).To(Equal(2))

			// A new revision of the first one replaces only its own annotation.
			patched, err = Restart(ctx, c, stored, key, 6)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(patched).To(BeTrue())
			g.Expect(rec.calls).To(Equal(3))

			g.Expect(c.Get(ctx, client.ObjectKeyFromObject(stored), stored)).To(Succeed())
			tpl, _ = podTemplate(stored)
			g.Expect(tpl.Annotations).To(Equal(map[string]string{human: "2026-01-01T00:00:00Z", key: "6", other: "2"}))
		})
	}
}

func TestRestartKeepsTheRestOfTheSpec(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := deployment(func(d *appsv1.Deployment) {
		d.Spec.Replicas = ptr.To[int32](7)
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "api", Image: "shop/api:1"}}
	})
	c := (&patchRecorder{}).client(d.DeepCopy())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	g.Expect(Restart(ctx, c, d, "rotation.tribi.io/jwt", 1)).To(BeTrue())

	stored := &appsv1.Deployment{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), stored)).To(Succeed())
	g.Expect(*stored.Spec.Replicas).To(Equal(int32(7)))
	g.Expect(stored.Spec.Template.Spec.Containers).To(Equal([]corev1.Container{{Name: "api", Image: "shop/api:1"}}))
}

func TestRestartErrors(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	rec := &patchRecorder{}
	c := rec.client()

	_, err := Restart(ctx, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"}}, "rotation.tribi.io/jwt", 1)
	g.Expect(err).To(MatchError(ContainSubstring("not a Deployment, StatefulSet or DaemonSet")))
	g.Expect(rec.calls).To(BeZero())

	// The workload was deleted since it was read: the error says so.
	patched, err := Restart(ctx, c, deployment(nil), "rotation.tribi.io/jwt", 1)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
	g.Expect(patched).To(BeFalse())
	g.Expect(rec.calls).To(Equal(1))
}
