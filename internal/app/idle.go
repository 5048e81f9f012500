package app

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// IdleCheckInterval is how long the operator must go without starting a reconcile to count as idle (IdleRelease).
const IdleCheckInterval = time.Minute

// idleLook is how often IdleRelease looks at the reconcile count: a memory limit set while idle is lifted within
// a second of new work.
const idleLook = time.Second

// idleHeadroom is the least room an idle operator's memory limit leaves above what it holds: room for what a
// protobuf scrape of /metrics at 10,000 RotatedSecrets allocates (about 20 MB; a text scrape about 0.3 MB), so
// the limit never makes the GC run more than once a scrape.
const idleHeadroom = 32 << 20

// IdleRelease keeps an idle operator's memory at what it uses. Go's GC lets the heap grow to twice what survived
// the last collection, and an idle process allocates little (a scrape of /metrics, a watch renewal) but never
// frees it either: after a mass rotation or the start-up sync of 10,000 RotatedSecrets it would keep twice its live
// heap resident for as long as it stays idle. Once no reconcile has started for Interval, it collects and returns
// the free heap to the operating system (about 0.1 s of CPU at 10,000 RotatedSecrets), then sets a soft memory
// limit a quarter (at least idleHeadroom) above what the runtime still holds, so scrapes are collected instead of
// piling up. The first reconcile after that lifts the limit again (within idleLook): a mass rotation never runs
// under it. A GOMEMLIMIT set by the admin stays the upper bound. At every look it also sets the heap's pace
// (heapPace: a large heap is collected after growing by a quarter). It makes no API request and runs on every
// replica.
type IdleRelease struct {
	// Reconciles counts the reconciles started so far (RotatedSecretReconciler.Reconciles).
	Reconciles func() int64
	// Interval without a reconcile after which the operator is idle (IdleCheckInterval).
	Interval time.Duration
	// Look is how often the count is looked at; 0 means idleLook.
	Look time.Duration
	// Release frees the memory (debug.FreeOSMemory), InUse tells what the runtime still holds from the operating
	// system (runtime/metrics) and SetLimit is debug.SetMemoryLimit; tests replace them.
	Release  func()
	InUse    func() int64
	SetLimit func(int64) int64
	// Live reads the live heap and SetPercent is debug.SetGCPercent, for the heap's pace (heapPace), looked at
	// with the reconcile count; tests replace them.
	Live       func() int64
	SetPercent func(int) int
}

// Start looks every Look until ctx ends; it is a manager Runnable.
func (r IdleRelease) Start(ctx context.Context) error {
	release, inUse, setLimit, look := r.Release, r.InUse, r.SetLimit, r.Look
	if release == nil {
		release = debug.FreeOSMemory
	}
	if inUse == nil {
		inUse = runtimeInUse
	}
	if setLimit == nil {
		setLimit = debug.SetMemoryLimit
	}
	if look <= 0 {
		look = idleLook
	}
	admin := setLimit(-1) // math.MaxInt64 unless GOMEMLIMIT is set
	limited := false
	lift := func() {
		if limited {
			setLimit(admin)
			limited = false
		}
	}
	defer lift()
	pace := newHeapPace(r.Live, r.SetPercent)
	defer pace.restore()
	t := time.NewTicker(look)
	defer t.Stop()
	idle := idleState{interval: r.Interval}
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			pace.look()
			switch idle.observe(now, r.Reconciles()) {
			case idleBusy:
				lift()
			case idleRelease:
				release()
				if limit := idleLimit(inUse(), admin); limit < admin {
					setLimit(limit)
					limited = true
				}
			}
		}
	}
}

// NeedLeaderElection is false: a standby replica's cache holds as much as the leader's.
func (IdleRelease) NeedLeaderElection() bool { return false }

// idleLimit is the soft memory limit of an idle operator whose runtime holds inUse bytes, never above admin's.
func idleLimit(inUse, admin int64) int64 {
	return min(admin, inUse+max(inUse/4, idleHeadroom))
}

// runtimeInUse is the memory the Go runtime holds from the operating system: what a memory limit counts.
func runtimeInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return math.MaxInt64 // unknown: no limit
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// idleAction is what a look at the reconcile count calls for.
type idleAction int

const (
	idleNothing idleAction = iota
	idleRelease            // idle for a whole interval: release and limit, once per idle period
	idleBusy               // a reconcile started since the last look
)

// idleState follows the reconcile count from look to look.
type idleState struct {
	interval time.Duration
	last     int64
	since    time.Time // when the count last moved (or was first seen)
	seen     bool
	released bool
}

// observe takes the reconcile count n at a look at time now.
func (s *idleState) observe(now time.Time, n int64) idleAction {
	switch {
	case !s.seen:
		s.seen, s.last, s.since = true, n, now
		return idleNothing
	case n != s.last:
		s.last, s.since, s.released = n, now, false
		return idleBusy
	case !s.released && now.Sub(s.since) >= s.interval:
		s.released = true
		return idleRelease
	}
	return idleNothing
}
