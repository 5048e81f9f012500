package metrics

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// shutdownTimeout is how long the server waits for scrapes in progress when the manager stops, as
// controller-runtime's metrics server waits.
const shutdownTimeout = time.Minute

// NewServer listens on addr (--metrics-bind-address) and returns the manager Runnable that serves Handler at
// /metrics there, in place of controller-runtime's metrics server, which serves promhttp at /metrics and lets no
// handler replace it (the manager's own must be disabled: BindAddress "0"). The Runnable is a manager.Server: it
// starts with the health probes, before the caches sync, runs on every replica, leader or not, and shuts down
// gracefully when the manager stops. Listening here, not at Start, reports a taken address at setup.
func NewServer(addr string) (*manager.Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", NewHandler())
	timeout := shutdownTimeout
	return &manager.Server{
		Name:     "metrics",
		Listener: l,
		// The limits controller-runtime's metrics server sets.
		Server: &http.Server{Handler: mux, MaxHeaderBytes: 1 << 20, IdleTimeout: 90 * time.Second,
			ReadHeaderTimeout: 32 * time.Second},
		ShutdownTimeout: &timeout,
	}, nil
}
