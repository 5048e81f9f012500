// Command webhook-receiver is the notification webhook of `make demo`: it answers every POST with 204 and prints
// one line per delivery to stdout, with the delivery id, the event, the RotatedSecret and the revision. It never
// prints a body: a notification carries no secret value, but a receiver that echoes what it is sent is one
// careless caller away from leaking one.
//
//	bin/webhook-receiver -addr 127.0.0.1:0 -url-file /tmp/receiver.url >deliveries.log
//
// It listens on a loopback address only (port 0: a free one) and writes http://ADDR/hooks to -url-file once it
// accepts connections, so a script waits for that file and puts the URL in the webhook Secret. A delivery whose id
// it has seen before (the operator delivers at least once) is marked "again". SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
)

// maxBody is more than the operator ever sends (4 KiB, internal/notify.MaxBody).
const maxBody = 16 << 10

// maxField bounds each printed field, so a hostile caller cannot flood the log.
const maxField = 128

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "webhook-receiver: %v\n", err)
		os.Exit(1)
	}
}

// run listens, writes the URL file and serves until SIGTERM or SIGINT.
func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("webhook-receiver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on (port 0: a free one)")
	urlFile := fs.String("url-file", "", "file to write the webhook URL to once listening (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *urlFile == "" {
		return errors.New("-url-file is required")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// Written to a temporary name and renamed, so a reader never sees half a URL.
	tmp := *urlFile + ".tmp"
	if err := os.WriteFile(tmp, []byte("http://"+ln.Addr().String()+"/hooks\n"), 0o600); err != nil {
		ln.Close()
		return err
	}
	if err := os.Rename(tmp, filepath.Clean(*urlFile)); err != nil {
		ln.Close()
		return err
	}

	srv := &http.Server{Handler: newReceiver(out, time.Now), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkLoopback refuses an address whose host is not a loopback IP: the demo's receiver is for this machine only.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: the host must be a loopback IP such as 127.0.0.1", addr)
	}
	return nil
}

// receiver prints one line per delivery.
type receiver struct {
	now func() time.Time

	mu   sync.Mutex // guards out and seen: deliveries may arrive at once
	out  io.Writer
	seen map[string]bool // delivery ids printed so far
}

func newReceiver(out io.Writer, now func() time.Time) *receiver {
	return &receiver{now: now, out: out, seen: map[string]bool{}}
}

// notification holds the fields of the operator's json document that the receiver prints (docs/notifications.md).
// A slack body has only "text", which is not printed.
type notification struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Revision  int64  `json:"revision"`
	Text      string `json:"text"`
}

// ServeHTTP answers a POST with 204 and prints it; anything else gets 405.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	r.print(req.Header.Get("Idempotency-Key"), body)
	w.WriteHeader(http.StatusNoContent)
}

// print writes the line of one delivery: time, id (the Idempotency-Key header, else the document's id), event,
// namespace/name and revision, and "again" for an id seen before.
func (r *receiver) print(key string, body []byte) {
	var n notification
	line := ""
	if err := json.Unmarshal(body, &n); err != nil {
		line = fmt.Sprintf("not a JSON notification (%d bytes)", len(body))
	} else if n.Event == "" && n.Text != "" {
		line = fmt.Sprintf("a slack message (%d bytes; the demo sends json)", len(body))
	} else {
		line = fmt.Sprintf("event=%s rotatedsecret=%s/%s revision=%d", clean(n.Event), clean(n.Namespace),
			clean(n.Name), n.Revision)
	}
	if key == "" {
		key = n.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	again := ""
	if key != "" && r.seen[key] {
		again = " again"
	}
	r.seen[key] = true
	fmt.Fprintf(r.out, "%s id=%s %s%s\n", r.now().UTC().Format("15:04:05.000"), clean(key), line, again)
}

// clean makes s safe to print on one line: at most maxField runes, no control or space characters, "-" when empty.
func clean(s string) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for i, c := range []rune(s) {
		if i == maxField {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(c) || unicode.IsSpace(c) {
			c = '_'
		}
		b.WriteRune(c)
	}
	return b.String()
}
