package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

const testToken = "ghp_TestToken0123456789abcdef"

// testValue has bytes a text-only path would mangle.
var testValue = []byte("s3cr3t-Value\n\x00\xff-âœ“-" + strings.Repeat("x", 40))

var tokenRef = rotationv1alpha1.SecretKeyRef{Name: "github-token", Key: "token"}

func target(repo, env, name string) rotationv1alpha1.GitHubActionsTarget {
	return rotationv1alpha1.GitHubActionsTarget{Repository: repo, Environment: env, Name: name, TokenSecretRef: tokenRef}
}

func newClient(f *fakeGitHub, base string) *Client {
	return New(Options{BaseURL: base, HTTPClient: f.srv.Client()})
}

// expectNoLeak checks that err says nothing of the token or the value.
func expectNoLeak(g Gomega, err error, token string, value []byte) {
	g.ExpectWithOffset(1, err).To(HaveOccurred())
	g.ExpectWithOffset(1, err.Error()).NotTo(ContainSubstring(token), "an error must never carry the token")
	g.ExpectWithOffset(1, err.Error()).NotTo(ContainSubstring(string(value)), "an error must never carry the value")
	g.ExpectWithOffset(1, err.Error()).NotTo(ContainSubstring("s3cr3t"), "an error must never carry the value")
}

func TestPutRepositorySecret(t *testing.T) {
	g := NewWithT(t)
	f := newFakeGitHub(t, testToken, "")
	f.addScope("tribi/backend")
	c := newClient(f, f.srv.URL)

	g.Expect(c.Put(context.Background(), []byte(testToken+"\n"), target("tribi/backend", "", "BACKEND_JWT_SECRET"), testValue)).To(Succeed())

	s, ok := f.secret("tribi/backend/BACKEND_JWT_SECRET")
	g.Expect(ok).To(BeTrue(), "the secret is stored under its name")
	g.Expect(s.value).To(Equal(testValue), "GitHub decrypts exactly the value")
	g.Expect(s.keyID).To(Equal(f.keyIDOf("tribi/backend")), "the key_id of the public key is echoed")
	g.Expect(f.calls()).To(Equal([]string{
		"GET /repos/tribi/backend/actions/secrets/public-key",
		"PUT /repos/tribi/backend/actions/secrets/BACKEND_JWT_SECRET",
	}))
	for _, r := range f.recorded() {
		g.Expect(r.Header.Get("Authorization")).To(Equal("Bearer " + testToken))
		g.Expect(r.Header.Get("Accept")).To(Equal("application/vnd.github+json"))
		g.Expect(r.Header.Get("X-GitHub-Api-Version")).To(Equal("2022-11-28"))
		g.Expect(r.Header.Get("User-Agent")).To(Equal(UserAgent))
	}

	// Replacing answers 204; the new value wins.
	g.Expect(c.Put(context.Background(), []byte(testToken), target("tribi/backend", "", "BACKEND_JWT_SECRET"), []byte("second"))).To(Succeed())
	s, _ = f.secret("tribi/backend/BACKEND_JWT_SECRET")
	g.Expect(string(s.value)).To(Equal("second"))
}

func TestPutEnvironmentSecret(t *testing.T) {
	for _, tc := range []struct {
		env, escaped string
	}{
		{"production", "production"},
		{"prod eu", "prod%20eu"},
		{"prod/eu", "prod%2Feu"},
		{"50%?#", "50%25%3F%23"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeGitHub(t, testToken, "")
			f.addScope("tribi/backend")
			f.addScope("tribi/backend:" + tc.env)
			c := newClient(f, f.srv.URL)

			g.Expect(c.Put(context.Background(), []byte(testToken), target("tribi/backend", tc.env, "JWT"), testValue)).To(Succeed())

			s, ok := f.secret("tribi/backend:" + tc.env + "/JWT")
			g.Expect(ok).To(BeTrue(), "the secret is stored in the environment")
			g.Expect(s.value).To(Equal(testValue))
			g.Expect(s.keyID).To(Equal(f.keyIDOf("tribi/backend:" + tc.env)))
			_, ok = f.secret("tribi/backend/JWT")
			g.Expect(ok).To(BeFalse(), "an environment secret is not a repository secret")
			g.Expect(f.calls()).To(Equal([]string{
				"GET /repos/tribi/backend/environments/" + tc.escaped + "/secrets/public-key",
				"PUT /repos/tribi/backend/environments/" + tc.escaped + "/secrets/JWT",
			}))
		})
	}
}

