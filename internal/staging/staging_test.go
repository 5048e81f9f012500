package staging

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

func TestPutGetPrune(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "backend"}}
	res := func(v string) provider.Result {
		return provider.Result{Values: provider.Values{"value": []byte(v), "partner_id": []byte("p-" + v)}, State: []byte("id-" + v)}
	}

	s := Put(nil, rs, 1, res("one"))
	g.Expect(s.Name).To(Equal("jwt-rotation"))
	g.Expect(s.Namespace).To(Equal("backend"))
	g.Expect(s.Labels).To(HaveKeyWithValue(rotationv1alpha1.ManagedLabel, "true"))

	s = Put(s, rs, 2, res("two"), 1)
	s = Put(s, rs, 3, res("three"), 2, 1)
	g.Expect(Revisions(s)).To(Equal([]int64{1, 2, 3}))

	got, ok := Get(s, 2)
	g.Expect(ok).To(BeTrue())
	g.Expect(got.Values).To(Equal(provider.Values{"value": []byte("two"), "partner_id": []byte("p-two")}))
	g.Expect(got.State).To(Equal([]byte("id-two")))

	// Only the listed revisions survive the next Put.
	s = Put(s, rs, 4, res("four"), 3)
	g.Expect(Revisions(s)).To(Equal([]int64{3, 4}))
	_, ok = Get(s, 1)
	g.Expect(ok).To(BeFalse())

	// Re-putting a revision replaces it completely.
	s = Put(s, rs, 4, provider.Result{Values: provider.Values{"value": []byte("four-b")}}, 3)
	got, _ = Get(s, 4)
	g.Expect(got.Values).To(Equal(provider.Values{"value": []byte("four-b")}))
	g.Expect(got.State).To(BeNil())

	// Keys written by someone else are dropped; nothing panics on a nil Secret.
	s.Data["unrelated"] = []byte("x")
	g.Expect(Revisions(s)).To(Equal([]int64{3, 4}))
	_, ok = Get(nil, 1)
	g.Expect(ok).To(BeFalse())
	g.Expect(Revisions(&corev1.Secret{})).To(BeEmpty())
}

func TestKeysSpelledOtherwiseBelongToNoRevision(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "backend"}}
	existing := &corev1.Secret{Data: map[string][]byte{
		"r3.value": []byte("three"), "r+3.value": []byte("by hand"), "r03.value": []byte("by hand"), "r+4-state": {},
	}}
	g.Expect(Revisions(existing)).To(Equal([]int64{3}))
	s := Put(existing, rs, 5, provider.Result{Values: provider.Values{"value": []byte("five")}}, 3)
	g.Expect(s.Data).To(HaveLen(2))
	g.Expect(s.Data).To(HaveKey("r3.value"))
	g.Expect(s.Data).To(HaveKey("r5.value"))
}

func TestMarkPendingKeepsTheFirstAttemptsTime(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "shop"}}
	s := MarkPending(nil, rs, 2, "2025-01-01T00:00:00Z")
	s = MarkPending(s, rs, 2, "2025-01-01T00:10:00Z")
	since, pending := Pending(s, 2)
	g.Expect(pending).To(BeTrue())
	g.Expect(since).To(Equal("2025-01-01T00:00:00Z"), "a repeat keeps the time its idempotency key was derived from")

	s = MarkPending(ClearPending(s, 2), rs, 2, "2025-01-01T00:20:00Z")
	since, _ = Pending(s, 2)
	g.Expect(since).To(Equal("2025-01-01T00:20:00Z"), "a cleared marker starts afresh")
}
