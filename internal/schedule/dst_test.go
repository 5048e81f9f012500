package schedule

import (
	"testing"
	"time"
)

// Europe/Paris: on 2026-03-29 the clocks go from 02:00 CET to 03:00 CEST (01:00 UTC); on 2026-10-25 from 03:00
// CEST back to 02:00 CET (01:00 UTC).
func TestOpenParisDST(t *testing.T) {
	paris := zone(t, "Europe/Paris")
	t.Run("spring forward: 02:30 does not exist, opens at 03:00", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 30, time.Hour, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "the day before", at: "2026-03-28T12:00:00+01:00", next: "2026-03-29T03:00:00+02:00"},
			{name: "the last CET second", at: "2026-03-29T01:59:59+01:00", next: "2026-03-29T03:00:00+02:00"},
			{name: "03:00 CEST", at: "2026-03-29T03:00:00+02:00", open: true, next: "2026-03-29T03:00:00+02:00"},
			{name: "one real hour later, closed", at: "2026-03-29T04:00:00+02:00", next: "2026-04-05T02:30:00+02:00"},
			{name: "the Sunday before, in CET", at: "2026-03-22T02:30:00+01:00", open: true, next: "2026-03-22T02:30:00+01:00"},
		})
	})
	t.Run("spring forward: 02:00 opens at 03:00", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 0, time.Hour, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "before", at: "2026-03-29T01:00:00+01:00", next: "2026-03-29T03:00:00+02:00"},
			{name: "closed an hour later", at: "2026-03-29T04:00:00+02:00", next: "2026-04-05T02:00:00+02:00"},
		})
	})
	t.Run("spring forward: a 2h window spanning the change lasts 2 real hours", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(1, 30, 2*time.Hour, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "opens in CET", at: "2026-03-29T01:30:00+01:00", open: true, next: "2026-03-29T01:30:00+01:00"},
			{name: "open at 04:29 CEST", at: "2026-03-29T04:29:59+02:00", open: true, next: "2026-03-29T04:29:59+02:00"},
			{name: "closed at 04:30 CEST", at: "2026-03-29T04:30:00+02:00", next: "2026-04-05T01:30:00+02:00"},
		})
	})
	t.Run("fall back: 02:30 occurs twice, opens at the first only", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 30, 30*time.Minute, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "before", at: "2026-10-25T02:00:00+02:00", next: "2026-10-25T02:30:00+02:00"},
			{name: "first 02:45", at: "2026-10-25T02:45:00+02:00", open: true, next: "2026-10-25T02:45:00+02:00"},
			{name: "closed at 02:00 CET", at: "2026-10-25T02:00:00+01:00", next: "2026-11-01T02:30:00+01:00"},
			{name: "second 02:30 does not reopen", at: "2026-10-25T02:30:00+01:00", next: "2026-11-01T02:30:00+01:00"},
			{name: "second 02:45", at: "2026-10-25T02:45:00+01:00", next: "2026-11-01T02:30:00+01:00"},
		})
	})
	t.Run("fall back: 02:00 for 1h ends when the wall clock reads 02:00 again", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 0, time.Hour, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "02:59 CEST", at: "2026-10-25T02:59:59+02:00", open: true, next: "2026-10-25T02:59:59+02:00"},
			{name: "02:00 CET", at: "2026-10-25T02:00:00+01:00", next: "2026-11-01T02:00:00+01:00"},
		})
	})
	t.Run("fall back: a 2h window spanning the change lasts 2 real hours", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(1, 30, 2*time.Hour, time.Sunday)}, Location: paris}
		checkOpen(t, s, []openCase{
			{name: "before", at: "2026-10-24T23:00:00Z", next: "2026-10-25T01:30:00+02:00"},
			{name: "open at 02:29 CET", at: "2026-10-25T02:29:59+01:00", open: true, next: "2026-10-25T02:29:59+01:00"},
			{name: "closed at 02:30 CET", at: "2026-10-25T02:30:00+01:00", next: "2026-11-01T01:30:00+01:00"},
		})
	})
}

// America/New_York: on 2026-03-08 the clocks go from 02:00 EST to 03:00 EDT (07:00 UTC); on 2026-11-01 from
// 02:00 EDT back to 01:00 EST (06:00 UTC).
func TestOpenNewYorkDST(t *testing.T) {
	ny := zone(t, "America/New_York")
	t.Run("spring forward: 02:30 opens at 03:00", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(2, 30, time.Hour, time.Sunday)}, Location: ny}
		checkOpen(t, s, []openCase{
			{name: "the day before", at: "2026-03-07T12:00:00-05:00", next: "2026-03-08T03:00:00-04:00"},
			{name: "last second", at: "2026-03-08T03:59:59-04:00", open: true, next: "2026-03-08T03:59:59-04:00"},
			{name: "closed", at: "2026-03-08T04:00:00-04:00", next: "2026-03-15T02:30:00-04:00"},
		})
	})
	t.Run("spring forward: a 3h window spanning the change lasts 3 real hours", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(1, 0, 3*time.Hour, time.Sunday)}, Location: ny}
		checkOpen(t, s, []openCase{
			{name: "open at 04:59 EDT", at: "2026-03-08T04:59:59-04:00", open: true, next: "2026-03-08T04:59:59-04:00"},
			{name: "closed at 05:00 EDT", at: "2026-03-08T05:00:00-04:00", next: "2026-03-15T01:00:00-04:00"},
		})
	})
	t.Run("fall back: 01:30 occurs twice, opens at the first only", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(1, 30, 20*time.Minute, time.Sunday)}, Location: ny}
		checkOpen(t, s, []openCase{
			{name: "first 01:40", at: "2026-11-01T01:40:00-04:00", open: true, next: "2026-11-01T01:40:00-04:00"},
			{name: "second 01:30", at: "2026-11-01T01:30:00-05:00", next: "2026-11-08T01:30:00-05:00"},
			{name: "second 01:40", at: "2026-11-01T01:40:00-05:00", next: "2026-11-08T01:30:00-05:00"},
		})
	})
	t.Run("fall back: a 2h window spanning the change lasts 2 real hours", func(t *testing.T) {
		s := Schedule{Windows: []Window{win(0, 30, 2*time.Hour, time.Sunday)}, Location: ny}
		checkOpen(t, s, []openCase{
			{name: "open at 01:29 EST", at: "2026-11-01T01:29:59-05:00", open: true, next: "2026-11-01T01:29:59-05:00"},
			{name: "closed at 01:30 EST", at: "2026-11-01T01:30:00-05:00", next: "2026-11-08T00:30:00-05:00"},
		})
	})
}
