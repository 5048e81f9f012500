package schedule

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestParse(t *testing.T) {
	nightly := WindowSpec{Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, Start: "02:00", Duration: "2h"}
	cases := []struct {
		name      string
		windows   []WindowSpec
		timeZone  string
		maxDelay  string
		want      Schedule
		wantZone  string
		wantError string
	}{
		{
			name:    "nightly in Paris with defaults",
			windows: []WindowSpec{nightly}, timeZone: "Europe/Paris",
			want:     Schedule{Windows: []Window{win(2, 0, 2*time.Hour, weekdays...)}, MaxDelay: 7 * 24 * time.Hour},
			wantZone: "Europe/Paris",
		},
		{
			name: "no windows, empty zone is UTC",
			want: Schedule{Windows: []Window{}, MaxDelay: 7 * 24 * time.Hour}, wantZone: "UTC",
		},
		{
			name: "days kept in the order written, edges of the ranges",
			windows: []WindowSpec{
				{Days: []string{"Sun", "Sat"}, Start: "23:59", Duration: "7d"},
				{Days: []string{"Wed"}, Start: "00:00", Duration: "1m"},
			},
			timeZone: "UTC", maxDelay: "1h",
			want: Schedule{Windows: []Window{
				win(23, 59, 7*24*time.Hour, time.Sunday, time.Saturday), win(0, 0, time.Minute, time.Wednesday),
			}, MaxDelay: time.Hour},
			wantZone: "UTC",
		},
		{
			name: "minutes and days as durations", windows: []WindowSpec{{Days: []string{"Thu"}, Start: "12:30", Duration: "90m"}},
			timeZone: "America/New_York", maxDelay: "30d",
			want:     Schedule{Windows: []Window{win(12, 30, 90*time.Minute, time.Thursday)}, MaxDelay: 30 * 24 * time.Hour},
			wantZone: "America/New_York",
		},
		{
			name:      "start out of range",
			windows:   []WindowSpec{nightly, {Days: []string{"Sat"}, Start: "25:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[1].start: "25:00" is not HH:MM`,
		},
		{name: "minute out of range", windows: []WindowSpec{{Days: []string{"Sat"}, Start: "23:60", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].start: "23:60" is not HH:MM`},
		{name: "start without leading zero", windows: []WindowSpec{{Days: []string{"Sat"}, Start: "2:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].start: "2:00" is not HH:MM`},
		{name: "start with seconds", windows: []WindowSpec{{Days: []string{"Sat"}, Start: "02:00:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].start: "02:00:00" is not HH:MM`},
		{name: "signed start", windows: []WindowSpec{{Days: []string{"Sat"}, Start: "+2:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].start: "+2:00" is not HH:MM`},
		{name: "empty start", windows: []WindowSpec{{Days: []string{"Sat"}, Duration: "1h"}},
			wantError: `spec.schedule.windows[0].start: "" is not HH:MM`},
		{name: "no days", windows: []WindowSpec{{Start: "02:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].days: list at least one of Mon, Tue, Wed, Thu, Fri, Sat, Sun`},
		{name: "long day name", windows: []WindowSpec{{Days: []string{"Mon", "Tuesday"}, Start: "02:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].days[1]: "Tuesday" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun`},
		{name: "lower-case day", windows: []WindowSpec{{Days: []string{"mon"}, Start: "02:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].days[0]: "mon" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun`},
		{name: "duplicate day", windows: []WindowSpec{{Days: []string{"Mon", "Fri", "Mon"}, Start: "02:00", Duration: "1h"}},
			wantError: `spec.schedule.windows[0].days[2]: "Mon" is listed twice`},
		{name: "zero duration", windows: []WindowSpec{{Days: []string{"Mon"}, Start: "02:00", Duration: "0h"}},
			wantError: `spec.schedule.windows[0].duration: "0h" must be longer than 0`},
		{name: "duration over a week", windows: []WindowSpec{{Days: []string{"Mon"}, Start: "02:00", Duration: "169h"}},
			wantError: `spec.schedule.windows[0].duration: "169h" is longer than 7d`},
		{name: "Go duration", windows: []WindowSpec{{Days: []string{"Mon"}, Start: "02:00", Duration: "1h30m"}},
			wantError: `spec.schedule.windows[0].duration: "1h30m" is not a duration (a whole number followed by d, h or m)`},
		{name: "missing duration", windows: []WindowSpec{{Days: []string{"Mon"}, Start: "02:00"}},
			wantError: `spec.schedule.windows[0].duration: "" is not a duration (a whole number followed by d, h or m)`},
		{name: "Local zone", timeZone: "Local",
			wantError: `spec.schedule.timeZone: "Local" is the operator's own time zone; name an IANA time zone such as "Europe/Paris" or "UTC"`},
		{name: "unknown zone", timeZone: "Europe/Atlantis",
			wantError: `spec.schedule.timeZone: "Europe/Atlantis" is not an IANA time zone`},
		{name: "path as zone", timeZone: "../../../etc/passwd",
			wantError: `spec.schedule.timeZone: "../../../etc/passwd" is not an IANA time zone`},
		{name: "long hostile zone is cut", timeZone: strings.Repeat("é", 40) + "\x1b[2J",
			wantError: `spec.schedule.timeZone: "` + strings.Repeat("é", 32) + `…" is not an IANA time zone`},
		{name: "control characters are escaped", timeZone: "Europe/Paris\n",
			wantError: `spec.schedule.timeZone: "Europe/Paris\n" is not an IANA time zone`},
		{name: "maxDelay under 1h", maxDelay: "59m", wantError: `spec.schedule.maxDelay: "59m" is shorter than 1h`},
		{name: "maxDelay in weeks", maxDelay: "1w",
			wantError: `spec.schedule.maxDelay: "1w" is not a duration (a whole number followed by d, h or m)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Parse(c.windows, c.timeZone, c.maxDelay)
			if c.wantError != "" {
				g.Expect(err).To(MatchError(c.wantError))
				g.Expect(got).To(Equal(Schedule{}))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Location).NotTo(BeNil())
			g.Expect(got.Location.String()).To(Equal(c.wantZone))
			got.Location = nil
			g.Expect(got).To(Equal(c.want))
		})
	}
}

// TestParseUsesTheZone checks that the parsed zone, not UTC, decides: 02:00 Paris is 00:00 UTC in June.
func TestParseUsesTheZone(t *testing.T) {
	g := NewWithT(t)
	s, err := Parse([]WindowSpec{{Days: []string{"Mon"}, Start: "02:00", Duration: "1h"}}, "Europe/Paris", "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Open(instant(t, "2026-06-01T00:30:00Z"))).To(BeTrue())
	g.Expect(s.Open(instant(t, "2026-06-01T02:30:00Z"))).To(BeFalse())
}
