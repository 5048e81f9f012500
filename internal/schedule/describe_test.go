package schedule

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestDescribe(t *testing.T) {
	paris := zone(t, "Europe/Paris")
	cases := []struct {
		name     string
		schedule Schedule
		want     string
	}{
		{name: "no windows", schedule: Schedule{Location: paris}, want: "always open"},
		{name: "weekdays", schedule: Schedule{Windows: []Window{win(2, 0, 2*time.Hour, weekdays...)}, Location: paris},
			want: "Mon-Fri 02:00 for 2h (Europe/Paris)"},
		{name: "days in any order, Monday first", schedule: Schedule{Windows: []Window{
			win(23, 0, 3*time.Hour, time.Sunday, time.Wednesday, time.Monday)}},
			want: "Mon,Wed,Sun 23:00 for 3h (UTC)"},
		{name: "two consecutive days are not a range", schedule: Schedule{Windows: []Window{
			win(6, 5, 90*time.Minute, time.Saturday, time.Sunday)}},
			want: "Sat,Sun 06:05 for 90m (UTC)"},
		{name: "every day, ranges and singles", schedule: Schedule{Windows: []Window{
			win(0, 0, 24*time.Hour, time.Sunday, time.Saturday, time.Friday, time.Thursday, time.Wednesday, time.Tuesday, time.Monday),
			win(12, 0, 30*time.Minute, time.Monday, time.Tuesday, time.Wednesday, time.Friday),
		}, Location: zone(t, "America/New_York")},
			want: "Mon-Sun 00:00 for 1d, Mon-Wed,Fri 12:00 for 30m (America/New_York)"},
		{name: "hand-built oddities", schedule: Schedule{Windows: []Window{{Start: 90 * time.Second, Duration: 1500 * time.Millisecond}}},
			want: "no day 00:01+30s for 1.5s (UTC)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(c.schedule.Describe()).To(Equal(c.want))
		})
	}
}

// TestDescribeParsed checks that Describe writes back what Parse was given for a typical spec.
func TestDescribeParsed(t *testing.T) {
	g := NewWithT(t)
	s, err := Parse([]WindowSpec{{Days: []string{"Fri", "Mon", "Tue", "Wed", "Thu"}, Start: "02:00", Duration: "2h"}},
		"Europe/Paris", "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Describe()).To(Equal("Mon-Fri 02:00 for 2h (Europe/Paris)"))
}
