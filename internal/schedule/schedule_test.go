package schedule

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestOpenWeekdaysInParis(t *testing.T) {
	s := Schedule{Windows: []Window{win(2, 0, 2*time.Hour, weekdays...)}, Location: zone(t, "Europe/Paris")}
	checkOpen(t, s, []openCase{
		{name: "a minute before Monday's window", at: "2026-06-01T01:59:00+02:00", next: "2026-06-01T02:00:00+02:00"},
		{name: "the opening instant", at: "2026-06-01T02:00:00+02:00", open: true, next: "2026-06-01T02:00:00+02:00"},
		{name: "an instant written in UTC", at: "2026-06-01T00:30:00Z", open: true, next: "2026-06-01T00:30:00Z"},
		{name: "the last second", at: "2026-06-01T03:59:59+02:00", open: true, next: "2026-06-01T03:59:59+02:00"},
		{name: "the closing instant", at: "2026-06-01T04:00:00+02:00", next: "2026-06-02T02:00:00+02:00"},
		{name: "Friday after it closed", at: "2026-06-05T04:00:00+02:00", next: "2026-06-08T02:00:00+02:00"},
		{name: "Saturday at window time", at: "2026-06-06T02:30:00+02:00", next: "2026-06-08T02:00:00+02:00"},
		{name: "02:00 UTC is 04:00 in Paris", at: "2026-06-01T02:00:00Z", next: "2026-06-02T02:00:00+02:00"},
	})
}

func TestOpenAcrossMidnight(t *testing.T) {
	t.Run("UTC", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(23, 0, 3*time.Hour, time.Sunday)}}
		checkOpen(t, s, []openCase{
			{name: "Sunday before", at: "2026-05-31T22:59:00Z", next: "2026-05-31T23:00:00Z"},
			{name: "Sunday at start", at: "2026-05-31T23:00:00Z", open: true, next: "2026-05-31T23:00:00Z"},
			{name: "Monday after midnight", at: "2026-06-01T01:59:59Z", open: true, next: "2026-06-01T01:59:59Z"},
			{name: "Monday at close", at: "2026-06-01T02:00:00Z", next: "2026-06-07T23:00:00Z"},
			{name: "Monday 23:00 is not Sunday", at: "2026-06-01T23:30:00Z", next: "2026-06-07T23:00:00Z"},
		})
	})
	t.Run("Paris", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(23, 0, 3*time.Hour, time.Sunday)}, Location: zone(t, "Europe/Paris")}
		checkOpen(t, s, []openCase{
			{name: "Monday local, still Sunday in UTC", at: "2026-05-31T23:30:00Z", open: true, next: "2026-05-31T23:30:00Z"},
			{name: "Monday at close", at: "2026-06-01T02:00:00+02:00", next: "2026-06-07T23:00:00+02:00"},
			{name: "Sunday 23:00 UTC is Monday 01:00 local", at: "2026-05-31T21:00:00Z", open: true, next: "2026-05-31T21:00:00Z"},
		})
	})
	t.Run("a 7d window is open all week", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(0, 0, MaxWindow, time.Monday)}}
		checkOpen(t, s, []openCase{
			{name: "Sunday night", at: "2026-06-07T23:59:59Z", open: true, next: "2026-06-07T23:59:59Z"},
			{name: "Monday midnight", at: "2026-06-08T00:00:00Z", open: true, next: "2026-06-08T00:00:00Z"},
		})
	})
}

func TestOpenEveryWeekday(t *testing.T) {
	monday := instant(t, "2026-06-01T00:00:00Z")
	for i, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday,
		time.Saturday, time.Sunday} {
		t.Run(d.String(), func(t *testing.T) {
			g := NewWithT(t)
			s := Schedule{Windows: []Window{win(12, 0, time.Hour, d)}}
			day := monday.AddDate(0, 0, i)
			g.Expect(day.Weekday()).To(Equal(d))
			g.Expect(s.Open(day.Add(12*time.Hour + 30*time.Minute))).To(BeTrue())
			g.Expect(s.Open(day.AddDate(0, 0, -1).Add(12*time.Hour + 30*time.Minute))).To(BeFalse())
			g.Expect(s.Open(day.AddDate(0, 0, 1).Add(12*time.Hour + 30*time.Minute))).To(BeFalse())
			g.Expect(s.NextOpen(day)).To(BeTemporally("==", day.Add(12*time.Hour)))
			g.Expect(s.NextOpen(day.Add(13 * time.Hour))).To(BeTemporally("==", day.AddDate(0, 0, 7).Add(12*time.Hour)))
		})
	}
}

