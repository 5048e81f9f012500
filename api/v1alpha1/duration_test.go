package v1alpha1

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestDurationParse(t *testing.T) {
	cases := []struct {
		in      Duration
		want    time.Duration
		wantErr bool
	}{
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "2160h", want: 2160 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1h", want: time.Hour},
		{in: "0m", want: 0},
		{in: "99999d", want: 99999 * 24 * time.Hour},
		{in: "", wantErr: true},
		{in: "d", wantErr: true},
		{in: "90", wantErr: true},
		{in: "90s", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "+1h", wantErr: true},
		{in: "1.5h", wantErr: true},
		{in: "1h30m", wantErr: true},
		{in: "100000d", wantErr: true},
		// Six digits are refused by the CRD's pattern even when the number is small: Parse agrees with it.
		{in: "000001d", wantErr: true},
		{in: "00001d", want: 24 * time.Hour},
	}
	g := NewWithT(t)
	for _, c := range cases {
		got, err := c.in.Parse()
		if c.wantErr {
			g.Expect(err).To(HaveOccurred(), "Parse(%q)", c.in)
			continue
		}
		g.Expect(err).NotTo(HaveOccurred(), "Parse(%q)", c.in)
		g.Expect(got).To(Equal(c.want), "Parse(%q)", c.in)
	}
}
