package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// overrideObject is one overridden key and the ConfigMap or Secret that holds it, as last read or written.
// The overrides of one object share it (overrideObjects), so writing one key leaves the next write a current
// resourceVersion.
type overrideObject struct {
	kind      rotationv1alpha1.OverrideKind
	name, key string
	obj       client.Object // *corev1.ConfigMap or *corev1.Secret; nil when it does not exist
}

// String names the key, e.g. "ConfigMap app-config key RATE_LIMIT".
func (ob *overrideObject) String() string {
	return fmt.Sprintf("%s %s key %s", ob.kind, ob.name, ob.key)
}

// current returns the key's value, and whether it exists.
func (ob *overrideObject) current() (present bool, value []byte) {
	switch o := ob.obj.(type) {
	case *corev1.Secret:
		value, present = o.Data[ob.key]
	case *corev1.ConfigMap:
		var v string
		v, present = o.Data[ob.key]
		value = []byte(v)
	}
	return present, value
}

// holds reports whether the key holds value, or is absent when present is false.
func (ob *overrideObject) holds(present bool, value []byte) bool {
	have, v := ob.current()
	return have == present && (!present || bytes.Equal(v, value))
}

// overrideObjects are the objects read in one pass, by kind and name (nil: it does not exist).
type overrideObjects map[string]client.Object

// overrideRef returns the kind and name of the object an override changes; overrideAction is verb on it.
var (
	overrideRef    = specs.OverrideRef
	overrideAction = tenancy.OverrideAction
)

// readOverride reads an override's object as the RotatedSecret's actor, past the cache (which holds no
// ConfigMaps, and only the Secrets the operator labelled), once per pass. A missing object is no error: obj stays
// nil.
func (r *RotatedSecretReconciler) readOverride(ctx context.Context, s *scope, objs overrideObjects,
	kind rotationv1alpha1.OverrideKind, name, key string) (*overrideObject, error) {
	ob := &overrideObject{kind: kind, name: name, key: key}
	id := string(kind) + "/" + name
	if obj, ok := objs[id]; ok {
		ob.obj = obj
		return ob, nil
	}
	var obj client.Object = &corev1.ConfigMap{}
	if kind == rotationv1alpha1.OverrideSecret {
		obj = &corev1.Secret{}
	}
	err := s.actor.Reader.Get(ctx, client.ObjectKey{Namespace: s.rs.Namespace, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		objs[id] = nil
	case err != nil:
		return nil, s.actor.Refused(overrideAction("get", kind, s.rs.Namespace, name), err)
	default:
		objs[id], ob.obj = obj, obj
	}
	return ob, nil
}

// cannotOverride says why the key cannot be set to want ("" when it can): the object is missing, immutable, of a
// type the operator never writes, or the API server refuses a dry run of the write. RBAC refusals are errors.
func (r *RotatedSecretReconciler) cannotOverride(ctx context.Context, s *scope, ob *overrideObject, want []byte) (string, error) {
	switch o := ob.obj.(type) {
	case nil:
		return "it does not exist", nil
	case *corev1.Secret:
		if why := sink.Refused(o); why != "" {
			return why, nil
		}
	case *corev1.ConfigMap:
		if o.Immutable != nil && *o.Immutable {
			return "it is immutable (immutable: true)", nil
		}
	}
	if ob.holds(true, want) {
		return "", nil
	}
	err := r.writeOverride(ctx, s, ob, true, want, true)
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsNotFound(err) {
		return "the API server refuses the change: " + policy.Sanitize(err.Error(), 256), nil
	}
	return "", err
}

// writeOverride sets the key to value (present false: removes it) as the RotatedSecret's actor, with a merge
// patch that carries the resourceVersion it was read with: a change made since fails with a conflict instead of
// being overwritten. The shared object holds the written one afterwards (after an error the pass ends).
func (r *RotatedSecretReconciler) writeOverride(ctx context.Context, s *scope, ob *overrideObject, present bool, value []byte, dryRun bool) error {
	if ob.obj == nil {
		return errors.New(ob.String() + ": the object does not exist")
	}
	target := ob.obj
	if dryRun {
		target = ob.obj.DeepCopyObject().(client.Object)
	}
	base := target.DeepCopyObject().(client.Object)
	switch o := target.(type) {
	case *corev1.Secret:
		if o.Data == nil {
			o.Data = map[string][]byte{}
		}
		delete(o.Data, ob.key)
		if present {
			o.Data[ob.key] = value
		}
	case *corev1.ConfigMap:
		if o.Data == nil {
			o.Data = map[string]string{}
		}
		delete(o.Data, ob.key)
		if present {
			o.Data[ob.key] = string(value)
		}
	}
	opts := []client.PatchOption{client.FieldOwner(FieldOwner)}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	err := s.actor.Writer.Patch(ctx, target, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), opts...)
	return s.actor.Refused(overrideAction("patch", ob.kind, s.rs.Namespace, ob.name), err)
}

// checkOverrides checks spec.emergency.overrides (specs.CheckOverrides): a duration, each key once, and never a
// Secret the operator writes for this RotatedSecret (its staging Secret, a target) or keeps for itself (reserved).
func (r *RotatedSecretReconciler) checkOverrides(ctx context.Context, rs *rotationv1alpha1.RotatedSecret) outcome {
	var readErr error
	err := specs.CheckOverrides(rs, func(name string) string {
		// The cache holds every Secret the operator labelled (staging Secrets among them); others are not found.
		key, sec := client.ObjectKey{Namespace: rs.Namespace, Name: name}, &corev1.Secret{}
		if err := r.Get(ctx, key, sec); err != nil && !apierrors.IsNotFound(err) {
			readErr = err
			return ""
		}
		return r.reserved(ctx, key, sec)
	})
	switch {
	case readErr != nil:
		return retry(readErr)
	case err != nil:
		return invalid("%v", err)
	}
	return goOnOutcome()
}