func TestPutEnterpriseBaseURL(t *testing.T) {
	g := NewWithT(t)
	f := newFakeGitHub(t, testToken, "/api/v3")
	f.addScope("tribi/backend")
	f.addScope("tribi/backend:production")

	for _, base := range []string{f.srv.URL + "/api/v3", f.srv.URL + "/api/v3/"} {
		c := newClient(f, base)
		g.Expect(c.Put(context.Background(), []byte(testToken), target("tribi/backend", "", "JWT"), testValue)).To(Succeed(), base)
		g.Expect(c.Put(context.Background(), []byte(testToken), target("tribi/backend", "production", "JWT"), testValue)).To(Succeed(), base)
	}
	s, _ := f.secret("tribi/backend/JWT")
	g.Expect(s.value).To(Equal(testValue))
	s, _ = f.secret("tribi/backend:production/JWT")
	g.Expect(s.value).To(Equal(testValue))

	// Without the prefix the server does not answer: the prefix really is used.
	err := newClient(f, f.srv.URL).Put(context.Background(), []byte(testToken), target("tribi/backend", "", "JWT"), testValue)
	g.Expect(errors.Is(err, ErrNotFound)).To(BeTrue())
}

func TestPutErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		target rotationv1alpha1.GitHubActionsTarget
		setup  func(f *fakeGitHub)
		check  func(g Gomega, err error)
		// noPut: the secret must not be uploaded.
		noPut bool
	}{{
		name:   "wrong token",
		token:  "ghp_WrongToken0123456789",
		target: target("tribi/backend", "", "JWT"),
		check: func(g Gomega, err error) {
			var auth *AuthError
			g.Expect(errors.As(err, &auth)).To(BeTrue(), "a refused token is an AuthError")
			g.Expect(auth.StatusCode).To(Equal(http.StatusUnauthorized))
			g.Expect(auth.Ref).To(Equal(tokenRef))
			g.Expect(err.Error()).To(ContainSubstring("github-token"), "names the token Secret")
			g.Expect(err.Error()).To(ContainSubstring("Bad credentials"))
			g.Expect(IsPermanent(err)).To(BeTrue())
		},
		noPut: true,
	}, {
		name:   "token without permission",
		target: target("tribi/backend", "", "JWT"),
		setup: func(f *fakeGitHub) {
			f.status, f.message = http.StatusForbidden, "Resource not accessible by integration"
		},
		check: func(g Gomega, err error) {
			var auth *AuthError
			g.Expect(errors.As(err, &auth)).To(BeTrue())
			g.Expect(auth.StatusCode).To(Equal(http.StatusForbidden))
		},
	}, {
		name:   "rate limited 403 is not an auth error",
		target: target("tribi/backend", "", "JWT"),
		setup: func(f *fakeGitHub) {
			f.status, f.message = http.StatusForbidden, "You have exceeded a secondary rate limit"
			f.header = map[string]string{"Retry-After": "60"}
		},
		check: func(g Gomega, err error) {
			var auth *AuthError
			g.Expect(errors.As(err, &auth)).To(BeFalse())
			var st *StatusError
			g.Expect(errors.As(err, &st)).To(BeTrue())
			g.Expect(st.RateLimited).To(BeTrue())
			g.Expect(st.RetryAfter).To(Equal(time.Minute))
			g.Expect(IsPermanent(err)).To(BeFalse())
		},
	}, {
		name:   "unknown repository",
		target: target("tribi/nope", "", "JWT"),
		check: func(g Gomega, err error) {
			g.Expect(errors.Is(err, ErrNotFound)).To(BeTrue())
			g.Expect(err.Error()).To(ContainSubstring("repository or environment not found or token lacks access"))
			g.Expect(err.Error()).To(ContainSubstring("github:tribi/nope/JWT"), "names the target")
			var auth *AuthError
			g.Expect(errors.As(err, &auth)).To(BeFalse())
			g.Expect(IsPermanent(err)).To(BeTrue())
		},
		noPut: true,
	}, {
		name:   "unknown environment",
		target: target("tribi/backend", "staging", "JWT"),
		check: func(g Gomega, err error) {
			g.Expect(errors.Is(err, ErrNotFound)).To(BeTrue())
		},
		noPut: true,
	}, {
		name:   "server error",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { f.status, f.message = http.StatusInternalServerError, "Server Error" },
		check: func(g Gomega, err error) {
			var auth *AuthError
			g.Expect(errors.As(err, &auth)).To(BeFalse(), "a 5xx is not the token's fault")
			var st *StatusError
			g.Expect(errors.As(err, &st)).To(BeTrue())
			g.Expect(st.StatusCode).To(Equal(http.StatusInternalServerError))
			g.Expect(IsPermanent(err)).To(BeFalse(), "a 5xx is retried")
		},
		noPut: true,
	}, {
		name:   "unprocessable",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { f.status, f.message = http.StatusUnprocessableEntity, "Validation Failed" },
		check: func(g Gomega, err error) {
			var st *StatusError
			g.Expect(errors.As(err, &st)).To(BeTrue())
			g.Expect(st.StatusCode).To(Equal(http.StatusUnprocessableEntity))
			g.Expect(err.Error()).To(ContainSubstring("422"))
			g.Expect(err.Error()).To(ContainSubstring("Validation Failed"))
			g.Expect(IsPermanent(err)).To(BeTrue())
		},
	}, {
		name:   "public key not base64",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { f.publicKey = "not base64!" },
		check: func(g Gomega, err error) {
			g.Expect(err.Error()).To(ContainSubstring("public key"))
		},
		noPut: true,
	}, {
		name:   "public key too short",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { f.publicKey = base64.StdEncoding.EncodeToString(make([]byte, 31)) },
		check: func(g Gomega, err error) {
			g.Expect(err.Error()).To(ContainSubstring("public key is 31 bytes"))
		},
		noPut: true,
	}, {
		name:   "public key without key_id",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { empty := ""; f.keyID = &empty },
		check: func(g Gomega, err error) {
			g.Expect(err.Error()).To(ContainSubstring("key_id"))
		},
		noPut: true,
	}, {
		name:   "server echoes the token and the value",
		target: target("tribi/backend", "", "JWT"),
		setup:  func(f *fakeGitHub) { f.echo = true },
		check: func(g Gomega, err error) {
			g.Expect(err.Error()).To(HaveSuffix("put secret: HTTP 422"), "the echoing message is dropped")
		},
	}, {
		name:   "huge error body",
		target: target("tribi/backend", "", "JWT"),
		setup: func(f *fakeGitHub) {
			f.status = http.StatusBadGateway
			f.body = `{"message":"` + strings.Repeat("A", 1<<20) + `"}`
		},
		check: func(g Gomega, err error) {
			g.Expect(len(err.Error())).To(BeNumerically("<", 500), "bodies never go whole into an error")
		},
		noPut: true,
	}, {
		name:   "long message is clipped",
		target: target("tribi/backend", "", "JWT"),
		setup: func(f *fakeGitHub) {
			f.status, f.message = http.StatusBadRequest, strings.Repeat("é", 1000)
		},
		check: func(g Gomega, err error) {
			g.Expect(len(err.Error())).To(BeNumerically("<", 400))
			g.Expect(err.Error()).To(HaveSuffix("é..."), "clipped at a character boundary")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeGitHub(t, testToken, "")
			f.addScope("tribi/backend")
			if tc.setup != nil {
				f.set(tc.setup)
			}
			token := tc.token
			if token == "" {
				token = testToken
			}
			err := newClient(f, f.srv.URL).Put(context.Background(), []byte(token), tc.target, testValue)
			g.Expect(err).To(HaveOccurred())
			expectNoLeak(g, err, token, testValue)
			tc.check(g, err)
			if tc.noPut {
				for _, call := range f.calls() {
					g.Expect(call).NotTo(HavePrefix("PUT"), "nothing is uploaded")
				}
			}
			_, stored := f.secret("tribi/backend/JWT")
			g.Expect(stored).To(BeFalse())
		})
	}
}

