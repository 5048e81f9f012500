package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// requests counts the operator's API requests by verb and resource, from its own transport: the benchmark's
// client and the bare loop are not counted.
type requests struct {
	mu     sync.Mutex
	counts map[string]int
}

// config returns a copy of c whose requests are counted.
func (r *requests) config(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			r.add(requestKind(req))
			return rt.RoundTrip(req)
		})
	})
	return c
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (r *requests) add(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[kind]++
}

// take returns the counts so far and starts again from zero.
func (r *requests) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.counts
	r.counts = nil
	return out
}

// requestKind names a request as "VERB resource[/subresource]": GET of a collection is LIST, with ?watch WATCH.
func requestKind(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// /api/v1/... or /apis/GROUP/VERSION/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return req.Method + " " + req.URL.Path
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return req.Method + " namespaces"
	}
	resource, named := parts[0], len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	verb := req.Method
	switch {
	case verb == http.MethodGet && req.URL.Query().Get("watch") == "true":
		verb = "WATCH"
	case verb == http.MethodGet && !named:
		verb = "LIST"
	}
	return verb + " " + resource
}

// report writes requests per rotation (all, and writes alone) as metrics and logs the counts by kind.
func reportRequests(b *testing.B, counts map[string]int, rotations int) {
	b.Helper()
	var all, writes int
	kinds := make([]string, 0, len(counts))
	for k, n := range counts {
		kinds = append(kinds, k)
		all += n
		if verb, _, _ := strings.Cut(k, " "); verb != "GET" && verb != "LIST" && verb != "WATCH" {
			writes += n
		}
	}
	slices.Sort(kinds)
	var lines []string
	for _, k := range kinds {
		lines = append(lines, fmt.Sprintf("%s: %.2f", k, float64(counts[k])/float64(rotations)))
	}
	b.Logf("requests per rotation by kind (%d rotations): %s", rotations, strings.Join(lines, ", "))
	b.ReportMetric(float64(all)/float64(rotations), "req/rotation")
	b.ReportMetric(float64(writes)/float64(rotations), "writes/rotation")
}

// waitForCommits polls until want RotatedSecrets in ns have committed their first revision and have nothing
// pending: every request of their rotation has been made.
func waitForCommits(b *testing.B, ns string, want int) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var list rotationv1alpha1.RotatedSecretList
		if err := cl.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		got := 0
		for i := range list.Items {
			if st := list.Items[i].Status; st.CurrentRevision >= 1 && st.Pending == nil {
				got++
			}
		}
		if got >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("timed out waiting for %d commits in %s", want, ns)
}
