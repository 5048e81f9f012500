package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRender renders fuzzed messages in both formats and checks that Render never fails for a valid event nor
// panics; that every body is valid JSON of at most MaxBody bytes; that the JSON document gives back every field
// as given, or cut (a prefix of it, ending in "…"), and never anything else; and that the Slack text is one line
// of valid UTF-8 where no mention or link can form, starting with UrgentPrefix exactly when the message is urgent.
func FuzzRender(f *testing.F) {
	// times repeats the texts (low 11 bits: Description and Message; high 5 bits: the other strings), so that
	// small corpus entries reach the size limits and stay quick to minimise.
	f.Add("rsn-2f5cdf110ab638be57395c292a09ac02", "stripe-key", "payments", "team-payments",
		"Stripe live key for <checkout> & refunds", "Emergency", "", "hmac-sha256:3f9a0c1e77b2",
		"Key found in a CI log\n<!channel>", int64(7), uint8(6), true, int64(1772366645), uint16(0))
	f.Add("", "", "", "", "", "", "", "", "", int64(0), uint8(0), false, int64(0), uint16(0))
	f.Add("\x00", "a\xffb", "\u2028", "<@U1>", "\x01<&\"\\", "\t", "\r\n", "…", "\U0001F511", int64(-1), uint8(255), true,
		int64(-62135596800), uint16(900))
	f.Add("i", "\x00", "é", "&", "description ", `"`, "\\", "<", "m ", int64(1<<62), uint8(3), false,
		int64(253402300800), uint16(31<<11|2047))
	f.Fuzz(func(t *testing.T, id, name, namespace, owner, description, trigger, outcome, fp, text string,
		revision int64, event uint8, urgent bool, unix int64, times uint16) {
		free, fixed := 1+int(times&2047), 1+int(times>>11)
		description, text = strings.Repeat(description, free), strings.Repeat(text, free)
		for _, s := range []*string{&id, &name, &namespace, &owner, &trigger, &outcome, &fp} {
			*s = strings.Repeat(*s, fixed)
		}
		m := Message{ID: id, Event: Events()[int(event)%len(Events())], Name: name, Namespace: namespace,
			Owner: owner, Description: description, Revision: revision, Trigger: trigger, Outcome: outcome,
			Fingerprint: fp, ScheduledFor: time.Unix(unix, 0), StartTime: time.Unix(unix/2, 0), Message: text,
			Urgent: urgent}

		body, err := Render(FormatJSON, m)
		checkBody(t, body, err)
		var d document
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatalf("json body does not decode: %v", err)
		}
		for _, f := range []struct{ name, got, given string }{
			{"id", d.ID, id}, {"name", d.Name, name}, {"namespace", d.Namespace, namespace}, {"owner", d.Owner, owner},
			{"description", d.Description, description}, {"trigger", d.Trigger, trigger},
			{"outcome", d.Outcome, outcome}, {"fingerprint", d.Fingerprint, fp}, {"message", d.Message, text},
		} {
			given := valid(f.given)
			if f.got != given && !(strings.HasSuffix(f.got, ellipsis) &&
				strings.HasPrefix(given, strings.TrimSuffix(f.got, ellipsis))) {
				t.Fatalf("%s: got %q, given %q", f.name, f.got, given)
			}
		}
		if d.Event != string(m.Event) || d.Revision != revision || d.Urgent != urgent ||
			d.ScheduledFor != timestamp(m.ScheduledFor) || d.StartTime != timestamp(m.StartTime) || d.CompletionTime != "" {
			t.Fatalf("structured fields changed: %+v", d)
		}

		body, err = Render(FormatSlack, m)
		checkBody(t, body, err)
		var slack map[string]string
		if err := json.Unmarshal(body, &slack); err != nil || len(slack) != 1 {
			t.Fatalf("slack body is not {\"text\"}: %v, %s", err, body)
		}
		s := slack["text"]
		if !utf8.ValidString(s) || strings.ContainsAny(s, "<>\n\r\t\x00\u2028\u2029") {
			t.Fatalf("slack text is not one inert line: %q", s)
		}
		if strings.HasPrefix(s, UrgentPrefix) != urgent {
			t.Fatalf("urgent %v, text %q", urgent, s)
		}
	})
}

// checkBody fails t unless Render succeeded with valid JSON of at most MaxBody bytes.
func checkBody(t *testing.T, body []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(body) > MaxBody {
		t.Fatalf("body is %d bytes, over %d", len(body), MaxBody)
	}
	if !json.Valid(body) {
		t.Fatalf("body is not valid JSON: %q", body)
	}
}
