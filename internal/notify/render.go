package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The formats of spec.notify[].format.
const (
	// FormatSlack is a Slack incoming-webhook message, {"text": "..."}: one paragraph, mrkdwn.
	FormatSlack = "slack"
	// FormatJSON is the document described at Render.
	FormatJSON = "json"
)

// Size limits of a rendered body.
const (
	// MaxBody is the largest body Render returns, in bytes.
	MaxBody = 4 << 10
	// MaxField is the most bytes one field other than Description and Message takes once encoded.
	MaxField = 256
)

// UrgentPrefix starts the Slack text of an urgent message.
const UrgentPrefix = ":rotating_light: "

// ErrUnknownFormat matches, with errors.Is, Render's error for a format other than FormatSlack and FormatJSON.
var ErrUnknownFormat = errors.New("unknown notification format")

// errTooLong is a bug: the limits above leave room for every field at its cap.
var errTooLong = errors.New("rendered notification exceeds the size limit")

// Render returns the body of a notification about m in format, at most MaxBody bytes of valid JSON.
//
// FormatSlack is {"text": "..."}: the event, namespace/name, revision, description, owner, trigger, outcome,
// times (UTC, RFC 3339) and fingerprint, then Message, on one line; UrgentPrefix first when m.Urgent. Control
// characters become spaces and &, <, > are escaped as Slack asks, so no text can mention @channel or hide a link.
//
// FormatJSON is one object with these keys, in this order, all present except empty times:
//
//	id             string   the delivery id (deduplicate on it)
//	event          string   one of Events()
//	name           string   the RotatedSecret's name
//	namespace      string   its namespace
//	owner          string   spec.owner
//	description    string   spec.description (may end in "…" if cut)
//	revision       integer  the revision, 0 when none
//	trigger        string   why the rotation started
//	outcome        string   how it ended, "" while it runs
//	fingerprint    string   keyed fingerprint of the revision's value
//	scheduledFor   string   RFC 3339, UTC; left out when unknown
//	startTime      string   RFC 3339, UTC; left out when unknown
//	completionTime string   RFC 3339, UTC; left out when unknown
//	message        string   free text (may end in "…" if cut)
//	urgent         boolean  act now
//
// New keys may be added; none will be removed or change meaning. Strings are valid UTF-8 (invalid bytes become
// U+FFFD). An unknown format or an invalid m.Event is an error.
func Render(format string, m Message) ([]byte, error) {
	if !m.Event.Valid() {
		return nil, fmt.Errorf("rendering a notification: %w %q", ErrUnknownEvent, clip(string(m.Event), MaxField))
	}
	var body []byte
	var err error
	switch format {
	case FormatSlack:
		body, err = renderSlack(m)
	case FormatJSON:
		body, err = renderJSON(m)
	default:
		return nil, fmt.Errorf("%w %q: want %s or %s", ErrUnknownFormat, clip(format, MaxField), FormatSlack, FormatJSON)
	}
	if err != nil {
		return nil, fmt.Errorf("rendering a %s notification: %w", format, err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("rendering a %s notification: %w", format, errTooLong)
	}
	return body, nil
}

// document is the FormatJSON wire form; see Render.
type document struct {
	ID             string `json:"id"`
	Event          string `json:"event"`
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	Owner          string `json:"owner"`
	Description    string `json:"description"`
	Revision       int64  `json:"revision"`
	Trigger        string `json:"trigger"`
	Outcome        string `json:"outcome"`
	Fingerprint    string `json:"fingerprint"`
	ScheduledFor   string `json:"scheduledFor,omitempty"`
	StartTime      string `json:"startTime,omitempty"`
	CompletionTime string `json:"completionTime,omitempty"`
	Message        string `json:"message"`
	Urgent         bool   `json:"urgent"`
}

// renderJSON writes m as the FormatJSON document: fixed fields cut at MaxField, then the free texts fitted into
// the room left.
func renderJSON(m Message) ([]byte, error) {
	size := jsonSize(valid)
	d := document{
		ID:             fit(valid(m.ID), MaxField, size),
		Event:          string(m.Event),
		Name:           fit(valid(m.Name), MaxField, size),
		Namespace:      fit(valid(m.Namespace), MaxField, size),
		Owner:          fit(valid(m.Owner), MaxField, size),
		Revision:       m.Revision,
		Trigger:        fit(valid(m.Trigger), MaxField, size),
		Outcome:        fit(valid(m.Outcome), MaxField, size),
		Fingerprint:    fit(valid(m.Fingerprint), MaxField, size),
		ScheduledFor:   timestamp(m.ScheduledFor),
		StartTime:      timestamp(m.StartTime),
		CompletionTime: timestamp(m.CompletionTime),
		Urgent:         m.Urgent,
	}
	base, err := encodeJSON(d)
	if err != nil {
		return nil, err
	}
	// Each free-text field adds its encoded size less the two quotes already in base.
	d.Description, d.Message = fitPair(valid(m.Description), valid(m.Message), MaxBody-len(base)+4, size)
	return encodeJSON(d)
}

// renderSlack writes m as {"text": ...}: a head, the details that are known, then the free texts fitted into the
// room left.
func renderSlack(m Message) ([]byte, error) {
	size := jsonSize(slackText)
	field := func(s string) string { return slackText(fit(s, MaxField, size)) }

	var head strings.Builder
	if m.Urgent {
		head.WriteString(UrgentPrefix)
	}
	ref := field(m.Name)
	if m.Namespace != "" {
		ref = field(m.Namespace) + "/" + ref
	}
	fmt.Fprintf(&head, "*%s* rotation of %s", m.Event, ref)
	if m.Revision != 0 {
		head.WriteString(", revision " + strconv.FormatInt(m.Revision, 10))
	}

	var details []string
	for _, d := range []struct{ label, value string }{
		{"owner", field(m.Owner)},
		{"trigger", field(m.Trigger)},
		{"outcome", field(m.Outcome)},
		{"scheduled for", timestamp(m.ScheduledFor)},
		{"started", timestamp(m.StartTime)},
		{"completed", timestamp(m.CompletionTime)},
		{"fingerprint", field(m.Fingerprint)},
	} {
		if d.value != "" {
			details = append(details, d.label+": "+d.value)
		}
	}
	tail := "."
	if len(details) > 0 {
		// The labels are ASCII: capitalise the first so the details read as a sentence.
		joined := strings.Join(details, "; ")
		tail = ". " + strings.ToUpper(joined[:1]) + joined[1:] + "."
	}

	text := func(desc, msg string) string {
		t := head.String()
		if desc != "" {
			t += " — " + desc
		}
		t += tail
		if msg != "" {
			t += " " + msg
		}
		return t
	}
	base, err := encodeJSON(map[string]string{"text": text("", "")})
	if err != nil {
		return nil, err
	}
	// The separators " — " and " " take at most 6 bytes; each field's two quotes are not in the text.
	desc, msg := fitPair(m.Description, m.Message, MaxBody-len(base)-6+4, size)
	return encodeJSON(map[string]string{"text": text(slackText(desc), slackText(msg))})
}

// slackText makes s one line of Slack mrkdwn that shows as written: valid UTF-8, control characters (line breaks
// included) as spaces, and &, <, > escaped, so that text cannot form a mention (<!channel>) or a link.
func slackText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, valid(s))
	return slackEscaper.Replace(s)
}

// slackEscaper escapes the three characters Slack reads as markup.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// valid returns s with every invalid UTF-8 sequence replaced by U+FFFD, as encoding/json would write it.
func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// timestamp is t in UTC, RFC 3339, or "" for the zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// encodeJSON is json.Marshal without HTML escaping (no \u003c for <), so texts read as written.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonSize returns the size function for fit: the bytes s takes as a JSON string, quotes included, once
// transform has made it what is written.
func jsonSize(transform func(string) string) func(string) int {
	return func(s string) int {
		b, err := encodeJSON(transform(s))
		if err != nil {
			return len(s)*6 + 2 // never: a string always encodes; no character takes more than \u00XX
		}
		return len(b)
	}
}
