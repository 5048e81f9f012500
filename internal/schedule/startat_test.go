package schedule

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestStartAt(t *testing.T) {
	paris := zone(t, "Europe/Paris")
	nightly := func(maxDelay time.Duration) Schedule {
		return Schedule{Windows: []Window{win(2, 0, 2*time.Hour, weekdays...)}, Location: paris, MaxDelay: maxDelay}
	}
	mondays := Schedule{Windows: []Window{win(2, 0, 2*time.Hour, time.Monday)}, Location: paris, MaxDelay: 14 * 24 * time.Hour}
	week := 7 * 24 * time.Hour
	// 2026-06-01 is a Monday; Paris is at +02:00 in June.
	cases := []struct {
		name       string
		schedule   Schedule
		due, now   string
		wantStart  string
		wantMissed bool
	}{
		{name: "no windows: due", schedule: Schedule{MaxDelay: time.Hour},
			due: "2026-06-01T12:00:00+02:00", now: "2026-06-03T12:00:00+02:00", wantStart: "2026-06-01T12:00:00+02:00"},
		{name: "no windows, looking ahead: due", schedule: Schedule{},
			due: "2026-06-01T12:00:00+02:00", now: "2026-06-01T08:00:00+02:00", wantStart: "2026-06-01T12:00:00+02:00"},
		{name: "due inside a window, seen at once", schedule: nightly(week),
			due: "2026-06-01T02:30:00+02:00", now: "2026-06-01T02:30:00+02:00", wantStart: "2026-06-01T02:30:00+02:00"},
		{name: "due inside a window, seen later in it", schedule: nightly(week),
			due: "2026-06-01T02:30:00+02:00", now: "2026-06-01T03:15:00+02:00", wantStart: "2026-06-01T03:15:00+02:00"},
		{name: "due inside a window, seen before it was due", schedule: nightly(week),
			due: "2026-06-01T03:00:00+02:00", now: "2026-06-01T01:00:00+02:00", wantStart: "2026-06-01T03:00:00+02:00"},
		{name: "due at midday: next night", schedule: nightly(week),
			due: "2026-06-01T12:00:00+02:00", now: "2026-06-01T12:00:00+02:00", wantStart: "2026-06-02T02:00:00+02:00"},
		{name: "due as the window closed: next day's", schedule: nightly(week),
			due: "2026-06-01T04:00:00+02:00", now: "2026-06-01T04:00:00+02:00", wantStart: "2026-06-02T02:00:00+02:00"},
		{name: "due Friday after the window: Monday", schedule: nightly(week),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-05T04:01:00+02:00", wantStart: "2026-06-08T02:00:00+02:00"},
		{name: "due just after the only window closed: next week's", schedule: mondays,
			due: "2026-06-01T04:00:00+02:00", now: "2026-06-01T04:00:00+02:00", wantStart: "2026-06-08T02:00:00+02:00"},
		{name: "seen late, a window passed since due: the next one from now", schedule: nightly(week),
			due: "2026-06-01T12:00:00+02:00", now: "2026-06-02T05:00:00+02:00", wantStart: "2026-06-03T02:00:00+02:00"},
		{name: "deadline before the next window: missed, at the deadline", schedule: nightly(24 * time.Hour),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-05T04:00:00+02:00", wantStart: "2026-06-06T04:00:00+02:00", wantMissed: true},
		{name: "next window exactly at the deadline: not missed", schedule: nightly(22 * time.Hour),
			due: "2026-06-01T04:00:00+02:00", now: "2026-06-01T04:00:00+02:00", wantStart: "2026-06-02T02:00:00+02:00"},
		{name: "next window a minute after the deadline: missed", schedule: nightly(22*time.Hour - time.Minute),
			due: "2026-06-01T04:00:00+02:00", now: "2026-06-01T04:00:00+02:00", wantStart: "2026-06-02T01:59:00+02:00", wantMissed: true},
		{name: "now already past the deadline: now, missed", schedule: nightly(24 * time.Hour),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-07T12:00:00+02:00", wantStart: "2026-06-07T12:00:00+02:00", wantMissed: true},
		{name: "now exactly at the deadline, outside: missed", schedule: nightly(24 * time.Hour),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-06T04:00:00+02:00", wantStart: "2026-06-06T04:00:00+02:00", wantMissed: true},
		{name: "now past the deadline but inside a window: now, not missed", schedule: nightly(24 * time.Hour),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-08T03:00:00+02:00", wantStart: "2026-06-08T03:00:00+02:00"},
		{name: "looking from before due never starts before due", schedule: nightly(24 * time.Hour),
			due: "2026-06-05T04:00:00+02:00", now: "2026-06-01T03:00:00+02:00", wantStart: "2026-06-06T04:00:00+02:00", wantMissed: true},
		{name: "spring forward: due before a nonexistent 02:30 start opens at 03:00",
			schedule: Schedule{Windows: []Window{win(2, 30, time.Hour, time.Sunday)}, Location: paris, MaxDelay: week},
			due:      "2026-03-28T12:00:00+01:00", now: "2026-03-28T12:00:00+01:00", wantStart: "2026-03-29T03:00:00+02:00"},
		{name: "fall back: due between the two 02:30s waits a week",
			schedule: Schedule{Windows: []Window{win(2, 30, 30*time.Minute, time.Sunday)}, Location: paris, MaxDelay: 8 * 24 * time.Hour},
			due:      "2026-10-25T02:00:00+01:00", now: "2026-10-25T02:00:00+01:00", wantStart: "2026-11-01T02:30:00+01:00"},
		{name: "hand-built windows that never open: the deadline, missed",
			schedule: Schedule{Windows: []Window{{Start: time.Hour, Duration: time.Hour}}, MaxDelay: time.Hour},
			due:      "2026-06-01T12:00:00Z", now: "2026-06-01T12:00:00Z", wantStart: "2026-06-01T13:00:00Z", wantMissed: true},
		{name: "hand-built zero MaxDelay: due or now, missed", schedule: Schedule{Windows: []Window{win(2, 0, time.Hour, time.Monday)}},
			due: "2026-06-01T12:00:00Z", now: "2026-06-01T11:00:00Z", wantStart: "2026-06-01T12:00:00Z", wantMissed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			due, now := instant(t, c.due), instant(t, c.now)
			start, missed := c.schedule.StartAt(due, now)
			g.Expect(start).To(BeTemporally("==", instant(t, c.wantStart)))
			g.Expect(missed).To(Equal(c.wantMissed))
			g.Expect(start).To(BeTemporally(">=", due))
		})
	}
}
