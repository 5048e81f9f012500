package metrics

import (
	"compress/gzip"
	"io"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Handler serves /metrics: the text exposition the promhttp handler of controller-runtime's metrics server
// served, byte for byte (headers, gzip, families sorted by name, promhttp's name[] filter), with the store's
// families written straight from the store (text.go) instead of gathered as a dto.Metric per series. Every
// other family is gathered from the registry and encoded by expfmt, as before.
type Handler struct {
	// registry gathers every family but the store's.
	registry prometheus.Gatherer
	store    *store
	// full is promhttp over the operator's whole registry, the store's series included. It answers a request
	// for any format but text 0.0.4 (protobuf), and a scrape the registry cannot gather (an HTTP 500).
	full http.Handler
}

// NewHandler returns the handler of the operator's metrics endpoint.
func NewHandler() *Handler {
	return &Handler{registry: base, store: objects,
		full: promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})}
}

var gzips = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// ServeHTTP writes the exposition the request negotiates.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.Negotiate(r.Header)
	if format.FormatType() != expfmt.TypeTextPlain {
		h.full.ServeHTTP(w, r)
		return
	}
	families, err := h.registry.Gather()
	if err != nil {
		// promhttp gathers again and answers the error as it always did.
		h.full.ServeHTTP(w, r)
		return
	}
	sc := scrapes.Get().(*scrape)
	defer sc.release()
	if !sc.snapshot(h.store) {
		// A namespace or name the registry refuses: promhttp answers Gather's error.
		h.full.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if gzipAccepted(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzips.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			_ = gz.Close()
			gz.Reset(io.Discard)
			gzips.Put(gz)
		}()
		out = gz
	}
	sc.w.Reset(out)
	// The deferred gzip Close runs after this Flush, as promhttp closes its gzip writer after the last write.
	if err := h.write(sc, families, format, names(r)); err == nil {
		_ = sc.w.Flush()
	}
}

// write merges the gathered families and the store's, both sorted by name (their names differ: the registry
// refuses a clash), and stops at the first error, which promhttp's HTTPErrorOnError only stops at too: the
// response has begun.
func (h *Handler) write(sc *scrape, families []*dto.MetricFamily, format expfmt.Format, only map[string]bool) error {
	enc := expfmt.NewEncoder(sc.w, format)
	mine := h.store.byName
	for _, mf := range families {
		for ; len(mine) > 0 && mine[0].name < mf.GetName(); mine = mine[1:] {
			if err := family(sc, mine[0], only); err != nil {
				return err
			}
		}
		if only != nil && !only[mf.GetName()] {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	for _, f := range mine {
		if err := family(sc, f, only); err != nil {
			return err
		}
	}
	return nil
}

func family(sc *scrape, f *Family, only map[string]bool) error {
	if only != nil && !only[f.name] {
		return nil
	}
	return sc.family(f)
}

// names are the families a request's name[] parameters select (promhttp's filter), nil for all.
func names(r *http.Request) map[string]bool {
	if r.URL.RawQuery == "" {
		return nil
	}
	values := r.URL.Query()["name[]"]
	if len(values) == 0 {
		return nil
	}
	only := make(map[string]bool, len(values))
	for _, n := range values {
		only[n] = true
	}
	return only
}
