package schedule

import "time"

// StartAt says when a rotation that became due at due may start, looking from now. It never returns a time before
// due; a start at or before now means "start now".
//
//   - No windows: due.
//   - Otherwise, from = the later of due and now. If from is inside a window: from.
//   - Else, if the next opening after from is at or before the deadline due+MaxDelay: that opening.
//   - Else the rotation runs outside any window, with missed=true (the caller warns): at the deadline, or at from
//     when from is already past it.
//
// missed is true only for a start outside every window: a rotation whose deadline has passed but which is looked
// at while a window is open simply starts then.
func (s Schedule) StartAt(due, now time.Time) (start time.Time, missed bool) {
	if len(s.Windows) == 0 {
		return due, false
	}
	from := due
	if now.After(from) {
		from = now
	}
	if s.Open(from) {
		return from, false
	}
	deadline := due.Add(s.MaxDelay)
	// The deadline has passed (or MaxDelay is not positive in a hand-built Schedule): run now, never before due.
	if !from.Before(deadline) {
		return from, true
	}
	next := s.NextOpen(from)
	// A zero next means the windows never open (possible only in a hand-built Schedule): wait for the deadline.
	if next.IsZero() || next.After(deadline) {
		return deadline, true
	}
	return next, false
}
