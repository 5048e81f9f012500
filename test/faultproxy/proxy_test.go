package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
)

// apiServer is a stand-in API server: it counts requests, answers 200 {} and streams a watch until the client
// goes away.
type apiServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newAPIServer(t *testing.T) *apiServer {
	a := &apiServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			_, _ = io.WriteString(w, "{}")
			return
		}
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "{\"type\":\"BOOKMARK\",\"n\":%d}\n", i); err != nil {
				return
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func start(t *testing.T, f Faults) (*Proxy, *apiServer) {
	a := newAPIServer(t)
	p, err := New(&rest.Config{Host: a.URL}, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, a
}

func do(p *Proxy, method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, p.URL()+path, strings.NewReader("{}"))
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

func TestForwardsWithoutFaults(t *testing.T) {
	g := NewWithT(t)
	p, a := start(t, Faults{})
	resp, err := do(p, http.MethodGet, "/api/v1/namespaces")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(a.requests.Load()).To(BeEquivalentTo(1))
	g.Expect(p.Counts()).To(BeEmpty())
}

func TestObservesEveryRequest(t *testing.T) {
	g := NewWithT(t)
	p, _ := start(t, Faults{InternalError: 1})
	var seen []string
	var mu sync.Mutex
	p.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" "+r.URL.Path)
	})
	_, err := do(p, http.MethodPost, "/api/v1/namespaces/ns/secrets")
	g.Expect(err).NotTo(HaveOccurred())
	p.Observe(nil)
	_, err = do(p, http.MethodGet, "/api/v1/namespaces")
	g.Expect(err).NotTo(HaveOccurred())
	mu.Lock()
	defer mu.Unlock()
	g.Expect(seen).To(Equal([]string{"POST /api/v1/namespaces/ns/secrets"}), "a request answered with a fault is observed too")
}

func TestAnswersErrorsWithoutReachingTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	p, a := start(t, Faults{InternalError: 1})
	resp, err := do(p, http.MethodGet, "/api/v1/secrets")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusInternalServerError))

	p2, a2 := start(t, Faults{TooManyRequests: 1})
	resp, err = do(p2, http.MethodGet, "/api/v1/secrets")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests))
	g.Expect(resp.Header.Get("Retry-After")).To(Equal("1"))
	g.Expect(a.requests.Load() + a2.requests.Load()).To(BeZero())
	g.Expect(p.Counts()).To(Equal(map[Kind]int{KindInternalError: 1}))
	g.Expect(p2.Counts()).To(Equal(map[Kind]int{KindTooManyRequests: 1}))
}

func TestConflictsOnlyStatusWrites(t *testing.T) {
	g := NewWithT(t)
	p, a := start(t, Faults{StatusConflict: 1})
	path := "/apis/rotation.tribi.io/v1alpha1/namespaces/ns/rotatedsecrets/jwt"
	for _, m := range []string{http.MethodPatch, http.MethodPut} {
		resp, err := do(p, m, path+"/status")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.StatusCode).To(Equal(http.StatusConflict), m)
	}
	for _, c := range []struct{ method, path string }{{http.MethodPatch, path}, {http.MethodGet, path + "/status"}} {
		resp, err := do(p, c.method, c.path)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK), c.method+" "+c.path)
	}
	g.Expect(a.requests.Load()).To(BeEquivalentTo(2))
	g.Expect(p.Counts()).To(Equal(map[Kind]int{KindStatusConflict: 2}))
}

func TestLosesTheAnswerOfAWriteThatHappened(t *testing.T) {
	g := NewWithT(t)
	p, a := start(t, Faults{LostResponse: 1})
	_, err := do(p, http.MethodPost, "/api/v1/namespaces/ns/secrets")
	g.Expect(err).To(HaveOccurred(), "the connection closes without an answer")
	g.Expect(a.requests.Load()).To(BeEquivalentTo(1), "the write reached the API server")
	resp, err := do(p, http.MethodGet, "/api/v1/namespaces/ns/secrets")
	g.Expect(err).NotTo(HaveOccurred(), "reads are not lost")
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(p.Counts()).To(Equal(map[Kind]int{KindLostResponse: 1}))
}

func TestHoldsRequestsForASpike(t *testing.T) {
	g := NewWithT(t)
	p, _ := start(t, Faults{Spike: 1, SpikeDelay: 300 * time.Millisecond})
	begin := time.Now()
	resp, err := do(p, http.MethodGet, "/api/v1/secrets")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(time.Since(begin)).To(BeNumerically(">=", 300*time.Millisecond))
	g.Expect(p.Counts()).To(Equal(map[Kind]int{KindSpike: 1}))
}

// watch opens a watch through the proxy and returns a channel closed when the stream ends, and how many events
// it carried by then.
func watch(g Gomega, p *Proxy) (ended chan struct{}, events *atomic.Int32) {
	resp, err := http.Get(p.URL() + "/api/v1/secrets?watch=true")
	g.Expect(err).NotTo(HaveOccurred())
	ended, events = make(chan struct{}), &atomic.Int32{}
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		s := bufio.NewScanner(resp.Body)
		for s.Scan() {
			events.Add(1)
		}
	}()
	return ended, events
}

func TestCutsWatchesMidStream(t *testing.T) {
	g := NewWithT(t)
	p, _ := start(t, Faults{WatchResetMin: 200 * time.Millisecond, WatchResetMax: 300 * time.Millisecond})
	ended, events := watch(g, p)
	g.Eventually(ended).WithTimeout(5 * time.Second).Should(BeClosed())
	g.Expect(events.Load()).To(BeNumerically(">", 1), "events flowed before the cut")
	g.Expect(p.Counts()).To(Equal(map[Kind]int{KindWatchReset: 1}))
}

func TestOutageDropsEverythingForItsDuration(t *testing.T) {
	g := NewWithT(t)
	p, a := start(t, Faults{})
	ended, _ := watch(g, p)
	p.Outage(500 * time.Millisecond)
	g.Eventually(ended).WithTimeout(5*time.Second).Should(BeClosed(), "the watch is cut")
	before := a.requests.Load()
	_, err := do(p, http.MethodGet, "/api/v1/secrets")
	g.Expect(err).To(HaveOccurred())
	g.Expect(a.requests.Load()).To(Equal(before), "nothing reaches the API server")
	g.Eventually(func() error { _, err := do(p, http.MethodGet, "/api/v1/secrets"); return err }).
		WithTimeout(5 * time.Second).Should(Succeed())
	g.Expect(p.Counts()[KindOutage]).To(BeNumerically(">=", 2), "the watch and at least one request")
}

func TestGraceLetsTheFirstRequestsThrough(t *testing.T) {
	g := NewWithT(t)
	p, _ := start(t, Faults{Grace: 2, InternalError: 1})
	for i := range 3 {
		resp, err := do(p, http.MethodGet, "/api/v1/secrets")
		g.Expect(err).NotTo(HaveOccurred())
		want := http.StatusOK
		if i == 2 {
			want = http.StatusInternalServerError
		}
		g.Expect(resp.StatusCode).To(Equal(want), "request %d", i+1)
	}
	g.Expect(p.Requests()).To(Equal(3))
	g.Expect(p.Summary()).To(Equal("3 requests 500=1"))
}
