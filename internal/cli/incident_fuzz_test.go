package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// unescapedPipe is a table cell boundary: a pipe not preceded by a backslash.
var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// FuzzReview writes reviews of incidents whose reason, requester and timeline messages are anything a person or a
// vendor could have put there: the Markdown keeps its shape (the headings are ours, the timeline has one row per
// entry with three cells) and carries no raw HTML.
func FuzzReview(f *testing.F) {
	f.Add("JWT secret pasted in a public channel", "kubectl-rotation/alice", "Revision 1 marked compromised")
	f.Add("a | b", "x\n## Findings", "<script>alert(1)</script> | \\| \n\n| 1 | 2 | 3 |")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, reason, who, message string) {
		at := metav1.NewTime(time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC))
		inc := &rotationv1alpha1.Incident{Token: "t1", Reason: reason, RequestedBy: who, RequestedAt: at,
			Outcome: rotationv1alpha1.IncidentOutcomeSucceeded, Timeline: []rotationv1alpha1.IncidentEntry{
				{Time: at, Type: rotationv1alpha1.IncidentRequested, Message: message},
				{Time: at, Type: rotationv1alpha1.IncidentRevoked, Message: message + reason}}}
		rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "backend", Name: "jwt"}}
		var b strings.Builder
		if err := writeReview(&b, rs, inc); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		var headings, rows []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "#") {
				headings = append(headings, line)
			}
			if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| Time") {
				rows = append(rows, line)
			}
			if strings.ContainsAny(line, "<>") {
				t.Fatalf("raw HTML in %q", line)
			}
		}
		if len(headings) != 7 {
			t.Fatalf("headings %q: text from the incident made a heading", headings)
		}
		if len(rows) != 2 {
			t.Fatalf("timeline rows %q, want 2", rows)
		}
		for _, r := range rows {
			if n := len(unescapedPipe.FindAllString(r, -1)); n != 4 {
				t.Fatalf("row %q has %d cell boundaries, want 4", r, n)
			}
		}
	})
}
