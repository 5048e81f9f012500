package conditions

import (
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

func TestSet(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Generation: 3}}

	Set(rs, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, "Pending", "No value generated yet")
	c := Get(rs, rotationv1alpha1.ConditionReady)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.ObservedGeneration).To(BeEquivalentTo(3), "every condition records the generation it describes")
	g.Expect(IsTrue(rs, rotationv1alpha1.ConditionReady)).To(BeFalse())
	firstTransition := c.LastTransitionTime

	rs.Generation = 4
	Set(rs, rotationv1alpha1.ConditionReady, metav1.ConditionFalse, "Pending", "Still nothing")
	c = Get(rs, rotationv1alpha1.ConditionReady)
	g.Expect(c.ObservedGeneration).To(BeEquivalentTo(4))
	g.Expect(c.Message).To(Equal("Still nothing"))
	g.Expect(c.LastTransitionTime).To(Equal(firstTransition), "the transition time moves only when the status does")

	Set(rs, rotationv1alpha1.ConditionReady, metav1.ConditionTrue, "UpToDate", "Revision 1 is in every target")
	g.Expect(IsTrue(rs, rotationv1alpha1.ConditionReady)).To(BeTrue())
	g.Expect(rs.Status.Conditions).To(HaveLen(1))

	Delete(rs, rotationv1alpha1.ConditionReady)
	g.Expect(Get(rs, rotationv1alpha1.ConditionReady)).To(BeNil())
}

func TestMessagesAreBounded(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{}
	Set(rs, rotationv1alpha1.ConditionStalled, metav1.ConditionTrue, "InvalidSpec", strings.Repeat("ü", 2000))
	msg := Get(rs, rotationv1alpha1.ConditionStalled).Message
	g.Expect(len(msg)).To(BeNumerically("<=", MaxMessage))
	g.Expect(utf8.ValidString(msg)).To(BeTrue(), "cut at a character boundary")
	g.Expect(msg).To(HaveSuffix("…"))
	g.Expect(Bound("short")).To(Equal("short"))
}
