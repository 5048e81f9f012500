package staging

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// FuzzStagingKeys stores a result over a staging Secret whose data keys anyone with access may have edited (two
// fuzzed keys beside two this package wrote). Nothing panics; revisionOf claims only keys spelled as this package
// spells them; Revisions is sorted and unique; Get after Put returns exactly the values and state put; and every
// other kept revision reads the same as before.
func FuzzStagingKeys(f *testing.F) {
	f.Add("r3.value", "r3-state", []byte("v"), "value", []byte(`{"id":"k"}`), uint16(4), uint16(3))
	f.Add("r+3.value", "r03.value", []byte("hand-edited"), "value", []byte(nil), uint16(3), uint16(2))
	f.Add("r-1.value", "r.value", []byte{0}, "partner_id", []byte("s"), uint16(1), uint16(0))
	f.Add("r9223372036854775808.x", "r2-pending", []byte("x"), "a.b", []byte(nil), uint16(2), uint16(2))
	f.Add("r2.", "R2.value", []byte(""), "", []byte(nil), uint16(2), uint16(1))
	f.Add("r1_0.value", "r٣.value", []byte("x"), "value", []byte("st"), uint16(10), uint16(3))
	f.Fuzz(func(t *testing.T, key1, key2 string, value []byte, output string, state []byte, rev16, keep16 uint16) {
		for _, k := range []string{key1, key2} {
			if r, ok := revisionOf(k); ok && !strings.HasPrefix(k, "r"+strconv.FormatInt(r, 10)+".") &&
				!strings.HasPrefix(k, "r"+strconv.FormatInt(r, 10)+"-") {
				t.Fatalf("revisionOf(%q) = %d, a key this package never writes", k, r)
			}
		}
		rev, keep := int64(rev16%8)+1, int64(keep16%8)+1
		existing := &corev1.Secret{Data: map[string][]byte{
			key1: value, key2: value, valueKey(keep, "value"): []byte("kept"), stateKey(keep): []byte("kept-state"),
		}}
		revs := Revisions(existing)
		if !slices.IsSorted(revs) || len(slices.Compact(slices.Clone(revs))) != len(revs) {
			t.Fatalf("Revisions = %v", revs)
		}
		before, _ := Get(existing, keep)

		rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "backend"}}
		res := provider.Result{Values: provider.Values{output: value}, State: state}
		s := Put(existing, rs, rev, res, keep)
		got, ok := Get(s, rev)
		if !ok || !maps.EqualFunc(got.Values, res.Values, bytes.Equal) || !bytes.Equal(got.State, state) {
			t.Fatalf("Get after Put(%d) = %v %q, %v; put %v %q", rev, got.Values, got.State, ok, res.Values, state)
		}
		if keep != rev {
			after, _ := Get(s, keep)
			if !maps.EqualFunc(after.Values, before.Values, bytes.Equal) || !bytes.Equal(after.State, before.State) {
				t.Fatalf("kept revision %d changed: %v %q, was %v %q", keep, after.Values, after.State, before.Values, before.State)
			}
		}
		for _, r := range Revisions(s) {
			if r != rev && r != keep {
				t.Fatalf("revision %d survived Put(%d, keep %d): %v", r, rev, keep, slices.Sorted(maps.Keys(s.Data)))
			}
		}
	})
}
