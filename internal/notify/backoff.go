package notify

import "time"

// Retry schedule of a delivery.
const (
	// MaxAttempts is how many failed attempts a delivery gets; after the last it is dropped and reported. With
	// Backoff, the attempts span about ten and a half minutes.
	MaxAttempts = 8
	// FirstBackoff is the wait after the first failed attempt; each later failure doubles it.
	FirstBackoff = 5 * time.Second
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff = 10 * time.Minute
)

// Backoff returns how long to wait, after attempts failed attempts, before the next: 0 when none failed, then
// 5s, 10s, 20s, ... doubling up to MaxBackoff.
func Backoff(attempts int) time.Duration {
	if attempts <= 0 {
		return 0
	}
	d := FirstBackoff
	for i := 1; i < attempts && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}
