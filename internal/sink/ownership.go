package sink

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/staging"
)

// Owners lists, from s's managedFields, the keys of w that a field manager other than fieldManager owns: what a
// server-side apply of w without force would report as conflicts (Conflicts) when it writes a new value, which a
// rotation always does. It needs the full managedFields (a direct read, not the operator's slimmed cache). Sorted
// by key, then manager.
func Owners(s *corev1.Secret, fieldManager string, w SecretWrite) []Conflict {
	if s == nil {
		return nil
	}
	var out []Conflict
	for _, mf := range s.ManagedFields {
		if mf.Manager == fieldManager || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		var data map[string]json.RawMessage
		if raw, ok := fields["f:data"]; !ok || json.Unmarshal(raw, &data) != nil {
			continue
		}
		for key := range w.Data {
			if _, ok := data["f:"+key]; ok {
				out = append(out, Conflict{Key: key, Manager: mf.Manager})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Manager < out[j].Manager
	})
	return out
}

// Blocking says why a first write of w may not take the keys other field managers own (conflicts), as the
// TargetOwnedElsewhere message; "" when it may. A key this RotatedSecret wrote before (claimed) is taken back; with
// adopt (rotation.tribi.io/adopt: "true") a key of anyone but another RotatedSecret is taken over; any other key,
// and always another RotatedSecret's, blocks. The label the operator sets (Key "") never blocks.
func Blocking(w SecretWrite, conflicts []Conflict, claimed func(key string) bool, adopt bool) string {
	var owners []string
	hint := fmt.Sprintf("to take it over, set the annotation %s: \"true\" on this RotatedSecret", rotationv1alpha1.AdoptAnnotation)
	for _, c := range conflicts {
		rotated := strings.HasPrefix(c.Manager, FieldManagerPrefix)
		if c.Key == "" || claimed(c.Key) || (adopt && !rotated) {
			continue
		}
		if rotated {
			hint = "another RotatedSecret writes it: remove that target from one of them (keys of another RotatedSecret are never adopted)"
		}
		owners = append(owners, fmt.Sprintf("key %s is owned by field manager %q", c.Key, c.Manager))
	}
	if len(owners) == 0 {
		return ""
	}
	return fmt.Sprintf("target Secret %s: %s; nothing was written; %s", w, strings.Join(owners, ", "), hint)
}

// Reserved says why Secret namespace/name (s: as read, nil or empty when it does not exist) is one the operator
// keeps for itself and never writes as a target ("" when it is not): a staging Secret of any RotatedSecret, existing
// or not yet created (rotatedSecretExists tells whether the RotatedSecret it would belong to exists), or the
// fingerprint key.
func Reserved(namespace, name string, s *corev1.Secret, rotatedSecretExists func(namespace, name string) bool) string {
	if s != nil {
		if owner, ok := s.Labels[rotationv1alpha1.RotatedSecretLabel]; ok {
			return "it is the staging Secret of RotatedSecret " + owner
		}
	}
	if name == fingerprint.KeySecretName {
		return "it is the name of the operator's fingerprint key"
	}
	if rs, ok := strings.CutSuffix(name, staging.Suffix); ok && rs != "" && rotatedSecretExists(namespace, rs) {
		return "it is the name of the staging Secret of RotatedSecret " + rs
	}
	return ""
}
