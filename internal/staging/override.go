package staging

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// overridePrefix starts the data keys of override records: "override-<16 hex digits>", a hash of the overridden
// object's kind, name and key (which together may be longer than a data key). Put keeps these keys whatever
// revisions it keeps; they are not revisions.
const overridePrefix = "override-"

// OverrideRecord is what the staging Secret keeps of one temporary override (spec.emergency.overrides) while it
// is active: the key's value before the first override, or its absence, and the value the operator wrote. It is
// written before the overridden object is changed and removed once the original is back, so a crash at any point
// leaves enough to restore it. A Secret's original value is kept here only, never in status.
type OverrideRecord struct {
	// Kind, Name and Key identify the overridden key (Kind is ConfigMap or Secret).
	Kind string `json:"kind"`
	Name string `json:"name"`
	Key  string `json:"key"`
	// Present is false when the key did not exist before the override: reverting removes it.
	Present bool `json:"present"`
	// Original is the key's value before the override (when Present).
	Original []byte `json:"original,omitempty"`
	// Applied is the value the operator wrote: anything else found at the end was written by a person.
	Applied []byte `json:"applied"`
}

// OverrideKey is the data key of the record of kind/name/key.
func OverrideKey(kind, name, key string) string {
	sum := sha256.Sum256([]byte(kind + "/" + name + "/" + key))
	return overridePrefix + hex.EncodeToString(sum[:8])
}

// isOverrideKey reports whether a data key holds an override record.
func isOverrideKey(key string) bool { return strings.HasPrefix(key, overridePrefix) }

// Override returns the record of kind/name/key; false when the Secret (which may be nil) holds none, or holds
// something that does not parse as one or is not for that key (edited by hand).
func Override(s *corev1.Secret, kind, name, key string) (OverrideRecord, bool) {
	if s == nil {
		return OverrideRecord{}, false
	}
	raw, ok := s.Data[OverrideKey(kind, name, key)]
	if !ok {
		return OverrideRecord{}, false
	}
	var rec OverrideRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Kind != kind || rec.Name != name || rec.Key != key {
		return OverrideRecord{}, false
	}
	return rec, true
}

// PutOverride returns the staging Secret with rec stored, every revision and other record kept. existing may be
// nil: the Secret is then created by Write.
func PutOverride(existing *corev1.Secret, rs *rotationv1alpha1.RotatedSecret, rec OverrideRecord) *corev1.Secret {
	s := Put(existing, rs, 0, provider.Result{}, Revisions(existing)...)
	raw, err := json.Marshal(rec)
	if err != nil {
		panic(err) // strings, a bool and byte slices: cannot fail
	}
	s.Data[OverrideKey(rec.Kind, rec.Name, rec.Key)] = raw
	return s
}

// DropOverride returns the staging Secret without the record of kind/name/key.
func DropOverride(existing *corev1.Secret, kind, name, key string) *corev1.Secret {
	s := existing.DeepCopy()
	delete(s.Data, OverrideKey(kind, name, key))
	return s
}
