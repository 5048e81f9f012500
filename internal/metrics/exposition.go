package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The names of the labels every series has; label pairs point at them.
var labelNamespace, labelName = "namespace", "name"

// sample is one series as a scrape reads it: what a client_golang metric's Write would fill in.
type sample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	counter *dto.Counter
	gauge   *dto.Gauge
}

// Desc is the series' family descriptor.
func (s *sample) Desc() *prometheus.Desc { return s.desc }

// Write fills in the series; what it points at is shared with other series of the scrape and never changed.
func (s *sample) Write(m *dto.Metric) error {
	m.Label, m.Counter, m.Gauge = s.labels, s.counter, s.gauge
	return nil
}

// samples builds the series of objs (of one family, or all when only is nil) for one scrape. It allocates a
// handful of arrays for the whole scrape instead of a few objects per series, and shares label pairs: one per
// namespace, one per object's name, one per third-label value. Readers of gathered metrics never change them
// (client_golang's own vectors hand out the same label pairs to every scrape).
func samples(objs map[key][]entry, only *Family) []sample {
	series, named, counters, thirds := 0, 0, 0, 0
	for _, es := range objs {
		n := 0
		for _, e := range es {
			if only != nil && e.family != only {
				continue
			}
			n++
			if e.family.kind == prometheus.CounterValue {
				counters++
			}
			if e.family.label != "" {
				thirds++
			}
		}
		series += n
		if n > 0 {
			named++
		}
	}
	if series == 0 {
		return nil
	}
	out := make([]sample, series)
	labels := make([]*dto.LabelPair, 2*series+thirds)
	values := make([]float64, series)
	counterValues := make([]dto.Counter, counters)
	created := make([]timestamppb.Timestamp, counters)
	gaugeValues := make([]dto.Gauge, series-counters)
	namePairs := make([]dto.LabelPair, named)
	names := make([]string, named)
	shared := map[[2]string]*dto.LabelPair{}
	pair := func(name *string, value string) *dto.LabelPair {
		p := shared[[2]string{*name, value}]
		if p == nil {
			p = &dto.LabelPair{Name: name, Value: &value}
			shared[[2]string{*name, value}] = p
		}
		return p
	}

	i, c := 0, 0
	for k, es := range objs {
		var namespacePair, namePair *dto.LabelPair
		for _, e := range es {
			if only != nil && e.family != only {
				continue
			}
			if namePair == nil {
				names[0] = k.name
				namePairs[0].Name, namePairs[0].Value = &labelName, &names[0]
				namePair, namespacePair = &namePairs[0], pair(&labelNamespace, k.namespace)
				names, namePairs = names[1:], namePairs[1:]
			}
			// Sorted by label name, as the exposition wants them: name, namespace, then the third (outcome,
			// reason, step or trigger).
			n := 2
			labels[0], labels[1] = namePair, namespacePair
			if e.family.label != "" {
				labels[2] = pair(&e.family.label, e.label)
				n = 3
			}
			s := &out[i]
			s.desc, s.labels, labels = e.family.desc, labels[:n:n], labels[n:]
			values[i] = e.value
			if e.family.kind == prometheus.CounterValue {
				created[c].Seconds, created[c].Nanos = e.created/1e9, int32(e.created%1e9)
				counterValues[c].Value, counterValues[c].CreatedTimestamp = &values[i], &created[c]
				s.counter = &counterValues[c]
				c++
			} else {
				gaugeValues[i-c].Value = &values[i]
				s.gauge = &gaugeValues[i-c]
			}
			i++
		}
	}
	return out
}
