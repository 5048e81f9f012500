package policy

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
)

func TestRequestsAreBoundedAndSanitised(t *testing.T) {
	huge := strings.Repeat("x", 200*1024)
	cases := []struct {
		name      string
		obj       *rotationv1alpha1.RotatedSecret
		refused   string // substring of the refusal; "" means accepted
		rotate    bool
		emergency bool
	}{
		{name: "usable rotate token", obj: object(annotated(rotationv1alpha1.RotateAnnotation, "1795666629")), rotate: true},
		{name: "200 KB rotate token", obj: object(annotated(rotationv1alpha1.RotateAnnotation, huge)), refused: "is 204800 bytes long"},
		{name: "rotate token with a control character", obj: object(annotated(rotationv1alpha1.RotateAnnotation, "t1\x1b[2J")), refused: "control or space character at byte 2"},
		{name: "rotate token with a newline inside", obj: object(annotated(rotationv1alpha1.RotateAnnotation, "t1\nt2")), refused: "at byte 2"},
		{name: "rotate token that is not UTF-8", obj: object(annotated(rotationv1alpha1.RotateAnnotation, "t\xff")), refused: "not valid UTF-8"},
		{name: "200 KB emergency token", obj: object(annotated(rotationv1alpha1.EmergencyAnnotation, huge+" leaked")), refused: "emergency token is 204800 bytes"},
		{name: "emergency with a 200 KB reason", obj: object(annotated(rotationv1alpha1.EmergencyAnnotation, "e1 "+huge)), emergency: true},
		{name: "emergency token with a tab", obj: object(annotated(rotationv1alpha1.EmergencyAnnotation, "e1\tleaked")), refused: "control or space character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			msg, refused := RefusedRequest(c.obj)
			g.Expect(refused).To(Equal(c.refused != ""))
			g.Expect(msg).To(ContainSubstring(c.refused))
			g.Expect(len(msg)).To(BeNumerically("<", 400), "the refusal never quotes the token")
			_, rotate := NewRotateToken(c.obj)
			g.Expect(rotate).To(Equal(c.rotate))
			_, emergency := NewEmergencyToken(c.obj)
			g.Expect(emergency).To(Equal(c.emergency))
			d := DefaultChain().Decide(Input{Now: start, Object: c.obj, TTL: 1 << 62})
			g.Expect(len(d.Message)).To(BeNumerically("<", 400), "nothing unbounded reaches a decision")
		})
	}
}

func TestEmergencyTokenIsTheFirstWord(t *testing.T) {
	g := NewWithT(t)
	obj := object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e1 leaked in CI, and more"), handled("", "e1"))
	_, ok := NewEmergencyToken(obj)
	g.Expect(ok).To(BeFalse(), "editing only the reason starts nothing")
	obj = object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e1 edited reason"), handled("", "e1 leaked"))
	_, ok = NewEmergencyToken(obj)
	g.Expect(ok).To(BeFalse(), "a status written by an older version (the whole annotation) still counts as handled")
	obj = object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e2 leaked"), handled("", "e1"))
	token, ok := NewEmergencyToken(obj)
	g.Expect(ok).To(BeTrue())
	g.Expect(token).To(Equal("e2"))
}

func TestSanitize(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Sanitize("leaked\x1b[31m in\nCI\x00", 100)).To(Equal("leaked [31m in CI"))
	g.Expect(Sanitize(strings.Repeat("é", 300), 256)).To(Equal(strings.Repeat("é", 256) + "…"))
	g.Expect(Sanitize("bad \xff byte", 100)).To(Equal("bad \uFFFD byte"))
}

func TestEmergencyMessageFitsAnEvent(t *testing.T) {
	g := NewWithT(t)
	// 256 characters of four bytes each and the longest token, which %q doubles.
	obj := object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation,
		strings.Repeat(`"`, MaxTokenLength)+" "+strings.Repeat("\U0001F511", 300)))
	d := DefaultChain().Decide(Input{Now: start, Object: obj, TTL: time.Hour})
	g.Expect(d.Emergency).To(BeTrue())
	g.Expect(len(d.Message)).To(BeNumerically("<=", conditions.MaxMessage))
	g.Expect(d.Message).To(HavePrefix(`Emergency rotation requested (token "\"\"`))
	g.Expect(d.Message).To(HaveSuffix("\U0001F511…"), "cut at a character boundary")
}
