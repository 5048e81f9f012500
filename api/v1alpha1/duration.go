package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDurationDigits keeps every Duration well inside time.Duration's range (99999 days is about 270 years). It is
// the {1,5} of the CRD's pattern: "000001d" is refused there, so it is refused here too.
const maxDurationDigits = 5

// Parse converts a Duration such as "90d", "2160h" or "90m" to a time.Duration. The CRD schema accepts only what
// Parse accepts, so an error here means the object bypassed validation.
func (d Duration) Parse() (time.Duration, error) {
	s := string(d)
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: want a whole number followed by d, h or m", s)
	}
	digits := s[:len(s)-1]
	if len(digits) > maxDurationDigits || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("duration %q: want a whole number followed by d, h or m", s)
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a whole number followed by d, h or m", s)
	}
	switch s[len(s)-1] {
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'h':
		return time.Duration(n) * time.Hour, nil
	case 'm':
		return time.Duration(n) * time.Minute, nil
	}
	return 0, fmt.Errorf("duration %q: unit must be d, h or m", s)
}
