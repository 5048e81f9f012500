//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rsEvent is one ReplicaSet watch event, reduced to what the ordering specs compare.
type rsEvent struct {
	Type       watch.EventType
	Name       string
	Deployment string // the Deployment it belongs to (its app label)
	Revision   string // the restart annotation of its pod template
	Replicas   int32  // spec.replicas
	Available  int32  // status.availableReplicas
	Created    time.Time
}

func (e rsEvent) String() string {
	return fmt.Sprintf("%s %s: deployment %s, revision %q, %d of %d available", e.Type, e.Name, e.Deployment, e.Revision,
		e.Available, e.Replicas)
}

// describeEvents lists events one a line, for a failure message.
func describeEvents(events []rsEvent) string {
	var b strings.Builder
	for i, e := range events {
		fmt.Fprintf(&b, "\n%3d %s", i, e)
	}
	return b.String()
}

// recorder watches a namespace while a rotation runs: every ReplicaSet event in the order the API server sent
// them, and each value the target Secrets took. All ReplicaSets come through one watch, whose events arrive in
// the order etcd committed them, so "A before B" in it is the order the changes really happened, finer than the
// one-second resolution of object timestamps.
type recorder struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	rsEvents []rsEvent
	// values holds, per target Secret, the digest of each value its key took, in order (repeats dropped).
	values map[string][]string
	errs   []error
}

// startRecorder starts watching ns; it stops when the spec ends.
func startRecorder(ns string) *recorder {
	GinkgoHelper()
	wctx, cancel := context.WithCancel(ctx)
	r := &recorder{cancel: cancel, values: map[string][]string{}}
	// Without a resourceVersion a watch starts with an ADDED event for every existing object, then changes.
	rsWatch, err := cl.Watch(wctx, &appsv1.ReplicaSetList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	secretWatch, err := cl.Watch(wctx, &corev1.SecretList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	r.wg.Add(2)
	go r.run(wctx, rsWatch, r.onReplicaSet)
	go r.run(wctx, secretWatch, r.onSecret)
	DeferCleanup(r.stop)
	return r
}

func (r *recorder) run(wctx context.Context, w watch.Interface, on func(watch.Event)) {
	defer r.wg.Done()
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			r.fail(fmt.Errorf("watch error: %v", ev.Object))
			continue
		}
		on(ev)
	}
	if wctx.Err() == nil {
		r.fail(fmt.Errorf("a watch ended before the spec did; events may be missing"))
	}
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *recorder) onReplicaSet(ev watch.Event) {
	rs, ok := ev.Object.(*appsv1.ReplicaSet)
	if !ok {
		r.fail(fmt.Errorf("unexpected %T in the ReplicaSet watch", ev.Object))
		return
	}
	e := rsEvent{Type: ev.Type, Name: rs.Name, Deployment: rs.Labels["app"], Revision: rs.Spec.Template.Annotations[annotationKey],
		Available: rs.Status.AvailableReplicas, Created: rs.CreationTimestamp.Time}
	if rs.Spec.Replicas != nil {
		e.Replicas = *rs.Spec.Replicas
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rsEvents = append(r.rsEvents, e)
}

func (r *recorder) onSecret(ev watch.Event) {
	s, ok := ev.Object.(*corev1.Secret)
	if !ok {
		r.fail(fmt.Errorf("unexpected %T in the Secret watch", ev.Object))
		return
	}
	if s.Name != workersEnv && s.Name != apiEnv || ev.Type == watch.Deleted {
		return
	}
	v := digest(s.Data[targetKey])
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen := r.values[s.Name]; len(seen) == 0 || seen[len(seen)-1] != v {
		r.values[s.Name] = append(seen, v)
	}
}

// stop ends the watches and waits for them.
func (r *recorder) stop() {
	r.cancel()
	r.wg.Wait()
}

// replicaSetEvents is a copy of the ReplicaSet events so far; it fails the spec if a watch broke.
func (r *recorder) replicaSetEvents() []rsEvent {
	GinkgoHelper()
	r.mu.Lock()
	defer r.mu.Unlock()
	Expect(r.errs).To(BeEmpty())
	return append([]rsEvent(nil), r.rsEvents...)
}

// valuesOf is the digest of each value the target Secret's key took so far, in order; it fails the spec if a watch broke.
func (r *recorder) valuesOf(secret string) []string {
	GinkgoHelper()
	r.mu.Lock()
	defer r.mu.Unlock()
	Expect(r.errs).To(BeEmpty())
	return append([]string(nil), r.values[secret]...)
}

// firstEvent is the index of the first event that matches, or -1.
func firstEvent(events []rsEvent, match func(rsEvent) bool) int {
	for i, e := range events {
		if match(e) {
			return i
		}
	}
	return -1
}
