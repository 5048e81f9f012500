package tenancy

import (
	"sync"
	"time"
)

// allowedFor is how long an allowed action is taken as allowed without asking again. Short: a revoked right shows
// at the next pre-flight after it; the API server authorizes every real request anyway.
const allowedFor = 30 * time.Second

// decisions remembers the actions one ServiceAccount was allowed, and when. A nil *decisions remembers nothing.
type decisions struct {
	mu    sync.Mutex
	until map[Action]time.Time
	now   func() time.Time // time.Now; tests set another clock
}

func (d *decisions) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// has reports whether action was allowed less than allowedFor ago.
func (d *decisions) has(action Action) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock().Before(d.until[action])
}

// add remembers that action was allowed now.
func (d *decisions) add(action Action) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.until == nil || len(d.until) > 10000 {
		d.until = map[Action]time.Time{}
	}
	d.until[action] = d.clock().Add(allowedFor)
}
