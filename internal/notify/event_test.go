package notify

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestEvents(t *testing.T) {
	g := NewWithT(t)
	events := Events()
	g.Expect(events).To(HaveLen(8))
	seen := map[Event]bool{}
	for _, e := range events {
		g.Expect(e.Valid()).To(BeTrue(), string(e))
		g.Expect(seen[e]).To(BeFalse(), "duplicate %s", e)
		seen[e] = true
	}
	events[0] = "Mutated"
	g.Expect(Events()[0]).To(Equal(EventScheduled), "Events returns a fresh slice")
}

func TestParseEvent(t *testing.T) {
	cases := []struct {
		in   string
		want Event
		ok   bool
	}{
		{in: "Scheduled", want: EventScheduled, ok: true},
		{in: "Started", want: EventStarted, ok: true},
		{in: "Succeeded", want: EventSucceeded, ok: true},
		{in: "Failed", want: EventFailed, ok: true},
		{in: "RolledBack", want: EventRolledBack, ok: true},
		{in: "Halted", want: EventHalted, ok: true},
		{in: "Emergency", want: EventEmergency, ok: true},
		{in: "Degraded", want: EventDegraded, ok: true},
		{in: "succeeded"},
		{in: ""},
		{in: " Failed"},
		{in: strings.Repeat("x", 10000)},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 20)], func(t *testing.T) {
			g := NewWithT(t)
			got, err := ParseEvent(c.in)
			if c.ok {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(c.want))
				return
			}
			g.Expect(errors.Is(err, ErrUnknownEvent)).To(BeTrue())
			g.Expect(err.Error()).To(ContainSubstring("Scheduled, Started, Succeeded"))
			g.Expect(len(err.Error())).To(BeNumerically("<", MaxField+200), "the input is quoted, bounded")
			g.Expect(Event(c.in).Valid()).To(BeFalse())
		})
	}
}
