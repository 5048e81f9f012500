package metrics

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// idleObjects is the scale docs/benchmarks.md measures the operator at.
const idleObjects = 10000

// idleNames are the namespaces and names of n RotatedSecrets, 50 to a namespace; the informer cache holds these
// strings in the operator, so the measurements below leave them out.
func idleNames(n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{fmt.Sprintf("team-%03d", i/50), fmt.Sprintf("secret-%05d", i)}
	}
	return out
}

// observeIdle gives each object the series of an idle RotatedSecret after its first rotation, through the calls
// the controllers make: the commit counts the Created rotation, the status write counts its Succeeded end and
// sets the gauges (next rotation, last outcome).
func observeIdle(names [][2]string) {
	rs := object("", "")
	rs.Status.NextRotationTime = at(90 * 24 * time.Hour)
	rs.Status.History = []rotationv1alpha1.RotationRecord{record(1, rotationv1alpha1.OutcomeSucceeded, at(time.Minute))}
	for _, n := range names {
		rs.Namespace, rs.Name = n[0], n[1]
		Rotations.WithLabelValues(n[0], n[1], string(rotationv1alpha1.TriggerCreated)).Inc()
		CountOutcomes(n[0], n[1], nil, rs.Status.History)
		ObserveStatus(rs)
	}
}

func forgetAll(names [][2]string) {
	for _, n := range names {
		Forget(n[0], n[1])
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// retainedPerObject is the heap the series of one idle RotatedSecret keep, measured over n of them.
func retainedPerObject(n int) float64 {
	names := idleNames(n)
	before := liveHeap()
	observeIdle(names)
	after := liveHeap()
	forgetAll(names)
	runtime.KeepAlive(names)
	return float64(int64(after)-int64(before)) / float64(n)
}

// The per-object series were 23 MB of the idle operator's 130 MB live heap at 10,000 RotatedSecrets (about
// 2,300 bytes an object with client_golang's vectors); they must stay a small fraction of that.
func TestIdleSeriesRetainLittleHeap(t *testing.T) {
	g := NewWithT(t)
	perObject := retainedPerObject(idleObjects)
	t.Logf("heap retained by the series of one idle RotatedSecret, at %d: %.0f bytes", idleObjects, perObject)
	g.Expect(perObject).To(BeNumerically("<", 600))
}

// BenchmarkIdleSeriesHeap reports the heap retained per idle RotatedSecret at 10,000 of them.
func BenchmarkIdleSeriesHeap(b *testing.B) {
	var perObject float64
	for range b.N {
		perObject = retainedPerObject(idleObjects)
	}
	b.ReportMetric(perObject, "B/object")
}

// BenchmarkGatherIdle is one scrape of the operator's registry with 10,000 idle RotatedSecrets.
func BenchmarkGatherIdle(b *testing.B) {
	names := idleNames(idleObjects)
	observeIdle(names)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ctrlmetrics.Registry.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer() // forgetting is no part of a scrape
	forgetAll(names)
}

// Reconciles of different objects write while scrapes read: every count arrives, and every scrape is consistent
// (the race detector checks the text scrape's reads).
func TestConcurrentReconcilesAndScrapes(t *testing.T) {
	g := NewWithT(t)
	names := idleNames(16)
	defer forgetAll(names)
	done := make(chan struct{})
	for _, n := range names {
		go func() {
			defer func() { done <- struct{}{} }()
			rs := object(n[0], n[1])
			for i := range 200 {
				rs.Status.FailedAttempts = int32(i % 3)
				Rotations.WithLabelValues(n[0], n[1], "Manual").Inc()
				ObserveStatus(rs)
			}
		}()
	}
	scrape := serveTo(NewHandler(), "") // reads the series after releasing the lock: they are never changed
	for range 20 {
		_, err := ctrlmetrics.Registry.Gather()
		g.Expect(err).NotTo(HaveOccurred())
		scrape()
	}
	for range names {
		<-done
	}
	for _, n := range names {
		g.Expect(testutil.ToFloat64(Rotations.WithLabelValues(n[0], n[1], "Manual"))).To(Equal(200.0))
		g.Expect(testutil.ToFloat64(FailedAttempts.WithLabelValues(n[0], n[1]))).To(Equal(float64(199 % 3)))
	}
}
