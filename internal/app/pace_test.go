package app

import (
	"runtime"
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

func TestPacedPercentCollectsLargeHeapsSooner(t *testing.T) {
	g := NewWithT(t)
	const mib = 1 << 20
	for _, c := range []struct {
		live  int64
		admin int
		want  int
	}{
		{0, 100, 100},         // nothing known yet: the admin's pace
		{8 * mib, 100, 100},   // small: grows by at least paceFloor
		{32 * mib, 100, 50},   // grows by paceFloor, half of it
		{64 * mib, 100, 25},   // from 4 x paceFloor: a quarter
		{1024 * mib, 100, 25}, // never below a quarter
		{1024 * mib, 10, 10},  // GOGC=10 stays the upper bound
		{8 * mib, 50, 50},     // and applies to small heaps too
		{1024 * mib, -1, -1},  // GOGC=off stays off
		{1024 * mib, 400, 25}, // a lax GOGC is paced like the default
		{16 * mib, 400, 100},  // until the floor
	} {
		g.Expect(pacedPercent(c.live, c.admin)).To(Equal(c.want), "live %d MiB, GOGC=%d", c.live/mib, c.admin)
	}
}

func TestHeapPaceSetsOnChangeAndRestores(t *testing.T) {
	g := NewWithT(t)
	percent, live := 100, int64(8<<20)
	var sets []int
	p := newHeapPace(func() int64 { return live }, func(v int) int { old := percent; percent = v; sets = append(sets, v); return old })
	g.Expect(percent).To(Equal(100), "reading the admin's percent leaves it")
	sets = nil
	p.look()
	g.Expect(sets).To(BeEmpty(), "a small heap keeps the default")
	live = 200 << 20
	p.look()
	p.look()
	g.Expect(sets).To(Equal([]int{25}), "set once while it stays large")
	p.restore()
	g.Expect(percent).To(Equal(100))
}

// fragmentation is how much more heap than objects interleaving n long-lived 64-byte objects with garbage
// (8 times as much, as a mass rotation allocates around the caches' objects) leaves in use after a collection.
func fragmentation(n int) float64 {
	kept := make([]*[64]byte, 0, n)
	var sink *[64]byte
	for range n {
		kept = append(kept, new([64]byte))
		for range 8 {
			sink = new([64]byte)
		}
	}
	runtime.KeepAlive(sink)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	runtime.KeepAlive(kept)
	return float64(m.HeapInuse) / float64(m.HeapAlloc)
}

// The heap's pace is what keeps a mass rotation's garbage from pinning spans: the same allocations leave less heap
// in use at the paced percent than at Go's default.
func TestPacedHeapFragmentsLess(t *testing.T) {
	g := NewWithT(t)
	const n = 1 << 20 // 64 MiB kept
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	runtime.GC()
	loose := fragmentation(n)
	runtime.GC()
	debug.SetGCPercent(pacedPercent(64<<20, 100))
	paced := fragmentation(n)
	t.Logf("heap in use per byte of objects: %.2f at GOGC=100, %.2f paced", loose, paced)
	g.Expect(paced).To(BeNumerically("<", loose))
}
