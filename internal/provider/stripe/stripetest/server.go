// Package stripetest is a stateful fake Stripe API for tests, for the parts stripe-mock cannot play (it keeps no
// state and never returns a webhook signing secret): webhook endpoints that are created, read, listed and deleted,
// keys with restricted-key permissions that can be revoked, and failure modes. Mock runs stripe-mock itself, for
// tests that want Stripe's own request checks or a Stripe that stops and starts again.
//
// Its methods never take a testing.T: a misuse (an endpoint without an id) panics, so unit tests and Ginkgo
// suites use it alike.
package stripetest

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
)

// EndpointEnabled is the status of an endpoint that receives events.
const EndpointEnabled = "enabled"

// Endpoint is a webhook endpoint as the fake holds it.
type Endpoint struct {
	ID, URL, APIVersion, Description string
	// Status is "enabled" or "disabled"; AddEndpoint sets "enabled" when empty.
	Status string
	// Secret is the signing secret; Stripe returns it only in the answer to the create.
	Secret   string
	Events   []string
	Metadata map[string]string
}

func (ep Endpoint) clone() Endpoint {
	ep.Events = slices.Clone(ep.Events)
	ep.Metadata = maps.Clone(ep.Metadata)
	return ep
}

type key struct {
	live    bool
	revoked bool
	perms   map[string]bool // nil: every permission (a secret key)
}

// Server is the fake Stripe. The embedded httptest.Server gives URL (the base URL for stripe.Options) and Close.
// Created endpoints get ids we_twin1, we_twin2, ... and secrets whsec_fresh1_<random>, whsec_fresh2_<random>, ...
// (random like Stripe's, so a test can look for a secret in logs and status without matching fixed text).
type Server struct {
	*httptest.Server

	mu        sync.Mutex
	endpoints map[string]*Endpoint
	keys      map[string]*key
	log       []string
	failWith  int  // answer every request with this status when set
	noSecret  bool // create endpoints without returning their secret
	created   int
	// saved holds the answer to each POST by Idempotency-Key, replayed for a repeat of the key.
	saved map[string]savedAnswer
	// failCreate answers the next create with this status after carrying it out and saving its real answer.
	failCreate int
}

// savedAnswer is what Stripe keeps of a request with an Idempotency-Key: its parameters and its answer.
type savedAnswer struct {
	form   string
	status int
	header http.Header
	body   []byte
}

// NewServer starts a fake Stripe without keys or endpoints. Close it when done.
func NewServer() *Server {
	s := &Server{endpoints: map[string]*Endpoint{}, keys: map[string]*key{}, saved: map[string]savedAnswer{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddKey makes Stripe accept k. Without perms it is a secret key (every permission); with perms it is a
// restricted key holding exactly those ("rak_webhook_write", "rak_balance_read", ...). live sets the mode
// GET /v1/balance reports.
func (s *Server) AddKey(k string, live bool, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nk := &key{live: live}
	if perms != nil {
		nk.perms = map[string]bool{}
		for _, p := range perms {
			nk.perms[p] = true
		}
	}
	s.keys[k] = nk
}

// RevokeKey makes Stripe refuse k with 401 from now on, as after "Roll key" or "Delete" in the Dashboard.
func (s *Server) RevokeKey(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k]; !ok {
		s.keys[k] = &key{}
	}
	s.keys[k].revoked = true
}

// AddEndpoint adds ep, or replaces the endpoint with its id (to disable one, say). It panics without an id.
func (s *Server) AddEndpoint(ep Endpoint) {
	if ep.ID == "" {
		panic("stripetest: an endpoint needs an id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ep.Status == "" {
		ep.Status = EndpointEnabled
	}
	ep = ep.clone()
	s.endpoints[ep.ID] = &ep
}

// RemoveEndpoint deletes an endpoint as a person would in the Dashboard; it is not logged as a call.
func (s *Server) RemoveEndpoint(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.endpoints, id)
}

// Endpoint returns a copy of the endpoint with id, or nil when there is none.
func (s *Server) Endpoint(id string) *Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ep, ok := s.endpoints[id]; ok {
		c := ep.clone()
		return &c
	}
	return nil
}

// Endpoints returns copies of every endpoint, ordered by id.
func (s *Server) Endpoints() []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Endpoint, 0, len(s.endpoints))
	for _, id := range slices.Sorted(maps.Keys(s.endpoints)) {
		out = append(out, s.endpoints[id].clone())
	}
	return out
}

// Calls lists the requests received so far as "METHOD /path" (no query), in order, with the notes of Record.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Record adds a note to the call log, so a test can show where its own step came among the requests.
func (s *Server) Record(note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, note)
}

// FailWith makes every request fail with status (500, 503, 429, ...) before any other check; 0 heals Stripe.
// The requests are still logged.
func (s *Server) FailWith(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = status
}

// OmitSecret makes creates answer without the signing secret (the endpoint is created all the same).
func (s *Server) OmitSecret(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noSecret = omit
}

// FailNextCreate makes the next endpoint create fail with status (500, 502, ...) after Stripe carried it out: the
// endpoint exists and Stripe saved its real answer under the request's Idempotency-Key, as when a failure
// between Stripe's API and the caller replaces the answer. A repeat with the same key gets the saved answer.
func (s *Server) FailNextCreate(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCreate = status
}

// Created returns how many endpoints were created (repeats answered from a saved answer not counted).
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}
