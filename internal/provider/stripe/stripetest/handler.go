package stripetest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// permission maps a request to the restricted-key permission it needs, as Stripe names them.
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

// stripeErr answers with a Stripe error of type typ (invalid_request_error when none is given).
func stripeErr(w http.ResponseWriter, status int, code, msg string, typ ...string) {
	t := "invalid_request_error"
	if len(typ) > 0 {
		t = typ[0]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": t, "code": code, "message": msg}})
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

func (ep *Endpoint) json(withSecret bool) map[string]any {
	m := map[string]any{"id": ep.ID, "object": "webhook_endpoint", "url": ep.URL, "api_version": ep.APIVersion,
		"description": ep.Description, "status": ep.Status, "enabled_events": ep.Events, "metadata": ep.Metadata}
	if withSecret {
		m["secret"] = ep.Secret
	}
	return m
}

var indexed = regexp.MustCompile(`^enabled_events\[(\d*)\]$`)

// serve answers a request; a POST with an Idempotency-Key seen before gets the saved answer, as from Stripe: the
// same answer for the same parameters, a 400 idempotency_error for others. Like Stripe, it saves the answers of
// requests it carried out (2xx and 5xx), not those refused before (401, 403, 400 for a missing parameter).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r.Method+" "+r.URL.Path)
	idem := r.Header.Get("Idempotency-Key")
	if r.Method != http.MethodPost || idem == "" || s.failWith != 0 {
		s.answer(w, r)
		return
	}
	_ = r.ParseForm()
	form := r.PostForm.Encode()
	if saved, ok := s.saved[idem]; ok {
		if saved.form != form {
			stripeErr(w, http.StatusBadRequest, "", "Keys for idempotent requests can only be used with the same parameters they were first used with.", "idempotency_error")
			return
		}
		maps.Copy(w.Header(), saved.header)
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(saved.status)
		_, _ = w.Write(saved.body)
		return
	}
	rec := httptest.NewRecorder()
	s.answer(rec, r)
	if rec.Code < 400 || rec.Code >= 500 {
		s.saved[idem] = savedAnswer{form: form, status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
	}
	if fail := s.failCreate; fail != 0 && rec.Code < 400 && r.URL.Path == "/v1/webhook_endpoints" {
		s.failCreate = 0
		stripeErr(w, fail, "", "An unknown error occurred", "api_error")
		return
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// answer carries out a request; the caller holds s.mu.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	if s.failWith != 0 {
		stripeErr(w, s.failWith, "", "An unknown error occurred")
		return
	}
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	k, ok := s.keys[key]
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
		s.serveEndpoints(w, r, id)
	default:
		stripeErr(w, http.StatusNotFound, "", "Unrecognized request URL")
	}
}

// serveEndpoints answers /v1/webhook_endpoints[/id]; the caller holds s.mu.
func (s *Server) serveEndpoints(w http.ResponseWriter, r *http.Request, id string) {
	switch {
	case id == "" && r.Method == http.MethodGet:
		data := []any{}
		for _, id := range slices.Sorted(maps.Keys(s.endpoints)) {
			data = append(data, s.endpoints[id].json(false))
		}
		reply(w, map[string]any{"object": "list", "data": data, "has_more": false})
	case id == "" && r.Method == http.MethodPost:
		s.create(w, r)
	default:
		ep, ok := s.endpoints[id]
		if !ok {
			stripeErr(w, http.StatusNotFound, "resource_missing", "No such webhook endpoint: '"+id+"'")
			return
		}
		if r.Method == http.MethodDelete {
			delete(s.endpoints, id)
			reply(w, map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true})
			return
		}
		reply(w, ep.json(false))
	}
}

// create answers POST /v1/webhook_endpoints from its form: url, enabled_events[i], api_version, description,
// metadata[k]. The caller holds s.mu.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	n := strconv.Itoa(s.created + 1)
	ep := &Endpoint{ID: "we_twin" + n, URL: r.PostForm.Get("url"), Status: EndpointEnabled,
		APIVersion: r.PostForm.Get("api_version"), Description: r.PostForm.Get("description"),
		Secret: "whsec_fresh" + n + "_" + rand.Text(), Metadata: map[string]string{}}
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
	s.created++
	s.endpoints[ep.ID] = ep
	reply(w, ep.json(!s.noSecret))
}
