package schedule

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzInstants are the instants every fuzzed schedule is asked about: ordinary days, the DST changes of Europe,
// the United States and the southern hemisphere, Samoa's skipped 30 December 2011, a leap day, and dates before
// and after the zone database's explicit transitions.
var fuzzInstants = []time.Time{
	time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC),
	time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC),
	time.Date(2026, 3, 8, 6, 45, 0, 0, time.UTC),
	time.Date(2026, 11, 1, 5, 15, 0, 0, time.UTC),
	time.Date(2026, 4, 4, 14, 0, 0, 0, time.UTC),
	time.Date(2011, 12, 29, 9, 0, 0, 0, time.UTC),
	time.Date(2028, 2, 28, 23, 0, 0, 0, time.UTC),
	time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2100, 3, 28, 12, 0, 0, 0, time.UTC),
}

// FuzzParse checks that Parse never panics, that its errors are short valid UTF-8, and that a schedule it accepts
// behaves: from each fixed instant t, NextOpen(t) is at or after t, open, within 8 days and 2 hours, and its own
// NextOpen; StartAt(t, t) never starts before t nor after the deadline, starts inside a window unless missed, and
// when missed starts at the deadline.
func FuzzParse(f *testing.F) {
	f.Add(uint8(1), "Mon,Tue,Wed,Thu,Fri", "02:00", "2h", "", "", "", "Europe/Paris", "")
	f.Add(uint8(1), "Sun", "02:30", "1h", "", "", "", "Europe/Paris", "1h")
	f.Add(uint8(2), "Sun", "23:00", "3h", "Mon", "01:00", "7d", "America/New_York", "30d")
	f.Add(uint8(1), "Sun", "01:30", "20m", "", "", "", "America/New_York", "2h")
	f.Add(uint8(1), "Fri", "00:00", "1d", "", "", "", "Pacific/Apia", "7d")
	f.Add(uint8(2), "Sat,Sun", "02:00", "30m", "Sun", "01:59", "1m", "Australia/Lord_Howe", "1h")
	f.Add(uint8(1), "Tue", "10:00", "1h", "", "", "", "Asia/Kathmandu", "99999d")
	f.Add(uint8(1), "Mon", "01:00", "1h", "", "", "", "Antarctica/Troll", "")
	f.Add(uint8(1), "Wed", "23:59", "168h", "", "", "", "Pacific/Chatham", "")
	f.Add(uint8(0), "", "", "", "", "", "", "", "")
	f.Add(uint8(1), "Mon,Mon", "25:00", "0h", "", "", "", "Local", "59m")
	f.Add(uint8(1), "mon", "2:00", "1h30m", "", "", "", "../../etc/passwd", "1w")
	f.Add(uint8(1), "Mon", "02:00", "1h", "", "", "", strings.Repeat("\xff", 100), "")
	f.Fuzz(func(t *testing.T, n uint8, days1, start1, dur1, days2, start2, dur2, zone, maxDelay string) {
		specs := []WindowSpec{
			{Days: split(days1), Start: start1, Duration: dur1},
			{Days: split(days2), Start: start2, Duration: dur2},
		}[:n%3]
		s, err := Parse(specs, zone, maxDelay)
		if err != nil {
			if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 400 {
				t.Fatalf("Parse error is not short valid UTF-8 (%d bytes): %q", len(msg), msg)
			}
			return
		}
		if s.Describe() == "" {
			t.Fatalf("empty Describe for %+v", s)
		}
		for _, at := range fuzzInstants {
			next := s.NextOpen(at)
			switch {
			case next.Before(at):
				t.Fatalf("%s: NextOpen(%s) = %s is before it", s.Describe(), at, next)
			case next.Sub(at) > 8*24*time.Hour+2*time.Hour:
				t.Fatalf("%s: NextOpen(%s) = %s is more than 8 days and 2 hours later", s.Describe(), at, next)
			case !s.Open(next):
				t.Fatalf("%s: NextOpen(%s) = %s is not open", s.Describe(), at, next)
			case !s.NextOpen(next).Equal(next):
				t.Fatalf("%s: NextOpen(%s) = %s, but NextOpen of that is %s", s.Describe(), at, next, s.NextOpen(next))
			}
			start, missed := s.StartAt(at, at)
			deadline := at.Add(s.MaxDelay)
			switch {
			case start.Before(at) || start.After(deadline):
				t.Fatalf("%s: StartAt(%s) = %s is outside [due, due+%s]", s.Describe(), at, start, s.MaxDelay)
			case missed && !start.Equal(deadline):
				t.Fatalf("%s: StartAt(%s) missed, but at %s, not the deadline %s", s.Describe(), at, start, deadline)
			case !missed && !s.Open(start):
				t.Fatalf("%s: StartAt(%s) = %s is not missed but not open", s.Describe(), at, start)
			}
		}
	})
}

// split turns a fuzzed comma-separated list into days; "" is no day at all.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
