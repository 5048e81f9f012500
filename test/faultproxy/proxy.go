// Package faultproxy is a reverse proxy that stands between an operator under test and a kube-apiserver and
// gives the operator a bad day: 500s, 429s with Retry-After, 409 Conflicts on status writes, writes whose answer
// is lost, two-second latency spikes, watches cut mid-stream, and full outages. It listens on plain HTTP on
// 127.0.0.1 and forwards to the API server with the credentials of the rest.Config it is given, so the operator's
// rest.Config (Config) needs neither TLS nor credentials. Only what goes through the proxy is disturbed: a test
// keeps its own client on the API server directly.
//
// Which request gets which fault is drawn from a math/rand source seeded with Faults.Seed. Requests arrive
// concurrently, so a seed fixes the mix of faults, not which request meets which.
package faultproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Faults are the proxy's knobs. Rates are fractions of requests, from 0 to 1.
type Faults struct {
	// Seed seeds the source every fault is drawn from.
	Seed uint64
	// Grace is how many requests pass untouched before the first fault: the requests of a manager starting up.
	Grace int
	// InternalError is the rate of requests answered 500 InternalError without reaching the API server.
	InternalError float64
	// TooManyRequests is the rate of requests answered 429 TooManyRequests with Retry-After: 1, as the API
	// server's priority and fairness does; client-go waits and sends them again by itself.
	TooManyRequests float64
	// StatusConflict is the rate of PATCH and PUT requests on a status subresource answered 409 Conflict
	// without reaching the API server.
	StatusConflict float64
	// LostResponse is the rate of writes (POST, PUT, PATCH, DELETE) that reach the API server and whose answer
	// is then dropped with the connection: the write happened, the client cannot tell (what an API server timeout
	// after the storage write looks like).
	LostResponse float64
	// Spike is the rate of requests held for SpikeDelay before they are forwarded (or answered with a fault).
	Spike      float64
	SpikeDelay time.Duration
	// WatchResetMin and WatchResetMax: each watch is cut, connection closed mid-stream, after a random time in
	// [WatchResetMin, WatchResetMax). A zero WatchResetMax cuts no watch.
	WatchResetMin, WatchResetMax time.Duration
}

// Kind names a fault; Counts reports how many of each were injected.
type Kind string

// Fault kinds.
const (
	KindInternalError   Kind = "500"
	KindTooManyRequests Kind = "429"
	KindStatusConflict  Kind = "409-status"
	KindLostResponse    Kind = "lost-response"
	KindSpike           Kind = "latency-spike"
	KindWatchReset      Kind = "watch-reset"
	// KindOutage counts requests dropped (connection closed, no answer) during an outage, and watches it cut.
	KindOutage Kind = "outage"
)

// Proxy is a running fault proxy.
type Proxy struct {
	faults   Faults
	upstream *httputil.ReverseProxy
	// transport reaches the API server with the upstream config's TLS and credentials.
	transport http.RoundTripper
	target    *url.URL
	server    *http.Server
	listener  net.Listener

	mu          sync.Mutex
	rand        *rand.Rand
	requests    int
	counts      map[Kind]int
	outageUntil time.Time
	// watches cancels the watches in flight, by id, so that an outage cuts them.
	watches map[int]context.CancelCauseFunc
	nextID  int
	// observe, if set, is called with every request that reaches the proxy (Observe).
	observe func(*http.Request)
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to the API server of upstream with its TLS
// settings and credentials.
func New(upstream *rest.Config, f Faults) (*Proxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream host: %w", err)
	}
	if target.Scheme == "" {
		target.Scheme = "https"
	}
	rt, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream transport: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		faults:    f,
		transport: rt,
		target:    target,
		listener:  l,
		rand:      rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)),
		counts:    map[Kind]int{},
		watches:   map[int]context.CancelCauseFunc{},
	}
	p.upstream = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
		},
		Transport: rt,
		// Watches stream: every event goes to the client at once.
		FlushInterval: -1,
		ErrorHandler:  p.upstreamFailed,
		// A watch cut on purpose is a read error mid-copy; it is counted, not logged.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// URL is the proxy's address, http://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "http://" + p.listener.Addr().String() }

// Config returns a rest.Config that reaches the API server through the proxy: no TLS, no credentials (the proxy
// adds them).
func (p *Proxy) Config() *rest.Config { return &rest.Config{Host: p.URL()} }

// Close stops the proxy and closes every connection, watches included.
func (p *Proxy) Close() error { return p.server.Close() }

// Outage makes the API server unreachable for d from now: the watches in flight are cut and every request is
// dropped without an answer (its connection closed) until d has passed. It returns at once.
func (p *Proxy) Outage(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outageUntil = time.Now().Add(d)
	for id, cancel := range p.watches {
		cancel(errOutage)
		delete(p.watches, id)
		p.counts[KindOutage]++
	}
}

