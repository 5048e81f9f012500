package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/tribi/secret-rotator/internal/egress"
)

// slackPath is where a Slack incoming webhook keeps its token; no error may show it.
const slackPath = "/services/T000/B000/SECRETTOKEN"

// leaked is what a webhook answers; no error may show it either.
const leaked = "LEAKED"

// received is one request a webhook got.
type received struct {
	method, path, contentType, idempotencyKey, delivery string
	body                                                []byte
}

// webhook is a test server that answers with the statuses given, in turn (the last one repeats), a body of
// leaked, and records what it received.
type webhook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
}

func newWebhook(t *testing.T, statuses ...int) *webhook {
	w := &webhook{statuses: statuses}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.got = append(w.got, received{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			idempotencyKey: r.Header.Get(HeaderIdempotencyKey), delivery: r.Header.Get(HeaderDelivery), body: body})
		status := w.statuses[min(len(w.got), len(w.statuses))-1]
		w.mu.Unlock()
		if status >= 300 && status < 400 {
			rw.Header().Set("Location", "/elsewhere/"+leaked)
		}
		rw.WriteHeader(status)
		_, _ = io.WriteString(rw, leaked)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) requests() []received {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]received(nil), w.got...)
}

// expectNoLeak checks the text of err and of everything it wraps for the URL's path, token, and the answer.
func expectNoLeak(g Gomega, err error) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, secret := range []string{"SECRETTOKEN", "/services", "T000", leaked, "elsewhere"} {
			g.Expect(e.Error()).NotTo(ContainSubstring(secret), "in %T", e)
		}
	}
}

func TestSendDelivers(t *testing.T) {
	g := NewWithT(t)
	hook := newWebhook(t, http.StatusOK)
	body, err := Render(FormatJSON, emergency())
	g.Expect(err).NotTo(HaveOccurred())

	var zero Sender
	g.Expect(zero.Send(context.Background(), hook.srv.URL+slackPath, body, "rsn-1")).To(Succeed())

	got := hook.requests()
	g.Expect(got).To(HaveLen(1))
	g.Expect(got[0]).To(Equal(received{method: http.MethodPost, path: slackPath, contentType: "application/json",
		idempotencyKey: "rsn-1", delivery: "rsn-1", body: body}))
}

func TestSendAnswers(t *testing.T) {
	cases := []struct {
		name      string
		statuses  []int
		status    int // of the first attempt's error, 0 for none
		retryable bool
		says      string
	}{
		{name: "200", statuses: []int{200}},
		{name: "201", statuses: []int{201}},
		{name: "204", statuses: []int{204}},
		{name: "400", statuses: []int{400}, status: 400, says: "webhook answered 400 Bad Request"},
		{name: "403", statuses: []int{403}, status: 403, says: "webhook answered 403 Forbidden"},
		{name: "404", statuses: []int{404}, status: 404, says: "webhook answered 404 Not Found"},
		{name: "410", statuses: []int{410}, status: 410, says: "webhook answered 410 Gone"},
		{name: "429", statuses: []int{429}, status: 429, retryable: true, says: "webhook answered 429 Too Many Requests"},
		{name: "500", statuses: []int{500}, status: 500, retryable: true, says: "webhook answered 500"},
		{name: "503", statuses: []int{503}, status: 503, retryable: true, says: "webhook answered 503 Service Unavailable"},
		{name: "a redirect is not followed", statuses: []int{302}, status: 302, says: "webhook answered 302 Found"},
		{name: "307 is not followed", statuses: []int{307}, status: 307, says: "webhook answered 307"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			hook := newWebhook(t, c.statuses...)
			err := (&Sender{}).Send(context.Background(), hook.srv.URL+slackPath, []byte(`{}`), "rsn-1")
			g.Expect(hook.requests()).To(HaveLen(1), "one call, no redirect followed")
			if c.status == 0 {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			var de *DeliveryError
			g.Expect(errors.As(err, &de)).To(BeTrue())
			g.Expect(de.Status).To(Equal(c.status))
			g.Expect(de.Retryable).To(Equal(c.retryable))
			g.Expect(IsRetryable(err)).To(Equal(c.retryable))
			g.Expect(de.Err).To(BeNil())
			g.Expect(err.Error()).To(HavePrefix(c.says))
			expectNoLeak(g, err)
		})
	}
}

