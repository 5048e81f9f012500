package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// maxKeyName is the API server's limit on the name part of an annotation key (after the "prefix/").
const maxKeyName = 63

// AnnotationKey is the pod-template annotation of a RotatedSecret: "rotation.tribi.io/<name>". An object name may
// be 253 characters but the name part of an annotation key only 63, so longer names are shortened with a hash and
// stay unique.
func AnnotationKey(rotatedSecret string) string {
	return annotationKey(rotationv1alpha1.RestartAnnotationPrefix, rotatedSecret)
}

// OverrideAnnotationPrefix is the prefix of the pod-template annotation that restarts a workload after a
// RotatedSecret's emergency overrides were reverted. It is not under RestartAnnotationPrefix, which would read as
// the restart annotation of another RotatedSecret named "override-<name>".
const OverrideAnnotationPrefix = "override.rotation.tribi.io/"

// OverrideAnnotationKey is the pod-template annotation of a RotatedSecret's override reverts:
// "override.rotation.tribi.io/<name>", shortened as AnnotationKey shortens.
func OverrideAnnotationKey(rotatedSecret string) string {
	return annotationKey(OverrideAnnotationPrefix, rotatedSecret)
}

func annotationKey(prefix, rotatedSecret string) string {
	if len(rotatedSecret) <= maxKeyName {
		return prefix + rotatedSecret
	}
	sum := sha256.Sum256([]byte(rotatedSecret))
	return prefix + rotatedSecret[:maxKeyName-17] + "-" + hex.EncodeToString(sum[:8])
}

// TemplateRevision returns the revision the workload's pod template carries for key; 0, false if it carries none
// (or something that is not a revision, which a Restart then overwrites).
func TemplateRevision(obj client.Object, key string) (int64, bool) {
	tpl, err := podTemplate(obj)
	if err != nil {
		return 0, false
	}
	v, ok := tpl.Annotations[key]
	if !ok {
		return 0, false
	}
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return rev, true
}

// Restart sets the pod-template annotation key to revision with a strategic-merge patch of
// spec.template.metadata.annotations alone, so other annotations, and the rest of the spec, stay whoever's they
// are. It sends nothing when the template already carries revision, so calling it again for a revision is free.
// It reports whether it patched; obj holds the patched workload afterwards.
func Restart(ctx context.Context, c client.Client, obj client.Object, key string, revision int64) (bool, error) {
	if _, err := podTemplate(obj); err != nil {
		return false, err
	}
	if have, ok := TemplateRevision(obj, key); ok && have == revision {
		return false, nil
	}
	patch, err := json.Marshal(map[string]any{
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{
					"annotations": map[string]string{key: strconv.FormatInt(revision, 10)},
				},
			},
		},
	})
	if err != nil {
		return false, err
	}
	// The caller names the workload in the error; a NotFound (deleted since it was read) stays recognisable.
	if err := c.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return false, err
	}
	return true, nil
}

// errUnsupported is returned for an object that is not a Deployment, StatefulSet or DaemonSet.
var errUnsupported = errors.New("not a Deployment, StatefulSet or DaemonSet")

// podTemplate returns the pod template of a workload.
func podTemplate(obj client.Object) (*corev1.PodTemplateSpec, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o != nil {
			return &o.Spec.Template, nil
		}
	case *appsv1.StatefulSet:
		if o != nil {
			return &o.Spec.Template, nil
		}
	case *appsv1.DaemonSet:
		if o != nil {
			return &o.Spec.Template, nil
		}
	}
	return nil, fmt.Errorf("%T: %w", obj, errUnsupported)
}
