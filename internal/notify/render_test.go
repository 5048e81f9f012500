package notify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	. "github.com/onsi/gomega"
)

// emergency is a fully filled message; its texts carry what Slack would act on (a mention, a link, a line break).
func emergency() Message {
	return Message{
		ID:          "rsn-2f5cdf110ab638be57395c292a09ac02",
		Event:       EventEmergency,
		Name:        "stripe-key",
		Namespace:   "payments",
		Owner:       "team-payments",
		Description: "Stripe live key for <checkout> & refunds",
		Revision:    7,
		Trigger:     "Emergency",
		Fingerprint: "hmac-sha256:3f9a0c1e77b2",
		StartTime:   time.Date(2026, 3, 1, 13, 4, 5, 0, time.FixedZone("CET", 3600)),
		Message:     "Key found in a CI log\n<!channel>",
		Urgent:      true,
	}
}

// scheduled is a sparse message: what a Scheduled notification knows.
func scheduled() Message {
	return Message{
		ID:           "rsn-0123456789abcdef0123456789abcdef",
		Event:        EventScheduled,
		Name:         "jwt",
		Namespace:    "web",
		ScheduledFor: time.Date(2026, 4, 2, 3, 0, 0, 0, time.UTC),
	}
}

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name, format string
		msg          Message
		want         string
	}{
		{
			name: "urgent slack", format: FormatSlack, msg: emergency(),
			want: `{"text":":rotating_light: *Emergency* rotation of payments/stripe-key, revision 7 — Stripe live key ` +
				`for &lt;checkout&gt; &amp; refunds. Owner: team-payments; trigger: Emergency; started: ` +
				`2026-03-01T12:04:05Z; fingerprint: hmac-sha256:3f9a0c1e77b2. Key found in a CI log &lt;!channel&gt;"}`,
		},
		{
			name: "urgent json", format: FormatJSON, msg: emergency(),
			want: `{"id":"rsn-2f5cdf110ab638be57395c292a09ac02","event":"Emergency","name":"stripe-key",` +
				`"namespace":"payments","owner":"team-payments","description":"Stripe live key for <checkout> & refunds",` +
				`"revision":7,"trigger":"Emergency","outcome":"","fingerprint":"hmac-sha256:3f9a0c1e77b2",` +
				`"startTime":"2026-03-01T12:04:05Z","message":"Key found in a CI log\n<!channel>","urgent":true}`,
		},
		{
			name: "sparse slack", format: FormatSlack, msg: scheduled(),
			want: `{"text":"*Scheduled* rotation of web/jwt. Scheduled for: 2026-04-02T03:00:00Z."}`,
		},
		{
			name: "sparse json", format: FormatJSON, msg: scheduled(),
			want: `{"id":"rsn-0123456789abcdef0123456789abcdef","event":"Scheduled","name":"jwt","namespace":"web",` +
				`"owner":"","description":"","revision":0,"trigger":"","outcome":"","fingerprint":"",` +
				`"scheduledFor":"2026-04-02T03:00:00Z","message":"","urgent":false}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			body, err := Render(c.format, c.msg)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(body)).To(Equal(c.want))
			g.Expect(json.Valid(body)).To(BeTrue())
		})
	}
}

func TestRenderJSONHoldsOnlyWhatIsGiven(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	full := Message{ID: "v-id", Event: EventRolledBack, Name: "v-name", Namespace: "v-ns", Owner: "v-owner",
		Description: "v-desc", Revision: 42, Trigger: "v-trigger", Outcome: "v-outcome", Fingerprint: "v-fp",
		ScheduledFor: at(1), StartTime: at(2), CompletionTime: at(3), Message: "v-msg", Urgent: true}
	cases := []struct {
		name string
		msg  Message
		want map[string]any
	}{
		{name: "every field", msg: full, want: map[string]any{
			"id": "v-id", "event": "RolledBack", "name": "v-name", "namespace": "v-ns", "owner": "v-owner",
			"description": "v-desc", "revision": 42.0, "trigger": "v-trigger", "outcome": "v-outcome",
			"fingerprint": "v-fp", "scheduledFor": "2026-01-01T01:00:00Z", "startTime": "2026-01-01T02:00:00Z",
			"completionTime": "2026-01-01T03:00:00Z", "message": "v-msg", "urgent": true,
		}},
		{name: "only the event", msg: Message{Event: EventDegraded}, want: map[string]any{
			"id": "", "event": "Degraded", "name": "", "namespace": "", "owner": "", "description": "",
			"revision": 0.0, "trigger": "", "outcome": "", "fingerprint": "", "message": "", "urgent": false,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			body, err := Render(FormatJSON, c.msg)
			g.Expect(err).NotTo(HaveOccurred())
			var got map[string]any
			g.Expect(json.Unmarshal(body, &got)).To(Succeed())
			g.Expect(got).To(Equal(c.want))
		})
	}
}

func TestRenderSlackHoldsOnlyWhatIsGiven(t *testing.T) {
	g := NewWithT(t)
	body, err := Render(FormatSlack, Message{Event: EventFailed, Name: "db", Namespace: "data", Revision: 3})
	g.Expect(err).NotTo(HaveOccurred())
	var got map[string]string
	g.Expect(json.Unmarshal(body, &got)).To(Succeed())
	g.Expect(got).To(Equal(map[string]string{"text": "*Failed* rotation of data/db, revision 3."}))
}

func TestRenderSlackIsOneInertLine(t *testing.T) {
	g := NewWithT(t)
	m := emergency()
	m.Message = "line one\r\nline two\t<@U123> <https://evil.example|click> &lt;\u2028end\xff"
	m.Owner = "<!here>"
	body, err := Render(FormatSlack, m)
	g.Expect(err).NotTo(HaveOccurred())
	var got map[string]string
	g.Expect(json.Unmarshal(body, &got)).To(Succeed())
	text := got["text"]
	g.Expect(text).NotTo(ContainSubstring("<"), "no mention or link can form")
	g.Expect(text).NotTo(ContainSubstring(">"))
	g.Expect(text).NotTo(ContainSubstring("\n"))
	g.Expect(text).NotTo(ContainSubstring("\r"))
	g.Expect(text).NotTo(ContainSubstring("\u2028"))
	g.Expect(utf8.ValidString(text)).To(BeTrue())
	g.Expect(text).To(ContainSubstring("Owner: &lt;!here&gt;;"))
	g.Expect(text).To(HaveSuffix("line one  line two &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp;lt; end\uFFFD"))
}

func TestRenderCapsTheBody(t *testing.T) {
	long := strings.Repeat("rotation went wrong ", 1000) // 20 000 bytes
	escaped := strings.Repeat("\x01<&\"\\", 2000)        // grows up to 6 times once encoded
	wide := strings.Repeat("\U0001F511", 2000)           // 4-byte characters
	field := strings.Repeat("\x00", 5000)                // a hostile short field
	cases := []struct {
		name string
		edit func(*Message)
	}{
		{name: "long message", edit: func(m *Message) { m.Message = long }},
		{name: "long description", edit: func(m *Message) { m.Description = long }},
		{name: "both long", edit: func(m *Message) { m.Description, m.Message = long, long }},
		{name: "escaped characters", edit: func(m *Message) { m.Description, m.Message = escaped, escaped }},
		{name: "wide characters", edit: func(m *Message) { m.Message = wide }},
		{name: "every field hostile", edit: func(m *Message) {
			m.ID, m.Name, m.Namespace, m.Owner, m.Trigger, m.Outcome, m.Fingerprint = field, field, field, field,
				field, field, field
			m.Description, m.Message = escaped, long
		}},
	}
	for _, c := range cases {
		for _, format := range []string{FormatJSON, FormatSlack} {
			t.Run(c.name+" "+format, func(t *testing.T) {
				g := NewWithT(t)
				m := emergency()
				c.edit(&m)
				body, err := Render(format, m)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(len(body)).To(BeNumerically("<=", MaxBody))
				g.Expect(len(body)).To(BeNumerically(">", MaxBody-64), "the free text uses the room there is")
				g.Expect(json.Valid(body)).To(BeTrue())
				if format == FormatSlack {
					return
				}
				var d document
				g.Expect(json.Unmarshal(body, &d)).To(Succeed())
				g.Expect(d.Event).To(Equal("Emergency"), "the structure is kept")
				g.Expect(d.Revision).To(Equal(int64(7)))
				g.Expect(d.Urgent).To(BeTrue())
				g.Expect(d.StartTime).To(Equal("2026-03-01T12:04:05Z"))
				for _, pair := range [][2]string{{d.Description, m.Description}, {d.Message, m.Message}, {d.Name, m.Name}} {
					got, given := pair[0], pair[1]
					if got != given {
						g.Expect(got).To(HaveSuffix(ellipsis), "a cut text says so")
						g.Expect(given).To(HavePrefix(strings.TrimSuffix(got, ellipsis)), "a cut keeps the start")
					}
				}
			})
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	cases := []struct {
		name, format string
		event        Event
		want         error
	}{
		{name: "unknown format", format: "teams", event: EventFailed, want: ErrUnknownFormat},
		{name: "empty format", format: "", event: EventFailed, want: ErrUnknownFormat},
		{name: "format is case-sensitive", format: "JSON", event: EventFailed, want: ErrUnknownFormat},
		{name: "unknown event", format: FormatJSON, event: "Exploded", want: ErrUnknownEvent},
		{name: "no event", format: FormatSlack, event: "", want: ErrUnknownEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			m := emergency()
			m.Event = c.event
			body, err := Render(c.format, m)
			g.Expect(body).To(BeNil())
			g.Expect(errors.Is(err, c.want)).To(BeTrue(), "got %v", err)
		})
	}
}