func TestSendRetriesWithTheSameID(t *testing.T) {
	g := NewWithT(t)
	hook := newWebhook(t, http.StatusServiceUnavailable, http.StatusOK)
	s := &Sender{}
	url := hook.srv.URL + slackPath
	id := DeliveryID("0a5e", "payments", "stripe-key", 7, EventSucceeded, 0)

	err := s.Send(context.Background(), url, []byte(`{"n":1}`), id)
	g.Expect(IsRetryable(err)).To(BeTrue(), "503 is retryable: %v", err)
	g.Expect(s.Send(context.Background(), url, []byte(`{"n":1}`), id)).To(Succeed())

	got := hook.requests()
	g.Expect(got).To(HaveLen(2))
	for _, r := range got {
		g.Expect(r.idempotencyKey).To(Equal(id))
		g.Expect(r.delivery).To(Equal(id))
	}
}

func TestSendTimesOut(t *testing.T) {
	// The server notices the client leaving only once the body is read; release frees it in any case, before
	// Close waits for it (cleanups run last first).
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	cases := []struct {
		name   string
		sender *Sender
		ctx    time.Duration
	}{
		{name: "context deadline", sender: &Sender{}, ctx: 200 * time.Millisecond},
		{name: "client timeout", sender: &Sender{Client: &http.Client{Timeout: 200 * time.Millisecond}}, ctx: time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx, cancel := context.WithTimeout(context.Background(), c.ctx)
			defer cancel()
			start := time.Now()
			err := c.sender.Send(ctx, hung.URL+slackPath, []byte(`{}`), "rsn-1")
			g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
			var de *DeliveryError
			g.Expect(errors.As(err, &de)).To(BeTrue())
			g.Expect(de.Status).To(BeZero())
			g.Expect(de.Retryable).To(BeTrue())
			g.Expect(err).To(MatchError("webhook notification not delivered: timed out"))
			g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "the cause stays reachable")
			expectNoLeak(g, err)
		})
	}
}

func TestSendWithoutAnAnswer(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	refusing := &Sender{Client: egress.MustParse("api.vendor.example").Client(time.Second)}
	cases := []struct {
		name, url string
		sender    *Sender
		retryable bool
		says      string
	}{
		{name: "nothing listens", url: closed.URL, sender: &Sender{}, retryable: true, says: egress.PhraseCouldNotConnect},
		{name: "connection closed", url: hangUp.URL, sender: &Sender{}, retryable: true,
			says: egress.PhraseConnectionFailed},
		{name: "refused by the egress policy", url: hangUp.URL, sender: refusing, says: `host "127.0.0.1"`},
		{name: "not https", url: "http://hooks.slack.example", sender: &Sender{}, says: "plain http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := c.sender.Send(ctx, c.url+slackPath, []byte(`{}`), "rsn-1")
			var de *DeliveryError
			g.Expect(errors.As(err, &de)).To(BeTrue())
			g.Expect(de.Status).To(BeZero())
			g.Expect(de.Retryable).To(Equal(c.retryable))
			g.Expect(err.Error()).To(HavePrefix("webhook notification not delivered: "))
			g.Expect(err.Error()).To(ContainSubstring(c.says))
			expectNoLeak(g, err)
		})
	}
}

func TestSendRefusesABadID(t *testing.T) {
	for _, id := range []string{"", "rsn-1\r\nX-Injected: 1", "rsn 1", "rsn-é", strings.Repeat("a", maxID+1)} {
		g := NewWithT(t)
		hook := newWebhook(t, http.StatusOK)
		err := (&Sender{}).Send(context.Background(), hook.srv.URL+slackPath, []byte(`{}`), id)
		g.Expect(errors.Is(err, ErrInvalidID)).To(BeTrue(), "id %q: %v", id, err)
		g.Expect(IsRetryable(err)).To(BeFalse())
		g.Expect(hook.requests()).To(BeEmpty())
	}
}

func TestSendReadsALargeAnswer(t *testing.T) {
	g := NewWithT(t)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat(leaked, 1<<20))
	}))
	t.Cleanup(big.Close)
	g.Expect((&Sender{}).Send(context.Background(), big.URL+slackPath, []byte(`{}`), "rsn-1")).To(Succeed())
}
