package notify

import (
	"math"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestBackoff(t *testing.T) {
	cases := []struct {
		attempts int
		want     time.Duration
	}{
		{attempts: math.MinInt, want: 0},
		{attempts: -1, want: 0},
		{attempts: 0, want: 0},
		{attempts: 1, want: 5 * time.Second},
		{attempts: 2, want: 10 * time.Second},
		{attempts: 3, want: 20 * time.Second},
		{attempts: 4, want: 40 * time.Second},
		{attempts: 5, want: 80 * time.Second},
		{attempts: 6, want: 160 * time.Second},
		{attempts: 7, want: 320 * time.Second},
		{attempts: 8, want: 10 * time.Minute},
		{attempts: 9, want: 10 * time.Minute},
		{attempts: 100, want: 10 * time.Minute},
		{attempts: math.MaxInt, want: 10 * time.Minute},
	}
	for _, c := range cases {
		g := NewWithT(t)
		g.Expect(Backoff(c.attempts)).To(Equal(c.want), "after %d failed attempts", c.attempts)
	}
}

func TestMaxAttemptsSpan(t *testing.T) {
	g := NewWithT(t)
	var total time.Duration
	for a := 1; a < MaxAttempts; a++ {
		total += Backoff(a)
	}
	// What MaxAttempts documents: the waits between its attempts add up to about ten and a half minutes.
	g.Expect(total).To(Equal(635 * time.Second))
}
