package stripe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// fakeStripe is a stateful Stripe for the parts stripe-mock cannot play (it keeps no state and returns no signing
// secret): webhook endpoints in a map, keys with permissions, revocation.
type fakeStripe struct {
	srv *httptest.Server

	mu        sync.Mutex
	endpoints map[string]*fakeEndpoint
	keys      map[string]*fakeKey
	log       []string // "GET /v1/webhook_endpoints/we_1", and "guard" from testGuard
	failWith  int      // answer every request with this status when set
	noSecret  bool     // create endpoints without returning a secret
	next      int
}

type fakeEndpoint struct {
	ID, URL, APIVersion, Description, Status, Secret string
	Events                                           []string
	Metadata                                         map[string]string
}

type fakeKey struct {
	live    bool
	revoked bool
	perms   map[string]bool // nil: every permission (a secret key)
}

// route maps a request to the restricted-key permission it needs, as Stripe names them.
func permission(method, path string) string {
	write := method != http.MethodGet
	switch {
	case strings.HasPrefix(path, "/v1/balance"):
		return "rak_balance_read"
	case strings.HasPrefix(path, "/v1/charges"):
		return map[bool]string{false: "rak_charge_read", true: "rak_charge_write"}[write]
	case strings.HasPrefix(path, "/v1/refunds"):
		return map[bool]string{false: "rak_refund_read", true: "rak_refund_write"}[write]
	case strings.HasPrefix(path, "/v1/webhook_endpoints"):
		return map[bool]string{false: "rak_webhook_read", true: "rak_webhook_write"}[write]
	}
	return "rak_unknown"
}

func newFakeStripe(t *testing.T) *fakeStripe {
	f := &fakeStripe{endpoints: map[string]*fakeEndpoint{}, keys: map[string]*fakeKey{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStripe) addKey(key string, live bool, perms ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := &fakeKey{live: live}
	if perms != nil {
		k.perms = map[string]bool{}
		for _, p := range perms {
			k.perms[p] = true
		}
	}
	f.keys[key] = k
}

func (f *fakeStripe) revoke(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key].revoked = true
}

func (f *fakeStripe) addEndpoint(ep fakeEndpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ep.Status == "" {
		ep.Status = "enabled"
	}
	f.endpoints[ep.ID] = &ep
}

// endpoint returns a copy of the endpoint with id, or nil.
func (f *fakeStripe) endpoint(id string) *fakeEndpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ep, ok := f.endpoints[id]; ok {
		c := *ep
		return &c
	}
	return nil
}

func (f *fakeStripe) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

func (f *fakeStripe) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeStripe) set(fn func(f *fakeStripe)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func stripeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
		"type": "invalid_request_error", "code": code, "message": msg}})
}

// mask hides a key as Stripe does: prefix and last 4 characters.
func mask(key string) string {
	if len(key) < 12 {
		return "****"
	}
	return key[:8] + "****" + key[len(key)-4:]
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (ep *fakeEndpoint) json(withSecret bool) map[string]any {
	m := map[string]any{"id": ep.ID, "object": "webhook_endpoint", "url": ep.URL, "api_version": ep.APIVersion,
		"description": ep.Description, "status": ep.Status, "enabled_events": ep.Events, "metadata": ep.Metadata}
	if withSecret {
		m["secret"] = ep.Secret
	}
	return m
}

var indexed = regexp.MustCompile(`^enabled_events\[(\d*)\]$`)

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	f.record(r.Method + " " + r.URL.Path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != 0 {
		stripeErr(w, f.failWith, "", "An unknown error occurred")
		return
	}
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	k, ok := f.keys[key]
	if !ok || k.revoked {
		// Stripe quotes the key, masked but for its last 4 characters.
		stripeErr(w, http.StatusUnauthorized, "", "Invalid API Key provided: "+mask(key))
		return
	}
	if perm := permission(r.Method, r.URL.Path); k.perms != nil && !k.perms[perm] {
		stripeErr(w, http.StatusForbidden, "", fmt.Sprintf("The provided key '%s' does not have the required permissions "+
			"for this endpoint on account 'acct_1'. Having the '%s' permission would allow this request to continue.", mask(key), perm))
		return
	}
	path, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	switch {
	case path == "balance":
		reply(w, map[string]any{"object": "balance", "livemode": k.live})
	case path == "charges" && r.Method == http.MethodGet:
		reply(w, map[string]any{"object": "list", "data": []any{}})
	case path == "refunds" && r.Method == http.MethodPost:
		stripeErr(w, http.StatusBadRequest, "parameter_missing", "Missing required param: charge.")
	case path == "webhook_endpoints":
		f.serveEndpoints(w, r, id)
	default:
		stripeErr(w, http.StatusNotFound, "", "Unrecognized request URL")
	}
}

func (f *fakeStripe) serveEndpoints(w http.ResponseWriter, r *http.Request, id string) {
	switch {
	case id == "" && r.Method == http.MethodGet:
		ids := make([]string, 0, len(f.endpoints))
		for id := range f.endpoints {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		data := []any{}
		for _, id := range ids {
			data = append(data, f.endpoints[id].json(false))
		}
		reply(w, map[string]any{"object": "list", "data": data, "has_more": false})
	case id == "" && r.Method == http.MethodPost:
		_ = r.ParseForm()
		f.next++
		ep := &fakeEndpoint{ID: "we_twin" + strconv.Itoa(f.next), URL: r.PostForm.Get("url"), Status: "enabled",
			APIVersion: r.PostForm.Get("api_version"), Description: r.PostForm.Get("description"),
			Secret: "whsec_fresh" + strconv.Itoa(f.next), Metadata: map[string]string{}}
		events := map[int]string{}
		for k, v := range r.PostForm {
			if m := indexed.FindStringSubmatch(k); m != nil {
				i, _ := strconv.Atoi(m[1])
				events[i] = v[0]
			}
			if strings.HasPrefix(k, "metadata[") {
				ep.Metadata[strings.TrimSuffix(strings.TrimPrefix(k, "metadata["), "]")] = v[0]
			}
		}
		for i := 0; i < len(events); i++ {
			ep.Events = append(ep.Events, events[i])
		}
		if ep.URL == "" || len(ep.Events) == 0 {
			stripeErr(w, http.StatusBadRequest, "parameter_missing", "Missing required param: url or enabled_events.")
			return
		}
		f.endpoints[ep.ID] = ep
		reply(w, ep.json(!f.noSecret))
	default:
		ep, ok := f.endpoints[id]
		if !ok {
			stripeErr(w, http.StatusNotFound, "resource_missing", "No such webhook endpoint: '"+id+"'")
			return
		}
		if r.Method == http.MethodDelete {
			delete(f.endpoints, id)
			reply(w, map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true})
			return
		}
		reply(w, ep.json(false))
	}
}

// creds is a Credentials backed by a map; a missing key is a CredentialError, as the real reader returns.
type creds map[string]string

func (c creds) Credential(_ context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error) {
	v, ok := c[ref.Name+"/"+ref.Key]
	if !ok {
		return nil, &provider.CredentialError{Ref: ref, Err: fmt.Errorf("secret or key not found")}
	}
	return []byte(v), nil
}

// testGuard records "guard" in the fake's log when Begin is called, and fails with err when set.
type testGuard struct {
	f   *fakeStripe
	err error
}

func (g testGuard) Begin(context.Context) error {
	g.f.record("guard")
	return g.err
}
