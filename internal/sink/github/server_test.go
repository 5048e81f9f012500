package github

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

// fakeGitHub is an in-test GitHub Actions secrets API. It holds real curve25519 key pairs (one per repository
// and one per environment), decrypts every uploaded sealed box with the private key and keeps the plaintext, so
// a test can check what GitHub would really hold.
type fakeGitHub struct {
	t      *testing.T
	srv    *httptest.Server
	token  string
	prefix string // path prefix of the API, "/api/v3" for GitHub Enterprise

	mu sync.Mutex
	// keys by scope: "owner/repo" for repository secrets, "owner/repo:env" for environment secrets. A scope
	// without a key does not exist (404).
	keys map[string]*keyPair
	// secrets by scope + "/" + NAME.
	secrets  map[string]storedSecret
	requests []recordedRequest

	// Knobs.
	publicKey string            // served instead of the real key when set
	keyID     *string           // served instead of the real key id when set
	status    int               // answered to every request when set
	message   string            // message of the forced status
	header    map[string]string // headers of the forced status
	body      string            // raw body of the forced status, instead of a JSON message
	echo      bool              // PUT answers 422 with the token and the decrypted value in the message
	hang      bool              // requests wait until the client gives up
}

type keyPair struct {
	id        string
	pub, priv *[32]byte
}

type storedSecret struct {
	value []byte
	keyID string
}

type recordedRequest struct {
	Method, Path string // Path as sent, escaped, without the prefix
	Header       http.Header
}

func newFakeGitHub(t *testing.T, token, prefix string) *fakeGitHub {
	f := &fakeGitHub{t: t, token: token, prefix: prefix, keys: map[string]*keyPair{}, secrets: map[string]storedSecret{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// addScope creates a repository ("owner/repo") or environment ("owner/repo:env") with its own key pair.
func (f *fakeGitHub) addScope(scope string) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[scope] = &keyPair{id: fmt.Sprintf("key-%d", len(f.keys)+100), pub: pub, priv: priv}
}

func (f *fakeGitHub) keyIDOf(scope string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[scope].id
}

func (f *fakeGitHub) secret(key string) (storedSecret, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[key]
	return s, ok
}

func (f *fakeGitHub) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// calls lists the recorded requests as "METHOD path".
func (f *fakeGitHub) calls() []string {
	var out []string
	for _, r := range f.recorded() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func (f *fakeGitHub) set(fn func(f *fakeGitHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if msg != "" {
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
	}
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), f.prefix)
	if !ok || !strings.HasPrefix(path, "/") {
		reply(w, http.StatusNotFound, "Not Found")
		return
	}
	f.requests = append(f.requests, recordedRequest{Method: r.Method, Path: path, Header: r.Header.Clone()})

	if f.hang {
		f.mu.Unlock()
		<-r.Context().Done()
		f.mu.Lock()
		return
	}
	if f.status != 0 {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		if f.body != "" {
			w.WriteHeader(f.status)
			_, _ = w.Write([]byte(f.body))
			return
		}
		reply(w, f.status, f.message)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		reply(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" ||
		r.Header.Get("User-Agent") == "" {
		reply(w, http.StatusBadRequest, "missing GitHub headers")
		return
	}

	scope, name, ok := f.route(path)
	key := f.keys[scope]
	if !ok || key == nil {
		reply(w, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case r.Method == http.MethodGet && name == "public-key":
		pk, id := base64.StdEncoding.EncodeToString(key.pub[:]), key.id
		if f.publicKey != "" {
			pk = f.publicKey
		}
		if f.keyID != nil {
			id = *f.keyID
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"key_id": id, "key": pk})
	case r.Method == http.MethodPut && name != "public-key":
		f.put(w, r, scope, name, key)
	default:
		reply(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// route maps an escaped path to a scope and the last segment (a secret name or "public-key").
func (f *fakeGitHub) route(path string) (scope, name string, ok bool) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, s := range seg {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", "", false
		}
		seg[i] = u
	}
	switch {
	case len(seg) == 6 && seg[0] == "repos" && seg[3] == "actions" && seg[4] == "secrets":
		return seg[1] + "/" + seg[2], seg[5], true
	case len(seg) == 7 && seg[0] == "repos" && seg[3] == "environments" && seg[5] == "secrets":
		return seg[1] + "/" + seg[2] + ":" + seg[4], seg[6], true
	}
	return "", "", false
}

func (f *fakeGitHub) put(w http.ResponseWriter, r *http.Request, scope, name string, key *keyPair) {
	if r.Header.Get("Content-Type") != "application/json" {
		reply(w, http.StatusUnsupportedMediaType, "want application/json")
		return
	}
	var body struct {
		EncryptedValue string `json:"encrypted_value"`
		KeyID          string `json:"key_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		reply(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if body.KeyID != key.id {
		reply(w, http.StatusUnprocessableEntity, "key_id does not match")
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(body.EncryptedValue)
	if err != nil {
		reply(w, http.StatusUnprocessableEntity, "encrypted_value is not base64")
		return
	}
	plain, ok := box.OpenAnonymous(nil, sealed, key.pub, key.priv)
	if !ok {
		reply(w, http.StatusUnprocessableEntity, "could not decrypt encrypted_value")
		return
	}
	if f.echo {
		reply(w, http.StatusUnprocessableEntity, "refused "+string(plain)+" sent with "+r.Header.Get("Authorization"))
		return
	}
	k := scope + "/" + name
	_, existed := f.secrets[k]
	f.secrets[k] = storedSecret{value: plain, keyID: body.KeyID}
	if existed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusCreated)
}
