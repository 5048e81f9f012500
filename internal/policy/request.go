package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// Limits on what a person's annotation may put into status, Events and history.
const (
	// MaxTokenLength is the longest rotate or emergency token acted on (`$(date +%s)` is 10 characters).
	MaxTokenLength = 128
	// MaxReasonLength is how much of an emergency reason is kept, in characters; the rest is cut.
	MaxReasonLength = 256
)

// RotateToken returns the token of the rotate annotation, "" when there is none.
func RotateToken(rs *rotationv1alpha1.RotatedSecret) string {
	return strings.TrimSpace(rs.Annotations[rotationv1alpha1.RotateAnnotation])
}

// EmergencyToken returns the token and the reason of an emergency annotation "<token> <reason>": the token is the
// first word, so editing only the reason is not a new request. The reason is sanitised and capped (Sanitize).
func EmergencyToken(value string) (token, reason string) {
	token, reason, _ = strings.Cut(strings.TrimSpace(value), " ")
	return token, Sanitize(reason, MaxReasonLength)
}

// RefusedRequest checks the rotate and emergency annotations of rs and says what is wrong with a token the
// operator will not act on (too long, or not printable): it is never copied anywhere, and nothing rotates for it.
func RefusedRequest(rs *rotationv1alpha1.RotatedSecret) (message string, refused bool) {
	for _, a := range []string{rotationv1alpha1.EmergencyAnnotation, rotationv1alpha1.RotateAnnotation} {
		token := strings.TrimSpace(rs.Annotations[a])
		if a == rotationv1alpha1.EmergencyAnnotation {
			token, _ = EmergencyToken(token)
		}
		if msg := checkToken(token); msg != "" {
			return fmt.Sprintf("the %s token %s; a token is 1 to %d printable characters without spaces (e.g. "+
				"$(date +%%s)); nothing rotates for it until the annotation is fixed or removed", a, msg, MaxTokenLength), true
		}
	}
	return "", false
}

// checkToken returns what is wrong with a token, "" when it is usable (or empty).
func checkToken(token string) string {
	if len(token) > MaxTokenLength {
		return fmt.Sprintf("is %d bytes long", len(token))
	}
	if !utf8.ValidString(token) {
		return "is not valid UTF-8"
	}
	for i, c := range token {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return fmt.Sprintf("has a control or space character at byte %d", i)
		}
	}
	return ""
}

// handledEmergency reports whether token was handled: status records the token (older versions recorded the
// whole annotation, "<token> <reason>", whose first word is the token).
func handledEmergency(token, handled string) bool {
	first, _, _ := strings.Cut(handled, " ")
	return token == handled || token == first
}

// Sanitize makes text from a person or a vendor safe to show: control characters become spaces, invalid UTF-8 is
// replaced, and anything beyond max characters is cut and marked with "…".
func Sanitize(text string, max int) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	return string([]rune(text)[:max]) + "…"
}

// NewRotateToken returns the rotate annotation's token when it is usable and not handled yet.
func NewRotateToken(rs *rotationv1alpha1.RotatedSecret) (string, bool) {
	token := RotateToken(rs)
	return token, token != "" && checkToken(token) == "" && token != rs.Status.LastHandledRotateRequest
}

// NewEmergencyToken returns the emergency annotation's token when it is usable and not handled yet.
func NewEmergencyToken(rs *rotationv1alpha1.RotatedSecret) (string, bool) {
	token, _ := EmergencyToken(rs.Annotations[rotationv1alpha1.EmergencyAnnotation])
	return token, token != "" && checkToken(token) == "" && !handledEmergency(token, rs.Status.LastHandledEmergencyRequest)
}