func TestOpenLeapDay(t *testing.T) {
	t.Run("UTC", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(10, 0, time.Hour, time.Tuesday)}}
		checkOpen(t, s, []openCase{
			{name: "Monday before", at: "2028-02-28T12:00:00Z", next: "2028-02-29T10:00:00Z"},
			{name: "Feb 29", at: "2028-02-29T10:30:00Z", open: true, next: "2028-02-29T10:30:00Z"},
			{name: "Feb 29 after close", at: "2028-02-29T11:00:00Z", next: "2028-03-07T10:00:00Z"},
			{name: "the Tuesday before", at: "2028-02-22T11:00:00Z", next: "2028-02-29T10:00:00Z"},
		})
	})
	t.Run("Paris, into March 1", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(23, 30, time.Hour, time.Tuesday)}, Location: zone(t, "Europe/Paris")}
		checkOpen(t, s, []openCase{
			{name: "Feb 29 evening", at: "2028-02-29T23:00:00+01:00", next: "2028-02-29T23:30:00+01:00"},
			{name: "March 1 after midnight", at: "2028-03-01T00:15:00+01:00", open: true, next: "2028-03-01T00:15:00+01:00"},
			{name: "March 1 at close", at: "2028-03-01T00:30:00+01:00", next: "2028-03-07T23:30:00+01:00"},
		})
	})
}

func TestOpenOverlappingWindows(t *testing.T) {
	t.Run("same day", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 0, 2*time.Hour, time.Monday), win(3, 0, 2*time.Hour, time.Monday)}}
		checkOpen(t, s, []openCase{
			{name: "before both", at: "2026-06-01T01:00:00Z", next: "2026-06-01T02:00:00Z"},
			{name: "in both", at: "2026-06-01T03:30:00Z", open: true, next: "2026-06-01T03:30:00Z"},
			{name: "first closed, second open", at: "2026-06-01T04:30:00Z", open: true, next: "2026-06-01T04:30:00Z"},
			{name: "both closed", at: "2026-06-01T05:00:00Z", next: "2026-06-08T02:00:00Z"},
		})
	})
	t.Run("one inside another across midnight", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(22, 0, 6*time.Hour, time.Sunday), win(1, 0, time.Hour, time.Monday)}}
		checkOpen(t, s, []openCase{
			{name: "inside both", at: "2026-06-01T01:30:00Z", open: true, next: "2026-06-01T01:30:00Z"},
			{name: "outer still open", at: "2026-06-01T03:59:00Z", open: true, next: "2026-06-01T03:59:00Z"},
			{name: "both closed", at: "2026-06-01T04:00:00Z", next: "2026-06-07T22:00:00Z"},
		})
	})
	t.Run("touching windows merge", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(3, 0, time.Hour, time.Monday), win(2, 0, time.Hour, time.Monday)}}
		checkOpen(t, s, []openCase{
			{name: "the joint", at: "2026-06-01T03:00:00Z", open: true, next: "2026-06-01T03:00:00Z"},
			{name: "after both", at: "2026-06-01T04:00:00Z", next: "2026-06-08T02:00:00Z"},
		})
	})
}

func TestOpenWithoutWindows(t *testing.T) {
	g := NewWithT(t)
	for _, s := range []Schedule{{}, {Location: zone(t, "Europe/Paris"), MaxDelay: time.Hour}} {
		at := instant(t, "2026-03-29T02:30:00+02:00")
		g.Expect(s.Open(at)).To(BeTrue())
		g.Expect(s.NextOpen(at)).To(BeTemporally("==", at))
	}
}

func TestNextOpenNeverOpening(t *testing.T) {
	g := NewWithT(t)
	at := instant(t, "2026-06-01T00:00:00Z")
	for _, w := range []Window{{Start: time.Hour, Duration: time.Hour}, win(1, 0, 0, time.Monday), win(1, 0, -time.Hour, time.Monday)} {
		s := Schedule{Windows: []Window{w}}
		g.Expect(s.Open(at.Add(90 * time.Minute))).To(BeFalse())
		g.Expect(s.NextOpen(at).IsZero()).To(BeTrue())
	}
}
