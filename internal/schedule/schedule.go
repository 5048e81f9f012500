package schedule

import "time"

// MaxWindow is the longest window: a window longer than a week is a mistake, since it would overlap itself.
const MaxWindow = 7 * 24 * time.Hour

// lookBackDays is how many local dates before t may hold a window still open at t: a window lasts at most
// MaxWindow (7 days), starts before the end of its date (1 day), and a DST change or a skipped date adds at most
// one more day.
const lookBackDays = 9

// lookAheadDays is how many local dates after t may hold the next opening: the next listed weekday is at most 7
// dates away, plus the same slack for a start late in the day and a DST change.
const lookAheadDays = 9

// Window is one weekly maintenance window.
type Window struct {
	// Days are the local weekdays on which the window opens. A window with no days never opens.
	Days []time.Weekday
	// Start is when the window opens, as a wall-clock offset from local midnight, in [0, 24h).
	Start time.Duration
	// Duration is how long the window stays open, in real elapsed time. Parse keeps it in (0, MaxWindow]; a longer
	// Duration is treated as MaxWindow, and a Duration that is not positive never opens.
	Duration time.Duration
}

// Schedule is a set of weekly maintenance windows in one time zone. The zero Schedule has no windows: always open.
type Schedule struct {
	// Windows are the maintenance windows; none means always open.
	Windows []Window
	// Location is the time zone in which days and starts are read; nil means UTC.
	Location *time.Location
	// MaxDelay bounds how long a due rotation waits for a window (see StartAt).
	MaxDelay time.Duration
}

// Open tells whether t is inside a window.
func (s Schedule) Open(t time.Time) bool {
	if len(s.Windows) == 0 {
		return true
	}
	loc := s.location()
	today := localDate(t, loc)
	for k := -lookBackDays; k <= 1; k++ {
		day := today.AddDate(0, 0, k)
		for _, w := range s.Windows {
			if !w.on(day.Weekday()) || w.length() <= 0 {
				continue
			}
			from := opening(day, w.Start, loc)
			if !t.Before(from) && t.Before(from.Add(w.length())) {
				return true
			}
		}
	}
	return false
}

// NextOpen returns t itself when t is inside a window, and otherwise the earliest instant after t at which a window
// opens. Every window that Parse returns opens at least once a week, so the answer is less than 8 days and a DST
// change after t. Only a hand-built Schedule whose windows never open (no days, no positive duration) gets the zero
// Time.
func (s Schedule) NextOpen(t time.Time) time.Time {
	if s.Open(t) {
		return t
	}
	loc := s.location()
	today := localDate(t, loc)
	var next time.Time
	// From the day before: a fall-back change at midnight can make yesterday's local date hold a later opening.
	for k := -1; k <= lookAheadDays; k++ {
		day := today.AddDate(0, 0, k)
		for _, w := range s.Windows {
			if !w.on(day.Weekday()) || w.length() <= 0 {
				continue
			}
			from := opening(day, w.Start, loc)
			if from.After(t) && (next.IsZero() || from.Before(next)) {
				next = from
			}
		}
	}
	return next
}

// location is the schedule's time zone, UTC when unset.
func (s Schedule) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// on tells whether the window opens on local dates that fall on weekday d.
func (w Window) on(d time.Weekday) bool {
	for _, day := range w.Days {
		if day == d {
			return true
		}
	}
	return false
}

// length is the window's duration, capped at MaxWindow so that Open's look-back stays bounded.
func (w Window) length() time.Duration {
	return min(w.Duration, MaxWindow)
}
