package app

import (
	"runtime/debug"
	"runtime/metrics"
)

// paceFloor is the least the heap may grow by between two collections, however large it is: below four times
// this live heap the operator keeps Go's default pace.
const paceFloor = 16 << 20

// paceMinPercent is the smallest GC percent pacing sets: a live heap may grow by a quarter before it is collected.
const paceMinPercent = 25

// heapPace keeps the growth of a large heap between two collections at a quarter of it (GOGC=25) instead of Go's
// default of its whole size (GOGC=100). Go never moves an object: the caches' objects allocated during a mass
// rotation (each RotatedSecret's and Secret's last version) lie among that rotation's garbage, and a span that
// holds one of them stays resident after the garbage is collected. The more garbage between two collections, the
// more spans they spread over: after 10,000 RotatedSecrets created at once the default pace left 147 MiB of
// spans in use for 96 MiB of objects (200 MiB resident), this pace 109 MiB for 92 MiB (163 MiB resident).
// Collecting four times as often costs CPU only while the heap is large and busy (the 10,000 took a quarter
// longer to create, a restart a few seconds longer to settle); an idle operator allocates nearly nothing. A small
// heap (below 4 x paceFloor) keeps the default pace. A GOGC set by the admin stays the upper bound; GOGC=off
// stays off.
type heapPace struct {
	// admin is the GC percent the process started with (GOGC, 100 by default, negative when off).
	admin int
	// set is the percent last set; 0 before the first look.
	set int
	// live reads the live heap (runtime/metrics) and setPercent is debug.SetGCPercent; tests replace them.
	live       func() int64
	setPercent func(int) int
}

// newHeapPace reads the admin's GC percent (setting it back at once) and returns the pace.
func newHeapPace(live func() int64, setPercent func(int) int) *heapPace {
	if live == nil {
		live = liveHeap
	}
	if setPercent == nil {
		setPercent = debug.SetGCPercent
	}
	admin := setPercent(100)
	setPercent(admin)
	return &heapPace{admin: admin, set: admin, live: live, setPercent: setPercent}
}

// look sets the percent the live heap calls for, when it changed.
func (p *heapPace) look() {
	if want := pacedPercent(p.live(), p.admin); want != p.set {
		p.setPercent(want)
		p.set = want
	}
}

// restore sets the admin's percent back.
func (p *heapPace) restore() {
	if p.set != p.admin {
		p.setPercent(p.admin)
		p.set = p.admin
	}
}

// pacedPercent is the GC percent for a live heap of live bytes, never above admin's; GOGC=off (negative) stays.
func pacedPercent(live int64, admin int) int {
	if admin < 0 || live <= 0 {
		return admin
	}
	growth := max(paceFloor, live/4)
	return min(admin, max(paceMinPercent, int(100*growth/live)))
}

// liveHeap is the heap the last collection found reachable.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0 // unknown: the admin's pace
	}
	return int64(s[0].Value.Uint64())
}
