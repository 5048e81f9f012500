// Package fingerprint identifies secret values without revealing them: a prefix of HMAC-SHA256 keyed with a
// key only the operator holds, so equal values can be recognised but a fingerprint cannot be brute-forced
// against a dictionary the way a plain hash can.
package fingerprint

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

const (
	// KeySecretName is the operator-owned Secret, in the operator's namespace, that holds the HMAC key.
	KeySecretName = "secret-rotator-fingerprint-key"
	keyDataKey    = "key"
	keyLength     = 32
	// prefixBytes of the HMAC are shown: 12 hex characters, enough to tell revisions apart.
	prefixBytes = 6
	scheme      = "hmac-sha256:"
)

// Keyer computes fingerprints with one key.
type Keyer struct{ key []byte }

// New returns a Keyer for key.
func New(key []byte) *Keyer { return &Keyer{key: append([]byte(nil), key...)} }

// Of returns the fingerprint of a set of named values, e.g. "hmac-sha256:3f9a0c1e77b2". Names and values are
// length-prefixed so that no two different sets share an input.
func (k *Keyer) Of(values provider.Values) string {
	mac := hmac.New(sha256.New, k.key)
	var n [8]byte
	for _, name := range values.Names() {
		for _, part := range [][]byte{[]byte(name), values[name]} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			mac.Write(n[:])
			mac.Write(part)
		}
	}
	return scheme + hex.EncodeToString(mac.Sum(nil)[:prefixBytes])
}

// KeyFrom returns the HMAC key held by s, the operator's fingerprint-key Secret as read from the API server.
func KeyFrom(s *corev1.Secret) ([]byte, error) {
	if len(s.Data[keyDataKey]) < keyLength {
		return nil, fmt.Errorf("secret %s/%s has no usable %q key", s.Namespace, s.Name, keyDataKey)
	}
	return s.Data[keyDataKey], nil
}

// EnsureKey returns the HMAC key stored in namespace, creating it from rand on first start. reader should be
// uncached (the manager's cache is not running yet at start-up). Two replicas starting together agree: the
// loser of the create race reads the winner's key.
func EnsureKey(ctx context.Context, c client.Client, reader client.Reader, namespace string, rand io.Reader) ([]byte, error) {
	var s corev1.Secret
	err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: KeySecretName}, &s)
	if err == nil {
		return KeyFrom(&s)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading fingerprint key: %w", err)
	}
	key := make([]byte, keyLength)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, fmt.Errorf("generating fingerprint key: %w", err)
	}
	s = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: KeySecretName, Namespace: namespace,
			Labels: map[string]string{rotationv1alpha1.ManagedLabel: "true"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{keyDataKey: key},
	}
	if err := c.Create(ctx, &s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return EnsureKey(ctx, c, reader, namespace, rand)
		}
		return nil, fmt.Errorf("creating fingerprint key secret %s/%s: %w", namespace, KeySecretName, err)
	}
	return key, nil
}
