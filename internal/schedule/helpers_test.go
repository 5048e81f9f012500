package schedule

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// instant reads an RFC 3339 instant; every instant in these tests carries its own offset, so no test depends on
// the zone of the machine.
func instant(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad instant %q: %v", s, err)
	}
	return v
}

// zone loads an IANA zone or fails the test.
func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// win builds a window starting at hh:mm for d.
func win(hh, mm int, d time.Duration, days ...time.Weekday) Window {
	return Window{Days: days, Start: time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, Duration: d}
}

// weekdays is Monday to Friday.
var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

// openCase is one instant checked against a schedule: whether it is open and the next opening from it.
type openCase struct {
	name string
	at   string
	open bool
	next string
}

// checkOpen runs Open and NextOpen for each case.
func checkOpen(t *testing.T, s Schedule, cases []openCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			at := instant(t, c.at)
			g.Expect(s.Open(at)).To(Equal(c.open), "Open(%s)", c.at)
			g.Expect(s.NextOpen(at)).To(BeTemporally("==", instant(t, c.next)), "NextOpen(%s)", c.at)
		})
	}
}
