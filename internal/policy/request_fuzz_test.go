package policy

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
)

// FuzzRequestAnnotations sets the rotate and emergency annotations (and what status says was handled) to fuzzed
// texts and checks everything the policy package returns for status, conditions and Events: nothing panics; every
// text is valid UTF-8 without control characters; a token acted on is at most MaxTokenLength bytes, a reason at
// most MaxReasonLength characters plus "…", a decision message at most conditions.MaxMessage bytes, and Sanitize
// keeps at most its limit plus "…" with the limits its other callers use; a token RefusedRequest refuses never
// starts a rotation.
func FuzzRequestAnnotations(f *testing.F) {
	f.Add("1795666629", "e1 leaked in CI logs", "", "", false, int64(1))
	f.Add("", "e2 "+strings.Repeat("\U0001F511", 300), "", "e1", false, int64(3))
	f.Add(strings.Repeat(`"`, MaxTokenLength), `\\\\ reason`, "", "", true, int64(2))
	f.Add("t1\x1b[2J", "e1\tleaked\x00\n", "t0", "", false, int64(0))
	f.Add("\xff\xfe", "  e3   \u202e\u2028reason\xff", "", "e3 old reason", false, int64(7))
	f.Add("t\u00a0", "e\u200b reason", "t\u00a0", "", true, int64(1))
	f.Fuzz(func(t *testing.T, rotate, emergency, handledRotate, handledEmergency string, suspend bool, rev int64) {
		rs := object(rotated(rev, start), handled(handledRotate, handledEmergency))
		rs.Spec.Suspend = suspend
		rs.Annotations = map[string]string{
			rotationv1alpha1.RotateAnnotation:    rotate,
			rotationv1alpha1.EmergencyAnnotation: emergency,
		}

		msg, refused := RefusedRequest(rs)
		expectShown(t, "RefusedRequest message", msg, 400)

		token, reason := EmergencyToken(emergency)
		expectShown(t, "emergency reason", reason, len(reason))
		if n := utf8.RuneCountInString(reason); n > MaxReasonLength+1 ||
			n == MaxReasonLength+1 && !strings.HasSuffix(reason, "…") {
			t.Fatalf("emergency reason is %d characters: %q", n, reason)
		}
		emergencyUsable := token == "" || checkToken(token) == ""
		rotateUsable := checkToken(RotateToken(rs)) == ""
		if refused == (emergencyUsable && rotateUsable) {
			t.Fatalf("RefusedRequest says refused=%v for usable tokens emergency=%v rotate=%v", refused, emergencyUsable, rotateUsable)
		}

		if tok, ok := NewEmergencyToken(rs); ok {
			expectToken(t, "emergency token", tok)
		}
		if tok, ok := NewRotateToken(rs); ok {
			expectToken(t, "rotate token", tok)
		}

		d := DefaultChain().Decide(Input{Now: start, Object: rs, TTL: time.Hour})
		expectShown(t, "decision message", d.Message, conditions.MaxMessage)
		if d.Emergency && !emergencyUsable {
			t.Fatalf("refused emergency token %q started an emergency rotation", token)
		}
		if d.Trigger == rotationv1alpha1.TriggerManual && !rotateUsable {
			t.Fatalf("refused rotate token %q started a rotation", RotateToken(rs))
		}

		// Sanitize with the limits of its other callers: a create-pending marker's time (64) and a key hint (4).
		for text, limit := range map[string]int{handledRotate: 64, handledEmergency: 4} {
			got := Sanitize(text, limit)
			expectShown(t, "Sanitize", got, len(got))
			if n := utf8.RuneCountInString(got); n > limit+1 || n == limit+1 && !strings.HasSuffix(got, "…") {
				t.Fatalf("Sanitize(%q, %d) kept %d characters: %q", text, limit, n, got)
			}
		}
	})
}

// expectShown fails unless text may be shown to a person: at most maxBytes, valid UTF-8, no control characters.
func expectShown(t *testing.T, what, text string, maxBytes int) {
	t.Helper()
	if len(text) > maxBytes {
		t.Fatalf("%s is %d bytes, more than %d: %q", what, len(text), maxBytes, text)
	}
	if !utf8.ValidString(text) {
		t.Fatalf("%s is not valid UTF-8: %q", what, text)
	}
	if i := strings.IndexFunc(text, unicode.IsControl); i >= 0 {
		t.Fatalf("%s has a control character at byte %d: %q", what, i, text)
	}
}

// expectToken fails unless token is one the operator may record in status: 1 to MaxTokenLength printable bytes
// without spaces.
func expectToken(t *testing.T, what, token string) {
	t.Helper()
	expectShown(t, what, token, MaxTokenLength)
	if token == "" || strings.IndexFunc(token, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		t.Fatalf("%s %q is empty or not printable", what, token)
	}
}
