package metrics

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// The metrics Runnable serves /metrics on its address from before the manager starts its caches, on every
// replica, until the manager stops it.
func TestServerServesUntilStopped(t *testing.T) {
	g := NewWithT(t)
	Rotations.WithLabelValues("server", "probe", "Manual").Inc()
	defer Forget("server", "probe")
	srv, err := NewServer("127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.NeedLeaderElection()).To(BeFalse())
	_, err = NewServer(srv.Listener.Addr().String())
	g.Expect(err).To(MatchError(ContainSubstring("listening for metrics on")), "a taken address fails at setup")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Start(ctx) }()
	url := "http://" + srv.Listener.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}

	resp, err := client.Get(url + "/metrics")
	g.Expect(err).NotTo(HaveOccurred())
	body, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Body.Close()).To(Succeed())
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(resp.Header.Get("Content-Type")).To(HavePrefix("text/plain; version=0.0.4"))
	g.Expect(string(body)).To(ContainSubstring(`secret_rotator_rotations_total{name="probe",namespace="server",trigger="Manual"} 1` + "\n"))

	resp, err = client.Get(url + "/other")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Body.Close()).To(Succeed())
	g.Expect(resp.StatusCode).To(Equal(http.StatusNotFound))

	cancel()
	g.Eventually(stopped, 10*time.Second).Should(Receive(BeNil()))
	client.CloseIdleConnections()
	_, err = client.Get(url + "/metrics")
	g.Expect(err).To(HaveOccurred(), "the listener is closed")
}
