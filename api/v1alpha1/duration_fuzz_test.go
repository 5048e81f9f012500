package v1alpha1

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// durationPattern is the CRD's CEL rule for a Duration (see the marker on the type).
var durationPattern = regexp.MustCompile(`^[0-9]{1,5}[dhm]$`)

// FuzzDurationParse checks that Parse never panics and accepts exactly what the CRD accepts: a text the CEL rule
// refuses can only reach Parse by bypassing validation, and one it admits must not stall the object.
func FuzzDurationParse(f *testing.F) {
	for _, s := range []string{"90d", "2160h", "90m", "0m", "99999d", "00001h", "", "d", "90", "90s", "-1h", "+1h",
		"1.5h", "1h30m", "100000d", "000001d", "1_0h", "٣h", "90d\n", " 90d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Duration(s).Parse()
		if want := durationPattern.MatchString(s); want != (err == nil) {
			t.Fatalf("Parse(%q): error %v, but the CRD pattern matches: %v", s, err, want)
		}
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(s[:len(s)-1])
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[s[len(s)-1]]
		if want := time.Duration(n) * unit; got != want {
			t.Fatalf("Parse(%q) = %v, want %v", s, got, want)
		}
	})
}
