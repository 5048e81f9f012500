package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// queuePoll is how often a queued rotation looks for a free rollout slot. Only while it is queued.
const queuePoll = 2 * time.Second

// rolloutSlots are the rotations with a rollout this process let start and whose end its cache may not show yet.
type rolloutSlots struct {
	mu   sync.Mutex
	held map[types.NamespacedName]bool
}

// release frees the slot of a RotatedSecret whose rotation ended (or never held one).
func (q *rolloutSlots) release(key types.NamespacedName) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.held, key)
}

// admit decides whether the rotation about to start may roll out now (--max-concurrent-rollouts): a rotation
// without a rollout, or an emergency, always may. Otherwise the rotations rolling out (pending, with a rollout:
// from the cache, and those this process admitted since) must leave a slot, and of the rotations queued for one,
// the oldest due goes first. A rotation that may not start is queued: phase Queued, RotationScheduled=True
// (reason Queued), looked at again every queuePoll.
func (r *RotatedSecretReconciler) admit(ctx context.Context, s *scope, emergency bool, due time.Time) (bool, error) {
	if r.MaxConcurrentRollouts <= 0 || emergency || s.rs.Spec.Rollout == nil {
		return true, nil
	}
	self := client.ObjectKeyFromObject(s.rs)
	var list rotationv1alpha1.RotatedSecretList
	if err := r.List(ctx, &list); err != nil {
		return false, err
	}
	r.slots.mu.Lock()
	defer r.slots.mu.Unlock()
	active := map[types.NamespacedName]bool{}
	for k := range r.slots.held {
		if k != self {
			active[k] = true
		}
	}
	type waiter struct {
		due time.Time
		key string
	}
	var ahead []waiter
	me := waiter{due: due, key: self.String()}
	for i := range list.Items {
		rs := &list.Items[i]
		key := client.ObjectKeyFromObject(rs)
		switch {
		case key == self:
		case rs.Status.Pending != nil && rs.Spec.Rollout != nil:
			active[key] = true
		case rs.Status.Phase == rotationv1alpha1.PhaseQueued && rs.Status.Scheduled != nil:
			if w := (waiter{due: rs.Status.Scheduled.DueTime.Time, key: key.String()}); w.due.Before(me.due) ||
				(w.due.Equal(me.due) && w.key < me.key) {
				ahead = append(ahead, w)
			}
		}
	}
	free := r.MaxConcurrentRollouts - len(active)
	if free > len(ahead) {
		if r.slots.held == nil {
			r.slots.held = map[types.NamespacedName]bool{}
		}
		r.slots.held[self] = true
		return true, nil
	}
	sort.Slice(ahead, func(i, j int) bool { return ahead[i].due.Before(ahead[j].due) })
	s.queued = true
	s.holding = true
	s.wakeAt(s.now.Add(queuePoll), 0)
	s.setCondition(rotationv1alpha1.ConditionRotationScheduled, metav1.ConditionTrue, rotationv1alpha1.ReasonQueued,
		fmt.Sprintf("Waiting for a rollout slot: %d of %d in use (--max-concurrent-rollouts), %d rotation(s) due earlier ahead",
			len(active), r.MaxConcurrentRollouts, len(ahead)))
	return false, nil
}
