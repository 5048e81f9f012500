package metrics

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Family is a metric with one series per RotatedSecret, or one per RotatedSecret and value of a third label: its
// labels are namespace, name and, for some, a trigger, outcome, reason or step.
type Family struct {
	desc *prometheus.Desc
	// name and help are the descriptor's, for the text exposition (text.go).
	name, help string
	kind       prometheus.ValueType
	// label is the name of the third label; "" when the family has only namespace and name.
	label string
}

func newFamily(kind prometheus.ValueType, name, help, label string) *Family {
	labels := []string{"namespace", "name"}
	if label != "" {
		labels = append(labels, label)
	}
	return &Family{desc: prometheus.NewDesc(name, help, labels, nil), name: name, help: help, kind: kind, label: label}
}

// WithLabelValues names one series of the family: namespace, name and, for a family with a third label, its
// value. Like client_golang's vectors it panics on a wrong number of values; unlike them it creates nothing
// until the series is counted.
func (f *Family) WithLabelValues(lvs ...string) Series {
	want := 2
	if f.label != "" {
		want = 3
	}
	if len(lvs) != want {
		panic(fmt.Sprintf("%s: %d label values for %d labels", f.desc, len(lvs), want))
	}
	s := Series{family: f, key: key{lvs[0], lvs[1]}}
	if want == 3 {
		s.label = lvs[2]
	}
	return s
}

// Describe sends the family's descriptor.
func (f *Family) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect sends the family's series; the operator's registry collects them all through one store instead.
func (f *Family) Collect(ch chan<- prometheus.Metric) { objects.collect(ch, f) }

// Series is one series of a Family. As a Collector it sends the series alone, at 0 when it has none yet (what
// client_golang's WithLabelValues would have created), and creates nothing: for tests that read one value.
type Series struct {
	family *Family
	key    key
	label  string
}

// Inc adds one to the series of a counter, creating it at the first call.
func (s Series) Inc() { objects.inc(s.key, s.family, s.label) }

// Describe sends the family's descriptor.
func (s Series) Describe(ch chan<- *prometheus.Desc) { s.family.Describe(ch) }

// Collect sends the series.
func (s Series) Collect(ch chan<- prometheus.Metric) {
	e, ok := objects.get(s.key, s.family, clean(s.label))
	if !ok {
		e = entry{family: s.family, label: clean(s.label), created: time.Now().UnixNano()}
	}
	out := samples(map[key][]entry{s.key: {e}}, nil)
	ch <- &out[0]
}

// key names a RotatedSecret.
type key struct{ namespace, name string }

// entry is one series of an object: 40 bytes, where a client_golang series takes about 500.
type entry struct {
	family *Family
	// label is the value of the family's third label, "" for a family without one.
	label string
	value float64
	// created is when a counter's series was created, in Unix nanoseconds: client_golang exports it as the
	// counter's created timestamp (protobuf exposition, OpenMetrics _created lines). 0 for gauges.
	created int64
}

// store keeps the series of every RotatedSecret: a counter's series from its first Inc until the object is
// forgotten; a gauge's series as the last ObserveStatus set it (absent ones are not kept). Reconciles of
// different objects write concurrently and scrapes read concurrently, under one lock held only to copy.
type store struct {
	families []*Family
	// byName are the families sorted by name, the order of the exposition.
	byName []*Family
	mu     sync.RWMutex
	// objects are the series of each object; an object without any has no entry. A stored slice is never
	// changed: a change stores a new one, so a scrape copies the slices' headers under the lock and reads them
	// after releasing it.
	objects map[key][]entry
}

func newStore(families ...*Family) *store {
	byName := slices.Clone(families)
	slices.SortFunc(byName, func(a, b *Family) int { return strings.Compare(a.name, b.name) })
	return &store{families: families, byName: byName, objects: map[key][]entry{}}
}

// Describe sends the descriptors of every family the store holds, so the registry refuses a clash of names.
func (s *store) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range s.families {
		f.Describe(ch)
	}
}

// Collect sends every series of every object.
func (s *store) Collect(ch chan<- prometheus.Metric) { s.collect(ch, nil) }

// collect sends the series of one family, or of all when only is nil. The samples are built under the read lock
// and sent after it is released, so a slow scrape never holds up a reconcile.
func (s *store) collect(ch chan<- prometheus.Metric, only *Family) {
	s.mu.RLock()
	out := samples(s.objects, only)
	s.mu.RUnlock()
	for i := range out {
		ch <- &out[i]
	}
}

func (s *store) get(k key, f *Family, label string) (entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.objects[k] {
		if e.family == f && e.label == label {
			return e, true
		}
	}
	return entry{}, false
}

// inc adds one to a counter's series.
func (s *store) inc(k key, f *Family, label string) {
	label = clean(label)
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.objects[k]
	// A new slice, as every change makes one (a scrape may be reading the stored one); one longer when the
	// series is new: an object has a handful of series and gains one rarely, so no spare capacity.
	for i := range es {
		if es[i].family == f && es[i].label == label {
			next := slices.Clone(es)
			next[i].value++
			s.objects[k] = next
			return
		}
	}
	grown := make([]entry, len(es), len(es)+1)
	copy(grown, es)
	s.objects[k] = append(grown, entry{family: f, label: label, value: 1, created: time.Now().UnixNano()})
}

// setGauges makes gauges the object's gauge series, in place of the ones it had; its counters stay. Nothing is
// written when they are unchanged, the common case of an idle reconcile.
func (s *store) setGauges(k key, gauges []entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.objects[k]
	// Gauges are stored in the order ObserveStatus lists them, so equal lists mean unchanged series.
	counters, stored, same := 0, 0, true
	for _, e := range es {
		if e.family.kind == prometheus.CounterValue {
			counters++
			continue
		}
		same = same && stored < len(gauges) && gauges[stored] == e
		stored++
	}
	if same && stored == len(gauges) {
		return
	}
	if counters+len(gauges) == 0 {
		delete(s.objects, k)
		return
	}
	next := make([]entry, 0, counters+len(gauges))
	for _, e := range es {
		if e.family.kind == prometheus.CounterValue {
			next = append(next, e)
		}
	}
	s.objects[k] = append(next, gauges...)
}

func (s *store) forget(k key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, k)
}

// clean makes a label value one the registry accepts (valid UTF-8; client_golang's vectors panicked on another)
// and gives known values the constant's string, so the series does not keep a decoded copy of it alive.
func clean(v string) string {
	if c, ok := known[v]; ok {
		return c
	}
	if !utf8.ValidString(v) {
		return strings.ToValidUTF8(v, "\uFFFD")
	}
	return v
}
