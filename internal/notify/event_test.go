package notify

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

func TestEvents(t *testing.T) {
	g := NewWithT(t)
	events := Events()
	g.Expect(events).To(HaveLen(9))
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
		{in: "Purge", want: EventPurge, ok: true},
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

// Every event the CRD lets spec.notify[].on name, and the operator sends, renders: Purge once did not.
func TestEveryAPIEventRenders(t *testing.T) {
	g := NewWithT(t)
	for _, e := range []rotationv1alpha1.NotifyEvent{rotationv1alpha1.NotifyScheduled, rotationv1alpha1.NotifyStarted,
		rotationv1alpha1.NotifySucceeded, rotationv1alpha1.NotifyFailed, rotationv1alpha1.NotifyRolledBack,
		rotationv1alpha1.NotifyHalted, rotationv1alpha1.NotifyEmergency, rotationv1alpha1.NotifyDegraded,
		rotationv1alpha1.NotifyPurge} {
		for _, format := range []string{"json", "slack"} {
			_, err := Render(format, Message{ID: "d-1", Event: Event(e), Name: "jwt", Namespace: "backend", Revision: 2})
			g.Expect(err).NotTo(HaveOccurred(), "%s as %s", e, format)
		}
	}
}