func TestPutTimeout(t *testing.T) {
	g := NewWithT(t)
	f := newFakeGitHub(t, testToken, "")
	f.addScope("tribi/backend")
	f.set(func(f *fakeGitHub) { f.hang = true })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := newClient(f, f.srv.URL).Put(ctx, []byte(testToken), target("tribi/backend", "", "JWT"), testValue)
	expectNoLeak(g, err, testToken, testValue)
	g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
	g.Expect(IsPermanent(err)).To(BeFalse(), "a timeout is retried")

	// The client's own timeout works the same way.
	c := New(Options{BaseURL: f.srv.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	err = c.Put(context.Background(), []byte(testToken), target("tribi/backend", "", "JWT"), testValue)
	expectNoLeak(g, err, testToken, testValue)
	g.Expect(IsPermanent(err)).To(BeFalse())
	var auth *AuthError
	g.Expect(errors.As(err, &auth)).To(BeFalse())
}

func TestPutRefusesInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		target rotationv1alpha1.GitHubActionsTarget
		value  []byte
	}{
		{name: "repository without owner", target: target("backend", "", "JWT")},
		{name: "repository with three parts", target: target("tribi/backend/x", "", "JWT")},
		{name: "repository path traversal", target: target("../backend", "", "JWT")},
		{name: "repository dot dot", target: target("tribi/..", "", "JWT")},
		{name: "secret name with dash", target: target("tribi/backend", "", "JWT-SECRET")},
		{name: "secret name with slash", target: target("tribi/backend", "", "a/b")},
		{name: "secret name starting with digit", target: target("tribi/backend", "", "1JWT")},
		{name: "reserved secret name", target: target("tribi/backend", "", "github_token")},
		{name: "environment dot dot", target: target("tribi/backend", "..", "JWT")},
		{name: "value too large", target: target("tribi/backend", "", "JWT"), value: make([]byte, MaxValueSize+1)},
		{name: "empty token", token: " \n", target: target("tribi/backend", "", "JWT")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeGitHub(t, testToken, "")
			f.addScope("tribi/backend")
			token, value := tc.token, tc.value
			if token == "" {
				token = testToken
			}
			if value == nil {
				value = testValue
			}
			err := newClient(f, f.srv.URL).Put(context.Background(), []byte(token), tc.target, value)
			g.Expect(err).To(HaveOccurred())
			g.Expect(IsPermanent(err)).To(BeTrue())
			g.Expect(f.calls()).To(BeEmpty(), "nothing is sent")
		})
	}

	// The largest allowed value goes through.
	g := NewWithT(t)
	f := newFakeGitHub(t, testToken, "")
	f.addScope("tribi/backend")
	big := []byte(strings.Repeat("v", MaxValueSize))
	g.Expect(newClient(f, f.srv.URL).Put(context.Background(), []byte(testToken), target("tribi/backend", "", "JWT"), big)).To(Succeed())
	s, _ := f.secret("tribi/backend/JWT")
	g.Expect(s.value).To(Equal(big))
}

