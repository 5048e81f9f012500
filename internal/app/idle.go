package app

import (
	"context"
	"runtime/debug"
	"time"
)

// IdleCheckInterval is how often the operator looks whether it went idle (IdleRelease).
const IdleCheckInterval = time.Minute

// IdleRelease returns the heap's free memory to the operating system once the operator has gone idle: no reconcile
// started during a whole interval. Go's GC lets the heap grow to twice what survived the last collection and an
// idle process does not collect again, so after a mass rotation (or the start-up sync of 10,000 RotatedSecrets) an
// idle operator would keep twice its live heap resident for as long as it stays idle. One collection and release
// per idle period (about 0.1 s of CPU at 10,000 RotatedSecrets) brings it back to what is in use. It makes no API
// request and runs on every replica.
type IdleRelease struct {
	// Reconciles counts the reconciles started so far (RotatedSecretReconciler.Reconciles).
	Reconciles func() int64
	// Interval between looks (IdleCheckInterval).
	Interval time.Duration
	// Release frees the memory (debug.FreeOSMemory); tests count calls instead.
	Release func()
}

// Start looks every Interval until ctx ends; it is a manager Runnable.
func (r IdleRelease) Start(ctx context.Context) error {
	release := r.Release
	if release == nil {
		release = debug.FreeOSMemory
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	var idle idleState
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if idle.observe(r.Reconciles()) {
				release()
			}
		}
	}
}

// NeedLeaderElection is false: a standby replica's cache holds as much as the leader's.
func (IdleRelease) NeedLeaderElection() bool { return false }

// idleState decides when to release: once per idle period, the first look at which the reconcile count has not
// moved since the previous look.
type idleState struct {
	last     int64
	seen     bool
	released bool
}

// observe takes the reconcile count at a look and says whether to release now.
func (s *idleState) observe(n int64) bool {
	moved := !s.seen || n != s.last
	s.last, s.seen = n, true
	if moved {
		s.released = false
		return false
	}
	if s.released {
		return false
	}
	s.released = true
	return true
}
