package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestIdleStateReleasesOncePerIdlePeriod(t *testing.T) {
	g := NewWithT(t)
	var s idleState
	// Reconcile counts at successive looks, and whether memory is released at each.
	looks := []struct {
		count   int64
		release bool
	}{
		{0, false},  // the first look has nothing to compare with
		{0, true},   // idle for a whole interval: release
		{0, false},  // still idle: released already
		{5, false},  // busy again
		{9, false},  // still busy
		{9, true},   // idle again: release once more
		{9, false},  // and not again
		{10, false}, // one reconcile (a due rotation) ends the idle period
		{10, true},
	}
	for i, l := range looks {
		g.Expect(s.observe(l.count)).To(Equal(l.release), "look %d (count %d)", i, l.count)
	}
}

func TestIdleReleaseRunsUntilItsContextEnds(t *testing.T) {
	g := NewWithT(t)
	var released atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- IdleRelease{Reconciles: func() int64 { return 7 }, Interval: 10 * time.Millisecond,
			Release: func() { released.Add(1) }}.Start(ctx)
	}()
	g.Eventually(released.Load).Should(BeEquivalentTo(1))
	g.Consistently(released.Load, 100*time.Millisecond).Should(BeEquivalentTo(1), "one release per idle period")
	cancel()
	g.Eventually(done).Should(Receive(BeNil()))
	g.Expect(IdleRelease{}.NeedLeaderElection()).To(BeFalse())
}
