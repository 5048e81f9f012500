package policy

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type opt func(*rotationv1alpha1.RotatedSecret)

func rotated(rev int64, at time.Time) opt {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Status.CurrentRevision = rev
		rs.Status.LastRotationTime = &metav1.Time{Time: at}
	}
}
func annotated(k, v string) opt {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		if rs.Annotations == nil {
			rs.Annotations = map[string]string{}
		}
		rs.Annotations[k] = v
	}
}
func handled(rotate, emergency string) opt {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Status.LastHandledRotateRequest = rotate
		rs.Status.LastHandledEmergencyRequest = emergency
	}
}
func suspended(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.Suspend = true }

func object(opts ...opt) *rotationv1alpha1.RotatedSecret {
	rs := &rotationv1alpha1.RotatedSecret{Spec: rotationv1alpha1.RotatedSecretSpec{TTL: "90d"}}
	for _, o := range opts {
		o(rs)
	}
	return rs
}

func TestDefaultChain(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(start)
	day := 24 * time.Hour
	cases := []struct {
		name    string
		obj     *rotationv1alpha1.RotatedSecret
		ttl     time.Duration
		advance time.Duration
		want    rotationv1alpha1.Trigger // "" means no rotation
		emerg   bool
	}{
		{name: "new object rotates", obj: object(), ttl: 90 * day, want: rotationv1alpha1.TriggerCreated},
		{name: "within TTL in days", obj: object(rotated(1, start)), ttl: 90 * day, advance: 89 * day},
		{name: "TTL of 90 days expired", obj: object(rotated(1, start)), ttl: 90 * day, advance: 90 * day, want: rotationv1alpha1.TriggerTTLExpired},
		{name: "one second before a TTL in hours", obj: object(rotated(3, start)), ttl: 2 * time.Hour, advance: 2*time.Hour - time.Second},
		{name: "TTL in hours expired", obj: object(rotated(3, start)), ttl: 2 * time.Hour, advance: 2 * time.Hour, want: rotationv1alpha1.TriggerTTLExpired},
		{name: "new rotate token", obj: object(rotated(1, start), annotated(rotationv1alpha1.RotateAnnotation, "t1")), ttl: 90 * day, want: rotationv1alpha1.TriggerManual},
		{name: "handled rotate token", obj: object(rotated(2, start), annotated(rotationv1alpha1.RotateAnnotation, "t1"), handled("t1", "")), ttl: 90 * day},
		{name: "blank rotate token", obj: object(rotated(2, start), annotated(rotationv1alpha1.RotateAnnotation, "  ")), ttl: 90 * day},
		{name: "unrelated annotation", obj: object(rotated(2, start), annotated("team", "payments")), ttl: 90 * day},
		{name: "new emergency token", obj: object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e1 leaked in CI logs")), ttl: 90 * day, want: rotationv1alpha1.TriggerEmergency, emerg: true},
		{name: "handled emergency token", obj: object(rotated(2, start), annotated(rotationv1alpha1.EmergencyAnnotation, "e1 leaked"), handled("", "e1 leaked")), ttl: 90 * day},
		{name: "emergency beats rotate token", obj: object(rotated(2, start), annotated(rotationv1alpha1.RotateAnnotation, "t9"), annotated(rotationv1alpha1.EmergencyAnnotation, "e2 x")), ttl: 90 * day, want: rotationv1alpha1.TriggerEmergency, emerg: true},
		{name: "suspend holds TTL", obj: object(rotated(1, start), suspended), ttl: 90 * day, advance: 100 * day},
		{name: "suspend holds rotate token", obj: object(rotated(1, start), suspended, annotated(rotationv1alpha1.RotateAnnotation, "t1")), ttl: 90 * day},
		{name: "suspend holds the first value", obj: object(suspended), ttl: 90 * day},
		{name: "emergency overrides suspend", obj: object(rotated(1, start), suspended, annotated(rotationv1alpha1.EmergencyAnnotation, "e1")), ttl: 90 * day, want: rotationv1alpha1.TriggerEmergency, emerg: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			clock.SetTime(start.Add(c.advance))
			d := DefaultChain().Decide(Input{Now: clock.Now(), Object: c.obj, TTL: c.ttl})
			g.Expect(d.Rotate).To(Equal(c.want != ""), "decision %+v", d)
			g.Expect(d.Trigger).To(Equal(c.want))
			g.Expect(d.Emergency).To(Equal(c.emerg))
			g.Expect(d.Reason).NotTo(BeEmpty())
			g.Expect(d.Message).NotTo(BeEmpty())
		})
	}
}

func TestEmergencyToken(t *testing.T) {
	g := NewWithT(t)
	tok, reason := EmergencyToken(" 1700000000  key leaked in a public gist ")
	g.Expect(tok).To(Equal("1700000000"))
	g.Expect(reason).To(Equal("key leaked in a public gist"))
	tok, reason = EmergencyToken("only-token")
	g.Expect(tok).To(Equal("only-token"))
	g.Expect(reason).To(BeEmpty())
}

func TestDue(t *testing.T) {
	g := NewWithT(t)
	_, ok := Due(Input{Object: object(), TTL: time.Hour})
	g.Expect(ok).To(BeFalse())
	due, ok := Due(Input{Object: object(rotated(1, start)), TTL: 90 * 24 * time.Hour})
	g.Expect(ok).To(BeTrue())
	g.Expect(due).To(Equal(start.Add(90 * 24 * time.Hour)))
}

func TestJitter(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Jitter("a", 90*24*time.Hour)).To(Equal(Jitter("a", 90*24*time.Hour)), "stable for one object")
	g.Expect(Jitter("a", 90*24*time.Hour)).To(BeNumerically("<", 5*time.Minute))
	g.Expect(Jitter("b", time.Hour)).To(BeNumerically("<", 36*time.Second), "at most 1% of the TTL")
	seen := map[time.Duration]bool{}
	for _, uid := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		seen[Jitter(uid, 90*24*time.Hour)] = true
	}
	g.Expect(len(seen)).To(BeNumerically(">", 1), "different objects wake at different times")
}

func TestBackoff(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Backoff(0)).To(BeZero())
	g.Expect(Backoff(1)).To(Equal(10 * time.Second))
	g.Expect(Backoff(2)).To(Equal(20 * time.Second))
	g.Expect(Backoff(4)).To(Equal(80 * time.Second))
	g.Expect(Backoff(20)).To(Equal(30 * time.Minute))
	g.Expect(Backoff(1 << 30)).To(Equal(30 * time.Minute))

	status := rotationv1alpha1.RotatedSecretStatus{FailedAttempts: 3, LastFailureTime: &metav1.Time{Time: start}}
	g.Expect(RetryAt(status)).To(Equal(start.Add(40 * time.Second)))
	g.Expect(RetryAt(rotationv1alpha1.RotatedSecretStatus{})).To(BeZero())
}
