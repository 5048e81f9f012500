package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// echoVendor answers every call with status and an error body that echoes everything it knows: the credential it
// was sent, the request body, and the key it minted before, in the error code and in every other field.
func echoVendor(t *testing.T, status int, minted string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		echo := fmt.Sprintf("%s %s %s", auth, body, minted)
		b, _ := json.Marshal(map[string]any{
			"error":   map[string]any{"code": "not_found: " + echo, "message": echo},
			"code":    strings.TrimPrefix(auth, "Bearer "),
			"detail":  echo,
			"request": string(body),
		})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestErrorsNeverQuoteWhatTheVendorEchoes(t *testing.T) {
	const minted = "cy_live_4f0e2d9a7b1c"
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotAcceptable,
		http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			g := NewWithT(t)
			srv := echoVendor(t, status, minted)
			spec := specAt(srv.URL)
			spec.Revoke.Method = http.MethodPost
			spec.Revoke.Body = `{"key_id": "{{ .ID }}", "reason": "rotated by {{ .Namespace }}/{{ .Name }}"}`
			p := New(Options{})
			forbidden := []string{adminToken, minted, "team-a/connectedyou", "cy_live", "Bearer", "label", "rotated by",
				"key_1", "not_found:"}

			_, err := p.Generate(context.Background(), request(spec, 1, &guard{}))
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`generate: the vendor answered %d$`, status), "nothing of the body, no code outside the list")

			err = p.Verify(context.Background(), request(spec, 1, nil), candidate(minted))
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`verify: verification with the new credential returned %d$`, status))

			old := candidate(minted)
			old.State = []byte(`{"id": "key_1"}`)
			err = p.Revoke(context.Background(), request(spec, 1, nil), old)
			expectClean(g, err, forbidden...)
			g.Expect(err.Error()).To(MatchRegexp(`revoke of revision 1: the vendor answered %d$`, status))
		})
	}
}
