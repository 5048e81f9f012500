package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// DefaultMaxDelay is spec.schedule.maxDelay when it is not set.
const DefaultMaxDelay = 7 * 24 * time.Hour

// MinMaxDelay is the smallest spec.schedule.maxDelay: a shorter bound would make the windows decorative.
const MinMaxDelay = time.Hour

// maxShown bounds how many bytes of a user's text an error repeats.
const maxShown = 64

// Error texts that repeat across fields.
const (
	notDuration = "is not a duration (a whole number followed by d, h or m)"
	dayNames    = "Mon, Tue, Wed, Thu, Fri, Sat, Sun"
)

// days maps the spellings spec.schedule.windows[].days accepts to weekdays. Only these: "monday" or "MON" is refused
// rather than guessed.
var days = map[string]time.Weekday{
	"Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday, "Thu": time.Thursday, "Fri": time.Friday,
	"Sat": time.Saturday, "Sun": time.Sunday,
}

// WindowSpec is one entry of spec.schedule.windows, as the user wrote it.
type WindowSpec struct {
	// Days are "Mon" to "Sun", at least one, none twice.
	Days []string
	// Start is the local wall-clock time the window opens, "HH:MM" from "00:00" to "23:59".
	Start string
	// Duration is how long it stays open, such as "2h" or "90m": more than 0, at most 7d.
	Duration string
}

// Parse checks spec.schedule and returns the Schedule it describes. timeZone is an IANA name ("" means UTC; "Local"
// is refused, since the operator's machine must never change what a schedule means); maxDelay defaults to 7d and is
// at least 1h. No windows is valid: always open. Every error is a spec error (stall, do not retry); it names the
// first offending field as the user wrote it and quotes at most 64 bytes of its value.
func Parse(windows []WindowSpec, timeZone, maxDelay string) (Schedule, error) {
	s := Schedule{Windows: make([]Window, 0, len(windows))}
	for i, spec := range windows {
		w, err := parseWindow(fmt.Sprintf("spec.schedule.windows[%d]", i), spec)
		if err != nil {
			return Schedule{}, err
		}
		s.Windows = append(s.Windows, w)
	}
	loc, err := parseTimeZone(timeZone)
	if err != nil {
		return Schedule{}, err
	}
	s.Location = loc
	if s.MaxDelay, err = parseMaxDelay(maxDelay); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// parseWindow checks one window; field is its path, such as spec.schedule.windows[1].
func parseWindow(field string, spec WindowSpec) (Window, error) {
	var w Window
	if len(spec.Days) == 0 {
		return w, fmt.Errorf("%s.days: list at least one of %s", field, dayNames)
	}
	seen := map[time.Weekday]bool{}
	for j, name := range spec.Days {
		d, ok := days[name]
		if !ok {
			return w, fmt.Errorf("%s.days[%d]: %s is not one of %s", field, j, show(name), dayNames)
		}
		if seen[d] {
			return w, fmt.Errorf("%s.days[%d]: %s is listed twice", field, j, show(name))
		}
		seen[d] = true
		w.Days = append(w.Days, d)
	}
	start, ok := parseClock(spec.Start)
	if !ok {
		return w, fmt.Errorf("%s.start: %s is not HH:MM", field, show(spec.Start))
	}
	w.Start = start
	d, err := rotationv1alpha1.Duration(spec.Duration).Parse()
	switch {
	case err != nil:
		return w, fmt.Errorf("%s.duration: %s %s", field, show(spec.Duration), notDuration)
	case d <= 0:
		return w, fmt.Errorf("%s.duration: %s must be longer than 0", field, show(spec.Duration))
	case d > MaxWindow:
		return w, fmt.Errorf("%s.duration: %s is longer than 7d", field, show(spec.Duration))
	}
	w.Duration = d
	return w, nil
}

// parseClock reads "HH:MM", 00:00 to 23:59, as an offset from midnight. Exactly five bytes: "2:00" and "02:00:00"
// are refused, so what the user wrote is what the window means.
func parseClock(s string) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, false
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if h > 23 || m > 59 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

// digits tells whether s is made of ASCII digits only.
func digits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

// parseTimeZone loads spec.schedule.timeZone.
func parseTimeZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New(`spec.schedule.timeZone: "Local" is the operator's own time zone; name an IANA time zone such as "Europe/Paris" or "UTC"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule.timeZone: %s is not an IANA time zone", show(name))
	}
	return loc, nil
}

// parseMaxDelay reads spec.schedule.maxDelay, DefaultMaxDelay when empty.
func parseMaxDelay(s string) (time.Duration, error) {
	if s == "" {
		return DefaultMaxDelay, nil
	}
	d, err := rotationv1alpha1.Duration(s).Parse()
	if err != nil {
		return 0, fmt.Errorf("spec.schedule.maxDelay: %s %s", show(s), notDuration)
	}
	if d < MinMaxDelay {
		return 0, fmt.Errorf("spec.schedule.maxDelay: %s is shorter than 1h", show(s))
	}
	return d, nil
}

// show quotes a user's text for an error: Go-quoted, so control characters and invalid UTF-8 are escaped, and cut
// to maxShown bytes on a character boundary, marked with "…".
func show(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut] + "…")
}