// Counts returns how many faults of each kind were injected so far.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Requests returns how many requests reached the proxy so far.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Observe calls f with every request that reaches the proxy from now on, before its fate is drawn, so that a
// benchmark can tell which requests an operator makes (a proxy with no Faults only counts). f is called from the
// request's goroutine, concurrently, and must not block; nil stops observing.
func (p *Proxy) Observe(f func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observe = f
}

// Summary is the request count and the fault counts in one line, kinds in name order, for a test's log.
func (p *Proxy) Summary() string {
	counts := p.Counts()
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	parts := []string{fmt.Sprintf("%d requests", p.Requests())}
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[Kind(k)]))
	}
	return strings.Join(parts, " ")
}

var (
	errOutage     = fmt.Errorf("faultproxy: outage")
	errWatchReset = fmt.Errorf("faultproxy: watch reset")
)

// plan is what happens to one request.
type plan struct {
	spike bool
	// fault answers the request instead of the API server ("" forwards it; KindLostResponse forwards it and
	// drops the answer).
	fault Kind
	// resetAfter cuts a watch after this long; zero never.
	resetAfter time.Duration
}

// draw decides the fate of a request.
func (p *Proxy) draw(r *http.Request) plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	f := p.faults
	if p.requests <= f.Grace {
		return plan{}
	}
	var pl plan
	pl.spike = p.rand.Float64() < f.Spike
	write := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete
	statusWrite := (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.HasSuffix(r.URL.Path, "/status")
	switch u := p.rand.Float64(); {
	case u < f.InternalError:
		pl.fault = KindInternalError
	case u < f.InternalError+f.TooManyRequests:
		pl.fault = KindTooManyRequests
	case statusWrite && p.rand.Float64() < f.StatusConflict:
		pl.fault = KindStatusConflict
	case write && p.rand.Float64() < f.LostResponse:
		pl.fault = KindLostResponse
	}
	if isWatch(r) && f.WatchResetMax > 0 {
		pl.resetAfter = f.WatchResetMin + time.Duration(p.rand.Int64N(int64(f.WatchResetMax-f.WatchResetMin)+1))
	}
	return pl
}

func (p *Proxy) count(k Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[k]++
}

// inOutage reports whether an outage is going on, and counts the request it drops if so.
func (p *Proxy) inOutage() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Now().Before(p.outageUntil) {
		p.counts[KindOutage]++
		return true
	}
	return false
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	observe := p.observe
	p.mu.Unlock()
	if observe != nil {
		observe(r)
	}
	pl := p.draw(r)
	if pl.spike {
		p.count(KindSpike)
		select {
		case <-time.After(p.faults.SpikeDelay):
		case <-r.Context().Done():
			return
		}
	}
	if p.inOutage() {
		drop(w)
		return
	}
	switch pl.fault {
	case KindInternalError:
		p.count(pl.fault)
		answer(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "faultproxy: injected internal error")
		return
	case KindTooManyRequests:
		p.count(pl.fault)
		w.Header().Set("Retry-After", "1")
		answer(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, "faultproxy: injected throttling, try again later")
		return
	case KindStatusConflict:
		p.count(pl.fault)
		answer(w, http.StatusConflict, metav1.StatusReasonConflict,
			"faultproxy: injected conflict: the object has been modified; please apply your changes to the latest version and try again")
		return
	case KindLostResponse:
		p.count(pl.fault)
		p.forwardAndDrop(w, r)
		return
	}
	if isWatch(r) {
		p.serveWatch(w, r, pl.resetAfter)
		return
	}
	p.upstream.ServeHTTP(w, r)
}

// serveWatch forwards a watch, cutting it after resetAfter (if not zero) or when an outage starts.
func (p *Proxy) serveWatch(w http.ResponseWriter, r *http.Request, resetAfter time.Duration) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	p.mu.Lock()
	id := p.nextID
	p.nextID++
	p.watches[id] = cancel
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watches, id)
		p.mu.Unlock()
	}()
	if resetAfter > 0 {
		t := time.AfterFunc(resetAfter, func() {
			p.mu.Lock()
			_, running := p.watches[id]
			delete(p.watches, id)
			p.mu.Unlock()
			if running {
				p.count(KindWatchReset)
				cancel(errWatchReset)
			}
		})
		defer t.Stop()
	}
	// A cancelled upstream request mid-stream makes ReverseProxy abort the response: the client's connection is
	// closed without the end of the chunked stream, as when the API server's end of a watch goes away.
	p.upstream.ServeHTTP(w, r.WithContext(ctx))
}

// forwardAndDrop sends the request to the API server, reads the whole answer and then closes the client's
// connection without it.
func (p *Proxy) forwardAndDrop(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = p.target.Scheme, p.target.Host, p.target.Host, ""
	if resp, err := p.transport.RoundTrip(out); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	drop(w)
}

// upstreamFailed answers a request the API server could not be reached for. A request cut on purpose (watch
// reset, outage) or given up by the client is dropped without an answer.
func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		drop(w)
		return
	}
	answer(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, "faultproxy: upstream: "+err.Error())
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the response, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// answer writes a metav1.Status, as the API server does, so that client-go reports the code and reason.
func answer(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	body, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
