package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func fixedNow() time.Time { return time.Date(2026, 3, 29, 1, 2, 3, 456e6, time.UTC) }

// post sends body to a receiver writing to out, with key as Idempotency-Key unless empty, and returns the status.
func post(h http.Handler, key, body string) int {
	req := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestReceiverPrintsOneLinePerDelivery(t *testing.T) {
	cases := []struct {
		name, key, body, want string
	}{
		{"json document", "d-1",
			`{"id":"d-1","event":"Scheduled","name":"cookie-secret","namespace":"backend","revision":2,"fingerprint":"hmac-sha256:abc","message":"m"}`,
			"01:02:03.456 id=d-1 event=Scheduled rotatedsecret=backend/cookie-secret revision=2\n"},
		{"id from the document without the header", "",
			`{"id":"d-2","event":"Started","name":"jwt-secret","namespace":"backend","revision":3}`,
			"01:02:03.456 id=d-2 event=Started rotatedsecret=backend/jwt-secret revision=3\n"},
		{"slack text is not printed", "d-3", `{"text":"*Started* rotation of backend/jwt-secret"}`,
			"01:02:03.456 id=d-3 a slack message (51 bytes; the demo sends json)\n"},
		{"not JSON is not printed", "d-4", "value=hunter2",
			"01:02:03.456 id=d-4 not a JSON notification (13 bytes)\n"},
		{"line breaks and spaces cannot forge a line", "d-5\nforged",
			`{"event":"Started\n01:00:00.000 id=x","name":"a b","namespace":"","revision":1}`,
			"01:02:03.456 id=d-5_forged event=Started_01:00:00.000_id=x rotatedsecret=-/a_b revision=1\n"},
		{"a long field is cut", strings.Repeat("k", 300), `{"event":"Started"}`,
			"01:02:03.456 id=" + strings.Repeat("k", maxField) + "… event=Started rotatedsecret=-/- revision=0\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			var out bytes.Buffer
			r := newReceiver(&out, fixedNow)
			g.Expect(post(r, c.key, c.body)).To(Equal(http.StatusNoContent))
			g.Expect(out.String()).To(Equal(c.want))
			g.Expect(out.String()).NotTo(ContainSubstring("hunter2"))
			g.Expect(out.String()).NotTo(ContainSubstring("hmac-sha256"))
		})
	}
}

func TestReceiverMarksARepeatedDelivery(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	r := newReceiver(&out, fixedNow)
	body := `{"id":"d-1","event":"Succeeded","name":"jwt-secret","namespace":"backend","revision":2}`
	g.Expect(post(r, "d-1", body)).To(Equal(http.StatusNoContent))
	g.Expect(post(r, "d-1", body)).To(Equal(http.StatusNoContent))
	g.Expect(post(r, "d-2", body)).To(Equal(http.StatusNoContent))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	g.Expect(lines).To(HaveLen(3))
	g.Expect(lines[0]).To(HaveSuffix("revision=2"))
	g.Expect(lines[1]).To(HaveSuffix("revision=2 again"))
	g.Expect(lines[2]).To(HavePrefix("01:02:03.456 id=d-2 "))
	g.Expect(lines[2]).To(HaveSuffix("revision=2"))
}

func TestReceiverRefusesOtherMethodsAndHugeBodies(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	r := newReceiver(&out, fixedNow)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hooks", nil))
	g.Expect(rec.Code).To(Equal(http.StatusMethodNotAllowed))
	g.Expect(post(r, "big", strings.Repeat("x", maxBody+1))).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(out.String()).To(BeEmpty())
}

func TestCheckLoopback(t *testing.T) {
	g := NewWithT(t)
	g.Expect(checkLoopback("127.0.0.1:0")).To(Succeed())
	g.Expect(checkLoopback("[::1]:8080")).To(Succeed())
	for _, addr := range []string{":0", "0.0.0.0:0", "10.0.0.1:80", "localhost:0", "127.0.0.1"} {
		g.Expect(checkLoopback(addr)).NotTo(Succeed(), addr)
	}
}

// TestRunServesUntilSIGTERM starts the command as the demo does, posts one delivery to the URL it wrote, and stops
// it with SIGTERM.
func TestRunServesUntilSIGTERM(t *testing.T) {
	g := NewWithT(t)
	urlFile := filepath.Join(t.TempDir(), "url")
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run([]string{"-url-file", urlFile}, &out) }()

	var url string
	g.Eventually(func() error {
		b, err := os.ReadFile(urlFile)
		url = strings.TrimSpace(string(b))
		return err
	}).Should(Succeed())
	g.Expect(url).To(MatchRegexp(`^http://127\.0\.0\.1:[0-9]+/hooks$`))
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"id":"d-1","event":"Started","name":"n","namespace":"ns","revision":1}`))
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusNoContent))
	g.Expect(out.String()).To(HaveSuffix(" id=d-1 event=Started rotatedsecret=ns/n revision=1\n"))

	g.Expect(syscall.Kill(os.Getpid(), syscall.SIGTERM)).To(Succeed())
	g.Eventually(done).Should(Receive(BeNil()))
}

func TestRunRefusesAnAddressOffThisMachine(t *testing.T) {
	g := NewWithT(t)
	urlFile := filepath.Join(t.TempDir(), "url")
	g.Expect(run([]string{"-addr", "0.0.0.0:0", "-url-file", urlFile}, &bytes.Buffer{})).To(MatchError(ContainSubstring("loopback")))
	g.Expect(run([]string{}, &bytes.Buffer{})).To(MatchError(ContainSubstring("-url-file")))
	g.Expect(urlFile).NotTo(BeAnExistingFile())
}
