// Package sink writes secret values where applications read them. Kubernetes Secrets are written with
// server-side apply under one field manager per RotatedSecret, so several RotatedSecrets (and people) can own
// different keys of one Secret without clobbering each other.
package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// FieldManagerPrefix starts the field manager of every target write.
const FieldManagerPrefix = "secret-rotator/"

// maxFieldManager is the API server's limit on a field manager name.
const maxFieldManager = 128

// FieldManager returns the server-side apply field manager of one RotatedSecret, e.g.
// "secret-rotator/backend.jwt-secret". Long names are shortened with a hash so they stay unique.
func FieldManager(namespace, name string) string {
	fm := FieldManagerPrefix + namespace + "." + name
	if len(fm) <= maxFieldManager {
		return fm
	}
	sum := sha256.Sum256([]byte(fm))
	return fm[:maxFieldManager-17] + "-" + hex.EncodeToString(sum[:8])
}

// SecretWrite is the set of keys one RotatedSecret owns in one Secret.
type SecretWrite struct {
	Namespace, Name string
	// Data is every key this RotatedSecret owns in the Secret. A key it owned before and is not listed here is
	// removed by the apply (that is how previous-value keys disappear after the grace period).
	Data map[string][]byte
}

// String names the Secret, for messages.
func (w SecretWrite) String() string { return w.Namespace + "/" + w.Name }

// Keys lists the keys written, sorted, for messages (never the values).
func (w SecretWrite) Keys() []string {
	keys := make([]string, 0, len(w.Data))
	for k := range w.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Apply writes w with server-side apply as fieldManager, creating the Secret if needed. With force it takes keys
// from whoever else owns them; without, a key another field manager owns fails the write with a conflict
// (Conflicts names them). With dryRun the API server checks the write without persisting it.
func Apply(ctx context.Context, c client.Client, fieldManager string, w SecretWrite, dryRun, force bool) error {
	ac := corev1ac.Secret(w.Name, w.Namespace).
		WithLabels(map[string]string{rotationv1alpha1.ManagedLabel: "true"}).
		WithData(w.Data)
	opts := []client.ApplyOption{client.FieldOwner(fieldManager)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return c.Apply(ctx, ac, opts...)
}

// Conflict is a key of a Secret that another field manager owns.
type Conflict struct {
	Key, Manager string
}

// Conflicts lists the keys a server-side apply without force could not take, and who owns them; nil when err is
// not such a conflict. The label the operator sets is not a key: a conflict on it is listed with Key "".
func Conflicts(err error) []Conflict {
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out []Conflict
	for _, c := range status.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		key, _ := strings.CutPrefix(c.Field, ".data.")
		if key == c.Field {
			key = ""
		}
		manager := c.Message
		if _, rest, ok := strings.Cut(c.Message, `"`); ok {
			manager, _, _ = strings.Cut(rest, `"`)
		}
		out = append(out, Conflict{Key: key, Manager: manager})
	}
	return out
}

// IsNamespaceNotFound reports whether err says the Secret's namespace does not exist.
func IsNamespaceNotFound(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces"
}

// Diff compares a Secret (nil when it does not exist) with what w wants and returns the keys that are missing
// and the keys that hold another value. Keys not in w are none of this RotatedSecret's business.
func Diff(s *corev1.Secret, w SecretWrite) (missing, changed []string) {
	for _, k := range w.Keys() {
		var have []byte
		ok := false
		if s != nil {
			have, ok = s.Data[k]
		}
		switch {
		case !ok:
			missing = append(missing, k)
		case !bytes.Equal(have, w.Data[k]):
			changed = append(changed, k)
		}
	}
	return missing, changed
}

// Labelled reports whether s carries the label that keeps it in the operator's cache.
func Labelled(s *corev1.Secret) bool {
	return s != nil && s.Labels[rotationv1alpha1.ManagedLabel] == "true"
}

// refusedTypes are Secret types whose data Kubernetes or another controller owns: a rotated value written into
// one would break it, or be taken for a credential of another kind.
var refusedTypes = map[corev1.SecretType]bool{
	corev1.SecretTypeServiceAccountToken: true,
	corev1.SecretTypeTLS:                 true,
	corev1.SecretTypeDockercfg:           true,
	corev1.SecretTypeDockerConfigJson:    true,
	corev1.SecretTypeBootstrapToken:      true,
}

// Refused says why the operator must never write into s ("" when it may): s is immutable, or of a type whose data
// Kubernetes or another controller owns.
func Refused(s *corev1.Secret) string {
	switch {
	case s == nil:
		return ""
	case s.Immutable != nil && *s.Immutable:
		return "it is immutable (immutable: true), so its keys can never be changed"
	case refusedTypes[s.Type]:
		return fmt.Sprintf("its type %s is managed by Kubernetes or another controller", s.Type)
	}
	return ""
}