func TestDecodePublicKey(t *testing.T) {
	g := NewWithT(t)
	raw := make([]byte, 32)
	raw[0], raw[31] = 1, 2
	k, err := DecodePublicKey(base64.StdEncoding.EncodeToString(raw))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k[:]).To(Equal(raw))

	for _, bad := range []string{"", "%%%", base64.StdEncoding.EncodeToString(make([]byte, 31)), base64.StdEncoding.EncodeToString(make([]byte, 33))} {
		_, err := DecodePublicKey(bad)
		g.Expect(err).To(HaveOccurred(), bad)
	}
}

func TestTarget(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Target(target("tribi/backend", "", "BACKEND_JWT_SECRET"))).To(Equal("github:tribi/backend/BACKEND_JWT_SECRET"))
	g.Expect(Target(target("tribi/backend", "production", "BACKEND_JWT_SECRET"))).To(Equal("github:tribi/backend/production/BACKEND_JWT_SECRET"))
}

func TestNewDefaults(t *testing.T) {
	g := NewWithT(t)
	c := New(Options{})
	g.Expect(c.baseURL).To(Equal("https://api.github.com"))
	g.Expect(c.http.Timeout).To(Equal(30 * time.Second))
}

func TestMessageDropsEchoes(t *testing.T) {
	g := NewWithT(t)
	r := &requester{token: []byte(testToken), value: testValue}
	msg := func(m string) string {
		data, err := json.Marshal(map[string]string{"message": m})
		g.Expect(err).NotTo(HaveOccurred())
		return r.message(response{data: data})
	}
	g.Expect(msg("Validation Failed")).To(Equal("Validation Failed"))
	g.Expect(msg("line one\nline two")).To(Equal("line one line two"), "control characters become spaces")
	g.Expect(msg("bad token "+testToken[5:15])).To(BeEmpty(), "part of the token")
	g.Expect(msg("got "+string(testValue[3:12])+"...")).To(BeEmpty(), "part of the value")
	g.Expect(r.message(response{data: []byte("<html>proxy error</html>")})).To(BeEmpty(), "only JSON messages are used")
}
