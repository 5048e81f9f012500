package plan

import (
	"context"
	"fmt"
	"strings"
	"time"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/specs"
)

// schedule says when the next rotation starts, as the operator's when and decide phases compute it: the first
// value and an emergency at once; a TTL rotation (or a manual one with respect-window) at the next window; the
// notice before it; the backoff after a failed attempt.
func (b *builder) schedule(context.Context) error {
	st, s := b.rs.Status, &b.r.Schedule
	if p := st.Pending; p != nil {
		b.r.InProgress = fmt.Sprintf("revision %d (%s) is at step %s", p.Revision, p.Trigger, p.Step)
	}
	if !b.valid {
		s.Message = "Not computed: the spec is invalid (see the refusals)"
		return nil
	}
	now := b.now.Truncate(time.Second)
	s.Windows = b.parsed.Schedule.Describe()
	if b.rs.Spec.Notice != "" {
		s.Notice = string(b.rs.Spec.Notice)
	}
	var parts []string
	if st.Pending != nil {
		parts = append(parts, "a rotation is in progress ("+b.r.InProgress+"); the next one starts after it ends")
	}
	_, emergency := policy.NewEmergencyToken(b.rs)
	switch {
	case emergency:
		b.emergency = true
		s.Trigger, s.Start = string(rotationv1alpha1.TriggerEmergency), &now
		parts = append(parts, "an emergency token is set: the emergency rotation starts at once (no window, notice, "+
			"dependency, backoff or suspend holds it) and keeps no previous value")
	case b.rs.Spec.Suspend:
		parts = append(parts, "spec.suspend is true: no rotation starts (an emergency token still would)")
	case st.CurrentRevision == 0:
		s.Trigger, s.Start = string(rotationv1alpha1.TriggerCreated), &now
		parts = append(parts, "no value yet: the first value is generated at once (no window, notice or dependency holds it)")
	default:
		t, ok := policy.Plan(b.rs, now, b.parsed.TTL, b.parsed.Schedule, b.parsed.Notice)
		if !ok {
			parts = append(parts, "no rotation is upcoming")
			break
		}
		b.due = t.Due
		noticeAt, start := t.Expected(now, b.parsed.Notice)
		s.Trigger, s.Due, s.WindowMissed, s.Start = string(t.Trigger), timePtr(t.Due), t.WindowMissed, timePtr(start)
		parts = append(parts, fmt.Sprintf("%s rotation due %s %s", t.Trigger, dueWord(t.Due, now), stamp(t.Due)))
		if policy.Windowed(b.rs, t.Trigger) && len(b.parsed.Schedule.Windows) > 0 {
			s.Planned = timePtr(t.Planned)
			parts = append(parts, fmt.Sprintf("maintenance window (%s) at %s", s.Windows, stamp(t.Planned)))
			if t.WindowMissed {
				parts = append(parts, fmt.Sprintf("no window opens within maxDelay %s: it runs outside one (WindowMissed)",
					specs.MaxDelay(b.rs)))
			}
		}
		if !noticeAt.IsZero() {
			s.NoticeAt, s.NoticeGiven = timePtr(noticeAt), t.NoticeTime != nil
			verb := "given"
			if !s.NoticeGiven {
				verb = "to be given"
			}
			parts = append(parts, fmt.Sprintf("notice of %s %s at %s", s.Notice, verb, stamp(noticeAt)))
		}
		when := "starts at " + stamp(start)
		if len(b.rs.Spec.DependsOn) > 0 {
			when += ", once its dependencies allow"
		}
		parts = append(parts, when)
	}
	if retryAt := policy.RetryAt(st); !retryAt.IsZero() && now.Before(retryAt) && !emergency {
		parts = append(parts, fmt.Sprintf("after %d failed attempt(s) nothing is tried before %s (backoff; a new rotate "+
			"token lifts it)", st.FailedAttempts, stamp(retryAt)))
	}
	s.Message = capitalize(strings.Join(parts, "; "))
	return nil
}

func dueWord(due, now time.Time) string {
	if due.After(now) {
		return "at"
	}
	return "since"
}

func timePtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
