package schedule

import "time"

// zoneSearchFrom is how far before a wall-clock reading the search for its instant starts. No zone is more than
// 15 hours from UTC, so no instant earlier than that reads the wall clock of a later date.
const zoneSearchFrom = 30 * time.Hour

// maxZonePeriods bounds the walk over zone periods in opening. Real zones change at most twice within the 60
// hours it looks at; the bound only keeps a broken database from looping.
const maxZonePeriods = 16

// localDate is t's calendar date in loc, as midnight UTC: civil dates are added and compared in UTC, where every
// day is 24 hours long.
func localDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// opening returns the first instant at which the wall clock of loc reads day+start or later, day being a local date
// as midnight UTC. When the reading exists once, that is the instant itself; when a spring-forward gap skips it,
// the instant of the change (the first instant after the gap); when a fall-back makes it occur twice, the first
// occurrence.
//
// It walks the zone periods (spans of one UTC offset) from well before the reading: within a period of offset o
// the wall clock is the instant plus o, so the first instant reading day+start or later is day+start-o, or the
// period's start when that is earlier. The first period holding such an instant holds the earliest one.
// time.Date is not enough: it moves a skipped 02:30 to 03:30, not 03:00, and documents no choice for a doubled one.
func opening(day time.Time, start time.Duration, loc *time.Location) time.Time {
	wall := day.Add(start)
	t := wall.Add(-zoneSearchFrom).In(loc)
	for range maxZonePeriods {
		_, offset := t.Zone()
		from, end := t.ZoneBounds()
		at := wall.Add(-time.Duration(offset) * time.Second)
		if !from.IsZero() && at.Before(from) {
			at = from
		}
		// A zero end means the period never ends.
		if end.IsZero() || at.Before(end) {
			return at.In(loc)
		}
		t = end.In(loc)
	}
	// Unreachable with a real database: read the wall clock in the offset reached.
	_, offset := t.Zone()
	return wall.Add(-time.Duration(offset) * time.Second).In(loc)
}
