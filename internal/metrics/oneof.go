package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// OneOf is a gauge with at most one series per RotatedSecret, set to 1: a state with a label that varies (a
// reason, a step). It remembers each object's label, so a change deletes the old series at once instead of
// scanning every series of the vector.
type OneOf struct {
	vec *prometheus.GaugeVec
	mu  sync.Mutex
	// cur is the label of each object's series, keyed by namespace and name.
	cur map[[2]string]string
}

func newOneOf(opts prometheus.GaugeOpts, label string) *OneOf {
	return &OneOf{vec: prometheus.NewGaugeVec(opts, []string{"namespace", "name", label}), cur: map[[2]string]string{}}
}

// Set makes label the object's one series; an empty label removes it.
func (o *OneOf) Set(namespace, name, label string) {
	key := [2]string{namespace, name}
	o.mu.Lock()
	defer o.mu.Unlock()
	old, ok := o.cur[key]
	if ok && old == label {
		return
	}
	if ok {
		o.vec.DeleteLabelValues(namespace, name, old)
		delete(o.cur, key)
	}
	if label == "" {
		return
	}
	o.vec.WithLabelValues(namespace, name, label).Set(1)
	o.cur[key] = label
}
