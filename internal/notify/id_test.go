package notify

import (
	"regexp"
	"testing"

	. "github.com/onsi/gomega"
)

func TestDeliveryIDIsStable(t *testing.T) {
	g := NewWithT(t)
	id := DeliveryID("0a5e", "payments", "stripe-key", 7, EventSucceeded, 0)
	g.Expect(id).To(MatchRegexp(`^rsn-[0-9a-f]{32}$`))
	g.Expect(DeliveryID("0a5e", "payments", "stripe-key", 7, EventSucceeded, 0)).To(Equal(id))
	// Pinned, computed independently from the documented scheme: a change would make receivers take deliveries
	// pending across an upgrade for new ones.
	g.Expect(id).To(Equal("rsn-23c740a79280982eac749ea9d0048c52"))
}

func TestDeliveryIDIsDistinctPerTuple(t *testing.T) {
	type tuple struct {
		uid      string
		ns, name string
		rev      int64
		event    Event
		sink     int
	}
	base := tuple{"0a5e", "payments", "stripe-key", 7, EventSucceeded, 0}
	cases := []struct {
		name string
		t    tuple
	}{
		{name: "base", t: base},
		{name: "namespace", t: tuple{"0a5e", "payment", "stripe-key", 7, EventSucceeded, 0}},
		{name: "name", t: tuple{"0a5e", "payments", "stripe-key2", 7, EventSucceeded, 0}},
		{name: "revision", t: tuple{"0a5e", "payments", "stripe-key", 8, EventSucceeded, 0}},
		{name: "negative revision", t: tuple{"0a5e", "payments", "stripe-key", -7, EventSucceeded, 0}},
		{name: "event", t: tuple{"0a5e", "payments", "stripe-key", 7, EventFailed, 0}},
		{name: "sink", t: tuple{"0a5e", "payments", "stripe-key", 7, EventSucceeded, 1}},
		{name: "boundary moved between namespace and name", t: tuple{"0a5e", "paymentss", "tripe-key", 7, EventSucceeded, 0}},
		{name: "boundary moved, with a separator", t: tuple{"0a5e", "payments/stripe", "key", 7, EventSucceeded, 0}},
		{name: "empty", t: tuple{"", "", "", 0, "", 0}},
		{name: "uid: the same name created again", t: tuple{"0a5f", "payments", "stripe-key", 7, EventSucceeded, 0}},
	}
	format := regexp.MustCompile(`^rsn-[0-9a-f]{32}$`)
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			id := DeliveryID(c.t.uid, c.t.ns, c.t.name, c.t.rev, c.t.event, c.t.sink)
			g.Expect(format.MatchString(id)).To(BeTrue(), id)
			g.Expect(validID(id)).To(BeTrue(), "Send accepts it")
			g.Expect(seen).NotTo(HaveKey(id), "same id as %q", seen[id])
			seen[id] = c.name
		})
	}
}
