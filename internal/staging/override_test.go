package staging

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

func TestOverrideRecordsSurviveEveryWrite(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "backend"}}
	rec := OverrideRecord{Kind: "ConfigMap", Name: "app", Key: "RATE", Present: true, Original: []byte("50"), Applied: []byte("2")}

	s := PutOverride(nil, rs, rec)
	g.Expect(s.Name).To(Equal("jwt-rotation"))
	g.Expect(s.Labels).To(HaveKeyWithValue(rotationv1alpha1.RotatedSecretLabel, "jwt"))
	got, ok := Override(s, "ConfigMap", "app", "RATE")
	g.Expect(ok).To(BeTrue())
	g.Expect(got).To(Equal(rec))
	_, ok = Override(s, "Secret", "app", "RATE")
	g.Expect(ok).To(BeFalse(), "a Secret of the same name is another record")

	// Staging revisions, and their pruning, keep the record; an absent original stays absent.
	s = Put(s, rs, 1, provider.Result{Values: provider.Values{"value": []byte("one")}})
	s = Put(s, rs, 2, provider.Result{Values: provider.Values{"value": []byte("two")}})
	s = MarkPending(s, rs, 3, "now")
	absent := OverrideRecord{Kind: "Secret", Name: "app", Key: "NEW", Applied: []byte("x")}
	s = PutOverride(s, rs, absent)
	g.Expect(Revisions(s)).To(Equal([]int64{2, 3}))
	got, ok = Override(s, "ConfigMap", "app", "RATE")
	g.Expect(ok).To(BeTrue())
	g.Expect(got.Original).To(Equal([]byte("50")))
	got, ok = Override(s, "Secret", "app", "NEW")
	g.Expect(ok).To(BeTrue())
	g.Expect(got.Present).To(BeFalse())
	g.Expect(got.Original).To(BeNil())

	// A record edited into something else is no record; a dropped one is gone, the others stay.
	s.Data[OverrideKey("Secret", "app", "NEW")] = []byte(`{"kind":"Secret","name":"other","key":"NEW"}`)
	_, ok = Override(s, "Secret", "app", "NEW")
	g.Expect(ok).To(BeFalse())
	s = DropOverride(s, "ConfigMap", "app", "RATE")
	_, ok = Override(s, "ConfigMap", "app", "RATE")
	g.Expect(ok).To(BeFalse())
	g.Expect(s.Data).To(HaveKey(OverrideKey("Secret", "app", "NEW")))
	_, ok = Override(nil, "ConfigMap", "app", "RATE")
	g.Expect(ok).To(BeFalse())
}
