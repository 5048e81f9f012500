package schedule

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// wallClock is what the clocks of loc read at t, as a UTC instant, so that readings compare as instants.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// TestOpeningIsTheFirstInstantAtOrAfterTheReading checks opening's contract on every date of years with unusual
// changes, in zones that change by 30 minutes, by 2 hours, at midnight, or skip a whole day: the wall clock reads
// the start (or later, only at the instant of a change), and one second earlier it read less. That is the
// spring-forward rule (open at the first instant after the gap) and the fall-back rule (open at the first of two
// occurrences) at once.
func TestOpeningIsTheFirstInstantAtOrAfterTheReading(t *testing.T) {
	zones := []string{"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Antarctica/Troll",
		"Pacific/Apia", "America/Santiago", "Asia/Tehran", "Africa/Casablanca", "America/Havana", "Pacific/Chatham",
		"Asia/Kathmandu"}
	for _, name := range zones {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			loc := zone(t, name)
			for _, year := range []int{2011, 2026} {
				for day := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() == year; day = day.AddDate(0, 0, 1) {
					for start := time.Duration(0); start < 24*time.Hour; start += 30 * time.Minute {
						reading := day.Add(start)
						at := opening(day, start, loc)
						now, before := wallClock(at, loc), wallClock(at.Add(-time.Second), loc)
						g.Expect(now).To(BeTemporally(">=", reading), "%s %s: opens at %s", name, reading, at)
						g.Expect(before).To(BeTemporally("<", reading), "%s %s: opens at %s, not the first", name, reading, at)
						if !now.Equal(reading) {
							from, _ := at.ZoneBounds()
							g.Expect(from).To(BeTemporally("==", at), "%s %s: opens at %s, later than the reading, not at a change", name, reading, at)
						}
					}
				}
			}
		})
	}
}
