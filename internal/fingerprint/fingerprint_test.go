package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tribi/secret-rotator/internal/provider"
)

func TestFingerprint(t *testing.T) {
	g := NewWithT(t)
	value := provider.Values{"value": []byte("s3cr3t")}
	a := New([]byte("key-a")).Of(value)

	g.Expect(a).To(MatchRegexp(`^hmac-sha256:[0-9a-f]{12}$`))
	g.Expect(New([]byte("key-a")).Of(value)).To(Equal(a), "same key and value give the same fingerprint")
	g.Expect(New([]byte("key-b")).Of(value)).NotTo(Equal(a), "the fingerprint depends on the key")
	g.Expect(New([]byte("key-a")).Of(provider.Values{"value": []byte("s3cr3u")})).NotTo(Equal(a))

	plain := sha256.Sum256([]byte("s3cr3t"))
	g.Expect(strings.TrimPrefix(a, "hmac-sha256:")).NotTo(Equal(hex.EncodeToString(plain[:6])), "never a plain hash")
	g.Expect(a).NotTo(ContainSubstring("s3cr3t"))

	// Names are part of the input and boundaries cannot be shifted between name and value.
	g.Expect(New([]byte("k")).Of(provider.Values{"ab": []byte("c")})).NotTo(Equal(New([]byte("k")).Of(provider.Values{"a": []byte("bc")})))
}

func TestKeyFrom(t *testing.T) {
	g := NewWithT(t)
	key := []byte(strings.Repeat("k", keyLength))
	secret := func(data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: KeySecretName}, Data: data}
	}

	got, err := KeyFrom(secret(map[string][]byte{keyDataKey: key}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(key))

	_, err = KeyFrom(secret(map[string][]byte{keyDataKey: key[:keyLength-1]}))
	g.Expect(err).To(MatchError(`secret ops/secret-rotator-fingerprint-key has no usable "key" key`), "too short")
	_, err = KeyFrom(secret(map[string][]byte{"other": key}))
	g.Expect(err).To(HaveOccurred(), "no key entry")
}
