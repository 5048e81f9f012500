package app

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestIdleStateReleasesOncePerIdlePeriod(t *testing.T) {
	g := NewWithT(t)
	s := idleState{interval: time.Minute}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	// Reconcile counts at successive looks (seconds after t0), and what each look calls for.
	looks := []struct {
		at    int
		count int64
		want  idleAction
	}{
		{0, 0, idleNothing},   // the first look has nothing to compare with
		{30, 0, idleNothing},  // idle, but not for a whole interval yet
		{60, 0, idleRelease},  // idle for a whole interval: release and limit
		{61, 0, idleNothing},  // still idle: released already
		{62, 5, idleBusy},     // busy again: lift the limit at once
		{63, 9, idleBusy},     // still busy
		{100, 9, idleNothing}, // quiet since 63
		{123, 9, idleRelease}, // idle for an interval again: release once more
		{200, 9, idleNothing}, // and not again
		{201, 10, idleBusy},   // one reconcile (a due rotation) ends the idle period
		{261, 10, idleRelease},
	}
	for i, l := range looks {
		g.Expect(s.observe(t0.Add(time.Duration(l.at)*time.Second), l.count)).To(Equal(l.want), "look %d (count %d)", i, l.count)
	}
}

func TestIdleLimitLeavesRoomAndKeepsTheAdminsLimit(t *testing.T) {
	g := NewWithT(t)
	g.Expect(idleLimit(100<<20, math.MaxInt64)).To(BeEquivalentTo(100<<20+idleHeadroom), "at least idleHeadroom")
	g.Expect(idleLimit(400<<20, math.MaxInt64)).To(BeEquivalentTo(500<<20), "a quarter above what is held")
	g.Expect(idleLimit(400<<20, 450<<20)).To(BeEquivalentTo(450<<20), "never above GOMEMLIMIT")
	g.Expect(runtimeInUse()).To(BeNumerically(">", 0))
}

// fakeRuntime records what IdleRelease asks of the runtime.
type fakeRuntime struct {
	mu       sync.Mutex
	releases int
	limits   []int64
	percents []int
}

// setPercent records a GC percent; the process started with 100.
func (f *fakeRuntime) setPercent(p int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := 100
	if len(f.percents) > 0 {
		old = f.percents[len(f.percents)-1]
	}
	f.percents = append(f.percents, p)
	return old
}

func (f *fakeRuntime) release() { f.mu.Lock(); defer f.mu.Unlock(); f.releases++ }

func (f *fakeRuntime) setLimit(l int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l < 0 {
		return math.MaxInt64
	}
	f.limits = append(f.limits, l)
	return math.MaxInt64
}

func (f *fakeRuntime) state() (int, []int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.releases, append([]int64(nil), f.limits...)
}

func TestIdleReleaseLimitsWhileIdleAndLiftsOnWork(t *testing.T) {
	g := NewWithT(t)
	var count atomic.Int64
	rt := &fakeRuntime{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- IdleRelease{Reconciles: count.Load, Interval: 20 * time.Millisecond, Look: 5 * time.Millisecond,
			Release: rt.release, InUse: func() int64 { return 100 << 20 }, SetLimit: rt.setLimit,
			Live: func() int64 { return 90 << 20 }, SetPercent: rt.setPercent}.Start(ctx)
	}()
	limited := []int64{100<<20 + idleHeadroom}
	g.Eventually(func() []int64 { _, l := rt.state(); return l }).Should(Equal(limited))
	g.Consistently(func() int { r, _ := rt.state(); return r }, 100*time.Millisecond).Should(Equal(1), "one release per idle period")

	count.Add(1) // a reconcile: the limit goes at once
	g.Eventually(func() []int64 { _, l := rt.state(); return l }).Should(Equal(append(limited, math.MaxInt64)))
	// Idle again: released and limited again.
	g.Eventually(func() int { r, _ := rt.state(); return r }).Should(Equal(2))
	cancel()
	g.Eventually(done).Should(Receive(BeNil()))
	_, limits := rt.state()
	g.Expect(limits[len(limits)-1]).To(BeEquivalentTo(int64(math.MaxInt64)), "stopping lifts the limit")
	rt.mu.Lock()
	g.Expect(rt.percents).To(Equal([]int{100, 100, 25, 100}), "read, paced once for a 90 MiB heap, restored on stop")
	rt.mu.Unlock()
	g.Expect(IdleRelease{}.NeedLeaderElection()).To(BeFalse())
}
