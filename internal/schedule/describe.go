package schedule

import (
	"fmt"
	"strings"
	"time"
)

// weekOrder is the order days are written in: Monday first, as people write maintenance windows.
var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday,
	time.Sunday}

// Describe sums the schedule up for messages and Events, such as "Mon-Fri 02:00 for 2h (Europe/Paris)". Windows
// keep their order and are joined by ", "; each window's days are written Monday first, three or more consecutive
// days as a range. MaxDelay is not part of it. A schedule without windows is "always open". The text depends only
// on the schedule, so it can be compared between reconciles.
func (s Schedule) Describe() string {
	if len(s.Windows) == 0 {
		return "always open"
	}
	parts := make([]string, 0, len(s.Windows))
	for _, w := range s.Windows {
		parts = append(parts, fmt.Sprintf("%s %s for %s", describeDays(w.Days), describeClock(w.Start),
			describeDuration(w.Duration)))
	}
	return strings.Join(parts, ", ") + " (" + s.location().String() + ")"
}

// describeDays writes days Monday first, runs of three or more as "Mon-Fri", the rest joined by commas.
func describeDays(days []time.Weekday) string {
	on := map[time.Weekday]bool{}
	for _, d := range days {
		on[d] = true
	}
	var parts []string
	for i := 0; i < len(weekOrder); {
		if !on[weekOrder[i]] {
			i++
			continue
		}
		j := i
		for j+1 < len(weekOrder) && on[weekOrder[j+1]] {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, abbreviation(weekOrder[i])+"-"+abbreviation(weekOrder[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, abbreviation(weekOrder[k]))
			}
		}
		i = j + 1
	}
	if len(parts) == 0 {
		return "no day"
	}
	return strings.Join(parts, ",")
}

// abbreviation is the spelling Parse accepts for d.
func abbreviation(d time.Weekday) string {
	return d.String()[:3]
}

// describeClock writes a start as HH:MM, with seconds only if a hand-built Window has them.
func describeClock(d time.Duration) string {
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), d%time.Minute
	if sec != 0 {
		return fmt.Sprintf("%02d:%02d+%s", h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// describeDuration writes a window's length in the largest unit that divides it (d, h or m), as a user would write
// it in the spec: "90m" stays "90m". Lengths that are not whole minutes fall back to Go's notation.
func describeDuration(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
