package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// The text exposition (format 0.0.4) of the store's families, written straight from the store: what expfmt's
// MetricFamilyToText writes for the families client_golang's registry gathers from it (exposition.go), without
// a dto.Metric per series, which came to 17 MB a scrape at 10,000 idle RotatedSecrets. handler_test.go compares
// the two byte for byte.

// row is one object in a scrape's snapshot: its key and its series (a stored slice, never changed).
type row struct {
	key    key
	series []entry
}

// scrape is what a text scrape reuses from the last one: the snapshot of the store, one object's series of a
// family, the line being written and the buffered writer. Pooled, so that a scrape of an idle operator leaves
// next to no garbage.
type scrape struct {
	rows   []row
	series []entry
	line   []byte
	w      *bufio.Writer
}

var scrapes = sync.Pool{New: func() any { return &scrape{w: bufio.NewWriterSize(io.Discard, 32<<10)} }}

// release returns sc to the pool without references to the store's slices (a forgotten object's series are
// not kept alive by a pooled snapshot) or to the response.
func (sc *scrape) release() {
	clear(sc.rows)
	clear(sc.series)
	sc.rows, sc.series = sc.rows[:0], sc.series[:0]
	sc.w.Reset(io.Discard)
	scrapes.Put(sc)
}

// snapshot copies the store's objects (keys and slice headers) under the read lock, then sorts them as
// client_golang sorts series: by label values in label-name order, name before namespace. It reports false when
// a namespace or name is not valid UTF-8: the registry refuses such a series (Gather fails) and the caller
// leaves the answer to promhttp. The store's own label values are valid (clean).
func (sc *scrape) snapshot(s *store) bool {
	s.mu.RLock()
	sc.rows = slices.Grow(sc.rows[:0], len(s.objects))
	for k, es := range s.objects {
		sc.rows = append(sc.rows, row{k, es})
	}
	s.mu.RUnlock()
	for _, r := range sc.rows {
		if !utf8.ValidString(r.key.namespace) || !utf8.ValidString(r.key.name) {
			return false
		}
	}
	slices.SortFunc(sc.rows, func(a, b row) int {
		if c := strings.Compare(a.key.name, b.key.name); c != 0 {
			return c
		}
		return strings.Compare(a.key.namespace, b.key.namespace)
	})
	return true
}

// family writes the HELP and TYPE lines and the series of f, or nothing when f has no series (client_golang
// gathers no family without one).
func (sc *scrape) family(f *Family) error {
	header := false
	for _, r := range sc.rows {
		sc.series = sc.series[:0]
		for _, e := range r.series {
			if e.family == f {
				sc.series = append(sc.series, e)
			}
		}
		if len(sc.series) == 0 {
			continue
		}
		if !header {
			header = true
			if _, err := sc.w.Write(appendHeader(sc.line[:0], f)); err != nil {
				return err
			}
		}
		// An object's series of one family differ in the third label only.
		slices.SortFunc(sc.series, func(a, b entry) int { return strings.Compare(a.label, b.label) })
		for _, e := range sc.series {
			sc.line = appendSeries(sc.line[:0], r.key, e)
			if _, err := sc.w.Write(sc.line); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendHeader appends f's HELP and TYPE lines (the registry gathers every family with its HELP, "" or not).
func appendHeader(b []byte, f *Family) []byte {
	b = append(append(append(b, "# HELP "...), f.name...), ' ')
	b = appendEscaped(b, f.help, false)
	b = append(append(append(b, "\n# TYPE "...), f.name...), ' ')
	switch f.kind {
	case prometheus.CounterValue:
		b = append(b, "counter"...)
	case prometheus.GaugeValue:
		b = append(b, "gauge"...)
	default:
		b = append(b, "untyped"...)
	}
	return append(b, '\n')
}

// appendSeries appends the line of one series: labels sorted by name (name, namespace, then the third: outcome,
// reason, step or trigger), as exposition.go hands them to the registry.
func appendSeries(b []byte, k key, e entry) []byte {
	f := e.family
	b = append(append(b, f.name...), `{name="`...)
	b = append(appendEscaped(b, k.name, true), `",namespace="`...)
	b = append(appendEscaped(b, k.namespace, true), '"')
	if f.label != "" {
		b = append(append(append(b, ','), f.label...), `="`...)
		b = append(appendEscaped(b, e.label, true), '"')
	}
	b = append(b, "} "...)
	return append(appendFloat(b, e.value), '\n')
}

// appendEscaped appends s escaped as expfmt escapes HELP (backslash, newline) and, with quote, label values
// (also the double quote). Like expfmt's strings.Replacer it works on bytes, which leaves UTF-8 intact.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat appends f as expfmt's writeFloat writes it: 1, 0 (also -0), -1, NaN, +Inf and -Inf spelled out,
// anything else in the shortest 'g' form (1.7672688e+09, 2.5, 1e+21).
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
