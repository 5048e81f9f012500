// Package staging lays out the operator-owned staging Secret "<name>-rotation" that holds every value before any
// target sees it: the pending revision, the current one and the previous one, each with its provider state.
//
// Data keys are "r<revision>.<output>" for values and "r<revision>-state" for provider state (output names
// cannot contain "-"). Which revision is current or pending is recorded in the RotatedSecret's status; the
// staging Secret only keeps values, so committing a rotation needs no write here. "override-<hash>" keys hold the
// original values of active emergency overrides (override.go); every write keeps them.
package staging

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Suffix is appended to the RotatedSecret's name to name its staging Secret.
const Suffix = "-rotation"

// Name returns the name of the staging Secret of a RotatedSecret.
func Name(rotatedSecretName string) string { return rotatedSecretName + Suffix }

func valueKey(rev int64, output string) string { return fmt.Sprintf("r%d.%s", rev, output) }
func stateKey(rev int64) string                { return fmt.Sprintf("r%d-state", rev) }

// revisionOf parses the revision of a data key; false for keys this package did not write. The number must be
// spelled as valueKey spells it: "r+3.value" or "r03.value", added by hand, belong to no revision.
func revisionOf(key string) (int64, bool) {
	if !strings.HasPrefix(key, "r") {
		return 0, false
	}
	end := strings.IndexAny(key, ".-")
	if end < 2 {
		return 0, false
	}
	rev, err := strconv.ParseInt(key[1:end], 10, 64)
	return rev, err == nil && strconv.FormatInt(rev, 10) == key[1:end]
}

// Get returns the staged result of rev; false when the Secret (which may be nil) holds no value for it.
func Get(s *corev1.Secret, rev int64) (provider.Result, bool) {
	if s == nil || rev <= 0 {
		return provider.Result{}, false
	}
	prefix := fmt.Sprintf("r%d.", rev)
	res := provider.Result{Values: provider.Values{}}
	for k, v := range s.Data {
		if strings.HasPrefix(k, prefix) {
			res.Values[strings.TrimPrefix(k, prefix)] = v
		}
	}
	if len(res.Values) == 0 {
		return provider.Result{}, false
	}
	res.State = s.Data[stateKey(rev)]
	return res, true
}

// Revisions lists the revisions a staging Secret holds, oldest first.
func Revisions(s *corev1.Secret) []int64 {
	seen := map[int64]bool{}
	if s != nil {
		for k := range s.Data {
			if rev, ok := revisionOf(k); ok {
				seen[rev] = true
			}
		}
	}
	out := make([]int64, 0, len(seen))
	for rev := range seen {
		out = append(out, rev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Put returns the staging Secret with res stored as rev, keeping only the revisions listed in keep (plus rev) and
// every override record.
// existing may be nil; the result is a new object whose resourceVersion is the one it was read with, so an
// Update fails with a conflict instead of overwriting a value another reconcile staged.
func Put(existing *corev1.Secret, rs *rotationv1alpha1.RotatedSecret, rev int64, res provider.Result, keep ...int64) *corev1.Secret {
	var s *corev1.Secret
	if existing != nil {
		s = existing.DeepCopy()
	} else {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: Name(rs.Name), Namespace: rs.Namespace}, Type: corev1.SecretTypeOpaque}
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[rotationv1alpha1.ManagedLabel] = "true"
	s.Labels[rotationv1alpha1.RotatedSecretLabel] = rs.Name
	kept := map[int64]bool{rev: true}
	for _, k := range keep {
		kept[k] = true
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		if r, ok := revisionOf(k); (ok && kept[r] && r != rev) || isOverrideKey(k) {
			data[k] = v
		}
	}
	for name, v := range res.Values {
		data[valueKey(rev, name)] = v
	}
	if len(res.State) > 0 {
		data[stateKey(rev)] = res.State
	}
	s.Data = data
	return s
}

func pendingKey(rev int64) string { return fmt.Sprintf("r%d-pending", rev) }

// MarkPending returns the staging Secret with a create-pending marker for rev: a non-repeatable provider call for
// rev is about to be made. A marker rev already has keeps its time: the call is being repeated with the idempotency
// key derived from that time, and the vendor's window for the key runs from the first attempt. Put for rev
// removes the marker together with storing the result. existing may be nil.
func MarkPending(existing *corev1.Secret, rs *rotationv1alpha1.RotatedSecret, rev int64, at string) *corev1.Secret {
	s := Put(existing, rs, 0, provider.Result{}, Revisions(existing)...)
	if _, ok := s.Data[pendingKey(rev)]; !ok {
		s.Data[pendingKey(rev)] = []byte(at)
	}
	return s
}

// ClearPending returns the staging Secret without rev's marker (the call failed cleanly: nothing was created).
func ClearPending(existing *corev1.Secret, rev int64) *corev1.Secret {
	s := existing.DeepCopy()
	delete(s.Data, pendingKey(rev))
	return s
}

// Pending reports whether rev has a create-pending marker and no staged result: the call was made (or was
// about to be) but its result was never recorded.
func Pending(s *corev1.Secret, rev int64) (since string, pending bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.Data[pendingKey(rev)]
	if !ok {
		return "", false
	}
	if _, staged := Get(s, rev); staged {
		return "", false
	}
	return string(v), true
}

// FieldOwner is the field manager of every staging Secret write.
const FieldOwner = "secret-rotator"

// Write stores sec, as returned by Put, MarkPending or ClearPending: a Secret never stored before (no
// resourceVersion) is created with rs as its controller, any other is updated with the resourceVersion it was
// read with. A stale copy therefore fails with a conflict (or AlreadyExists) instead of overwriting a value
// another reconcile staged. Every staging Secret write of the operator goes through here.
func Write(ctx context.Context, c client.Client, rs *rotationv1alpha1.RotatedSecret, sec *corev1.Secret) error {
	if sec.ResourceVersion != "" {
		// A copy from the operator's cache holds managedFields without their field sets: sent, they would replace
		// the server's. Omitted, the server keeps and updates its own.
		sec.ManagedFields = nil
		return c.Update(ctx, sec, client.FieldOwner(FieldOwner))
	}
	if err := controllerutil.SetControllerReference(rs, sec, c.Scheme()); err != nil {
		return err
	}
	return c.Create(ctx, sec, client.FieldOwner(FieldOwner))
}
