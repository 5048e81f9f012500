package stripetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Mock is a running stripe-mock: Stripe's own API test server, which checks every request against Stripe's
// OpenAPI description but keeps no state and never returns a webhook signing secret (Server plays those parts).
// It listens on loopback only. Stop and Start stop it by its PID and run it again on the same HTTP address, as a
// Stripe outage looks to a client: connections refused, then the same URL answering again.
type Mock struct {
	bin string
	// Addr is the host:port of its HTTP listener, fixed for the Mock's life.
	Addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// MockBinary returns $STRIPE_MOCK, or the last line printed by script (hack/stripe-mock.sh, which builds
// stripe-mock once into bin/ and prints its path).
func MockBinary(script string) (string, error) {
	if p := os.Getenv("STRIPE_MOCK"); p != "" {
		return p, nil
	}
	var stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// StartMock runs the stripe-mock binary bin on loopback ports the kernel picks (both listeners are given an
// address, or the one left out binds all interfaces) and waits until it accepts connections. Stop it when done.
func StartMock(bin string) (*Mock, error) {
	m := &Mock{bin: bin}
	if err := m.run("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return m, nil
}

// URL is the base URL for stripe.Options.
func (m *Mock) URL() string { return "http://" + m.Addr }

// Start runs stripe-mock again on Addr after Stop; it does nothing while it runs.
func (m *Mock) Start() error {
	m.mu.Lock()
	running := m.cmd != nil
	m.mu.Unlock()
	if running {
		return nil
	}
	return m.run(m.Addr)
}

// Stop kills stripe-mock by its PID and waits until it has exited: its address refuses connections from then on.
func (m *Mock) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

func (m *Mock) run(httpAddr string) error {
	cmd := exec.Command(m.bin, "-http-addr", httpAddr, "-https-addr", "127.0.0.1:0")
	cmd.SysProcAttr = childAttr()
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", m.bin, err)
	}
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		m.Addr = a
	case <-time.After(60 * time.Second):
		m.Stop()
		return errors.New("stripe-mock did not report its HTTP address within 60s")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			m.Stop()
			return fmt.Errorf("stripe-mock does not accept connections on %s: %w", m.Addr, err)
		}
	}
}
