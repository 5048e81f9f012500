// Package schedule is the arithmetic of maintenance windows: when a TTL rotation that has become due may start.
// It is pure: every function reads only its arguments, so it is table-tested with fixed instants and no clock.
//
// A Schedule is a list of windows in one IANA time zone plus a maximum delay. The contract:
//
//   - A window opens on each listed day (a local calendar date of the schedule's time zone) when the local wall
//     clock reads Start, and then stays open for Duration of real, elapsed time: a 2h window that spans a DST
//     change is open for two hours, whatever the wall clock shows when it closes. The interval is half-open: open
//     at the opening instant, closed again exactly Duration later.
//   - A window may cross midnight (Sun 23:00 for 3h is open until Mon 02:00) and windows may overlap: the schedule
//     is open while any window is, so overlapping or touching windows merge.
//   - A Start that does not exist on that day (spring forward: 02:30 Europe/Paris on the last Sunday of March)
//     opens at the first instant after the gap (03:00 local, which is the moment of the change). A Start that
//     occurs twice (fall back) opens at its first occurrence, and only once. Both are one rule: a window opens at
//     the earliest instant whose local wall clock reads Start or later on that day.
//   - A schedule without windows is always open.
//   - A rotation due at an instant starts at the first open instant at or after both the due time and now, unless
//     that is later than due + MaxDelay: then it starts at that deadline anyway (or now, once the deadline has
//     passed), outside any window, and is reported as missed. It never starts before it is due. See StartAt.
//
// The time zone is never the operator's own: Parse refuses "Local", and the package links the time zone database
// into the binary (see tzdata.go), so a schedule means the same on every machine, with or without
// /usr/share/zoneinfo.
package schedule
